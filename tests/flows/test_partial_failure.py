"""One shop's bad data, one platform's failing check or one shop's failing report page does
not stop the audit of the others; the run fails only when nothing could be audited."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest

from checks.audit import run_rules
from checks.partition import merge_findings, merge_kpis
from checks.profiles import load_profiles
from flows.partitioned import restrict
from reports.outputs import findings_frame, kpis_frame
from schemas.validate import validate_tables
from sources.writers import write_csv_folder

AS_OF = "2026-11-20T02:00:00+08:00"  # as in conftest.py
BROKEN = ("tmall", "tm-shop-02")


def csv_text(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False, lineterminator="\n")


def others(frame: pd.DataFrame, platform: str, shop: str | None = None) -> pd.DataFrame:
    hit = frame["platform"] == platform
    if shop is not None:
        hit &= frame["shop_id"] == shop
    return frame[~hit].reset_index(drop=True)


def test_partitioned_check_equals_one_run_over_everything(tables):
    profiles = load_profiles(None)
    v = validate_tables(tables, {p: pr.timezone for p, pr in profiles.items()})
    as_of = pd.Timestamp(AS_OF).tz_convert("UTC")
    whole = run_rules(v.tables, profiles, as_of, 30, 24)
    platforms = ["amazon_us", "jd_worldwide", "tmall", "tmall_global"]
    parts = [run_rules(restrict(v.tables, [p]), profiles, as_of, 30, 24) for p in platforms]
    assert all(len(p.findings) for p in parts)
    findings = merge_findings([p.findings for p in parts])
    kpis = merge_kpis([p.kpis for p in parts])
    assert csv_text(findings_frame(findings)) == csv_text(findings_frame(whole.findings))
    assert csv_text(kpis_frame(kpis)) == csv_text(kpis_frame(whole.kpis))
    assert len(whole.findings) > 20


@pytest.fixture(scope="module")
def clean(tables, make_result):
    return make_result(tables)


def run(source: str, out: Path, **kw):
    from flows.audit import audit

    return audit(source=source, out=str(out), as_of=AS_OF, return_state=True, **kw)


def read(out: Path, name: str) -> str:
    return (out / name).read_text(encoding="utf-8")


@pytest.mark.prefect
def test_one_shops_broken_data_does_not_stop_the_others(tables, clean, tmp_path):
    broken = {k: v.copy() for k, v in tables.items()}
    o = broken["orders"]
    o.loc[(o["platform"] == BROKEN[0]) & (o["shop_id"] == BROKEN[1]), "paid_at"] = "not a date"
    source = str(write_csv_folder(broken, tmp_path / "src"))

    state = run(source, tmp_path / "out")
    assert state.is_completed(), state.message
    res = state.result()
    assert any(f"{BROKEN[0]}/{BROKEN[1]}" in w and "not audited" in w
               for w in res["run"]["warnings"])
    # ... and the report's overview says so (the shop has no page of its own)
    assert f"shop {BROKEN[0]}/{BROKEN[1]}: every order was quarantined" in read(
        tmp_path / "out", "report.html")
    # The other shops' findings and KPIs are exactly those of the run without broken data.
    assert read(tmp_path / "out", "findings.csv") == csv_text(
        findings_frame(others(clean.findings, *BROKEN)))
    assert read(tmp_path / "out", "kpis.csv") == csv_text(kpis_frame(others(clean.kpis,
                                                                             *BROKEN)))


@pytest.fixture
def failing_platform(monkeypatch):
    """RT001 raises on the tmall partition (and so on the run over everything)."""
    import checks.audit

    def sabotage(rule, platforms):
        def fn(data, r):
            if data.refunds["platform"].isin(platforms).any():
                raise RuntimeError(f"boom in {r.id}")
            return rule.fn(data, r)
        return dataclasses.replace(rule, fn=fn)

    def fail(*platforms):
        monkeypatch.setattr(checks.audit, "RULES", [
            sabotage(r, list(platforms)) if r.id == "RT001" else r for r in checks.audit.RULES])
    return fail


@pytest.mark.prefect
def test_one_platforms_failing_check_does_not_stop_the_others(csv_source, clean, tmp_path,
                                                              failing_platform):
    failing_platform("tmall")
    state = run(csv_source, tmp_path / "out")
    assert state.is_completed(), state.message
    assert "platform tmall: the check failed (RuntimeError: boom in RT001)" in state.message
    assert f"outputs in {tmp_path / 'out'}" in state.message
    run_json = json.loads(read(tmp_path / "out", "run.json"))
    assert run_json["failures"] == [{"stage": "check", "platform": "tmall", "shop_id": None,
                                     "error": "RuntimeError: boom in RT001"}]
    assert read(tmp_path / "out", "findings.csv") == csv_text(
        findings_frame(others(clean.findings, "tmall")))
    assert read(tmp_path / "out", "kpis.csv") == csv_text(kpis_frame(others(clean.kpis,
                                                                             "tmall")))


@pytest.mark.prefect
def test_nothing_audited_is_a_failed_run(csv_source, tmp_path, failing_platform):
    failing_platform("tmall", "tmall_global", "jd_worldwide", "amazon_us")
    state = run(csv_source, tmp_path / "out")
    assert state.is_failed()
    assert state.message.startswith("Nothing could be audited: the check failed for every "
                                    "platform: amazon_us: RuntimeError: boom in RT001;")
    assert not (tmp_path / "out" / "findings.csv").exists()


@pytest.mark.prefect
def test_one_shops_failing_report_page_does_not_stop_the_others(csv_source, clean, tmp_path,
                                                                break_shop_page):
    break_shop_page(BROKEN, "template trouble")
    out = tmp_path / "out"
    state = run(csv_source, out)
    assert state.is_completed(), state.message
    assert "its report page failed (ValueError: template trouble)" in state.message
    pages = sorted(p.name for p in (out / "shops").glob("*.html"))
    assert len(pages) == 3 and f"{BROKEN[1]}.html" not in pages
    assert (out / "report.html").exists()
    # The data files are complete, the failing shop's findings included.
    assert read(out, "findings.csv") == csv_text(findings_frame(clean.findings))


@pytest.mark.prefect
def test_shop_selection_audits_only_those_shops(csv_source, clean, tmp_path):
    state = run(csv_source, tmp_path / "out", shops=["tm-shop-02", "amz-shop-04"])
    assert state.is_completed(), state.message
    keep = clean.findings["shop_id"].isin(["tm-shop-02", "amz-shop-04"])
    assert read(tmp_path / "out", "findings.csv") == csv_text(
        findings_frame(clean.findings[keep].reset_index(drop=True)))
    assert state.result()["run"]["selection"] == {"platforms": [],
                                                  "shops": ["amz-shop-04", "tm-shop-02"]}

    state = run(csv_source, tmp_path / "none", platforms=["tmall"], shops=["amz-shop-04"])
    assert state.is_failed()
    assert state.message.startswith("Nothing to audit: no valid order of platform(s) "
                                    "['tmall'] and shop(s) ['amz-shop-04'].")
    assert "tmall/tm-shop-02" in state.message


@pytest.mark.prefect
def test_a_flaky_source_is_retried_once_per_failure_by_one_layer(csv_source, clean, tmp_path,
                                                                 monkeypatch):
    import sources.base

    real, calls = sources.base.open_source, []

    def flaky(*args, **kw):
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("the database blinked")
        return real(*args, **kw)

    monkeypatch.setattr(sources.base, "open_source", flaky)
    monkeypatch.setenv("REFUND_AUDIT_RETRY_BACKOFF", "0")
    state = run(csv_source, tmp_path / "out")
    assert state.is_completed(), state.message
    assert len(calls) == 2  # the failed attempt and one more: no second retry layer
    assert read(tmp_path / "out", "findings.csv") == csv_text(findings_frame(clean.findings))


@pytest.mark.prefect
def test_bad_input_is_not_retried(tmp_path, monkeypatch):
    import sources.base

    real, calls = sources.base.open_source, []

    def counting(*args, **kw):
        calls.append(1)
        return real(*args, **kw)

    monkeypatch.setattr(sources.base, "open_source", counting)
    monkeypatch.setenv("REFUND_AUDIT_RETRY_BACKOFF", "5")
    (tmp_path / "src").mkdir()
    state = run(str(tmp_path / "src"), tmp_path / "out")
    assert state.is_failed()
    assert "orders" in state.message
    assert len(calls) == 1


@pytest.mark.prefect
def test_every_order_quarantined_fails_and_writes_nothing_that_looks_like_an_audit(
        tables, tmp_path):
    broken = {k: v.copy() for k, v in tables.items()}
    broken["orders"]["paid_at"] = "not a date"
    state = run(str(write_csv_folder(broken, tmp_path / "src")), tmp_path / "out")
    assert state.is_failed()
    assert state.message.startswith("Every order was quarantined (")
    assert "paid_at type in " in state.message  # the reason, with an example
    assert not (tmp_path / "out" / "run.json").exists()
    assert not (tmp_path / "out" / "report.html").exists()


def test_each_shops_result_holds_that_shop_only():
    from checks.result import AuditResult
    from flows.partition import each_shop, only_shops

    findings = pd.DataFrame({"platform": ["tmall", "jd", "tmall", "tmall"],
                             "shop_id": ["s1", "s1", "s2", "s1"],
                             "order_id": ["O1", "O2", "O3", "O4"]})
    kpis = pd.DataFrame({"platform": ["tmall", "jd"], "shop_id": ["s1", "s1"],
                         "metric": ["m", "m"]})
    shops = pd.DataFrame({"platform": ["tmall", "jd", "tmall", "amazon_us"],
                          "shop_id": ["s1", "s1", "s2", "quiet"]})
    result = AuditResult(run={}, findings=findings, kpis=kpis, quarantine=pd.DataFrame(),
                         counts={}, catalog=[], timezones={}, shops=shops)
    keys = [("tmall", "s1"), ("jd", "s1"), ("tmall", "s2"), ("amazon_us", "quiet")]
    got = dict(each_shop(result, keys))
    assert got[("tmall", "s1")].findings["order_id"].tolist() == ["O1", "O4"]
    assert got[("jd", "s1")].findings["order_id"].tolist() == ["O2"]
    assert got[("tmall", "s2")].kpis.empty and len(got[("tmall", "s2")].shops) == 1
    assert got[("amazon_us", "quiet")].findings.empty
    assert list(got[("amazon_us", "quiet")].findings.columns) == list(findings.columns)
    for key, one in got.items():
        alone = only_shops(result, {key})
        for name in ("findings", "kpis", "shops"):
            pd.testing.assert_frame_equal(getattr(one, name), getattr(alone, name),
                                          check_index_type=False)
    rest = only_shops(result, {("tmall", "s1")}, keep=False)
    assert rest.findings["order_id"].tolist() == ["O2", "O3"]
