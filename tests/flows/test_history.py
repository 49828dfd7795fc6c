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
    assert rec == {"run_id": "run-c", "audit_key": "key-1", "replaced": [], "kept": ["run-b"]}
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
    history.append_run(store, at(base, days[0], "other", "x", source="another-source"))
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
def test_postgresql_store(base):
    schema = f"history_test_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_URL)
    try:
        with admin.begin() as db:
            db.execute(sa.text(f"CREATE SCHEMA {schema}"))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_URL} ({exc}); run "
                    "scripts/ensure-postgres.sh")
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    try:
        history.append_run(url, base)
        history.append_run(url, rerun(base, "run-b"))
        assert history.list_runs(url)["run_id"].tolist() == ["run-b"]
        later = dataclasses.replace(base, run={**base.run, "run_id": "run-c",
                                               "audit_key": "key-2",
                                               "as_of": "2026-11-21T00:00:00+00:00"})
        h = history.load_history(url, later)
        assert set(h["run_id"]) == {"run-b"} and len(h) == len(base.kpis)
        assert diff_runs(url, "run-b", "run-b")["counts"]["unchanged"] == len(base.findings)
    finally:
        with admin.begin() as db:
            db.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
