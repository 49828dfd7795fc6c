"""The deployment audit/nightly against the session's real Prefect server: its schedule read
back from the API, and a served process (``refund-audit serve``) running a run created by
``refund-audit trigger --wait``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml

from flows.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2026-11-20T02:00:00+08:00"  # as in conftest.py


def test_prefect_yaml_matches_the_settings_and_loads_the_flow():
    from prefect.flows import load_flow_from_entrypoint

    conf = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))
    (dep,) = conf["deployments"]
    s = Settings(_env_file=None)
    assert dep["name"] == "nightly"
    assert dep["schedules"] == [{"cron": s.schedule_cron, "timezone": s.schedule_timezone,
                                 "active": True}]
    flow = load_flow_from_entrypoint(str(ROOT / dep["entrypoint"]))
    assert flow.name == "audit"


@pytest.mark.prefect
def test_deployment_schedule_and_form_read_back_from_the_api():
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    from flows.deploy import DEPLOYMENT, deployment

    deployment(Settings(_env_file=None)).apply()
    scheduled = FlowRunFilter(state=FlowRunFilterState(
        type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])))
    with get_client(sync_client=True) as client:
        dep = client.read_deployment_by_name(DEPLOYMENT)
        (sched,) = dep.schedules
        assert (sched.schedule.cron, sched.schedule.timezone) == ("0 2 * * *", "Asia/Shanghai")
        assert sched.active
        form = dep.parameter_openapi_schema
        fields = form["definitions"]["AuditParams"]["properties"]
        assert {"as_of", "platforms", "shops", "window_days", "source"} <= set(fields)
        assert fields["window_days"]["minimum"] == 1
        assert dep.parameters["params"]["window_days"] == 30
        # The scheduler service creates the next runs within seconds of the deployment.
        deadline = time.monotonic() + 60
        runs = []
        while not runs and time.monotonic() < deadline:
            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[dep.id])),
                flow_run_filter=scheduled)
            time.sleep(1)
    assert runs, "no scheduled run was created within 60 s"
    nxt = min(r.expected_start_time for r in runs).astimezone(ZoneInfo("Asia/Shanghai"))
    assert (nxt.hour, nxt.minute, nxt.second) == (2, 0, 0)


@pytest.fixture
def served(csv_source, tmp_path, prefect_api_url):
    """`refund-audit serve` as a user starts it, against the session's server."""
    env = {**os.environ, "PREFECT_API_URL": prefect_api_url,
           "REFUND_AUDIT_SOURCE": csv_source, "REFUND_AUDIT_OUT_ROOT": str(tmp_path / "out"),
           # Poll for new runs every 2 s instead of 10 s: the test waits less.
           "PREFECT_RUNNER_POLL_FREQUENCY": "2"}
    log = (tmp_path / "serve.log").open("w+")
    started = time.monotonic()
    proc = subprocess.Popen([str(Path(sys.executable).parent / "refund-audit"), "serve"],
                            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while "being served" not in (tmp_path / "serve.log").read_text():
            assert proc.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "serve did not start in 90 s"
            time.sleep(0.2)
        print(f"serve start-up: {time.monotonic() - started:.1f} s")
        yield env, tmp_path / "out"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@pytest.mark.prefect
def test_trigger_runs_the_served_deployment_and_prints_the_outputs(served, cli):
    env, out_root = served
    started = time.monotonic()
    res = subprocess.run([*cli, "trigger", "--as-of", AS_OF, "--shop", "tm-shop-02",
                          "--wait", "--timeout", "90"],
                         env=env, capture_output=True, text=True, timeout=120)
    print(f"trigger → completed: {time.monotonic() - started:.1f} s")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "[3/5] check: 1 shop(s)" in res.stdout  # the run's progress, followed live
    last = res.stdout.strip().splitlines()[-1]
    assert last.startswith("Completed: ") and " outputs in " in last
    out = Path(last.rsplit(" outputs in ", 1)[1])
    assert out.parent == out_root and out.name.startswith("2026-11-20T0200+0800-")
    for name in ("findings.csv", "kpis.csv", "quarantine.csv", "run.json", "report.html"):
        assert (out / name).exists(), name
    shops = {line.split(",")[4] for line in (out / "findings.csv").read_text().splitlines()[1:]}
    assert shops == {"tm-shop-02"}
    assert (out_root / "history.sqlite").exists()

    bad = subprocess.run([*cli, "trigger", "--as-of", "yesterday"], env=env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert bad.stderr.startswith("refund-audit: error: invalid parameters: as_of: ")
