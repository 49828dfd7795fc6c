"""Rule cases as data: rows in, expected findings out (CONTRACT §3), boundaries included.

Each case names only the columns it is about (the factories fill valid defaults: a
tmall_global order O1 paid 2026-11-01, shipped 11-02, delivered 11-04 10:00 +08:00; a refund
answered and refunded within the hour). The whole finding set must match exactly, so a rule
that fires where it should not fails the case too.
"""

from __future__ import annotations

import pandas as pd
import pytest
from factories import address, message, order, refund, tables

from checks.audit import run_rules
from checks.profiles import load_profiles, timezones
from schemas.validate import validate_tables

AS_OF = "2026-11-20T02:00:00+08:00"
P = load_profiles()


def audit(orders=None, refunds=None, addresses=None, messages=None, as_of=AS_OF, window=30):
    raw = tables(orders=orders, refunds=refunds, addresses=addresses, messages=messages)
    v = validate_tables(raw, timezones(P))
    assert v.quarantine.empty, v.quarantine.to_dict("records")
    out = run_rules(v.tables, P, pd.Timestamp(as_of), window)
    return out.findings


def found(findings: pd.DataFrame) -> set[tuple[str, str, str]]:
    ids = findings["message_id"].where(findings["message_id"].notna(), findings["refund_id"])
    return set(zip(findings["rule_id"], findings["status"], ids, strict=True))


RET = dict(kind="return_refund", decision="agreed", return_address_id="A1")
NO_REASON = dict(reason="no_reason", decision="refused", refunded_at=None,
                 refunded_amount=None)
QUALITY = dict(reason="quality", evidence_provided="true")
ESC = dict(escalated_at="2026-11-10T10:00:00+08:00",
           escalation_response_at="2026-11-10T12:00:00+08:00")
SELLER_BEFORE_ESC = message(sender="seller", sent_at="2026-11-08T10:00:00+08:00", text="您好")

CASES = {
    # --- return address --------------------------------------------------------------
    "RA001 agreed return without address": dict(
        refunds=[refund(kind="return_refund", decision="agreed", return_address_id=None)],
        expect={("RA001", "violation", "R1")}),
    "RA clean agreed return": dict(refunds=[refund(**RET)], expect=set()),
    "RA002 unknown address": dict(
        refunds=[refund(**{**RET, "return_address_id": "A9"})],
        expect={("RA002", "violation", "R1")}),
    "RA002 another shop's address": dict(
        addresses=[address(), address(address_id="A2", shop_id="S2")],
        refunds=[refund(**{**RET, "return_address_id": "A2"})],
        expect={("RA002", "violation", "R1")}),
    "RA003 retired before the decision": dict(
        addresses=[address(valid_to="2026-11-05T10:00:00+08:00")],
        refunds=[refund(**RET)],  # decided 11-05 11:00 >= valid_to 11-05 10:00
        expect={("RA003", "violation", "R1")}),
    "RA003 retired one second after the decision is fine": dict(
        addresses=[address(valid_to="2026-11-05T11:00:01+08:00")],
        refunds=[refund(**RET)], expect=set()),
    "RA004 missing postcode": dict(
        addresses=[address(postcode=None)], refunds=[refund(**RET)],
        expect={("RA004", "violation", "R1")}),
    "RA004 invalid phone": dict(
        addresses=[address(phone="12345")], refunds=[refund(**RET)],
        expect={("RA004", "violation", "R1")}),
    "RA004 400 number is fine": dict(
        addresses=[address(phone="4008123123")], refunds=[refund(**RET)], expect=set()),
    "RA005 HK address for a CN buyer on tmall_global": dict(
        addresses=[address(country="HK", province="香港特别行政区", city="香港",
                           district="中西区", postcode=None, phone="+852 9123 4567")],
        refunds=[refund(**RET)], expect={("RA005", "violation", "R1")}),
    "RA005 not required on tmall": dict(
        orders=[order(platform="tmall")],
        addresses=[address(country="HK", province="香港特别行政区", city="香港",
                           district="中西区", postcode=None, phone="+852 9123 4567")],
        refunds=[refund(**RET)], expect=set()),
    "RA006 district under the wrong city": dict(
        addresses=[address(district="鼓楼区")], refunds=[refund(**RET)],
        expect={("RA006", "violation", "R1")}),
    # --- seven day ---------------------------------------------------------------------
    # Delivered 11-04 10:00 +08:00: the window closes 2026-11-12 00:00 +08:00.
    "SD001 refused one second before the window closes": dict(
        refunds=[refund(**NO_REASON, requested_at="2026-11-11T23:59:59+08:00",
                        first_response_at="2026-11-12T01:00:00+08:00",
                        decided_at="2026-11-12T01:00:00+08:00")],
        expect={("SD001", "violation", "R1")}),
    "SD001 requested exactly when the window closed": dict(
        refunds=[refund(**NO_REASON, requested_at="2026-11-12T00:00:00+08:00",
                        first_response_at="2026-11-12T01:00:00+08:00",
                        decided_at="2026-11-12T01:00:00+08:00")],
        expect=set()),
    "SD001 refusal after as_of counts as pending": dict(
        refunds=[refund(**NO_REASON, requested_at="2026-11-19T10:00:00+08:00",
                        first_response_at=None, decided_at="2026-11-20T03:00:00+08:00",
                        updated_at=None)],
        expect=set()),
    "SD002 free-shipping no-reason refunded short": dict(
        refunds=[refund(reason="no_reason", refunded_amount="40.00")],
        expect={("SD002", "violation", "R1")}),
    "SD002 not free shipping": dict(
        orders=[order(free_shipping="no")],
        refunds=[refund(reason="no_reason", refunded_amount="40.00")], expect=set()),
    # --- response time -----------------------------------------------------------------
    # Unshipped at request: 48 h. Requested 11-05 10:00 → due 11-07 10:00 +08:00.
    "RT001 answered exactly at the deadline": dict(
        orders=[order(shipped_at=None, delivered_at=None)],
        refunds=[refund(first_response_at="2026-11-07T10:00:00+08:00",
                        decided_at="2026-11-07T10:00:00+08:00",
                        refunded_at="2026-11-07T11:00:00+08:00")],
        expect=set()),
    "RT001 answered one second late": dict(
        orders=[order(shipped_at=None, delivered_at=None)],
        refunds=[refund(first_response_at="2026-11-07T10:00:01+08:00",
                        decided_at="2026-11-07T10:00:01+08:00",
                        refunded_at="2026-11-07T11:00:00+08:00")],
        expect={("RT001", "violation", "R1")}),
    "RT001 shipped after the request counts as unshipped": dict(
        orders=[order(shipped_at="2026-11-06T10:00:00+08:00", delivered_at=None)],
        refunds=[refund(first_response_at="2026-11-08T10:00:00+08:00",
                        decided_at="2026-11-08T10:00:00+08:00",
                        refunded_at="2026-11-08T11:00:00+08:00")],
        expect={("RT001", "violation", "R1")}),
    "RT001 shipped order has 120 h": dict(
        refunds=[refund(first_response_at="2026-11-08T10:00:00+08:00",
                        decided_at="2026-11-08T10:00:00+08:00",
                        refunded_at="2026-11-08T11:00:00+08:00")],
        expect=set()),
    "RT001 at risk: unanswered, due within 24 h": dict(
        orders=[order(shipped_at=None, delivered_at=None)],
        refunds=[refund(requested_at="2026-11-18T20:00:00+08:00", first_response_at=None,
                        decision="pending", decided_at=None, refunded_at=None,
                        refunded_amount=None, updated_at=None)],
        expect={("RT001", "at_risk", "R1")}),
    "RT001 a decision after as_of is not a response": dict(
        orders=[order(shipped_at=None, delivered_at=None)],
        refunds=[refund(requested_at="2026-11-18T20:00:00+08:00", first_response_at=None,
                        decided_at="2026-11-20T03:00:00+08:00", refunded_at=None,
                        refunded_amount=None, updated_at=None)],
        expect={("RT001", "at_risk", "R1")}),
    "RT002 escalation answered late (24 h on tmall_global)": dict(
        refunds=[refund(**{**ESC, "escalation_response_at": "2026-11-11T10:00:01+08:00"})],
        messages=[SELLER_BEFORE_ESC],
        expect={("RT002", "violation", "R1")}),
    "RT002 72 h on tmall": dict(
        orders=[order(platform="tmall")],
        refunds=[refund(**{**ESC, "escalation_response_at": "2026-11-11T10:00:01+08:00"})],
        messages=[SELLER_BEFORE_ESC], expect=set()),
    "RT003 refund one second after 168 h": dict(
        refunds=[refund(**RET, buyer_shipped_at="2026-11-06T10:00:00+08:00",
                        seller_received_at="2026-11-08T10:00:00+08:00",
                        refunded_at="2026-11-15T10:00:01+08:00")],
        expect={("RT003", "violation", "R1")}),
    "RT004 two buyer messages then one seller reply is one turn": dict(
        messages=[message(message_id="B1", sent_at="2026-11-10T10:00:00+08:00"),
                  message(message_id="B2", sent_at="2026-11-10T12:00:00+08:00"),
                  message(message_id="S1", sender="seller",
                          sent_at="2026-11-11T11:00:00+08:00", text="已处理")],
        expect={("RT004", "violation", "B1")}),
    "RT004 platform messages do not answer": dict(
        messages=[message(message_id="B1", sent_at="2026-11-10T10:00:00+08:00"),
                  message(message_id="X1", sender="platform",
                          sent_at="2026-11-10T11:00:00+08:00", text="系统提醒"),
                  message(message_id="S1", sender="seller",
                          sent_at="2026-11-10T12:00:00+08:00", text="好的")],
        expect=set()),
    # --- disputes ----------------------------------------------------------------------
    "DA001 quality claim 24 h + 1 s after delivery": dict(
        refunds=[refund(**QUALITY, requested_at="2026-11-05T10:00:01+08:00",
                        first_response_at="2026-11-05T11:00:00+08:00")],
        expect={("DA001", "contestable", "R1")}),
    "DA001 quality claim exactly 24 h after delivery": dict(
        refunds=[refund(**QUALITY, requested_at="2026-11-05T10:00:00+08:00")],
        expect=set()),
    "DA002 quality claim without evidence": dict(
        refunds=[refund(reason="damaged", evidence_provided="false",
                        requested_at="2026-11-04T12:00:00+08:00")],
        expect={("DA002", "contestable", "R1")}),
    "DA002 not on jd_worldwide": dict(
        orders=[order(platform="jd_worldwide")],
        refunds=[refund(reason="damaged", evidence_provided="false",
                        requested_at="2026-11-04T12:00:00+08:00")],
        expect=set()),
    "DA003 refusal overturned": dict(
        refunds=[refund(**ESC, decision="refused", refunded_at="2026-11-12T10:00:00+08:00",
                        ruling="seller_liable", ruled_at="2026-11-12T09:00:00+08:00")],
        messages=[SELLER_BEFORE_ESC],
        expect={("DA003", "violation", "R1")}),
    "DA003 ruling after as_of counts as none": dict(
        refunds=[refund(**ESC, decision="refused", refunded_at=None, refunded_amount=None,
                        ruling="seller_liable", ruled_at="2026-11-21T09:00:00+08:00")],
        messages=[SELLER_BEFORE_ESC], expect=set()),
    # --- conduct -----------------------------------------------------------------------
    "PC001 seller message one second before escalation": dict(
        refunds=[refund(**ESC)],
        messages=[message(sender="seller", sent_at="2026-11-10T09:59:59+08:00", text="您好")],
        expect=set()),
    "PC001 seller message at the escalation instant does not count": dict(
        refunds=[refund(**ESC)],
        messages=[message(sender="seller", sent_at="2026-11-10T10:00:00+08:00", text="您好")],
        expect={("PC001", "violation", "R1")}),
    "PC002 hostile seller message": dict(
        messages=[message(message_id="S9", sender="seller", text="爱买不买，滚！")],
        expect={("PC002", "violation", "S9")}),
    "PC002 drum washing machine is not hostile": dict(
        messages=[message(message_id="S9", sender="seller", text="滚筒洗衣机已发货")],
        expect=set()),
    # --- time and versions -------------------------------------------------------------
    "naive amazon time in the repeated November hour is its first occurrence": dict(
        # 2026-11-01 01:30 America/Los_Angeles occurs twice; first = 08:30Z. 48 h SLA:
        # due 2026-11-03 08:30Z; a response at 09:00Z is late (the second occurrence
        # would have made it on time).
        orders=[order(platform="amazon_us", buyer_region="US", currency="USD",
                      paid_at="2026-10-30T10:00:00", shipped_at=None, delivered_at=None)],
        refunds=[refund(requested_at="2026-11-01 01:30:00",
                        first_response_at="2026-11-03T09:00:00Z",
                        decided_at="2026-11-03T09:00:00Z", refunded_at="2026-11-03T10:00:00Z",
                        updated_at=None)],
        expect={("RT001", "violation", "R1")}),
    "naive Chinese time is Asia/Shanghai": dict(
        orders=[order(shipped_at=None, delivered_at=None)],
        refunds=[refund(requested_at="2026-11-05 10:00:00",
                        first_response_at="2026-11-07T02:00:00Z",
                        decided_at="2026-11-07T02:00:00Z", refunded_at="2026-11-07T03:00:00Z")],
        expect=set()),
    "an older refused version is superseded by the agreed one": dict(
        refunds=[refund(**NO_REASON, updated_at="2026-11-06T12:00:00+08:00"),
                 refund(reason="no_reason", updated_at="2026-11-07T12:00:00+08:00")],
        expect=set()),
    "a request after as_of is out of scope": dict(
        refunds=[refund(kind="return_refund", decision="agreed", return_address_id=None,
                        requested_at="2026-11-20T02:00:00+08:00",
                        first_response_at="2026-11-20T03:00:00+08:00",
                        decided_at="2026-11-20T03:00:00+08:00", refunded_at=None,
                        refunded_amount=None, updated_at=None)],
        expect=set()),
}


@pytest.mark.parametrize("name", list(CASES))
def test_rule_case(name):
    case = dict(CASES[name])
    expect = case.pop("expect")
    assert found(audit(**case)) == expect


def test_overdue_hours_and_due_for_a_late_answer():
    f = audit(orders=[order(shipped_at=None, delivered_at=None)],
              refunds=[refund(first_response_at="2026-11-07T12:30:00+08:00",
                              decided_at="2026-11-07T12:30:00+08:00",
                              refunded_at="2026-11-07T13:00:00+08:00")])
    row = f.iloc[0]
    assert row["due_at"] == pd.Timestamp("2026-11-07T02:00:00Z")
    assert row["responded_at"] == pd.Timestamp("2026-11-07T04:30:00Z")
    assert row["overdue_hours"] == pytest.approx(2.5)


def test_at_risk_overdue_hours_are_negative_hours_left():
    f = audit(orders=[order(shipped_at=None, delivered_at=None)],
              refunds=[refund(requested_at="2026-11-18T20:00:00+08:00", first_response_at=None,
                              decision="pending", decided_at=None, refunded_at=None,
                              refunded_amount=None, updated_at=None)])
    assert f["overdue_hours"].tolist() == [pytest.approx(-18.0)]


EBAY = dict(platform="ebay_us", buyer_region="US", currency="USD", shipped_at=None,
            delivered_at=None)


@pytest.mark.parametrize(("requested", "responded", "expect"), [
    # Before 2020-05-01: 8 calendar days. Thu 2020-04-16 10:00 PDT → due Fri 04-24 10:00.
    ("2020-04-16T10:00:00-07:00", "2020-04-24T10:00:00-07:00", set()),
    ("2020-04-16T10:00:00-07:00", "2020-04-24T10:00:01-07:00", {("RT001", "violation", "R1")}),
    # From 2020-05-01: 3 business days. Thu 05-07 10:00 → Tue 05-12 10:00 (weekend skipped).
    ("2020-05-07T10:00:00-07:00", "2020-05-12T10:00:00-07:00", set()),
    ("2020-05-07T10:00:00-07:00", "2020-05-12T10:00:01-07:00", {("RT001", "violation", "R1")}),
])
def test_ebay_profile_version_in_force_at_the_request(requested, responded, expect):
    f = audit(orders=[order(**EBAY, paid_at="2020-04-01T10:00:00-07:00")],
              refunds=[refund(requested_at=requested, first_response_at=responded,
                              decided_at=responded, refunded_at=responded, updated_at=None)],
              as_of="2020-06-01T00:00:00Z", window=60)
    assert found(f) == expect
