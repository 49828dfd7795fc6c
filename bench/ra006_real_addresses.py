"""RA006 on real addresses: how many real province/city/district triples it flags, and how
many shuffled ones (district taken from an address in another province) it catches.

The corpus is the labelled address-parsing data of Li, Lu, Xie & Li, "Neural Chinese Address
Parsing" (NAACL 2019): CoNLL files (``train.txt``, ``dev.txt``, ``test.txt``), one character
or number per line as ``token BIO-label``, a blank line between addresses. It has no licence
for redistribution, so it is not shipped: pass the folder that holds it.

    python bench/ra006_real_addresses.py CORPUS_DIR [--n 600] [--seed 0] [--show]

Prints the flagged counts, and with ``--show`` every real triple flagged (to judge whether
each is a genuine error) and the shuffled ones let through.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import defaultdict
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from checks.address_quality import division_notes

PARTS = ("prov", "city", "district")


def read_addresses(folder: Path) -> list[dict[str, str]]:
    """Each address's first province, city and district (labels in any case), in file order."""
    found: list[dict[str, str]] = []
    for name in ("train.txt", "dev.txt", "test.txt"):
        spans: dict[str, list[str]] = defaultdict(list)
        last = None
        for line in [*(folder / name).read_text(encoding="utf-8").splitlines(), ""]:
            if not line.strip():
                if spans:
                    found.append({k: v[0] for k, v in spans.items() if k in PARTS})
                spans, last = defaultdict(list), None
                continue
            token, label = line.rsplit(" ", 1)
            if label == "O":
                last = None
                continue
            tag, kind = label.split("-", 1)
            kind = kind.lower()
            if tag == "B" or kind != last:
                spans[kind].append(token)
            else:
                spans[kind][-1] += token
            last = kind
    return [a for a in found if all(p in a for p in PARTS)]


def province_key(name: str) -> str:
    """Provinces compared by their first two characters (浙江 / 浙江省, 内蒙 / 内蒙古)."""
    return name[:2]


def samples(addresses: list[dict[str, str]], n: int, seed: int) -> tuple[pd.DataFrame, ...]:
    rng = random.Random(seed)
    real = rng.sample(addresses, n)
    shuffled = []
    for entry in real:
        while True:
            donor = rng.choice(addresses)
            if province_key(donor["prov"]) != province_key(entry["prov"]):
                break
        shuffled.append({**entry, "district": donor["district"]})

    def frame(rows: list[dict[str, str]]) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "country": "CN",
                "province": [r["prov"] for r in rows],
                "city": [r["city"] for r in rows],
                "district": [r["district"] for r in rows],
            }
        )

    return frame(real), frame(shuffled)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, help="folder with train.txt, dev.txt, test.txt")
    parser.add_argument("--n", type=int, default=600)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", action="store_true", help="list flagged real / missed shuffled")
    args = parser.parse_args()

    addresses = read_addresses(args.corpus)
    real, shuffled = samples(addresses, args.n, args.seed)
    real_notes, shuffled_notes = division_notes(real), division_notes(shuffled)
    real_flagged = ~real_notes["nests"]
    shuffled_flagged = ~shuffled_notes["nests"]
    print(f"addresses with province, city and district: {len(addresses)}")
    print(f"real:     {int(real_flagged.sum())} of {len(real)} flagged")
    print(
        f"shuffled: {int(shuffled_flagged.sum())} of {len(shuffled)} flagged "
        f"({shuffled_flagged.mean():.1%})"
    )
    kinds = real_notes.loc[real_notes["nests"], "kind"].value_counts()
    print("real, accepted by kind:", ", ".join(f"{k} {v}" for k, v in kinds.items()))
    if args.show:
        print("\nreal flagged:")
        for _, row in real[real_flagged].iterrows():
            print("  ", row["province"], "/", row["city"], "/", row["district"])
        print("\nreal accepted as a former name or a zone:")
        notes = real_notes[real_notes["kind"].isin(["former_name", "zone"])]
        for i, note in notes.iterrows():
            row = real.loc[i]
            print("  ", row["province"], "/", row["city"], "/", row["district"],
                  "->", note["kind"], note["suggestion"])
        print("\nshuffled not flagged:")
        for i, row in shuffled[~shuffled_flagged].iterrows():
            print("  ", row["province"], "/", row["city"], "/", row["district"],
                  "(", shuffled_notes.loc[i, "kind"], ")")


if __name__ == "__main__":
    main()
