"""The run-history store and the re-audit diff, on SQLite and (service) PostgreSQL."""

from __future__ import annotations

import dataclasses
import json
import os
import uuid

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from checks.result import FINDING_COLUMNS, AuditResult
from reports import history
from reports.diff import diff_findings, diff_runs, report_diff

PG_URL = os.environ.get("REFUND_AUDIT_TEST_PG_URL",
                        "postgresql+psycopg://refund_audit:refund_audit@127.0.0.1:5432/"
                        "refund_audit_test")


@pytest.fixture(scope="module")
def base(tables, make_result):
    return make_result(tables, run_id="run-a", audit_key="key-1")


def rerun(result, run_id: str, **changes):
    """The same audit again (same key), with its findings optionally changed."""
    return dataclasses.replace(result, run={**result.run, "run_id": run_id}, **changes)


def test_same_audit_replaces_its_rows_and_a_changed_rerun_keeps_the_earlier_version(
        tmp_path, base):
    store = tmp_path
    assert history.append_run(store, base)["replaced"] == []
    again = rerun(base, "run-b")
    rec = history.append_run(store, again)
    assert rec["replaced"] == ["run-a"] and rec["kept"] == []
    runs = history.list_runs(store)
    assert runs["run_id"].tolist() == ["run-b"]
    assert len(history.read_findings(store, "run-b")) == len(base.findings)

    late = rerun(base, "run-c", findings=base.findings.iloc[3:].reset_index(drop=True))
    rec = history.append_run(store, late)
    assert rec == {"run_id": "run-c", "audit_key": "key-1", "replaced": [], "kept": ["run-b"],
                   "pruned": []}
    runs = history.list_runs(store).set_index("run_id")
    assert runs.loc["run-b", "superseded_by"] == "run-c"
    assert pd.isna(runs.loc["run-c", "superseded_by"])
    # Appending the same run again (a retried step) does not duplicate it.
    history.append_run(store, late)
    assert len(history.read_findings(store, "run-c")) == len(base.findings) - 3
    assert (tmp_path / "history.sqlite").exists()


def at(result, as_of: str, key: str, run_id: str, **run):
    """Another audit (as of another day) with the same KPI rows."""
    return dataclasses.replace(result, run={**result.run, "as_of": pd.Timestamp(as_of)
                                            .tz_convert("UTC").isoformat(), "audit_key": key,
                                            "run_id": run_id, **run})


def test_load_history_gives_earlier_current_runs_of_the_same_source(tmp_path, base):
    store = tmp_path / "h.sqlite"
    assert history.load_history(store, base) is None
    assert not store.exists()  # reading never creates the store
    days = ["2026-11-18T02:00:00+08:00", "2026-11-19T02:00:00+08:00",
            "2026-11-20T02:00:00+08:00"]
    results = [at(base, d, f"k{i}", f"r{i}") for i, d in enumerate(days)]
    for r in results:
        history.append_run(store, r)
    history.append_run(store, at(base, days[0], "other", "x", source="another-source",
                                  source_key="another-source-key"))
    h = history.load_history(store, results[2])
    assert list(h.columns) == ["run_id", "as_of", "platform", "shop_id", "metric", "value"]
    assert sorted(h["run_id"].unique()) == ["r0", "r1"]
    assert str(h["as_of"].dt.tz) == "UTC"
    assert h["as_of"].max() == pd.Timestamp(days[1])
    assert set(map(tuple, h[["platform", "shop_id"]].drop_duplicates().to_numpy())) == set(
        map(tuple, results[2].kpis[["platform", "shop_id"]].drop_duplicates().to_numpy()))
    assert history.load_history(store, results[0]) is None
    # The renderer's trend reads values per metric: one per shop, metric and date.
    assert not h.duplicated(["as_of", "platform", "shop_id", "metric"]).any()


def _f(rule, refund, status, shop="S1"):
    return {"rule_id": rule, "status": status, "severity": "major", "platform": "tmall",
            "shop_id": shop, "order_id": "O" + refund, "refund_id": refund, "message_id": "",
            "due_at": "", "responded_at": "", "overdue_hours": "", "detail": f"{rule} {refund}"}


def test_diff_findings_appeared_disappeared_changed():
    a = pd.DataFrame([_f("RT001", "R1", "at_risk"), _f("RT001", "R2", "violation"),
                      _f("SD001", "R3", "violation")])
    b = pd.DataFrame([_f("RT001", "R1", "violation"), _f("SD001", "R3", "violation"),
                      _f("RA001", "R4", "violation"), _f("RA001", "R5", "violation")])
    d = diff_findings(a, b)
    assert d["counts"] == {"appeared": 2, "disappeared": 1, "changed": 1, "unchanged": 1}
    assert [f["refund_id"] for f in d["appeared"]] == ["R4", "R5"]
    assert d["disappeared"][0]["refund_id"] == "R2"
    assert d["changed"] == [{**{k: v for k, v in _f("RT001", "R1", "").items()
                                if k in d["changed"][0]},
                             "status_before": "at_risk", "status_after": "violation"}]
    json.dumps(d)  # plain values only
    capped = diff_findings(a, b, limit=1)
    assert capped["truncated"] and len(capped["appeared"]) == 1
    assert capped["counts"] == d["counts"]


def test_diff_runs_and_report_diff_from_the_store(tmp_path, base):
    store = tmp_path
    history.append_run(store, base)
    f = base.findings
    changed = f.copy()
    changed.loc[changed.index[0], "status"] = "violation" if f["status"].iloc[0] != "violation" \
        else "at_risk"
    late = rerun(base, "run-late", findings=changed.iloc[:-2].reset_index(drop=True))
    assert report_diff(store, late)["kind"] == "re-audit"  # before it is appended
    history.append_run(store, late)
    d = diff_runs(store, "run-a", "key-1")  # the key names the current version
    assert d["before"]["run_id"] == "run-a" and d["after"]["run_id"] == "run-late"
    assert d["counts"]["disappeared"] == 2 and d["counts"]["changed"] == 1
    assert d["counts"]["appeared"] == 0
    r = report_diff(store, late)
    assert r["kind"] == "re-audit" and r["counts"] == d["counts"]
    with pytest.raises(KeyError, match="no run"):
        diff_runs(store, "nope", "run-a")


def test_diff_and_history_commands(tmp_path, base):
    from flows.cli import app

    history.append_run(tmp_path, base)
    fewer = rerun(base, "run-z", findings=base.findings.iloc[1:].reset_index(drop=True))
    history.append_run(tmp_path, fewer)
    cli = CliRunner()
    res = cli.invoke(app, ["diff", "run-a", "run-z", "--store", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "appeared 0  disappeared 1  changed status 0" in res.output
    assert f"- {base.findings['rule_id'].iloc[0]}" in res.output
    res = cli.invoke(app, ["diff", "run-a", "run-z", "--store", str(tmp_path), "--json"])
    assert json.loads(res.output)["counts"]["disappeared"] == 1
    res = cli.invoke(app, ["diff", "run-a", "missing", "--store", str(tmp_path)])
    assert res.exit_code == 2 and "no run in the history store matches 'missing'" in res.output
    res = cli.invoke(app, ["history", "--store", str(tmp_path)])
    assert res.exit_code == 0 and "run-z" in res.output and "superseded by run-z" in res.output


@pytest.mark.service
def test_postgresql_store(base, pg_store):
    url = pg_store
    history.append_run(url, base)
    history.append_run(url, rerun(base, "run-b"))
    assert history.list_runs(url)["run_id"].tolist() == ["run-b"]
    later = dataclasses.replace(base, run={**base.run, "run_id": "run-c",
                                           "audit_key": "key-2",
                                           "as_of": "2026-11-21T00:00:00+00:00"})
    h = history.load_history(url, later)
    assert set(h["run_id"]) == {"run-b"} and len(h) == len(base.kpis)
    assert diff_runs(url, "run-b", "run-b")["counts"]["unchanged"] == len(base.findings)


# --------------------------------------------------------------------------- hand-made runs


def hand_result(run_id: str, *, key: str = "hand-key", as_of: str = "2026-11-19T18:00:00+00:00",
                source: str = "hand-source", source_key: str | None = "sk-hand",
                findings: list[dict] | None = None, rate: float = 0.25) -> AuditResult:
    """A tiny audit written out by hand: two findings of shop tm-1, two KPIs."""
    rows = findings if findings is not None else [
        {"rule_id": "RT001", "status": "violation", "severity": "major", "platform": "tmall",
         "shop_id": "tm-1", "order_id": "O1", "refund_id": "R1", "message_id": None,
         "due_at": pd.Timestamp("2026-11-18T04:00:00Z"), "responded_at": pd.NaT,
         "overdue_hours": 38.0, "detail": "no response to R1"},
        {"rule_id": "SD001", "status": "at_risk", "severity": "critical", "platform": "tmall",
         "shop_id": "tm-1", "order_id": "O2", "refund_id": "R2", "message_id": None,
         "due_at": pd.Timestamp("2026-11-20T06:30:00Z"), "responded_at": pd.NaT,
         "overdue_hours": float("nan"), "detail": "refund R2 due"},
    ]
    f = pd.DataFrame(rows, columns=FINDING_COLUMNS)
    k = pd.DataFrame([
        {"platform": "tmall", "shop_id": "tm-1", "metric": "response_rate", "value": rate,
         "threshold": 0.9, "status": "breach", "better": "higher"},
        {"platform": "tmall", "shop_id": "tm-1", "metric": "dispute_refund_rate",
         "value": float("nan"), "threshold": 0.01, "status": "", "better": "lower"},
    ])
    counts = {"orders": {"read": 5, "valid": 4, "quarantined": 1, "superseded": 0}}
    run = {"run_id": run_id, "audit_key": key, "as_of": as_of, "window_days": 30,
           "source": source, "source_key": source_key, "selection": {}, "counts": counts}
    return AuditResult(run=run, findings=f, kpis=k, quarantine=pd.DataFrame(), counts=counts,
                       catalog=[], timezones={"tmall": "Asia/Shanghai"},
                       shops=k[["platform", "shop_id"]].drop_duplicates())


HAND_CSV_ROWS = [  # the two findings as findings.csv shows them
    ["RT001", "violation", "major", "tmall", "tm-1", "O1", "R1", "", "2026-11-18T04:00:00Z",
     "", "38.00", "no response to R1"],
    ["SD001", "at_risk", "critical", "tmall", "tm-1", "O2", "R2", "", "2026-11-20T06:30:00Z",
     "", "", "refund R2 due"],
]


@pytest.fixture
def pg_store():
    """A fresh schema of the test PostgreSQL database, as a store URL; dropped afterwards."""
    schema = f"history_test_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_URL)
    try:
        with admin.begin() as db:
            db.execute(sa.text(f"CREATE SCHEMA {schema}"))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_URL} ({exc}); run "
                    "scripts/ensure-postgres.sh")
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as db:
            db.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.service)])
def store(request, tmp_path):
    """An empty store: an SQLite file, or a fresh schema of the test PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "h.sqlite")
    return request.getfixturevalue("pg_store")


def test_hand_made_run_reads_back_exactly(store):
    history.append_run(store, hand_result("h1"))
    got = history.read_findings(store, "h1")
    assert got.values.tolist() == HAND_CSV_ROWS
    listed = history.list_runs(store)
    assert listed[["run_id", "audit_key", "n_findings", "source_key"]].values.tolist() == [
        ["h1", "hand-key", 2, "sk-hand"]]
    # A later audit of the same source sees this run's KPIs as its trend, NaN kept as NaN.
    later = hand_result("h2", key="hand-key-2", as_of="2026-11-20T18:00:00+00:00")
    h = history.load_history(store, later)
    assert h["run_id"].tolist() == ["h1", "h1"]
    assert h["as_of"].tolist() == [pd.Timestamp("2026-11-19T18:00:00Z")] * 2
    values = dict(zip(h["metric"], h["value"], strict=True))
    assert values["response_rate"] == 0.25 and pd.isna(values["dispute_refund_rate"])
    # Another source (other source_key) is no trend of this one, even with the same text.
    other = hand_result("h3", key="hand-key-3", as_of="2026-11-20T18:00:00+00:00",
                        source_key="sk-other")
    assert history.load_history(store, other) is None


def test_findings_older_than_the_kept_days_are_pruned_kpis_stay(store):
    """Three nightly audits of one source, a year and more apart. Recording the third
    (as of 2026-03-01) keeping 365 days: the cut is 2025-03-01 (2026 is no leap year back to
    that day: 2025-03-01 + 365 days = 2026-03-01), so the run of 2025-01-01 loses its
    findings and the run of 2025-06-01 keeps them. Every run keeps its row and KPIs."""
    first = hand_result("p1", key="k-p1", as_of="2025-01-01T18:00:00+00:00")
    second = hand_result("p2", key="k-p2", as_of="2025-06-01T18:00:00+00:00")
    third = hand_result("p3", key="k-p3", as_of="2026-03-01T18:00:00+00:00")
    assert history.append_run(store, first, keep_days=365)["pruned"] == []
    assert history.append_run(store, second, keep_days=365)["pruned"] == []
    assert history.append_run(store, third, keep_days=365)["pruned"] == ["p1"]
    with pytest.raises(history.FindingsPruned, match="history_keep_days"):
        history.read_findings(store, "p1")
    assert history.read_findings(store, "p2").values.tolist() == HAND_CSV_ROWS
    assert sorted(history.list_runs(store)["run_id"]) == ["p1", "p2", "p3"]
    later = hand_result("p4", key="k-p4", as_of="2026-03-02T18:00:00+00:00")
    assert sorted(set(history.load_history(store, later)["run_id"])) == ["p1", "p2", "p3"]
    # a diff against the pruned run says why instead of showing every finding as new
    with pytest.raises(KeyError, match="no longer in the history store"):
        diff_runs(store, "p1", "p3")
    # the report's "changes since the last run" has no baseline rather than a wrong one
    # (another source, whose only earlier run is as of 2024-01-01)
    lone = hand_result("q2", key="k-q2", source="q-source", source_key="sk-q",
                       as_of="2026-03-01T18:00:00+00:00")
    history.append_run(store, hand_result("q1", key="k-q1", source="q-source",
                                          source_key="sk-q", as_of="2024-01-01T18:00:00+00:00"))
    assert report_diff(store, lone)["before"]["run_id"] == "q1"  # before the pruning
    history.append_run(store, lone, keep_days=365)
    assert report_diff(store, lone) is None
    # keeping for ever (no keep_days) prunes nothing
    assert history.append_run(store, later)["pruned"] == []


def test_rerun_replaces_rows_and_the_old_id_stays_resolvable(store):
    history.append_run(store, hand_result("h1"))
    rec = history.append_run(store, hand_result("h2"))  # same audit, same content
    assert rec["replaced"] == ["h1"] and rec["kept"] == []
    assert history.list_runs(store)["run_id"].tolist() == ["h2"]
    # The id a report showed still answers, standing for the run that holds its rows.
    r = history.resolve_run(store, "h1")
    assert (r["run_id"], r["asked"], r["replaced_by"]) == ("h2", "h1", "h2")
    d = diff_runs(store, "h1", "h2")
    assert d["before"]["asked"] == "h1" and d["counts"]["unchanged"] == 2
    # A third identical run: both earlier ids now point at it.
    history.append_run(store, hand_result("h3"))
    assert history.resolve_run(store, "h1")["run_id"] == "h3"
    assert history.resolve_run(store, "h2")["run_id"] == "h3"
    assert sorted(history.list_replaced(store)["run_id"]) == ["h1", "h2"]
    # A changed re-run keeps h3 as a superseded version; h1 still resolves to h3's rows.
    one = [{**HAND_ROW_1}]
    history.append_run(store, hand_result("h4", findings=one))
    assert history.resolve_run(store, "h1")["run_id"] == "h3"
    d = diff_runs(store, "h1", "h4")
    assert d["counts"] == {"appeared": 0, "disappeared": 1, "changed": 0, "unchanged": 1}
    assert d["disappeared"][0]["refund_id"] == "R2"
    assert history.resolve_run(store, "hand-key")["run_id"] == "h4"  # the current version


HAND_ROW_1 = {"rule_id": "RT001", "status": "violation", "severity": "major",
              "platform": "tmall", "shop_id": "tm-1", "order_id": "O1", "refund_id": "R1",
              "message_id": None, "due_at": pd.Timestamp("2026-11-18T04:00:00Z"),
              "responded_at": pd.NaT, "overdue_hours": 38.0, "detail": "no response to R1"}


def test_history_and_diff_commands_speak_the_report_zone(tmp_path, monkeypatch):
    from flows.cli import app

    history.append_run(tmp_path, hand_result("h1"))
    history.append_run(tmp_path, hand_result("h2"))
    cli = CliRunner()
    res = cli.invoke(app, ["history", "--store", str(tmp_path)])
    assert res.exit_code == 0, res.output
    # 18:00 UTC on the 19th is 02:00 on the 20th in Shanghai (the default report zone).
    assert "h2  as of 2026-11-20 02:00:00+08:00" in res.output
    assert "h1  superseded by run h2" in res.output
    res = cli.invoke(app, ["diff", "h1", "h2", "--store", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "(as of 2026-11-20 02:00:00+08:00)" in res.output
    assert "h1 was superseded by run h2" in res.output
    monkeypatch.setenv("REFUND_AUDIT_REPORT_TIMEZONE", "America/Los_Angeles")
    res = cli.invoke(app, ["history", "--store", str(tmp_path)])
    assert "h2  as of 2026-11-19 10:00:00-08:00" in res.output


def test_a_store_written_before_finding_sets_is_upgraded(tmp_path):
    path = tmp_path / "history.sqlite"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as db:  # the earlier layout: no source_key, findings as rows
        db.execute(sa.text(
            "CREATE TABLE history_runs (run_id VARCHAR(64) PRIMARY KEY, audit_key VARCHAR(64)"
            " NOT NULL, as_of VARCHAR(40) NOT NULL, recorded_at VARCHAR(40) NOT NULL, source "
            "TEXT NOT NULL, window_days INTEGER NOT NULL, selection TEXT NOT NULL, n_findings "
            "INTEGER NOT NULL, digest VARCHAR(64) NOT NULL, superseded_by VARCHAR(64), "
            "run_json TEXT NOT NULL)"))
        db.execute(sa.text(
            "CREATE TABLE history_findings (run_id VARCHAR(64) NOT NULL, audit_key VARCHAR(64) "
            "NOT NULL, " + ", ".join(f"{c} TEXT NOT NULL" for c in FINDING_COLUMNS) + ")"))
        db.execute(sa.text(
            "INSERT INTO history_runs VALUES ('old1', 'k', '2026-11-18T18:00:00+00:00', "
            "'2026-11-19T00:00:00+00:00', 'src', 30, '{}', 2, 'd', NULL, '{}')"))
        for row in HAND_CSV_ROWS:
            db.execute(sa.text("INSERT INTO history_findings VALUES ('old1', 'k', "
                               + ", ".join(f"'{v}'" for v in row) + ")"))
    engine.dispose()
    assert history.list_runs(tmp_path)["run_id"].tolist() == ["old1"]
    assert history.read_findings(tmp_path, "old1").values.tolist() == HAND_CSV_ROWS
    history.append_run(tmp_path, hand_result("new1", key="k"))  # different content: kept
    runs = history.list_runs(tmp_path).set_index("run_id")
    assert runs.loc["old1", "superseded_by"] == "new1"
    assert "history_findings" not in sa.inspect(sa.create_engine(f"sqlite:///{path}")) \
        .get_table_names()


# --------------------------------------------------------------------------- the audit key


def test_audit_key_tells_schemas_and_mappings_apart_and_resolves_paths(tmp_path,
                                                                        monkeypatch):
    from reports.identity import audit_key, source_key

    ts = pd.Timestamp("2026-11-19T18:00:00Z")
    pv = {"tmall": "2026.1"}

    def key(source, **kw):
        return audit_key(source, ts, 30, pv, **kw)

    pg = "postgresql+psycopg://u:secret@db.example:5432/shop"
    assert key(pg, schema="tenant_a") != key(pg, schema="tenant_b")
    assert key(pg) == key(pg, schema="public")  # the default schema is the schema
    assert key(pg) == key("postgresql+psycopg://u:other@db.example:5432/shop")  # no password
    assert key(pg, schema="tenant_a") != key(pg)
    folder = tmp_path / "exports"
    folder.mkdir()
    assert key(str(folder), mapping="tmall_refund_export") != key(
        str(folder), mapping="tmall_order_report")
    assert key(str(folder), mapping="tmall_refund_export") != key(str(folder))
    monkeypatch.chdir(tmp_path)
    assert key("exports") == key(str(folder)) == key("./exports/")
    (tmp_path / "a.sqlite").touch()
    assert key("sqlite:///a.sqlite") == key(f"sqlite:///{tmp_path / 'a.sqlite'}")
    assert key("sqlite:///a.sqlite") != key(str(folder))
    assert source_key("exports") == source_key(str(folder))
    assert source_key(pg, "tenant_a") != source_key(pg, "tenant_b")
    assert source_key("exports", mapping="m.yaml") == source_key(
        str(folder), mapping=str(tmp_path / "m.yaml"))


def test_scheduled_run_folders_are_named_in_the_report_zone():
    from pathlib import Path

    from flows.params import run_folder

    at = pd.Timestamp("2026-11-19T18:00:00Z")
    assert run_folder(Path("/o"), at) == Path("/o/2026-11-20T0200+0800")
    assert run_folder(Path("/o"), at, zone="UTC") == Path("/o/2026-11-19T1800+0000")
    assert run_folder(Path("/o"), at + pd.Timedelta(seconds=30)).name == "2026-11-20T020030+0800"
    assert run_folder(Path("/o"), at, shops=["tm-1"]).name.startswith("2026-11-20T0200+0800-")
