"""The deployment ``audit/nightly``: its schedule, the long-running ``serve`` process and
on-demand triggers through the Prefect API.

The schedule is a ``Cron`` with an explicit time zone (a bare cron string means UTC in
Prefect): ``settings.schedule_cron`` in ``settings.schedule_timezone``, by default
``0 2 * * *`` in Asia/Shanghai. Runs take one typed parameter, ``params``
(``flows.params.AuditParams``), so the Prefect UI shows a form. A run's ``as_of`` defaults to
its *scheduled* time, not the moment it happened to start: a run delayed or retried after the
runner was down audits the night it was meant for, with the same audit key.

Teams with work pools deploy the same flow with ``prefect.yaml`` (docs/scheduling.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pandas as pd
from prefect import flow
from prefect.client.schemas.objects import FlowRun
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.schedules import Cron

from flows.audit import audit, parse_as_of
from flows.params import AuditParams
from flows.settings import Settings

FLOW = "audit"
NAME = "nightly"
DEPLOYMENT = f"{FLOW}/{NAME}"


def schedule(settings: Settings) -> Cron:
    return Cron(settings.schedule_cron, timezone=settings.schedule_timezone)


def default_parameters(settings: Settings) -> dict[str, Any]:
    """What the deployment's form shows before anyone types: the configured defaults."""
    return {"params": AuditParams.from_settings(settings).model_dump(mode="json")}


# Named "audit" like flows.audit.audit: both are the same flow in the Prefect UI, whether
# run from the CLI or by the deployment. This one only resolves the run's parameters.
@flow(name=FLOW, log_prints=True)
def deployed_audit(params: AuditParams = AuditParams()):
    """Audit the configured source as of this run's scheduled time (or ``params.as_of``)."""
    from prefect.runtime import flow_run

    if params.as_of is not None:
        as_of = parse_as_of(params.as_of)
    else:
        as_of = pd.Timestamp(flow_run.scheduled_start_time).tz_convert("UTC").floor("s")
    return audit.fn(**params.audit_kwargs(Settings(), as_of))


def deployment(settings: Settings) -> RunnerDeployment:
    """``audit/nightly`` with its schedule; ``.apply()`` registers it without a runner."""
    return deployed_audit.to_deployment(
        name=NAME,
        schedules=[schedule(settings)],
        parameters=default_parameters(settings),
        description="Nightly refund and return compliance audit (refund-audit).",
        tags=["refund-audit"],
        # A module path, not a file path: runs resolve the flow wherever `serve` was started.
        entrypoint_type=EntrypointType.MODULE_PATH,
    )


def serve(settings: Settings) -> None:
    """Register ``audit/nightly`` and run its flow runs until interrupted (``flow.serve``)."""
    from prefect import serve as prefect_serve

    prefect_serve(deployment(settings))


def trigger(given: dict[str, Any], *, wait: bool, timeout: float | None = None,
            echo: Callable[[str], None] = print, poll: float = 1.0) -> FlowRun:
    """Create a run of ``audit/nightly`` with ``given`` on top of the deployment's defaults.

    With ``wait``, follow it to a final state (or ``timeout`` seconds), echoing its log lines
    as they arrive (the flow logs each stage), and return the final flow run.
    """
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment

    with get_client(sync_client=True) as client:
        dep = client.read_deployment_by_name(DEPLOYMENT)
    base = (dep.parameters or {}).get("params") or {}
    params = AuditParams(**{**base, **given})
    run = run_deployment(dep.id, parameters={"params": params.model_dump(mode="json")},
                         timeout=0, as_subflow=False, tags=["trigger"])
    echo(f"Flow run {run.name} ({run.id}) of {DEPLOYMENT} created.")
    if not wait:
        return run
    return follow(run.id, echo=echo, timeout=timeout, poll=poll)


def follow(run_id: UUID, *, echo: Callable[[str], None] = print, timeout: float | None = None,
           poll: float = 1.0) -> FlowRun:
    """Poll a flow run until it is final, echoing its new log lines; return it."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    deadline = None if timeout is None else time.monotonic() + timeout
    seen, state_name, drained = 0, None, False
    logs = LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id]))
    with get_client(sync_client=True) as client:
        while True:
            run = client.read_flow_run(run_id)
            for log in client.read_logs(log_filter=logs, offset=seen):
                seen += 1
                # The flow's own lines are the progress; tasks only when they warn.
                if log.task_run_id is None or log.level >= logging.WARNING:
                    echo(f"  {log.timestamp:%H:%M:%S} {log.message}")
            final = run.state is not None and run.state.is_final()
            if run.state and run.state.name != state_name and not final:
                state_name = run.state.name
                echo(f"  state: {state_name}")
            if final and drained:
                return run
            if deadline is not None and time.monotonic() > deadline:
                return run
            # The run's last log lines can reach the API just after its final state.
            drained = final
            time.sleep(poll)
