"""Re-audit diff: which findings appeared, disappeared or changed status between two runs.

The typical case is late data for a closed period: the same audit (same ``as_of``) re-run on
newer data. The history store keeps the earlier version (``superseded_by`` the new run), so
``refund-audit diff RUN_A RUN_B`` and the report's diff section can show what moved.

A finding is identified by ``rule_id, platform, shop_id, order_id, refund_id, message_id``;
"changed" means the same finding with another ``status`` (e.g. ``at_risk`` → ``violation``).
Everything here returns plain dicts of strings and numbers, ready for a template or JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from checks.result import AuditResult
from reports.history import (
    FINDING_KEY,
    FindingsPruned,
    list_runs,
    read_findings,
    resolve_run,
)
from reports.outputs import findings_frame

_SHOWN = ["rule_id", "status", "severity", "platform", "shop_id", "order_id", "refund_id",
          "message_id", "detail"]


def diff_findings(a: pd.DataFrame, b: pd.DataFrame, limit: int | None = None
                  ) -> dict[str, Any]:
    """Compare findings frames ``a`` (before) and ``b`` (after), both in findings.csv form.

    Returns ``{"counts": {"appeared", "disappeared", "changed", "unchanged"}, "appeared":
    [...], "disappeared": [...], "changed": [...], "truncated": bool}``; list items are dicts
    of the finding's fields (``changed`` items carry ``status_before``/``status_after``),
    sorted by platform, shop, rule and ids, at most ``limit`` per list. Counts are never
    capped.
    """
    a = _keyed(a)
    b = _keyed(b)
    m = a.merge(b, on=FINDING_KEY, how="outer", suffixes=("_a", "_b"), indicator=True)
    m = m.sort_values(["platform", "shop_id", "rule_id", "refund_id", "message_id",
                       "order_id"], kind="stable")
    gone = m[m["_merge"] == "left_only"]
    new = m[m["_merge"] == "right_only"]
    both = m[m["_merge"] == "both"]
    changed = both[both["status_a"] != both["status_b"]]

    def rows(df: pd.DataFrame, side: str) -> list[dict[str, Any]]:
        df = df.head(limit) if limit is not None else df
        out = []
        for rec in df.to_dict("records"):
            out.append({c: rec[c] if c in FINDING_KEY else rec[f"{c}_{side}"] for c in _SHOWN})
        return out

    changed_rows = rows(changed, "b")
    for item, before in zip(changed_rows, changed["status_a"], strict=False):
        item["status_after"] = item.pop("status")
        item["status_before"] = before
    truncated = limit is not None and max(len(gone), len(new), len(changed)) > limit
    return {
        "counts": {"appeared": len(new), "disappeared": len(gone), "changed": len(changed),
                   "unchanged": len(both) - len(changed)},
        "appeared": rows(new, "b"),
        "disappeared": rows(gone, "a"),
        "changed": changed_rows,
        "truncated": truncated,
    }


def _keyed(f: pd.DataFrame) -> pd.DataFrame:
    # Only the columns a diff shows or compares (the other columns' text conversion was
    # half of a re-run's diff at 40k findings).
    f = f[_SHOWN].astype("object").where(f[_SHOWN].notna(), "")
    return f.astype("str").drop_duplicates(FINDING_KEY, keep="first")


def _run_info(run: dict) -> dict[str, Any]:
    keys = ("run_id", "audit_key", "as_of", "source", "window_days", "recorded_at",
            "n_findings", "superseded_by")
    info = {k: None if pd.isna(run.get(k)) else run.get(k) for k in keys}
    if run.get("asked"):  # an id whose rows a re-run replaced (see history.resolve_run)
        info["asked"] = run["asked"]
    return info


def diff_runs(store: str | Path, run_a: str, run_b: str, limit: int | None = None
              ) -> dict[str, Any]:
    """``refund-audit diff RUN_A RUN_B``: the runs (by run_id, unique prefix or audit_key)
    and :func:`diff_findings` between them. Raises KeyError when a run is not in the store.
    A run id replaced by a re-run of its audit stands for that re-run; its info then carries
    ``asked`` (the id given)."""
    a, b = resolve_run(store, run_a), resolve_run(store, run_b)
    out = diff_findings(read_findings(store, a["run_id"]), read_findings(store, b["run_id"]),
                        limit)
    return {"before": _run_info(a), "after": _run_info(b), **out}


def report_diff(store: str | Path, result: AuditResult, limit: int | None = 200
                ) -> dict[str, Any] | None:
    """Input for the report's diff section: this run against its baseline, or None.

    The baseline is the earlier version of the same audit when this run is a re-audit
    (``kind: "re-audit"``), else the latest earlier audit of the same source and window
    (``kind: "previous"``, what is new since the last night). Works before or after this
    run was appended to the store. Returns :func:`diff_findings`' dict plus ``before``,
    ``after`` (run info) and ``kind``.
    """
    run = result.run
    listed = list_runs(store)
    listed = listed[listed["run_id"] != run["run_id"]]
    same = listed[listed["audit_key"] == run["audit_key"]]
    kind = "re-audit"
    if same.empty:
        kind = "previous"
        t = pd.to_datetime(listed["as_of"], utc=True, format="ISO8601")
        same = listed[(listed["source"] == run["source"])
                      & (listed["window_days"] == int(run["window_days"]))
                      & listed["superseded_by"].isna() & (t < pd.Timestamp(run["as_of"]))]
    if same.empty:
        return None
    base = same.iloc[0].to_dict()  # list_runs: newest as_of, then newest recorded, first
    try:
        before = read_findings(store, base["run_id"])
    except FindingsPruned:  # the last run is older than the store keeps findings for
        return None
    out = diff_findings(before, findings_frame(result.findings), limit)
    after = {"run_id": run["run_id"], "audit_key": run["audit_key"], "as_of": run["as_of"],
             "source": run["source"], "window_days": run["window_days"]}
    return {"kind": kind, "before": _run_info(base), "after": after, **out}
