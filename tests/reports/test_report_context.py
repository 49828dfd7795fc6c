"""The report's context on the tiny result: ordering, caps, masking, empty rates, names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from reports.render import build_context, redact_source, shop_page_names, sparkline, write_reports

TG = ("tmall_global", "tg-flagship")


def test_at_risk_items_come_sorted_by_due_with_local_times(result):
    ctx = build_context(result, shop=TG, history=None, lang="en")
    rows = ctx["at_risk"]["rows"]
    assert [r["rule_id"] for r in rows] == ["RT002", "RT001", "RT004"]
    # 04:30 UTC is 12:30 in Shanghai; the zone is named in the headline
    assert rows[0]["due"] == "2026-11-20 12:30"
    assert rows[0]["hours_left"] == "2.5"
    assert rows[0]["action"] == "Respond to the platform intervention"
    assert ctx["head"]["timezone"] == "Asia/Shanghai"
    assert ctx["head"]["period"] == "2026-10-21 10:00 – 2026-11-20 10:00"


def test_times_are_local_to_the_platform(result):
    ctx = build_context(result, shop=("amazon_us", "amz-east"), history=None, lang="en")
    assert ctx["head"]["timezone"] == "America/Los_Angeles"
    assert ctx["at_risk"]["rows"][0]["due"] == "2026-11-20 09:00"  # 17:00 UTC, PST
    assert ctx["head"]["as_of"] == "2026-11-19 18:00"


def test_violations_group_by_rule_most_severe_first_most_overdue_first(result):
    ctx = build_context(result, shop=TG, history=None, lang="en")
    groups = ctx["violations"]
    assert [(g["rule_id"], g["severity"], g["count"]) for g in groups] == [
        ("SD001", "critical", 1),
        ("RA004", "major", 1),
        ("RT001", "major", 2),
    ]
    rt001 = groups[2]["rows"]
    assert [r["overdue"] for r in rt001] == ["48.0", "30.5"]
    assert rt001[1]["responded"] == "2026-11-19 02:30"
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
    ctx = build_context(result, shop=TG, history=None, lang="en", caps=2)
    (group,) = ctx["violations"]
    assert group["count"] == 5
    assert [r["ids"][0]["value"] for r in group["rows"]] == ["R-0", "R-1"]  # most overdue
    assert group["more"] == "3 more in findings.csv"
    assert len(ctx["at_risk"]["rows"]) == 2
    assert ctx["at_risk"]["total"] == 4
    assert ctx["at_risk"]["more"] == "2 more in findings.csv"
    zh = build_context(result, shop=TG, history=None, lang="zh", caps=2)
    assert zh["violations"][0]["more"] == "另有 3 条，见 findings.csv 3 more in findings.csv"


def test_names_and_phones_are_masked_in_evidence(result):
    ctx = build_context(result, shop=TG, history=None, lang="en")
    ra004 = next(g for g in ctx["violations"] if g["rule_id"] == "RA004")
    evidence = {e["key"]: e["value"] for e in ra004["rows"][0]["evidence"]}
    assert evidence["recipient"] == "张*"
    assert evidence["phone"] == "138****5678"
    assert evidence["district"] == "—"
    assert evidence["missing"] == "district, postcode"
    sd001 = next(g for g in ctx["violations"] if g["rule_id"] == "SD001")
    assert {e["key"]: e["value"] for e in sd001["rows"][0]["evidence"]}["buyer_name"] == "李**"
    text = {e["key"]: e["value"] for e in ctx["at_risk"]["rows"][2]["evidence"]}["text"]
    assert "139****5678" in text and "13912345678" not in text
    amz = build_context(result, shop=("amazon_us", "amz-east"), history=None, lang="en")
    evidence = {e["key"]: e["value"] for e in amz["violations"][0]["rows"][0]["evidence"]}
    assert evidence["recipient"] == "J*** S****"
    assert evidence["phone"] == "+141****0123"


def test_evidence_timestamps_are_local_and_ids_are_not_repeated(result):
    ctx = build_context(result, shop=TG, history=None, lang="en")
    row = ctx["violations"][0]["rows"][0]  # SD001
    evidence = {e["key"]: e["value"] for e in row["evidence"]}
    assert evidence["delivered_at"] == "2026-11-10 11:00"
    assert [i["value"] for i in row["ids"]] == ["O-1007", "R-2007"]


def test_an_empty_rate_shows_as_empty_not_zero(result):
    ctx = build_context(result, shop=TG, history=None, lang="en")
    cards = {k["metric"]: k for k in ctx["kpis"]}
    assert cards["invalid_rejection_rate"]["value"] == "—"
    assert cards["invalid_rejection_rate"]["status"] == "empty"
    assert cards["invalid_rejection_rate"]["spark"] is None
    assert cards["late_response_rate"]["value"] == "12.50%"
    assert cards["late_response_rate"]["threshold"] == "≤ 5.00%"
    assert cards["late_response_rate"]["status"] == "breach"
    assert cards["self_completion_rate"]["threshold"] == "≥ 80.00%"
    assert cards["seven_day_refusals"]["value"] == "1"
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


def test_trend_uses_history_and_ends_with_this_run(result, history):
    # a history that already holds this run (a re-run) must not count it twice
    again = history[history["run_id"] == "run-0003"].assign(run_id="run-0004")
    ctx = build_context(result, shop=TG, history=pd.concat([history, again]), lang="en")
    cards = {k["metric"]: k for k in ctx["kpis"]}
    spark = cards["late_response_rate"]["spark"]
    assert spark["points"] == 4
    assert spark["last"]["x"] == spark["width"] - 4
    # rising trend: this run (12.5%) is the highest point, drawn at the top
    assert spark["last"]["y"] == min(float(p.split(",")[1]) for p in spark["lines"][0].split())
    single = build_context(result, shop=TG, history=None, lang="en")
    spark = {k["metric"]: k for k in single["kpis"]}["late_response_rate"]["spark"]
    assert spark["points"] == 1 and spark["lines"] == [] and spark["last"] is not None


def test_sparkline_breaks_at_empty_values():
    # Worked by hand: values 0.1..0.3 over the 26 px between the 4 px pads of a 34 px box,
    # y(v) = 30 - (v - 0.1) / 0.2 * 26; x steps (200 - 2 * 4) / 3 = 64 from x = 4.
    spark = sparkline([0.1, None, 0.2, 0.3], threshold=0.25)
    assert spark["dots"] == [{"x": 4.0, "y": 30.0}]  # the lowest value, alone, at the bottom
    assert spark["lines"] == ["132.0,17.0 196.0,4.0"]
    assert spark["threshold_y"] == 10.5
    assert sparkline([None, None]) is None
    flat = sparkline([0.0, 0.0])
    assert flat["last"]["y"] == flat["height"] / 2


def test_overview_ranks_shops_by_severity_and_links_their_pages(result):
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
    assert ctx["totals"] == {"at_risk": 5, "contestable": 2, "total": 14, "violation": 7}
    assert [t["rule_id"] for t in ctx["rule_totals"]][:3] == ["RA005", "RT002", "SD001"]


def test_data_quality_reconciles_and_groups_quarantine_reasons(result):
    dq = build_context(result, shop=None, history=None, lang="en")["data_quality"]
    assert [t["table"] for t in dq["tables"]] == [
        "orders",
        "refunds",
        "return_addresses",
        "messages",
    ]
    assert all(t["balanced"] for t in dq["tables"])
    top = dq["reasons"][0]
    assert (top["table"], top["column"], top["check"], top["count"]) == (
        "refunds",
        "amount",
        "amount_le_order",
        4,
    )
    assert [e["row_key"] for e in top["examples"]] == ["R-9001", "R-9002", "R-9004"]
    phone = next(r for r in dq["reasons"] if r["column"] == "phone")
    assert phone["examples"][0]["value"] == "138****1111"


def test_unbalanced_counts_are_flagged(build):
    result = build.result()
    result.counts["orders"] = {"read": 10, "valid": 8, "quarantined": 1, "superseded": 0}
    dq = build_context(result, shop=None, history=None, lang="en")["data_quality"]
    assert [t["balanced"] for t in dq["tables"]][0] is False


def test_not_evaluated_rules_are_named(build):
    result = build.result()
    result.not_evaluated = ["RT004", "PC002"]
    ctx = build_context(result, shop=TG, history=None, lang="en")
    assert ctx["not_evaluated"] == ["RT004", "PC002"]
    flags = {r["rule_id"]: r["not_evaluated"] for r in ctx["catalog"]}
    assert flags["RT004"] and flags["PC002"] and not flags["RT001"]


def test_a_shop_without_findings_still_gets_a_page(result, tmp_path):
    paths = write_reports(result, tmp_path)
    assert tmp_path / "shops" / "jd-quiet.html" in paths
    ctx = build_context(result, shop=("jd_worldwide", "jd-quiet"), history=None, lang="en")
    assert ctx["at_risk"]["rows"] == [] and ctx["violations"] == []
    assert ctx["head"]["overall"]["key"] == "ok"


def test_every_finding_shop_gets_a_page_even_if_missing_from_shops(build, tmp_path):
    result = build.result(shops=[TG])
    names = {p.name for p in write_reports(result, tmp_path)}
    assert {"tg-flagship.html", "tm-store.html", "amz-east.html", "jd-quiet.html"} <= names


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
    ev = {e["key"]: e["value"] for e in ctx["violations"][0]["rows"][0]["evidence"]}
    assert ev == {"n": "3", "ok": "yes", "x": "1.50"}
