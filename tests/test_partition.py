"""The audit partitioned by shop equals one run over everything.

In-process: the same generated dataset checked whole and in groups of shops gives identical
findings and KPI frames, for any number of groups. On Dask: the flow with its check on a
2-worker LocalCluster writes byte-identical findings.csv and kpis.csv, and the same counts,
as the single-process flow.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from factories import address, order, refund, tables

from checks.audit import run_rules
from checks.partition import partition_tables, run_partitioned, shop_groups
from checks.profiles import load_profiles, timezones
from schemas.validate import validate_tables
from sources.generate import generate_tables

AS_OF = "2026-11-20T02:00:00+08:00"
P = load_profiles()
N_ORDERS = 4000  # 4 shops, ~900 refunds, ~2,900 messages, every rule firing a few times


@pytest.fixture(scope="module", autouse=True)
def _drain_prefect_logs():
    """Send the flow's last log lines while the session's server is still up."""
    yield
    import sys

    if "prefect.logging.handlers" in sys.modules:
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=5)


@pytest.fixture(scope="module")
def raw() -> dict[str, pd.DataFrame]:
    return generate_tables(N_ORDERS, seed=11, as_of=AS_OF)


@pytest.fixture(scope="module")
def validated(raw):
    return validate_tables(raw, timezones(P))


def assert_same(a, b):
    """Findings and KPIs equal row for row (evidence dicts compared by their repr, as NaN
    inside a dict is not equal to itself)."""
    fa, fb = a.findings, b.findings
    pd.testing.assert_frame_equal(fa.drop(columns="evidence"), fb.drop(columns="evidence"))
    assert fa["evidence"].map(repr).tolist() == fb["evidence"].map(repr).tolist()
    pd.testing.assert_frame_equal(a.kpis, b.kpis)
    assert a.not_evaluated == b.not_evaluated
    assert a.data.start == b.data.start


@pytest.mark.parametrize("k", [1, 2, 3, 8])
def test_partitioned_equals_single_run(validated, k):
    whole = run_rules(validated.tables, P, pd.Timestamp(AS_OF), 30)
    assert len(whole.findings) > 100 and whole.findings["rule_id"].nunique() == 17
    parts = run_partitioned(validated.tables, P, pd.Timestamp(AS_OF), 30, k=k)
    assert_same(whole, parts)


def test_partitions_are_co_partitioned_and_cover_every_row(validated):
    t = validated.tables
    groups = partition_tables(t, 3)
    assert len(groups) == 3
    for name in ("orders", "refunds", "messages"):
        assert sum(len(g[name]) for g in groups) == len(t[name])
    for g in groups:
        own = set(g["orders"]["order_id"])
        assert set(g["refunds"]["order_id"]) <= own
        assert set(g["messages"]["order_id"]) <= own
        shops = set(g["orders"]["shop_id"])
        book = g["return_addresses"]
        # Its shops' entries, plus the foreign entries its refunds name (RA002).
        named = set(g["refunds"]["return_address_id"].dropna())
        assert set(book["address_id"]) == (
            set(t["return_addresses"].loc[t["return_addresses"]["shop_id"].isin(shops),
                                          "address_id"])
            | (named & set(t["return_addresses"]["address_id"])))


def test_shop_groups_balance_orders_and_are_deterministic():
    orders = pd.DataFrame({"shop_id": ["a"] * 50 + ["b"] * 30 + ["c"] * 20 + ["d"] * 10
                           + ["e"] * 5})
    g = shop_groups(orders, 2)
    assert g == shop_groups(orders.sample(frac=1, random_state=1), 2)
    load = orders["shop_id"].map(g).value_counts()
    assert sorted(load.tolist()) == [55, 60]
    assert shop_groups(orders, 10) == {s: i for i, s in enumerate("abcde")}


def test_another_shops_address_is_still_another_shops_in_its_own_group():
    """RA002 tells "owned by another shop" from "not in the book" across groups."""
    raw = tables(
        orders=[order(), order(order_id="O2", shop_id="S2")],
        addresses=[address(), address(address_id="A2", shop_id="S2")],
        refunds=[refund(kind="return_refund", decision="agreed", return_address_id="A2"),
                 refund(refund_id="R2", order_id="O2", kind="return_refund",
                        decision="agreed", return_address_id="A9")])
    v = validate_tables(raw, timezones(P))
    whole = run_rules(v.tables, P, pd.Timestamp(AS_OF), 30)
    parts = run_partitioned(v.tables, P, pd.Timestamp(AS_OF), 30, k=2)
    assert_same(whole, parts)
    ra2 = parts.findings[parts.findings["rule_id"] == "RA002"].set_index("refund_id")
    assert "another shop (S2)" in ra2.loc["R1", "detail"]
    assert "not in the address book" in ra2.loc["R2", "detail"]


@pytest.mark.prefect
def test_flow_on_two_dask_workers_writes_identical_outputs(raw, tmp_path):
    from prefect.context import refresh_global_settings_context

    refresh_global_settings_context()
    from flows.audit import audit
    from sources.writers import write_csv_folder

    source = str(write_csv_folder(raw, tmp_path / "src"))
    runs = {}
    for name, kw in (("single", {}), ("dask", {"workers": 2})):
        out = tmp_path / name / "latest"
        state = audit(source=source, out=str(out), as_of=AS_OF, return_state=True, **kw)
        assert state.is_completed(), state.message
        runs[name] = out
    one, two = runs["single"], runs["dask"]
    for f in ("findings.csv", "kpis.csv", "quarantine.csv"):
        assert (one / f).read_bytes() == (two / f).read_bytes(), f
    r1, r2 = (json.loads((d / "run.json").read_text(encoding="utf-8")) for d in (one, two))
    assert r1["counts"] == r2["counts"] and r1["findings"] == r2["findings"]
    assert r2["failures"] == [] and "check.dask" in r2["timings"]
