"""The check step spread over a Dask cluster: groups of shops as Prefect tasks on
``DaskTaskRunner`` workers (``refund-audit run --workers N`` or ``--dask-address``).

The tables are loaded and validated here, in the flow's process: validation, quarantine and
the read = valid + quarantined + superseded counts are about whole tables (a duplicated key
can straddle shops). The valid tables are then cut into a few groups of shops
(``checks.partition``: co-partitioned, exact), each group is scattered to the cluster once and
checked by one task, and the parts are merged into exactly what one process would produce.

Few, coarse tasks: ``DaskTaskRunner`` serialises the Prefect context on every submit
(~0.2 s of this process's CPU each) and a worker's first task pays its imports, so a group
is seconds of work: ``PARTS_PER_WORKER`` groups per worker thread, never one task per shop.

``--workers N``: a ``LocalCluster`` of N single-threaded worker processes on this machine,
started for the check and closed after it. ``--dask-address tcp://host:8786``: an existing
scheduler (docs/performance.md shows how to run one with workers on other machines); its
workers need this project installed and the same ``PREFECT_API_URL``, not the data.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager

import pandas as pd
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect_dask import DaskTaskRunner

from checks.audit import AuditOutcome
from checks.partition import PartResult, check_part, merge_parts, partition_tables
from checks.profiles import Profile

#: Groups per worker thread: enough to even out unequal shops, few enough that the per-task
#: overhead stays small next to the work.
PARTS_PER_WORKER = 2


@task(name="check-part", cache_policy=NO_CACHE)
def check_group(part: dict, profiles: dict[str, Profile], as_of: pd.Timestamp,
                window_days: int, at_risk_hours: float) -> PartResult:
    """Every rule and KPI for one group of shops (runs on a Dask worker)."""
    return check_part(part, profiles, as_of, window_days, at_risk_hours)


def _warm() -> None:
    """Run on each worker while the flow cuts the groups: what the first check in a process
    pays once (~2-3 s). Unpickling this function imports the rule engine; the first schema
    pandera builds imports its backends; the business calendars, the hostile-phrase lexicon
    and the administrative divisions are built on first use."""
    from checks.address_quality import _divisions
    from checks.clock import CALENDAR_NAMES, business_calendar
    from checks.tone import _shipped
    from schemas.tables import columns

    columns("orders")
    for name in CALENDAR_NAMES:
        business_calendar(name)
    _shipped()
    _divisions()


def dask_runner(workers: int | None = None, address: str | None = None):
    """A ``DaskTaskRunner`` on an existing scheduler, or on a new LocalCluster of
    ``workers`` single-threaded processes."""
    if address:
        return DaskTaskRunner(address=address)
    from prefect.client.orchestration import get_client

    # The workers report their task runs to this flow's API, also when it is the temporary
    # server of ephemeral mode (each worker would otherwise start a server of its own).
    env = {"PREFECT_API_URL": str(get_client(sync_client=True).api_url)}
    return DaskTaskRunner(cluster_class="distributed.LocalCluster", cluster_kwargs={
        "n_workers": int(workers or 1), "threads_per_worker": 1, "processes": True,
        "dashboard_address": None, "env": env})


@contextmanager
def _quiet(name: str = "distributed"):
    """Dask's own INFO lines (nannies, comms, retirements) would drown the flow's log."""
    log = logging.getLogger(name)
    level = log.level
    log.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        log.setLevel(level)


def check_on_dask(tables: dict[str, pd.DataFrame | None], profiles: dict[str, Profile],
                  as_of: pd.Timestamp, window_days: int, at_risk_hours: float, *,
                  workers: int | None = None, address: str | None = None,
                  parts: int | None = None) -> AuditOutcome | None:
    """The check of ``tables`` in groups of shops on Dask; None when the cluster cannot be
    reached or a group failed (the caller then runs the check here, isolated per platform:
    the same result, slower)."""
    logger = get_run_logger()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    try:
        with _quiet(), dask_runner(workers, address) as runner:
            client = runner.client  # starts the LocalCluster, or connects
            info = client.scheduler_info()
            # Held until the end: a released future's task may be cancelled.
            warming = [client.submit(_warm, pure=False, workers=[w], allow_other_workers=False)
                       for w in info.get("workers", {})]
            threads = sum(w.get("nthreads", 1) for w in info.get("workers", {}).values()) or 1
            timings["cluster_start"] = time.perf_counter() - t0
            t = time.perf_counter()
            groups = partition_tables(tables, parts or PARTS_PER_WORKER * threads)
            timings["partition"] = time.perf_counter() - t
            logger.info("      %d group(s) of shops on %d Dask worker thread(s) at %s", len(groups),
                        threads, info.get("address", "?"))
            t = time.perf_counter()
            # Scattered once, all groups together (spread over the workers, sent in parallel),
            # by reference in the tasks: no hashing of frames for task keys, no megabytes in the
            # task graph; each task then runs where its group is.
            scattered = client.scatter(groups, hash=False)
            del groups
            futures = []
            for i, data in enumerate(scattered):
                step = check_group.with_options(task_run_name=f"check-part-{i + 1}")
                futures.append(runner.submit(step, parameters={
                    "part": data, "profiles": profiles, "as_of": as_of,
                    "window_days": window_days, "at_risk_hours": at_risk_hours}))
            for f in futures:
                f.wait()
            del warming
            states = [f.state for f in futures]
            failed = [i + 1 for i, s in enumerate(states) if not s.is_completed()]
            results = [] if failed else [s.result() for s in states]
            timings["dask"] = time.perf_counter() - t
    except Exception as exc:  # an unreachable scheduler, a lost worker: the audit goes on here
        logger.warning("      the Dask cluster could not run the check (%s: %s); checking "
                       "here instead", type(exc).__name__, str(exc)[:300])
        return None
    if failed:
        logger.warning("      group(s) %s failed on the cluster (%s); checking here instead",
                       failed, next(s.message for s in states if not s.is_completed()))
        return None
    t = time.perf_counter()
    out = merge_parts(results, tables, profiles, as_of, window_days, at_risk_hours)
    timings["merge"] = time.perf_counter() - t
    out.timings.update(timings)
    return out
