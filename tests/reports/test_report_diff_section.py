"""The re-audit section (``diff=``) and the run's warnings on the report pages."""

from __future__ import annotations

import pandas as pd
import pytest

from reports.diff import diff_findings
from reports.outputs import findings_frame
from reports.render import (
    Renderer,
    _fair_shares,
    build_context,
    shared_for,
    shop_context,
    write_reports,
)

TG = ("tmall_global", "tg-flagship")
TM = ("tmall", "tm-store")
JD = ("jd_worldwide", "jd-quiet")
BEFORE_AS_OF = "2026-11-19T02:00:00+00:00"  # 10:00 in Shanghai


def make_diff(before: pd.DataFrame, after: pd.DataFrame, *, kind="previous", limit=None):
    """What ``reports.diff.report_diff`` returns, from two findings.csv frames."""
    return {
        "kind": kind,
        "before": {"run_id": "run-0003", "audit_key": "k-prev", "as_of": BEFORE_AS_OF,
                   "source": "sqlite:///data/demo.sqlite", "window_days": 30,
                   "recorded_at": "2026-11-19T02:05:00+00:00", "n_findings": len(before),
                   "superseded_by": None},
        "after": {"run_id": "run-0004", "audit_key": "k-demo-2026-11-20-30d",
                  "as_of": "2026-11-20T02:00:00+00:00", "source": "sqlite:///data/demo.sqlite",
                  "window_days": 30},
        **diff_findings(before, after, limit),
    }  # fmt: skip


@pytest.fixture
def changes(result):
    """Against the run before: R-2001 (tg) is new, R-2006 (tg) was at risk and is now a
    violation, and a tm-store finding that is gone."""
    after = findings_frame(result.findings)
    before = after[after["refund_id"] != "R-2001"].copy()
    before.loc[before["refund_id"] == "R-2006", "status"] = "at_risk"
    gone = after[after["refund_id"] == "R-3001"].assign(refund_id="R-3999", detail="fixed")
    return make_diff(pd.concat([before, gone], ignore_index=True), after)


def test_first_run_says_there_is_nothing_to_compare(result, tmp_path):
    for shop in (TG, None):
        ctx = build_context(result, shop=shop, history=None, lang="en")
        assert ctx["diff"] == {"baseline": None, "note": "No earlier run to compare with"}
    write_reports(result, tmp_path, lang="en")
    for page in ("report.html", "shops/tg-flagship.html"):
        html = (tmp_path / page).read_text("utf-8")
        assert "Re-audit changes" in html and "No earlier run to compare with" in html
    # the mail is not given a diff: no section rather than a wrong "no earlier run"
    ctx = shop_context(shared_for(result, lang="en"), *TG, result.findings.iloc[0:0], None,
                       links=False)  # fmt: skip
    assert ctx["diff"] is None
    assert "Re-audit changes" not in Renderer().page(ctx)


def test_shop_page_shows_its_own_changes(result, changes):
    ctx = build_context(result, shop=TG, history=None, lang="en", diff=changes)
    d = ctx["diff"]
    assert {c["key"]: c["n"] for c in d["counts"]} == {"appeared": 1, "disappeared": 0,
                                                         "changed": 1}  # fmt: skip
    assert d["total"] == 2 and d["unchanged"] is None and not d["with_shop"]
    assert d["baseline"]["run_id"] == "run-0003"
    assert d["baseline"]["when_label"] == "As of"
    assert d["baseline"]["when"] == "2026-11-19 10:00"  # the shop's zone
    assert d["baseline"]["kind_label"].startswith("Compared with the previous audit")
    appeared, changed = d["rows"]
    assert (appeared["kind"], appeared["rule_id"], appeared["before"], appeared["after"]) == (
        "appeared", "RT001", "—", "At risk")
    assert [i["value"] for i in appeared["ids"]] == ["O-1001", "R-2001"]
    assert appeared["title"] == "Refund request answered late"
    assert (changed["kind"], changed["before"], changed["after"]) == (
        "changed", "At risk", "Violation")
    assert d["more"] is None
    assert d["command"] == "refund-audit diff run-0003 run-0004"

    tm = build_context(result, shop=TM, history=None, lang="en", diff=changes)["diff"]
    (gone,) = tm["rows"]
    assert (gone["kind"], gone["before"], gone["after"]) == ("disappeared", "Violation", "—")
    assert gone["ids"][1]["value"] == "R-3999" and gone["detail"] == "fixed"

    quiet = build_context(result, shop=JD, history=None, lang="en", diff=changes)["diff"]
    assert quiet["total"] == 0 and quiet["rows"] == []
    zh = build_context(result, shop=TG, history=None, lang="zh", diff=changes)["diff"]
    assert zh["counts"][0]["label"] == "新出现 Appeared"
    assert zh["rows"][1]["after"] == "违规 Violation"


def test_overview_counts_every_shop_and_names_the_shop(result, changes):
    d = build_context(result, shop=None, history=None, lang="en", diff=changes)["diff"]
    assert {c["key"]: c["n"] for c in d["counts"]} == {"appeared": 1, "disappeared": 1,
                                                         "changed": 1}  # fmt: skip
    assert d["unchanged"] == len(result.findings) - 2
    assert d["with_shop"]
    assert [(r["kind"], r["shop_id"]) for r in d["rows"]] == [
        ("appeared", "tg-flagship"), ("disappeared", "tm-store"), ("changed", "tg-flagship")]
    assert d["baseline"]["when"] == "2026-11-19 02:00 UTC"


def test_rendered_section_reads_as_a_table(result, changes, tmp_path):
    write_reports(result, tmp_path, lang="en", diff=changes)
    shop = (tmp_path / "shops/tg-flagship.html").read_text("utf-8")
    section = shop[shop.index("Re-audit changes"):shop.index("Data quality")]
    assert section.count("<tr") == 3  # header + 2
    assert "At risk → <b" in section and "R-2001" in section
    assert "No changes" in (tmp_path / "shops/jd-quiet.html").read_text("utf-8")
    overview = (tmp_path / "report.html").read_text("utf-8")
    assert "R-3999" in overview and "Unchanged" in overview


def test_a_re_audit_names_when_the_earlier_version_was_recorded(result, changes):
    d = build_context(result, shop=TG, history=None, lang="en",
                      diff={**changes, "kind": "re-audit"})["diff"]  # fmt: skip
    assert d["baseline"]["kind_label"].startswith("A re-run of the same audit")
    assert (d["baseline"]["when_label"], d["baseline"]["when"]) == ("recorded", "2026-11-19 10:05")


def test_diff_rows_are_capped_with_the_command_for_the_rest(build):
    rows = [build.finding("RT001", "violation", *TG, refund_id=f"R-{i}") for i in range(6)]
    result = build.result(build.frame(rows))
    after = findings_frame(result.findings)
    before = after.iloc[5:].assign(status="at_risk")  # R-5 changed, R-0..R-4 appeared
    diff = make_diff(before, after)
    d = build_context(result, shop=TG, history=None, lang="en", caps=3, diff=diff)["diff"]
    # the long list does not crowd out the short one
    assert [(r["kind"], r["ids"][0]["value"]) for r in d["rows"]] == [
        ("appeared", "R-0"), ("appeared", "R-1"), ("changed", "R-5")]
    assert d["more"] == "3 more — run"
    assert d["command"] == "refund-audit diff run-0003 run-0004"
    zh = build_context(result, shop=None, history=None, lang="zh", caps=3, diff=diff)["diff"]
    assert zh["more"] == "另有 3 条，完整列表请运行 3 more — run"

    # a diff cut by report_diff's own limit: overview counts stay exact (counts are never
    # capped); a shop page only has the rows it was given, so it points at the full list
    cut = make_diff(before, after, limit=2)
    assert cut["truncated"]
    ov = build_context(result, shop=None, history=None, lang="en", caps=10, diff=cut)["diff"]
    assert ov["total"] == 6 and len(ov["rows"]) == 3 and ov["more"] == "3 more — run"
    shop = build_context(result, shop=TG, history=None, lang="en", caps=10, diff=cut)["diff"]
    assert len(shop["rows"]) == 3 and shop["more"] == "Full list: run"


def test_fair_shares():
    assert _fair_shares([5, 0, 1], 3) == [2, 0, 1]
    assert _fair_shares([100, 100, 100], 200) == [67, 67, 66]
    assert _fair_shares([1, 2, 3], 200) == [1, 2, 3]
    assert _fair_shares([0, 0, 0], 5) == [0, 0, 0]
    assert _fair_shares([4, 4], 0) == [0, 0]


# --------------------------------------------------------------------------- warnings

WARNINGS = [
    "shop tmall/tm-store-2: every order was quarantined, so it was not audited (see "
    "quarantine.csv)",
    "shop tmall/tm-store: its report page failed (KeyError: 'x'); its findings are in "
    "findings.csv",
    "platform tmall_global: the check failed (RuntimeError: boom); its shops are not in this "
    "run's findings and KPIs",
    "refunds.channel is absent from the source; read as empty.",
]
FAILURES = [
    {"stage": "report", "platform": "tmall", "shop_id": "tm-store", "error": "KeyError: 'x'"},
    {"stage": "check", "platform": "tmall_global", "shop_id": None,
     "error": "RuntimeError: boom"},
    {"stage": "report", "platform": "amazon_us", "shop_id": "amz-east",
     "error": "ValueError: told only here"},
]  # fmt: skip


@pytest.fixture
def warned(build):
    result = build.result()
    result.run = {**result.run, "warnings": list(WARNINGS), "failures": list(FAILURES)}
    return result


def test_overview_shows_every_warning(warned, tmp_path):
    assert build_context(warned, shop=None, history=None, lang="en")["warnings"] == WARNINGS
    write_reports(warned, tmp_path, lang="en")
    html = (tmp_path / "report.html").read_text("utf-8")
    assert html.index("Run warnings") < html.index("Shops ranked by severity")
    assert "tmall/tm-store-2: every order was quarantined" in html


def test_a_shop_page_shows_the_warnings_that_concern_it(warned, tmp_path):
    def shop_warnings(key):
        return build_context(warned, shop=key, history=None, lang="en")["warnings"]

    assert shop_warnings(TM) == [WARNINGS[1]]  # not tm-store-2's
    assert shop_warnings(TG) == [WARNINGS[2]]  # its platform's failure
    assert shop_warnings(("amazon_us", "amz-east")) == ["report: ValueError: told only here"]
    assert shop_warnings(JD) == []
    write_reports(warned, tmp_path, lang="en")
    html = (tmp_path / "shops/tm-store.html").read_text("utf-8")
    dq = html[html.index("Data quality"):]
    assert "Run warnings" in dq and "its report page failed" in dq
    assert "Run warnings" not in (tmp_path / "shops/jd-quiet.html").read_text("utf-8")


def test_a_run_without_warnings_shows_none(result):
    assert build_context(result, shop=None, history=None, lang="en")["warnings"] == []
    assert build_context(result, shop=TG, history=None, lang="en")["warnings"] == []
