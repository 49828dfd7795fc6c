"""The audit as a Prefect flow: the pipeline's steps (``flows.pipeline``) as tasks.

The flow is what the nightly deployment runs, what ``refund-audit run`` runs when a Prefect
server is configured (``PREFECT_API_URL``) or ``--prefect`` is given, and what the Prefect
UI shows: one task run per step, its logs, the summary and KPI artifacts. Without a server,
the CLI runs the same steps in-process and never imports Prefect (docs/scheduling.md).

Unusable input is not an exception Prefect would print with a traceback: a task returns it
as a value, the flow ends in a Failed state whose message is the one-paragraph error the CLI
shows (exit 2). Isolated failures (one platform's check, one shop's page, history,
artifacts, mail) leave the run Completed, with warnings in its state message and run.json.

No task retries: the load step has the pipeline's own retry layer (``flows.retry``), used by
both runners, so a permanent error is never retried and a transient one by one layer only;
the deliver step retries per message inside (a retried step would send again what went).
Mail that did not all go out ends the flow Failed, named ``DeliveryIncomplete`` (exit 3).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import wraps

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, Failed

from flows import artifacts, pipeline
from flows.options import options, parse_as_of  # noqa: F401  (parse_as_of: flows.deploy)
from schemas.errors import InputError

audit_key = pipeline.audit_key  # the audit's identity, importable from here as before


@dataclass
class Problem:
    """Unusable input carried out of a task as a value (see the module docstring)."""

    message: str


def as_task(fn, name: str):
    """``fn`` as a Prefect task whose InputError comes back as the same InputError raised
    in the flow (no task traceback in the log), other errors as they are."""
    @wraps(fn)
    def returning_problems(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            return Problem(str(exc))

    t = task(returning_problems, name=name, cache_policy=NO_CACHE)

    @wraps(fn)
    def call(*args, **kwargs):
        value = t(*args, **kwargs)
        if isinstance(value, Problem):
            raise InputError(value.message)
        return value
    call.task = t
    return call


def _publish(result, opts) -> None:
    """The markdown summary and KPI table artifacts in the Prefect UI."""
    artifacts.publish(result, str(opts.out))


TASKS = pipeline.Steps(**{name: as_task(fn, name) for name, fn in {
    "load": pipeline.load, "validate": pipeline.validate, "check": pipeline.check,
    "write": pipeline.write, "record": pipeline.record, "publish": _publish,
    "deliver": pipeline.deliver, "partitioned": pipeline.partitioned}.items()})


@flow(name="audit", log_prints=True)
def audit(source: str, out: str, as_of: str | datetime | None = None, window_days: int = 30,
          at_risk_hours: float = 24.0, encoding: str = "utf-8", pg_schema: str | None = None,
          lang: str = "zh", profiles_dir: str | None = None, mapping: str | None = None,
          platforms: list[str] | None = None, shops: list[str] | None = None,
          history_store: str | None = None, workers: int | None = None,
          dask_address: str | None = None, email: bool = False,
          report_timezone: str = "Asia/Shanghai", partitions: int = 0):
    """Audit one source's refunds as of ``as_of`` and write the outputs to ``out``.

    ``source`` is the shown source: a database password is never a parameter (it comes from
    this process's settings, flows.options). ``platforms`` / ``shops`` restrict the audited
    shops; validation, quarantine and the counts still cover the whole source.
    ``history_store``: a SQLAlchemy URL; default ``history.sqlite`` next to ``out``.
    ``partitions``: 0 = chosen from the data size (large data is audited partition by
    partition, flat memory), 1 = never, N = that many; ``workers`` / ``dask_address``: the
    partitions run as Dask tasks (flows.partitioned). The outputs are the same every way.
    """
    try:
        opts = options(source=source, out=out, as_of=as_of, window_days=window_days,
                       at_risk_hours=at_risk_hours, encoding=encoding, pg_schema=pg_schema,
                       lang=lang, profiles_dir=profiles_dir, mapping=mapping,
                       platforms=platforms, shops=shops, history_store=history_store,
                       workers=workers, dask_address=dask_address, email=email,
                       report_timezone=report_timezone, partitions=partitions)
        done = pipeline.run(opts, TASKS, get_run_logger())
    except InputError as exc:
        return Failed(message=str(exc))
    if done.undelivered:  # the audit is written; its mail is not complete (exit 3)
        from flows.delivery import DELIVERY_INCOMPLETE

        return Failed(name=DELIVERY_INCOMPLETE, data=done.as_dict(),
                      message=f"{done.message}; delivery incomplete: "
                              + "; ".join(done.undelivered))
    return Completed(message=done.message, data=done.as_dict())
