"""How long the rules' heaviest vectorised parts take at a million rows, measured, not asserted.

    .venv/bin/python bench/rules_speed.py [--rounds 3]

The tests check these parts' results at scale (tests/checks: one million messages, address
book entries and due times); this script times them, as the benchmark does for whole runs
(bench/run.py), so that a busy machine never fails a test for being busy. Each figure is the
best of ``--rounds`` runs after one warm-up (per-process set-up such as the phrase lexicon,
the holiday calendars and the division tables is built once per process, not per run), with
the target the rule was designed for beside it:

- PC002 (checks/tone.py): 1M seller messages, one in ten distinct, 0.2 % hostile; ≤ 2 s.
- RA004/RA006 (checks/address_quality.py): 1M address book entries over a few distinct
  values; ≤ 5 s. RA006's notes on 100k rows over ~30k distinct official triples, half of
  them with a district moved to another city; ≤ 10 s.
- The SLA clock (checks/clock.py): 1M due times, calendar days and business days (US, CN);
  ≤ 1 s each.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from checks import address_quality as aq
from checks import clock, tone


def _messages(n: int = 1_000_000) -> pd.Series:
    rng = np.random.default_rng(5)
    innocent = np.array(["亲，退款已经为您处理，请注意查收", "Your refund has been processed.",
                         "滚筒洗衣机没有问题，麻烦您再检查一下电源", "親，已經為您辦理退款",
                         "The crease will go away after washing.", "好的亲😊马上发货"],
                        dtype=object)
    texts = rng.choice(innocent, n)
    bad = rng.random(n) < 0.002
    texts[bad] = rng.choice(np.array(["爱买不买", "Not my problem.", "滚！别烦我"],
                                     dtype=object), int(bad.sum()))
    own = np.flatnonzero((rng.random(n) < 0.1) & ~bad)
    texts[own] = [f"{texts[i]} #{i}" for i in own]
    return pd.Series(texts, dtype="str")


def _book(n: int = 1_000_000) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    valid = {"country": "CN", "province": "浙江省", "city": "杭州市", "district": "西湖区",
             "street": "文三路 90 号", "postcode": "310012", "phone": "13800138000",
             "recipient": "售后部"}
    kinds = pd.DataFrame([valid, {**valid, "phone": "12345"},
                          {**valid, "province": "江苏省", "city": "苏州市", "district": "鼓楼区"},
                          {**valid, "postcode": "1000"}])
    out = kinds.iloc[rng.integers(0, len(kinds), n)].reset_index(drop=True)
    return out.assign(address_id=[f"A{i}" for i in range(n)], shop_id="S1")


def _triples(n: int = 100_000) -> pd.DataFrame:
    d = aq.DIVISIONS_DIR
    areas = pd.read_csv(d / "areas.csv", dtype=str).rename(columns={"name": "district"})
    cities = pd.read_csv(d / "cities.csv", dtype=str).rename(
        columns={"code": "cityCode", "name": "city"})
    provinces = pd.read_csv(d / "provinces.csv", dtype=str).rename(
        columns={"code": "provinceCode", "name": "province"})
    t = areas.merge(cities).merge(provinces)[["province", "city", "district"]]
    rng = np.random.default_rng(5)
    picks = t.iloc[rng.integers(0, len(t), n)].reset_index(drop=True)
    moved = rng.random(n) < 0.5
    picks.loc[moved, "district"] = rng.choice(t["district"].to_numpy(), int(moved.sum()))
    return picks.assign(country="CN")


def _due_times(n: int = 1_000_000) -> pd.Series:
    rng = np.random.default_rng(7)
    offsets = rng.integers(0, 3 * 365 * 86_400, n).astype("timedelta64[s]")
    return pd.Series(pd.DatetimeIndex(np.datetime64("2024-01-01", "s") + offsets, tz="UTC"))


def _best(fn: Callable[[], object], rounds: int) -> float:
    fn()  # warm-up: per-process set-up
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    messages, book, triples, due = _messages(), _book(), _triples(), _due_times()
    la, sh = "America/Los_Angeles", "Asia/Shanghai"
    cases = [
        ("PC002, 1M seller messages", 2.0, lambda: tone.judge(messages)),
        ("RA004 + RA006, 1M address entries", 5.0,
         lambda: (aq.divisions_nest(book), aq.address_defects(book))),
        ("RA006 notes, 100k rows / ~30k distinct triples", 10.0,
         lambda: aq.division_notes(triples)),
        ("clock: 1M due times, 30 calendar days", 1.0,
         lambda: clock.add_calendar_days(due, 30, la)),
        ("clock: 1M due times, 2 business days (US)", 1.0,
         lambda: clock.add_business_days(due, 2, la, "US")),
        ("clock: 1M due times, 2 business days (CN)", 1.0,
         lambda: clock.add_business_days(due, 2, sh, "CN")),
    ]
    load = os.getloadavg()
    print(f"best of {args.rounds} after a warm-up; load average {load[0]:.1f} {load[1]:.1f}")
    print(f"{'part':50} {'best':>8} {'target':>8}")
    for name, target, fn in cases:
        best = _best(fn, args.rounds)
        flag = "" if best <= target else "  over target"
        print(f"{name:50} {best:7.2f}s {target:7.1f}s{flag}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
