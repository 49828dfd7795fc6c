"""Hostile values that used to crash a run or pass silently: out-of-range times, open-ended
address entries, currencies that are not ISO 4217, empty tables, and sources whose orders
are missing (docs/spec.md, "Validation and quarantine" and "When the orders do not match").

Expected values are worked by hand from the factories' rows (tests/factories.py).
"""

from __future__ import annotations

import pandas as pd
import pytest
from factories import address, message, order, refund, tables

from checks.audit import run_rules
from checks.profiles import load_profiles, timezones
from schemas.validate import validate_tables
from sources.base import open_source

P = load_profiles()
TZ = timezones(P)
AS_OF = pd.Timestamp("2026-11-20T02:00:00+08:00")
AMZ = dict(platform="amazon_us", buyer_region="US", currency="USD")


def reasons(v, table):
    q = v.quarantine[v.quarantine["table"] == table]
    return set(zip(q["row_key"], q["column"], q["check"], strict=True))


@pytest.mark.parametrize("value", ["9999-12-31 23:59:59", "0001-01-01", "1899-12-31T23:00:00Z"])
@pytest.mark.parametrize(("table", "column"), [
    ("orders", "delivered_at"), ("orders", "paid_at"), ("messages", "sent_at"),
    ("refunds", "escalated_at"), ("return_addresses", "valid_from"),
])
def test_an_out_of_range_time_is_quarantined_in_any_column(table, column, value):
    rows = dict(orders=[order(**AMZ), order(order_id="O2", **AMZ)],
                refunds=[refund()], addresses=[address()],
                messages=[message(message_id="M1")])
    key = {"orders": "O2", "refunds": "R1", "return_addresses": "A1", "messages": "M1"}[table]
    arg = {"return_addresses": "addresses"}.get(table, table)
    target = rows[arg][-1]
    target[column] = value
    v = validate_tables(tables(**rows), TZ)
    assert (key, column, "out_of_range") in reasons(v, table)
    assert v.counts[table]["quarantined"] == 1
    out = run_rules(v.tables, P, AS_OF, 30)  # and the audit runs
    assert out.kpis is not None


@pytest.mark.parametrize("value", ["9999-12-31 23:59:59", "9999-12-31T23:59:59Z", "2262-01-01"])
def test_a_far_future_valid_to_means_no_end(value):
    v = validate_tables(tables(addresses=[address(valid_to=value)],
                               refunds=[refund(kind="return_refund", return_address_id="A1")]),
                        TZ)
    assert v.quarantine.empty
    assert v.tables["return_addresses"]["valid_to"].isna().all()
    findings = run_rules(v.tables, P, AS_OF, 30).findings
    assert findings.empty  # an entry still in use: no RA003


def test_a_far_past_valid_to_is_still_out_of_range():
    v = validate_tables(tables(addresses=[address(valid_to="0001-01-01")]), TZ)
    assert reasons(v, "return_addresses") == {("A1", "valid_to", "out_of_range")}


@pytest.mark.parametrize("value", ["now", "today", "11/10/2026 10:00", "Nov 10 2026 10am",
                                   "10/11/2026", "Tue, 10 Nov 2026 10:00:00 +0800"])
def test_lenient_forms_are_quarantined_even_beside_an_hour_only_offset(value):
    v = validate_tables(tables(orders=[
        order(), order(order_id="O2", delivered_at="2026-11-10T10+08:00"),
        order(order_id="O3", delivered_at=value)]), TZ)
    assert reasons(v, "orders") == {("O2", "delivered_at", "type"),
                                    ("O3", "delivered_at", "type")}


@pytest.mark.parametrize(("value", "ok"), [
    ("CNY", True), ("usd", True), ("HKD", True), ("NaN", False), ("inf", False),
    ("INF", False), ("XYZ", False), ("RMB", False), ("DEM", False), ("US$", False),
])
def test_currency_is_an_iso_4217_code_in_use(value, ok):
    v = validate_tables(tables(orders=[order(), order(order_id="O2", currency=value)]), TZ)
    assert reasons(v, "orders") == (set() if ok else {("O2", "currency", "format")})


# --------------------------------------------------------------------------- empty tables

def via_csv(raw: dict[str, pd.DataFrame], folder) -> dict[str, pd.DataFrame]:
    """The tables written as CSV files (header-only when empty) and read back as a run
    reads them."""
    for t, df in raw.items():
        df.to_csv(folder / f"{t}.csv", index=False, na_rep="")
    return open_source(str(folder)).read()


@pytest.mark.parametrize("empty", [
    ("refunds",), ("messages",), ("return_addresses",), ("refunds", "return_addresses"),
    ("refunds", "messages", "return_addresses"),
])
def test_empty_tables_audit_normally(empty, tmp_path):
    """Header-only refunds beside an empty address book crashed the check with
    "ArrowInvalid: cannot construct ChunkedArray from empty vector" (read from CSV files:
    the reader's empty columns are what the check tripped on)."""
    rows = dict(orders=[order()], refunds=[refund(kind="return_refund",
                                                  return_address_id=None)],
                addresses=[address()], messages=[message(sender="seller", text="您好")])
    for t in empty:
        rows[{"return_addresses": "addresses"}.get(t, t)] = []
    v = validate_tables(via_csv(tables(**rows), tmp_path), TZ)
    assert v.unusable is None and v.warnings == []
    out = run_rules(v.tables, P, AS_OF, 30)
    expect = set() if "refunds" in empty else {"RA001"}
    assert set(out.findings["rule_id"]) == expect
    assert len(out.kpis) == 8  # one shop, every metric


def test_everything_empty_is_an_empty_audit(tmp_path):
    v = validate_tables(via_csv(tables(orders=[], refunds=[], addresses=[], messages=[]),
                                tmp_path), TZ)
    assert v.unusable is None
    out = run_rules(v.tables, P, AS_OF, 30)
    assert out.findings.empty and out.kpis.empty


# --------------------------------------------------------------------------- orphans

def test_header_only_orders_with_refunds_is_unusable():
    v = validate_tables(tables(orders=[], refunds=[refund()],
                               messages=[message(), message()]), TZ)
    assert v.unusable == (
        "The orders table has no rows, but the source has 1 refunds and 2 messages: every one "
        "of them would be quarantined as missing_order. This looks like a failed orders "
        "export; nothing was audited. Check the export and run again.")


def test_every_order_quarantined_is_unusable_and_says_why():
    v = validate_tables(tables(orders=[order(paid_at="not a date"),
                                       order(order_id="O2", paid_at="not a date")],
                               refunds=[refund()]), TZ)
    assert v.unusable is not None
    assert v.unusable.startswith("Every order was quarantined (2 row(s)), so nothing could "
                                 "be audited and the 1 refunds have no valid order.")
    assert "paid_at type in 2 row(s), e.g. row 1: 'not a date'" in v.unusable


def test_orphans_below_half_are_not_warned():
    # 2 refunds, 1 without its order: 50 % is the line, 1 of 3 is below it.
    v = validate_tables(tables(refunds=[refund(), refund(refund_id="R2"),
                                        refund(refund_id="R3", order_id="O9")]), TZ)
    assert v.unusable is None and v.warnings == []


@pytest.mark.parametrize(("orders", "refund_orders", "warn"), [
    (["O1"], ["O1", "O9"], "1 of 2 refunds (50%)"),          # exactly at the line
    (["O1"], ["O9", "O8", "O1"], "2 of 3 refunds (67%)"),
])
def test_mostly_orphaned_refunds_warn(orders, refund_orders, warn):
    v = validate_tables(tables(
        orders=[order(order_id=o) for o in orders],
        refunds=[refund(refund_id=f"R{i}", order_id=o) for i, o in enumerate(refund_orders)]),
        TZ)
    assert v.unusable is None
    assert len(v.warnings) == 1 and v.warnings[0].startswith(warn + " have no valid order")


def test_orphaned_messages_warn_separately():
    v = validate_tables(tables(messages=[message(order_id="O9"), message(order_id="O8"),
                                         message()]), TZ)
    assert [w.split(" have")[0] for w in v.warnings] == ["2 of 3 messages (67%)"]
