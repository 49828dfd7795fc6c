"""Validation, quarantine and the read = valid + quarantined + superseded reconciliation
(docs/spec.md, "Inputs"), one reason kind per case."""

from __future__ import annotations

import pandas as pd
import pytest
from factories import address, message, order, refund, tables

from checks.profiles import load_profiles, timezones
from schemas.errors import InputError
from schemas.validate import validate_tables

TZ = timezones(load_profiles())


def check(raw):
    v = validate_tables(raw, TZ)
    for t, c in v.counts.items():
        assert c["read"] == c["valid"] + c["quarantined"] + c["superseded"], t
        q_rows = v.quarantine[v.quarantine["table"] == t]["row_key"].nunique()
        assert q_rows <= c["quarantined"]
    return v


def reasons(v, table):
    q = v.quarantine[v.quarantine["table"] == table]
    return set(zip(q["row_key"], q["column"], q["check"], strict=True))


CASES = {
    "missing required value": (
        dict(orders=[order(), order(order_id="O2", paid_at=None)]),
        "orders", {("O2", "paid_at", "missing")}),
    "wrong type": (
        dict(orders=[order(), order(order_id="O2", amount="abc", paid_at="yesterday")]),
        "orders", {("O2", "amount", "type"), ("O2", "paid_at", "type")}),
    "offset after an hour-only time is quarantined, not a crash": (
        dict(orders=[order(paid_at="2026-11-01 10:00:00"),
                     order(order_id="O2", paid_at="2026-11-01T10+08:00")]),
        "orders", {("O2", "paid_at", "type")}),
    "bad boolean": (
        dict(orders=[order(), order(order_id="O2", free_shipping="maybe")]),
        "orders", {("O2", "free_shipping", "type")}),
    "unknown platform": (
        dict(orders=[order(), order(order_id="O2", platform="shopee_sg")]),
        "orders", {("O2", "platform", "unknown_platform")}),
    "negative amount": (
        dict(orders=[order(), order(order_id="O2", amount="-1")]),
        "orders", {("O2", "amount", "negative")}),
    "shipped before paid, delivered before shipped": (
        dict(orders=[order(), order(order_id="O2", shipped_at="2026-10-01T00:00:00Z",
                                    delivered_at="2026-09-01T00:00:00Z")]),
        "orders", {("O2", "shipped_at", "timestamp_order"),
                   ("O2", "delivered_at", "timestamp_order")}),
    "duplicate order key with different content": (
        dict(orders=[order(), order(amount="99")]),
        "orders", {("O1 (row 1)", "order_id", "duplicate_key"),
                   ("O1 (row 2)", "order_id", "duplicate_key")}),
    "enum outside the list": (
        dict(refunds=[refund(kind="exchange", decision="Agreed ")]),
        "refunds", {("R1", "kind", "enum"), ("R1", "decision", "enum")}),
    "refund of a missing order": (
        dict(refunds=[refund(order_id="NOPE")]),
        "refunds", {("R1", "order_id", "missing_order")}),
    "refund of a quarantined order": (
        dict(orders=[order(amount="-5")], refunds=[refund()]),
        "refunds", {("R1", "order_id", "order_quarantined")}),
    "refund asks for more than the order": (
        dict(refunds=[refund(amount="100.01")]),
        "refunds", {("R1", "amount", "amount_exceeds_order")}),
    "requested before paid": (
        dict(refunds=[refund(requested_at="2026-10-01T00:00:00+08:00")]),
        "refunds", {("R1", "requested_at", "timestamp_order")}),
    "response and decision before the request": (
        dict(refunds=[refund(first_response_at="2026-11-05T09:00:00+08:00",
                             decided_at="2026-11-05T09:00:00+08:00")]),
        "refunds", {("R1", "first_response_at", "timestamp_order"),
                    ("R1", "decided_at", "timestamp_order")}),
    "received before the buyer shipped": (
        dict(refunds=[refund(buyer_shipped_at="2026-11-08T00:00:00+08:00",
                             seller_received_at="2026-11-07T00:00:00+08:00")]),
        "refunds", {("R1", "seller_received_at", "timestamp_order")}),
    "decided_at with decision pending": (
        dict(refunds=[refund(decision="pending")]),
        "refunds", {("R1", "decided_at", "decision_consistency")}),
    "decision without decided_at": (
        dict(refunds=[refund(decided_at=None)]),
        "refunds", {("R1", "decided_at", "decision_consistency")}),
    "ruled_at with ruling none": (
        dict(refunds=[refund(escalated_at="2026-11-06T00:00:00+08:00",
                             ruled_at="2026-11-07T00:00:00+08:00")]),
        "refunds", {("R1", "ruled_at", "ruling_consistency")}),
    "ruling without escalation": (
        dict(refunds=[refund(ruling="buyer_liable", ruled_at="2026-11-07T00:00:00+08:00")]),
        "refunds", {("R1", "escalated_at", "ruling_consistency")}),
    "ruled before escalated": (
        dict(refunds=[refund(ruling="buyer_liable", escalated_at="2026-11-08T00:00:00+08:00",
                             ruled_at="2026-11-07T00:00:00+08:00")]),
        "refunds", {("R1", "ruled_at", "timestamp_order")}),
    "tied refund versions": (
        dict(refunds=[refund(), refund(amount="10.00")]),
        "refunds", {("R1 (row 1)", "refund_id", "duplicate_key"),
                    ("R1 (row 2)", "refund_id", "duplicate_key")}),
    "message of a missing order": (
        dict(messages=[message(message_id="M1", order_id="NOPE")]),
        "messages", {("M1", "order_id", "missing_order")}),
    "address without valid_from": (
        dict(addresses=[address(valid_from=None)]),
        "return_addresses", {("A1", "valid_from", "missing")}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_quarantine_reason(name):
    kw, table, expect = CASES[name]
    v = check(tables(**kw))
    assert reasons(v, table) == expect


def test_exact_copies_collapse_to_the_first_in_every_table():
    v = check(tables(orders=[order(), order()], refunds=[refund(), refund()],
                     addresses=[address(), address()],
                     messages=[message(message_id="M1"), message(message_id="M1")]))
    for t in ("orders", "refunds", "return_addresses", "messages"):
        assert v.counts[t] == {"read": 2, "valid": 1, "quarantined": 0, "superseded": 1}, t


def test_older_version_stays_superseded_when_the_newest_is_quarantined():
    v = check(tables(refunds=[
        refund(updated_at="2026-11-05T12:00:00+08:00"),
        refund(updated_at="2026-11-06T12:00:00+08:00", kind="exchange"),
    ]))
    assert v.counts["refunds"] == {"read": 2, "valid": 0, "quarantined": 1, "superseded": 1}


def test_newest_version_wins_and_empty_version_is_oldest():
    v = check(tables(refunds=[
        refund(updated_at=None, decision="refused"),
        refund(updated_at="2026-11-06T12:00:00+08:00", amount="20.00"),
        refund(updated_at="2026-11-05T12:00:00+08:00"),
    ]))
    assert v.counts["refunds"]["superseded"] == 2
    assert v.tables["refunds"]["amount"].tolist() == [20.0]


def test_every_reason_of_a_row_is_listed():
    v = check(tables(orders=[order(), order(order_id="O2", amount="-1", currency="yuan",
                                            platform="shopee_sg")]))
    assert {c for _k, c, _x in reasons(v, "orders")} == {"amount", "currency", "platform"}
    assert v.counts["orders"]["quarantined"] == 1


def test_missing_required_column_stops_with_its_name():
    raw = tables()
    raw["orders"] = raw["orders"].drop(columns=["paid_at"])
    with pytest.raises(InputError, match="orders.*paid_at"):
        validate_tables(raw, TZ)


def test_missing_table_stops_with_its_name():
    raw = tables()
    raw["refunds"] = None
    with pytest.raises(InputError, match="refunds"):
        validate_tables(raw, TZ)


def test_offsets_are_honoured_and_naive_times_are_platform_local():
    v = check(tables(orders=[
        order(order_id="O1", paid_at="2026-11-01T10:00:00+08:00"),
        order(order_id="O2", paid_at="2026-11-01 10:00:00"),
        order(order_id="O3", platform="amazon_us", paid_at="2026-11-01T10:00:00",
              shipped_at=None, delivered_at=None),
        order(order_id="O4", paid_at="2026-11-01T02:00:00Z"),
    ]))
    paid = dict(zip(v.tables["orders"]["order_id"], v.tables["orders"]["paid_at"], strict=True))
    assert paid["O1"] == paid["O2"] == paid["O4"] == pd.Timestamp("2026-11-01T02:00:00Z")
    assert paid["O3"] == pd.Timestamp("2026-11-01T18:00:00Z")  # PST from 11-01 02:00


def test_a_row_without_an_order_id_belongs_to_no_shop():
    """Shop S9 exported an order with an empty order_id; a refund and a message without an
    order_id are quarantined with no owner (only the overview shows them), not handed to
    S9's page because both ids happen to be empty. A refund naming O1 belongs to S1."""
    v = check(tables(
        orders=[order(), order(order_id=None, shop_id="S9")],
        refunds=[refund(refund_id="R-none", order_id=None), refund(refund_id="R-o1",
                                                                    order_id="O1")],
        messages=[message(message_id="M-none", order_id=None)]))
    q = v.quarantine
    owner = {(t, k): (p, s) for t, k, p, s in zip(q["table"], q["row_key"], q["platform"],
                                                   q["shop_id"], strict=True)}
    assert owner[("orders", "row 2")] == ("tmall_global", "S9")  # the order itself is S9's
    assert pd.isna(owner[("refunds", "R-none")][1])
    assert pd.isna(owner[("messages", "M-none")][1])
    assert "R-o1" not in set(q["row_key"])  # valid: O1 exists


def test_small_tables_read_their_timestamps_together_with_the_same_outcome(monkeypatch):
    """A small table's timestamp columns are parsed as one batch (schemas.timestamps
    ``parse_columns``); with batching off, every column alone: the same valid tables, the
    same quarantine, row for row, on generated data with its dirty rows."""
    import schemas.timestamps as timestamps
    from sources.generate import generate_tables

    raw = generate_tables(300, seed=11)
    together = validate_tables(raw, TZ)
    q = together.quarantine
    # rejected timestamps among them (paid_at, sent_at, valid_from, ... of type "type")
    assert (q["column"].str.endswith(("_at", "valid_from")) & (q["check"] == "type")).sum() >= 4
    monkeypatch.setattr(timestamps, "BATCH_VALUES", 0)
    alone = validate_tables(raw, TZ)
    pd.testing.assert_frame_equal(together.quarantine, alone.quarantine)
    assert together.counts == alone.counts
    for t in together.tables:
        pd.testing.assert_frame_equal(together.tables[t], alone.tables[t])


def test_a_small_tables_text_columns_read_together_as_each_alone(monkeypatch):
    """``_texts`` (a small table's text columns trimmed in one pass) gives each column what
    ``_text`` gives it alone; worked by hand: surrounding blanks go, an empty or blank value
    is missing, a column with nothing to change is handed back as it is."""
    import schemas.validate as validate

    arrow = pd.StringDtype("pyarrow", na_value=float("nan"))
    cols = {
        "clean": pd.Series(["O1", "O2", None], dtype=arrow),
        "padded": pd.Series([" a", "b ", "\tc\n"], dtype=arrow),
        "blank": pd.Series(["", "  ", "x"], dtype=arrow),
        "numbers": pd.Series([1, 22, None], dtype=object),  # a driver's own types
        "python": pd.Series([" p ", None, "q"], dtype=pd.StringDtype("python")),
    }
    want = {"clean": ["O1", "O2", None], "padded": ["a", "b", "c"],
            "blank": [None, None, "x"], "numbers": ["1", "22", None],
            "python": ["p", None, "q"]}
    together = validate._texts(dict(cols))
    assert together["clean"] is cols["clean"]  # nothing to change: not copied
    for c, values in want.items():
        got = [None if pd.isna(v) else v for v in together[c]]
        assert got == values, c
        alone = validate._text(cols[c])
        pd.testing.assert_series_equal(together[c], alone, check_names=False)
    import schemas.timestamps as timestamps

    monkeypatch.setattr(timestamps, "BATCH_VALUES", 0)  # a large table: one by one
    for c, s in validate._texts(dict(cols)).items():
        pd.testing.assert_series_equal(s, together[c], check_names=False)
