"""Re-running the same audit gives byte-identical data files and replaces its own history
rows; each run publishes its Prefect artifacts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reports.history import list_runs, resolve_run

pytestmark = pytest.mark.prefect

AS_OF = "2026-11-20T02:00:00+08:00"  # as in conftest.py
FILES = ("findings.csv", "kpis.csv", "quarantine.csv")


def run(source: str, out, **kw):
    from flows.audit import audit

    state = audit(source=source, out=str(out), as_of=AS_OF, return_state=True, **kw)
    assert state.is_completed(), state.message
    return state


def test_same_audit_twice_is_byte_identical_and_recorded_once(csv_source, tmp_path,
                                                               monkeypatch):
    first = run(csv_source, tmp_path / "first")
    second = run(csv_source, tmp_path / "second")
    a, b = first.result()["run"], second.result()["run"]
    assert a["run_id"] != b["run_id"] and a["audit_key"] == b["audit_key"]
    for name in FILES:
        one = (tmp_path / "first" / name).read_bytes()
        assert one == (tmp_path / "second" / name).read_bytes(), name
    assert len((tmp_path / "first" / "findings.csv").read_bytes().splitlines()) > 20
    # The report's re-audit section: nothing to compare with on the first run; the second
    # is the same audit on the same data, compared with the first: nothing changed.
    assert "No earlier run to compare with" in (tmp_path / "first" / "report.html").read_text()
    page = (tmp_path / "second" / "report.html").read_text()
    assert "A re-run of the same audit" in page and a["run_id"] in page
    assert "No changes" in page and "Unchanged" in page

    # Into the same folder again: the files do not move by a byte.
    before = {n: (tmp_path / "first" / n).read_bytes() for n in FILES}
    third = run(csv_source, tmp_path / "first")
    assert {n: (tmp_path / "first" / n).read_bytes() for n in FILES} == before
    runs = list_runs(tmp_path)  # history.sqlite next to the output folders
    third_id = third.result()["run"]["run_id"]
    assert runs["run_id"].tolist() == [third_id]
    # The run ids the earlier reports show still resolve, to the run holding their rows.
    assert resolve_run(tmp_path, a["run_id"])["run_id"] == third_id
    assert resolve_run(tmp_path, b["run_id"])["asked"] == b["run_id"]

    # The same folder named by a relative path is the same audit.
    monkeypatch.chdir(Path(csv_source).parent)
    rel = run(Path(csv_source).name, tmp_path / "first").result()["run"]
    assert rel["audit_key"] == a["audit_key"]
    assert list_runs(tmp_path)["run_id"].tolist() == [rel["run_id"]]

    # Another audit (another window) is another key, recorded beside it.
    other = run(csv_source, tmp_path / "w7", window_days=7).result()["run"]
    assert other["audit_key"] != a["audit_key"]
    assert len(list_runs(tmp_path)) == 2
    assert json.loads((tmp_path / "w7" / "run.json").read_text())["run_id"] == other["run_id"]


def test_a_run_publishes_a_summary_and_a_kpi_table(csv_source, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    state = run(csv_source, tmp_path / "out")
    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])))
    by_key = {a.key: a for a in arts}
    assert set(by_key) == {"audit-summary", "audit-kpis"}
    assert by_key["audit-summary"].type == "markdown"
    summary = by_key["audit-summary"].data
    assert f"outputs: `{tmp_path / 'out'}`" in summary and "| orders |" in summary
    table = by_key["audit-kpis"].data
    table = json.loads(table) if isinstance(table, str) else table
    assert {r["shop_id"] for r in table} == {"tmg-shop-01", "tm-shop-02", "jdw-shop-03",
                                             "amz-shop-04"}
    assert all(r["platform"] and "dispute_refund_rate" in r for r in table)
