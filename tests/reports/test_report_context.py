"""The report's context on the tiny result: ordering, caps, masking, local times, names.

Expected values are worked out by hand from the fixture (conftest.py): as_of is
2026-11-20 02:00 UTC = 10:00 in Shanghai (UTC+08:00) = 18:00 the day before in Los Angeles
(UTC-08:00 in November).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reports.kpi_cards import bars
from reports.page import rules_view
from reports.render import build_context, redact_source, shop_page_names, write_reports
from reports.shared import Shared

TG = ("tmall_global", "tg-flagship")


def fields(row) -> dict[str, str]:
    """A row's evidence text ("Key: value · Key: value") as a dict."""
    return dict(part.split(": ", 1) for part in row["evidence"].split(" · ") if part)


def test_at_risk_items_come_sorted_by_due_with_local_times_and_time_left(result):
    ctx = build_context(result, shop=TG, history=None, lang="en")
    rows = ctx["at_risk"]["rows"]
    assert [r["rule_id"] for r in rows] == ["RT002", "RT001", "RT004"]
    # due 04:30 UTC = 12:30 in Shanghai; 2.5 h after the 10:00 as-of
    assert rows[0]["due"] == "2026-11-20 12:30 (UTC+08:00)"
    assert rows[0]["when"] == "As of 11-20 10:00 (UTC+08:00) · Time left 2.5 h"
    assert rows[0]["action"] == "Respond to the platform intervention with evidence"
    assert ctx["head"]["timezone"] == "Asia/Shanghai"
    assert ctx["head"]["period"] == "2026-10-21 10:00 (UTC+08:00) – 2026-11-20 10:00 (UTC+08:00)"
    zh = build_context(result, shop=TG, history=None, lang="zh")["at_risk"]["rows"][0]
    assert zh["when"] == "截至 As of 11-20 10:00 (UTC+08:00) · 还剩 Time left 2.5 h"
    assert zh["action"] == "向平台提交凭证，回应平台介入 Respond to the platform intervention with evidence"


def test_times_are_local_to_the_platform_with_their_offset(result):
    ctx = build_context(result, shop=("amazon_us", "amz-east"), history=None, lang="en")
    assert ctx["head"]["timezone"] == "America/Los_Angeles"
    assert ctx["at_risk"]["rows"][0]["due"] == "2026-11-20 09:00 (UTC-08:00)"  # 17:00 UTC
    assert ctx["head"]["as_of"] == "2026-11-19 18:00 (UTC-08:00)"
    assert ctx["head"]["as_of_date"] == "2026-11-19"


def test_no_sentence_says_utc(result):
    for shop in (TG, ("amazon_us", "amz-east"), None):
        ctx = build_context(result, shop=shop, history=None, lang="en")
        for row in ctx["at_risk"]["rows"]:
            assert " UTC" not in row["when"] + row["detail"]


def test_overview_times_are_in_the_report_zone(result):
    ctx = build_context(result, shop=None, history=None, lang="en")
    assert ctx["head"]["as_of"] == "2026-11-20 10:00 (UTC+08:00)"
    assert ctx["head"]["as_of_date"] == "2026-11-20"
    amz = [r for r in ctx["at_risk"]["rows"] if r["platform"] == "amazon_us"][0]
    assert amz["due"] == "2026-11-21 01:00 (UTC+08:00)"  # 17:00 UTC, in Shanghai
    berlin = build_context(result, shop=None, history=None, lang="en", report_tz="Europe/Berlin")
    assert berlin["head"]["as_of"] == "2026-11-20 03:00 (UTC+01:00)"


def test_violations_group_by_rule_most_severe_first_most_overdue_first(result):
    ctx = build_context(result, shop=TG, history=None, lang="en")
    groups = ctx["violations"]
    assert [(g["rule_id"], g["severity"], g["count"]) for g in groups] == [
        ("SD001", "critical", 1),
        ("RA004", "major", 1),
        ("RT001", "major", 2),
    ]
    assert groups[0]["action"] == "Accept the no-reason return and refund the buyer"
    rt001 = groups[2]["rows"]
    # 48 h past due, not answered; the other answered 30.5 h late
    assert [r["when"] for r in rt001] == [
        "As of 11-20 10:00 (UTC+08:00) · Overdue by 2 d",
        "Answered late by 30.5 h",
    ]
    assert rt001[1]["responded"] == "2026-11-19 02:30 (UTC+08:00)"  # 18:30 UTC the day before
    assert [g["rule_id"] for g in ctx["contestable"]] == ["DA001", "DA002"]
    assert ctx["head"]["overall"]["key"] == "action"


def test_rows_are_capped_per_rule_with_the_rest_counted(build):
    rows = [
        build.finding(
            "RT001", "violation", *TG, refund_id=f"R-{i}", due_at=f"2026-11-1{i}T00:00:00Z"
        )
        for i in range(5)
    ] + [
        build.finding("RT001", "at_risk", *TG, refund_id=f"R-a{i}", due_at="2026-11-20T05:00:00Z")
        for i in range(4)
    ]
    result = build.result(build.frame(rows))
    mail = build_context(result, shop=TG, history=None, lang="en", mail=True)
    (group,) = mail["violations"]
    assert group["count"] == 5
    # the mail shows three per rule, most overdue first (R-0 is due earliest)
    assert [r["ids"] for r in group["rows"]] == ["Refund R-0", "Refund R-1", "Refund R-2"]
    assert group["more"] == 2
    page = build_context(result, shop=TG, history=None, lang="en", caps=2)
    assert len(page["at_risk"]["rows"]) == 2
    assert page["at_risk"]["total"] == 4
    assert page["at_risk"]["more"] == 2
    assert len(page["violations"][0]["rows"]) == 5  # the page keeps five a rule
    assert page["violations"][0]["more"] == 0


def test_names_and_phones_are_masked_in_evidence(result):
    ctx = build_context(result, shop=TG, history=None, lang="en")
    ra004 = next(g for g in ctx["violations"] if g["rule_id"] == "RA004")
    evidence = fields(ra004["rows"][0])
    assert evidence["Recipient"] == "张*"
    assert evidence["Phone"] == "138****5678"
    assert evidence["District"] == "—"
    assert evidence["missing"] == "district, postcode"  # a field the names do not know
    sd001 = next(g for g in ctx["violations"] if g["rule_id"] == "SD001")
    assert fields(sd001["rows"][0])["buyer_name"] == "李**"
    text = fields(ctx["at_risk"]["rows"][2])["Message text"]
    assert "139****5678" in text and "13912345678" not in text
    amz = build_context(result, shop=("amazon_us", "amz-east"), history=None, lang="en")
    evidence = fields(amz["violations"][0]["rows"][0])
    assert evidence["Recipient"] == "J*** S****"
    assert evidence["Phone"] == "+141****0123"


def test_evidence_names_are_bilingual_and_times_local(result):
    ctx = build_context(result, shop=TG, history=None, lang="zh")
    row = ctx["violations"][0]["rows"][0]  # SD001
    assert fields(row)["签收时间 Delivered at"] == "2026-11-10 11:00 (UTC+08:00)"
    assert row["ids"] == "订单 Order O-1007, 售后单 Refund R-2007"


def test_kpi_cards_show_value_limit_counts_and_status(result):
    ctx = build_context(result, shop=TG, history=None, lang="en")
    cards = {k["metric"]: k for k in ctx["kpis"]}
    assert cards["invalid_rejection_rate"]["value"] == "—"
    assert cards["invalid_rejection_rate"]["status"] == "empty"
    assert cards["late_response_rate"]["value"] == "12.50%"
    assert cards["late_response_rate"]["threshold"] == "≤ 5.00%"
    assert cards["late_response_rate"]["counts"] == "1 / 8"
    assert cards["late_response_rate"]["status_label"] == "Over limit"
    assert cards["dispute_refund_rate"]["status_label"] == "Close to limit"
    assert cards["self_completion_rate"]["threshold"] == "≥ 80.00%"
    assert cards["seven_day_refusals"]["value"] == "1"
    assert cards["seven_day_refusals"]["name"] == "No-reason returns refused (7-day window)"
    assert list(cards) == [
        "dispute_refund_rate",
        "intervention_rate",
        "late_response_rate",
        "invalid_rejection_rate",
        "self_completion_rate",
        "seven_day_refusals",
        "return_address_defect_rate",
        "message_late_rate",
    ]


def test_amazon_refusal_kpi_names_its_30_day_window(result):
    ctx = build_context(result, shop=("amazon_us", "amz-east"), history=None, lang="zh")
    name = {k["metric"]: k for k in ctx["kpis"]}["seven_day_refusals"]["name"]
    assert "30" in name and "7" not in name


def test_trend_bars_use_history_with_dates_and_values(result, history):
    # a history that already holds this run (a re-run) must not count it twice
    again = history[history["run_id"] == "run-0003"].assign(run_id="run-0004")
    ctx = build_context(result, shop=TG, history=pd.concat([history, again]), lang="en")
    trend = {k["metric"]: k for k in ctx["kpis"]}["late_response_rate"]["trend"]
    # 2 %, 6 %, 10 % on 11-17..11-19 (10:00 Shanghai), 12.5 % now; the longest bar (120 px)
    # is this run's: 2/12.5·120 = 19.2 → 19, 6/12.5·120 = 57.6 → 58, 10/12.5·120 = 96
    assert [(b["date"], b["value"], b["width"], b["bad"]) for b in trend] == [
        ("11-17", "2.00%", 19, False),
        ("11-18", "6.00%", 58, True),
        ("11-19", "10.00%", 96, True),
        ("11-20", "12.50%", 120, True),
    ]
    single = build_context(result, shop=TG, history=None, lang="en")
    trend = {k["metric"]: k for k in single["kpis"]}["late_response_rate"]["trend"]
    assert [(b["date"], b["width"]) for b in trend] == [("11-20", 120)]


def test_bars_leave_empty_values_empty_and_scale_to_the_threshold():
    out = bars([("a", 0.1), ("b", None), ("c", 0.0)], threshold=0.2, is_rate=True)
    assert [(b["value"], b["width"], b["rest"]) for b in out] == [
        ("10.00%", 60, 60), ("—", 0, 120), ("0.00%", 0, 120)]
    higher = bars([("a", 0.7)], threshold=0.8, is_rate=True, higher_is_better=True)
    assert higher[0]["bad"] is True


def test_overview_ranks_shops_by_severity_and_lists_items_due_soon(result):
    ctx = build_context(result, shop=None, history=None, lang="en")
    ranking = ctx["ranking"]
    assert [(r["shop_id"], r["overall"]["key"]) for r in ranking] == [
        ("tg-flagship", "action"),
        ("amz-east", "action"),
        ("tm-store", "attention"),
        ("jd-quiet", "ok"),
    ]
    assert ranking[0]["href"] == "shops/tg-flagship.html"
    assert ranking[0]["critical"] == 1 and ranking[0]["at_risk"] == 3
    assert ctx["head"]["counts"] == {"at_risk": 5, "violation": 7, "contestable": 2,
                                     "critical": 2}
    assert [(r["shop_id"], r["rule_id"]) for r in ctx["at_risk"]["rows"]] == [
        ("tg-flagship", "RT002"), ("tg-flagship", "RT001"), ("tm-store", "RT001"),
        ("amz-east", "RT003"), ("tg-flagship", "RT004")]
    assert '<a href="shops/tm-store.html">tm-store</a>' in ctx["at_risk"]["html"]
    assert [t["rule_id"] for t in ctx["rule_totals"]][:3] == ["RA005", "RT002", "SD001"]


def test_overview_data_quality_reconciles_and_groups_reasons(result):
    dq = build_context(result, shop=None, history=None, lang="en")["quality"]
    assert [t["table"] for t in dq["tables"]] == [
        "Orders (orders)",
        "Refund requests (refunds)",
        "Return address book (return_addresses)",
        "Buyer messages (messages)",
    ]
    assert all(t["balanced"] for t in dq["tables"])
    top = dq["reasons"][0]
    assert (top["column"], top["check"], top["count"]) == ("amount", "amount_le_order", 4)
    assert [e["row_key"] for e in top["examples"]] == ["R-9001", "R-9002", "R-9004"]
    phone = next(r for r in dq["reasons"] if r["column"] == "phone")
    assert phone["examples"][0]["value"] == "138****1111"


def test_a_shop_sees_only_its_own_set_aside_rows(result):
    tg = build_context(result, shop=TG, history=None, lang="en")["quality"]
    assert tg["tables"] == []  # the source-wide counts are on the overview only
    assert tg["rows"] == 2
    assert [e["row_key"] for r in tg["reasons"] for e in r["examples"]] == ["R-9001", "R-9002"]
    tm = build_context(result, shop=("tmall", "tm-store"), history=None, lang="en")["quality"]
    assert sorted(e["row_key"] for r in tm["reasons"] for e in r["examples"]) == [
        "A-9001", "R-9003"]
    jd = build_context(result, shop=("jd_worldwide", "jd-quiet"), history=None,
                       lang="en")["quality"]
    assert jd["rows"] == 0 and jd["reasons"] == []


def test_without_owners_a_shop_gets_a_statement_not_other_shops_rows(build):
    result = build.result(quarantine=build.quarantine().drop(columns=["platform", "shop_id"]))
    tg = build_context(result, shop=TG, history=None, lang="en")["quality"]
    assert tg["reasons"] == [] and "overview" in tg["note"]


def test_unbalanced_counts_are_flagged(build):
    result = build.result()
    result.counts["orders"] = {"read": 10, "valid": 8, "quarantined": 1, "superseded": 0}
    dq = build_context(result, shop=None, history=None, lang="en")["quality"]
    assert [t["balanced"] for t in dq["tables"]][0] is False


def test_not_evaluated_rules_are_named(build):
    result = build.result()
    result.not_evaluated = ["RT004", "PC002"]
    ctx = build_context(result, shop=TG, history=None, lang="en")
    assert ctx["not_evaluated"] == ["RT004", "PC002"]
    flags = {r["rule_id"]: r["not_evaluated"] for r in rules_view(Shared.of(result))["rules"]}
    assert flags["RT004"] and flags["PC002"] and not flags["RT001"]


def test_a_shop_without_findings_still_gets_a_page(result, tmp_path):
    paths = write_reports(result, tmp_path)
    assert tmp_path / "shops" / "jd-quiet.html" in paths
    assert tmp_path / "rules.html" in paths
    ctx = build_context(result, shop=("jd_worldwide", "jd-quiet"), history=None, lang="en")
    assert ctx["at_risk"]["rows"] == [] and ctx["violations"] == []
    assert ctx["head"]["overall"]["key"] == "ok"


def test_every_finding_shop_gets_a_page_even_if_missing_from_shops(build, tmp_path):
    result = build.result(shops=[TG])
    names = {p.name for p in write_reports(result, tmp_path)}
    assert {"tg-flagship.html", "tm-store.html", "amz-east.html", "jd-quiet.html"} <= names


def test_new_findings_since_the_last_run_are_marked(result):
    diff = {"kind": "previous", "before": {"run_id": "run-0003", "as_of": "2026-11-19T02:00Z"},
            "after": {"run_id": "run-0004"},
            "counts": {"appeared": 1, "disappeared": 0, "changed": 1, "unchanged": 0},
            "appeared": [{"rule_id": "RT002", "platform": "tmall_global",
                          "shop_id": "tg-flagship", "order_id": "O-1002", "refund_id": "R-2002",
                          "message_id": "", "status": "at_risk"}],
            "disappeared": [],
            "changed": [{"rule_id": "SD001", "platform": "tmall_global",
                         "shop_id": "tg-flagship", "order_id": "O-1007", "refund_id": "R-2007",
                         "message_id": "", "status_before": "at_risk",
                         "status_after": "violation"}]}
    ctx = build_context(result, shop=TG, history=None, lang="en", diff=diff)
    assert [r["mark"] for r in ctx["at_risk"]["rows"]] == ["new", "", ""]
    assert ctx["violations"][0]["rows"][0]["mark"] == "changed"
    assert ctx["changes"]["counts"][0] == {"key": "appeared", "label": "New", "n": 1}


def test_shop_page_names_are_deterministic_and_collision_free():
    names = shop_page_names(
        [
            ("tmall", "s1"),
            ("jd_worldwide", "s1"),
            ("tmall", "plain-Shop_1.0"),
            ("tmall", "../etc/passwd"),
            ("tmall", "店铺"),
            ("tmall", "ABC"),
            ("jd_worldwide", "abc"),
        ]
    )
    assert names[("tmall", "s1")] == "s1--tmall"
    assert names[("jd_worldwide", "s1")] == "s1--jd_worldwide"
    assert names[("tmall", "plain-Shop_1.0")] == "plain-Shop_1.0"
    assert names[("tmall", "../etc/passwd")].startswith("etc-passwd-")
    assert names[("tmall", "店铺")].startswith("shop-")
    assert names[("tmall", "ABC")] != names[("jd_worldwide", "abc")]
    assert names[("tmall", "ABC")].casefold() != names[("jd_worldwide", "abc")].casefold()
    assert len(set(names.values())) == len(names)
    assert all("/" not in n and not n.startswith(".") for n in names.values())
    assert shop_page_names(reversed(list(names))) == names


def test_source_passwords_never_reach_the_page(build):
    result = build.result()
    result.run = {**result.run, "source": "postgresql://audit:hunter2@db:5432/shop"}
    ctx = build_context(result, shop=None, history=None, lang="en")
    assert ctx["run"]["source"] == "postgresql://audit:***@db:5432/shop"
    assert redact_source("sqlite:///x.sqlite") == "sqlite:///x.sqlite"


def test_unknown_language_is_an_error(result):
    with pytest.raises(ValueError, match="language"):
        build_context(result, shop=None, history=None, lang="fr")


def test_numpy_scalars_in_evidence_format_like_python_ones(build):
    row = build.finding(
        "RA004",
        "violation",
        *TG,
        refund_id="R-1",
        evidence={"n": np.int64(3), "ok": np.bool_(True), "x": np.float64(1.5)},
    )
    ctx = build_context(build.result(build.frame([row])), shop=TG, history=None, lang="en")
    assert fields(ctx["violations"][0]["rows"][0]) == {"n": "3", "ok": "yes", "x": "1.50"}
