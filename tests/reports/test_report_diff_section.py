"""The re-audit section (``diff=``) and the run's warnings on the report pages."""

from __future__ import annotations

import pandas as pd
import pytest

from reports.changes import fair_shares
from reports.diff import diff_findings
from reports.mail_body import build_mail
from reports.outputs import findings_frame
from reports.render import build_context, write_reports

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
        assert ctx["changes"] == {"baseline": None, "note": "No earlier run to compare with"}
    write_reports(result, tmp_path, lang="en")
    for page in ("report.html", "shops/tg-flagship.html"):
        html = (tmp_path / page).read_text("utf-8")
        assert "Changes since the last run" in html and "No earlier run to compare with" in html
    # a mail built without a diff: no section rather than a wrong "no earlier run"
    body = build_mail(result, TG, lang="en")
    assert "Changes since the last run" not in body.html + body.text
    body = build_mail(result, TG, lang="en", diff=None)
    assert "No earlier run to compare with" in body.html


def test_shop_page_shows_its_own_changes(result, changes):
    ctx = build_context(result, shop=TG, history=None, lang="en", diff=changes)
    d = ctx["changes"]
    assert {c["key"]: c["n"] for c in d["counts"]} == {"appeared": 1, "disappeared": 0,
                                                         "changed": 1}  # fmt: skip
    assert d["total"] == 2 and not d["with_shop"]
    assert d["baseline"]["run_id"] == "run-0003"
    assert d["baseline"]["when"] == "2026-11-19 10:00 (UTC+08:00)"  # the shop's zone
    assert d["baseline"]["label"] == "Compared with the previous audit"
    appeared, changed = d["rows"]
    assert (appeared["kind"], appeared["rule_id"], appeared["before"], appeared["after"]) == (
        "appeared", "RT001", "—", "Due soon")
    assert appeared["ids"] == "Order O-1001, Refund R-2001"
    assert appeared["title"] == "Refund request answered late"
    assert (changed["kind"], changed["before"], changed["after"]) == (
        "changed", "Due soon", "Violation")
    assert d["more"] == 0
    # the tables mark the same findings
    assert [r["mark"] for r in ctx["at_risk"]["rows"] if r["mark"]] == ["new"]
    rt001 = next(g for g in ctx["violations"] if g["rule_id"] == "RT001")
    assert [r["mark"] for r in rt001["rows"]] == ["changed", ""]

    tm = build_context(result, shop=TM, history=None, lang="en", diff=changes)["changes"]
    (gone,) = tm["rows"]
    assert (gone["kind"], gone["before"], gone["after"]) == ("disappeared", "Violation", "—")
    assert gone["ids"].endswith("Refund R-3999") and gone["detail"] == "fixed"

    quiet = build_context(result, shop=JD, history=None, lang="en", diff=changes)["changes"]
    assert quiet["total"] == 0 and quiet["rows"] == []
    zh = build_context(result, shop=TG, history=None, lang="zh", diff=changes)["changes"]
    assert zh["counts"][0]["label"] == "新增 New"
    assert zh["rows"][1]["after"] == "违规 Violation"


def test_overview_counts_every_shop_and_names_the_shop(result, changes):
    d = build_context(result, shop=None, history=None, lang="en", diff=changes)["changes"]
    assert {c["key"]: c["n"] for c in d["counts"]} == {"appeared": 1, "disappeared": 1,
                                                         "changed": 1}  # fmt: skip
    assert d["with_shop"]
    assert [(r["kind"], r["shop_id"]) for r in d["rows"]] == [
        ("appeared", "tg-flagship"), ("disappeared", "tm-store"), ("changed", "tg-flagship")]
    assert d["baseline"]["when"] == "2026-11-19 10:00 (UTC+08:00)"  # the report zone


def test_rendered_section_reads_as_a_table(result, changes, tmp_path):
    write_reports(result, tmp_path, lang="en", diff=changes)
    shop = (tmp_path / "shops/tg-flagship.html").read_text("utf-8")
    section = shop[shop.index("Changes since the last run"):shop.index("Data quality")]
    assert section.count("<tr") == 3  # header + 2
    assert "Due soon → <b" in section and "R-2001" in section
    assert "No changes" in (tmp_path / "shops/jd-quiet.html").read_text("utf-8")
    overview = (tmp_path / "report.html").read_text("utf-8")
    assert "R-3999" in overview


def test_a_re_audit_names_when_the_earlier_version_was_recorded(result, changes):
    d = build_context(result, shop=TG, history=None, lang="en",
                      diff={**changes, "kind": "re-audit"})["changes"]  # fmt: skip
    assert d["baseline"]["label"].startswith("A re-run of the same audit")
    assert d["baseline"]["when"] == "2026-11-19 10:05 (UTC+08:00)"  # recorded 02:05 UTC


def test_diff_rows_are_capped_and_the_rest_counted(build):
    rows = [build.finding("RT001", "violation", *TG, refund_id=f"R-{i}") for i in range(16)]
    result = build.result(build.frame(rows))
    after = findings_frame(result.findings)
    before = after.iloc[15:].assign(status="at_risk")  # R-15 changed, R-0..R-14 appeared
    diff = make_diff(before, after)
    # the mail shows ten rows; the long list does not crowd out the short one: nine new
    # (R-0, R-1, R-10..R-14, R-2, R-3 in the diff's text order) and the one changed
    d = build_context(result, shop=TG, history=None, lang="en", diff=diff, mail=True)["changes"]
    assert [(r["kind"], r["ids"]) for r in d["rows"]][-2:] == [
        ("appeared", "Refund R-3"), ("changed", "Refund R-15")]
    assert len(d["rows"]) == 10 and d["more"] == 6
    # a diff cut by report_diff's own limit: overview counts stay exact
    cut = make_diff(before, after, limit=2)
    assert cut["truncated"]
    ov = build_context(result, shop=None, history=None, lang="en", diff=cut)["changes"]
    assert ov["total"] == 16 and len(ov["rows"]) == 3 and ov["more"] == 13


def testfair_shares():
    assert fair_shares([5, 0, 1], 3) == [2, 0, 1]
    assert fair_shares([100, 100, 100], 200) == [67, 67, 66]
    assert fair_shares([1, 2, 3], 200) == [1, 2, 3]
    assert fair_shares([0, 0, 0], 5) == [0, 0, 0]
    assert fair_shares([4, 4], 0) == [0, 0]


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
    assert html.index("Warnings") < html.index("Shops, most urgent first")
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
    assert "Warnings" in dq and "its report page failed" in dq
    assert "Warnings" not in (tmp_path / "shops/jd-quiet.html").read_text("utf-8")


def test_a_run_without_warnings_shows_none(result):
    assert build_context(result, shop=None, history=None, lang="en")["warnings"] == []
    assert build_context(result, shop=TG, history=None, lang="en")["warnings"] == []
