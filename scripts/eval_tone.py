"""Precision and recall of PC002's judgement on the labelled messages in tests/data/tone_eval.csv.

Runs the matcher PC002 runs (checks.tone.judge) and prints, per family and per language, how
many hostile messages it caught (recall) and how many of its findings were hostile
(precision). ``--misses`` lists what it got wrong. ``make eval-tone`` runs it.

Per family, recall counts a hostile message as caught whatever family the matcher named;
precision is over the messages the matcher put in that family.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from checks.tone import judge  # noqa: E402

EVAL_SET = ROOT / "tests" / "data" / "tone_eval.csv"


def load(path: Path = EVAL_SET) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def evaluate(data: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(data with the matcher's verdict, a table of precision/recall per group)."""
    verdict = judge(data["text"])
    data = data.assign(hostile=data["label"].eq("hostile"), flagged=verdict["hostile"],
                       found_family=verdict["family"].fillna(""),
                       found_phrase=verdict["phrase"].fillna(""))
    rows = [_scores("all", data, data)]
    for family in sorted(data.loc[data["hostile"], "family"].unique()):
        truth = data[data["family"].eq(family)]
        predicted = data[data["found_family"].eq(family)]
        rows.append(_scores(f"family {family}", truth, predicted))
    for language in sorted(data["language"].unique()):
        sub = data[data["language"].eq(language)]
        rows.append(_scores(f"language {language}", sub, sub))
    return data, pd.DataFrame(rows)


def _scores(group: str, truth: pd.DataFrame, predicted: pd.DataFrame) -> dict:
    hostile = truth[truth["hostile"]]
    flagged = predicted[predicted["flagged"]]
    caught = int(hostile["flagged"].sum())
    right = int(flagged["hostile"].sum())
    return {
        "group": group,
        "hostile": len(hostile),
        "innocent": int((~truth["hostile"]).sum()),
        "recall": caught / len(hostile) if len(hostile) else float("nan"),
        "flagged": len(flagged),
        "precision": right / len(flagged) if len(flagged) else float("nan"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=EVAL_SET)
    parser.add_argument("--misses", action="store_true", help="list the wrong verdicts")
    args = parser.parse_args(argv)
    data, table = evaluate(load(args.path))
    print(f"{len(data)} messages from {args.path.relative_to(ROOT) if args.path.is_relative_to(ROOT) else args.path}")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    if args.misses:
        missed = data[data["hostile"] & ~data["flagged"]]
        wrong = data[~data["hostile"] & data["flagged"]]
        print(f"\nmissed ({len(missed)}):")
        for r in missed.itertuples():
            print(f"  [{r.family}/{r.language}] {r.text}")
        print(f"\nflagged but innocent ({len(wrong)}):")
        for r in wrong.itertuples():
            print(f"  [{r.found_family}: {r.found_phrase}] {r.text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
