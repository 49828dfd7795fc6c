"""The yardstick for small on-demand audits: a plain pandas script that reads the same CSV
folder, checks the rows and writes a CSV, with none of the tool around it (no options, no
rules engine, no report, no history, no Prefect).

    python bench/reference_tiny.py <folder> <out.csv>

``refund-audit run`` on a few dozen rows should take at most 3x this script's wall time,
and refusing a folder without orders.csv at most 2x (docs/scheduling.md has the numbers).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd


def main(folder: Path, out: Path) -> int:
    orders = pd.read_csv(folder / "orders.csv", dtype=str, keep_default_na=False)
    refunds = pd.read_csv(folder / "refunds.csv", dtype=str, keep_default_na=False)
    as_of = pd.Timestamp("2026-11-20T02:00:00+08:00")
    # check: parseable times, known orders; then one deadline rule (48 h to decide)
    for df, col in ((orders, "paid_at"), (refunds, "requested_at")):
        df[col] = pd.to_datetime(df[col], utc=True, errors="coerce", format="ISO8601")
    ok = refunds[refunds["requested_at"].notna()
                 & refunds["order_id"].isin(orders.loc[orders["paid_at"].notna(),
                                                       "order_id"])]
    late = ok[(ok["decision"] == "pending")
              & (as_of - ok["requested_at"] > pd.Timedelta(hours=48))]
    late[["refund_id", "order_id", "requested_at"]].to_csv(out, index=False)
    print(f"{len(orders)} orders, {len(refunds)} refunds, {len(late)} late → {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
