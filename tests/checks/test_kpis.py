"""KPIs worked by hand: numerators, denominators, empty denominators and the warn/breach
bands at their edges (docs/spec.md, "KPIs").

The scenario (tmall_global, as of 2026-11-20 02:00 +08:00, 30 days: orders paid from
2026-10-21 02:00 +08:00 count):

- shop S1: orders O1-O4 paid 2026-11-01 (in the window), O5 paid 2026-10-01 (not);
  - R1 on O1: answered in an hour, agreed, refunded, never escalated;
  - R2 on O2: escalated, refused, ruled seller_liable (DA003), then refunded;
  - R3 on O3 (unshipped: 48 h to answer): answered 48 h + 1 s after the request (RT001);
  - R4 on O4: requested 2026-11-19 20:00, still pending and unanswered: its 120 h deadline
    (11-24 20:00) is after as_of and more than 24 h away (not even at risk), so it is in
    no late-response denominator;
  - buyer messages: one on O1 answered within the hour, one on O3 never answered (RT004);
- shop S2: order O6 paid in the window, nothing else.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from factories import message, order, refund, tables

from checks.audit import run_rules
from checks.kpis import METRICS, score
from checks.profiles import load_profiles, timezones
from schemas.validate import validate_tables

P = load_profiles()
AS_OF = pd.Timestamp("2026-11-20T02:00:00+08:00")
ESC = dict(escalated_at="2026-11-10T10:00:00+08:00",
           escalation_response_at="2026-11-10T12:00:00+08:00")
NAN = float("nan")


@pytest.fixture(scope="module")
def kpis() -> pd.DataFrame:
    raw = tables(
        orders=[order(), order(order_id="O2"),
                order(order_id="O3", shipped_at=None, delivered_at=None),
                order(order_id="O4"),
                order(order_id="O5", paid_at="2026-10-01T10:00:00+08:00",
                      shipped_at=None, delivered_at=None),
                order(order_id="O6", shop_id="S2")],
        refunds=[
            refund(),
            refund(refund_id="R2", order_id="O2", **ESC, decision="refused",
                   refunded_at="2026-11-12T10:00:00+08:00", ruling="seller_liable",
                   ruled_at="2026-11-12T09:00:00+08:00"),
            refund(refund_id="R3", order_id="O3", first_response_at="2026-11-07T10:00:01+08:00",
                   decided_at="2026-11-07T10:00:01+08:00",
                   refunded_at="2026-11-07T11:00:00+08:00"),
            refund(refund_id="R4", order_id="O4", requested_at="2026-11-19T20:00:00+08:00",
                   first_response_at=None, decision="pending", decided_at=None,
                   refunded_at=None, refunded_amount=None, updated_at=None),
        ],
        messages=[
            message(message_id="B1", sent_at="2026-11-05T10:00:00+08:00"),
            message(message_id="S1", sender="seller", sent_at="2026-11-05T11:00:00+08:00",
                    text="您好，已处理"),
            message(message_id="S2", order_id="O2", sender="seller",
                    sent_at="2026-11-08T10:00:00+08:00", text="您好"),
            message(message_id="B3", order_id="O3", sent_at="2026-11-10T10:00:00+08:00"),
        ])
    v = validate_tables(raw, timezones(P))
    assert v.quarantine.empty, v.quarantine.to_dict("records")
    out = run_rules(v.tables, P, AS_OF, 30)
    assert set(zip(out.findings["rule_id"], out.findings["status"], strict=True)) == {
        ("DA003", "violation"), ("RT001", "violation"), ("RT004", "violation")}
    return out.kpis.set_index(["shop_id", "metric"])


# metric: (numerator, denominator, value, status) for shop S1 ----------------------------
S1 = {
    "dispute_refund_rate": (1, 4, 1 / 4, "breach"),      # R2 / O1-O4 (O5 paid before)
    "intervention_rate": (1, 4, 1 / 4, "breach"),        # R2 / O1-O4
    "late_response_rate": (1, 3, 1 / 3, "breach"),       # R3 / R1, R2, R3 (R4 not due)
    "invalid_rejection_rate": (1, 1, 1.0, "breach"),     # DA003 on R2 / refused R2
    "self_completion_rate": (2, 3, 2 / 3, "breach"),     # R1, R3 / R1, R2, R3 refunded
    "seven_day_refusals": (0, NAN, 0.0, "ok"),           # a count: no denominator
    "return_address_defect_rate": (0, 0, NAN, ""),       # no agreed return: empty
    "message_late_rate": (1, 2, 1 / 2, "breach"),        # B3 / B1 (answered), B3 (due)
}
S2 = {
    "dispute_refund_rate": (0, 1, 0.0, "ok"),
    "intervention_rate": (0, 1, 0.0, "ok"),
    "late_response_rate": (0, 0, NAN, ""),
    "invalid_rejection_rate": (0, 0, NAN, ""),
    "self_completion_rate": (0, 0, NAN, ""),
    "seven_day_refusals": (0, NAN, 0.0, "ok"),
    "return_address_defect_rate": (0, 0, NAN, ""),
    "message_late_rate": (0, 0, NAN, ""),
}


def same(a, b) -> bool:
    return (math.isnan(a) and math.isnan(b)) if isinstance(b, float) and math.isnan(b) \
        else a == pytest.approx(b)


@pytest.mark.parametrize(("shop", "metric"), [(s, m) for s in ("S1", "S2") for m in METRICS])
def test_kpi_worked_by_hand(kpis, shop, metric):
    num, den, value, status = (S1 if shop == "S1" else S2)[metric]
    row = kpis.loc[(shop, metric)]
    assert same(row["numerator"], num), row.to_dict()
    assert same(row["denominator"], den), row.to_dict()
    assert same(row["value"], value), row.to_dict()
    assert row["status"] == status, row.to_dict()
    assert row["better"] == ("higher" if metric == "self_completion_rate" else "lower")


def test_thresholds_come_from_the_profile(kpis):
    assert kpis.loc[("S1", "dispute_refund_rate"), "threshold"] == 0.001
    assert kpis.loc[("S1", "self_completion_rate"), "threshold"] == 0.8


# --------------------------------------------------------------------------- bands

@pytest.mark.parametrize(("value", "threshold", "better", "status"), [
    # lower is better, threshold 0.05: warn above 0.04, breach above 0.05
    (0.0, 0.05, "lower", "ok"),
    (0.04, 0.05, "lower", "ok"),           # exactly 80 % of the threshold: still ok
    (0.0401, 0.05, "lower", "warn"),
    (0.05, 0.05, "lower", "warn"),         # at the threshold: not yet a breach
    (0.0501, 0.05, "lower", "breach"),
    # a threshold of 0 (any occurrence is a breach)
    (0.0, 0.0, "lower", "ok"),
    (1.0, 0.0, "lower", "breach"),
    # higher is better, threshold 0.8: warn below 0.96, breach below 0.8
    (1.0, 0.8, "higher", "ok"),
    (0.96, 0.8, "higher", "ok"),           # exactly 120 % of the threshold: ok
    (0.9599, 0.8, "higher", "warn"),
    (0.8, 0.8, "higher", "warn"),          # at the threshold: not yet a breach
    (0.7999, 0.8, "higher", "breach"),
    # empty value or threshold: no status
    (NAN, 0.05, "lower", ""),
    (0.5, NAN, "lower", ""),
])
def test_score_bands_at_their_edges(value, threshold, better, status):
    got = score(pd.Series([value]), pd.Series([threshold]), pd.Series([better]))
    assert got.tolist() == [status]
