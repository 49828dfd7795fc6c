"""The whole audit (load → validate → check) partitioned by order, merged into exactly the
result of one run over everything: sequentially in this process (flat memory), or on Dask.

Why: one process holding ten million orders needs ~10 GB. Cut by a hash of ``order_id``
(``sources.partition``: an order travels with its refunds, refund versions and messages;
rows sharing a refund or message id travel together), each partition is loaded, validated
and checked on its own and sends back only partial outputs: quarantine rows (with their
positions in the whole table), counts, findings, and per-shop KPI numerators and
denominators. The merge sums counts, numerators and denominators (never averages rates),
recomputes each KPI's value and status from the sums, and sorts findings and quarantine
once, in the canonical order of an unpartitioned run: the written files are byte-identical
(tested for 1..n partitions, in one process and on a Dask cluster).

What is done once, not per partition: the address book is validated once (its quarantine
rows and counts counted once) and handed to every partition whole; the zone of its
timestamps comes from each shop's first order row in the whole orders table, which the
routing pass records.

Per-platform failure isolation is the same mechanism: when a partition's check fails, that
partition is checked again platform by platform (``restrict``) and the pieces merged with
the same merge; a platform that fails anywhere is left out everywhere, so no shop is half
audited, and the run says so in its warnings.

Plain functions: no Prefect here. ``run_partitioned`` is the one entry point; the flow calls
it at its load/validate/check seam.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import pandas as pd

from checks.audit import AuditOutcome, run_rules
from checks.context import prepare
from checks.partition import merge_findings, merge_kpis
from checks.profiles import Profile
from schemas.validate import (
    OWNER_COLUMNS,
    QUARANTINE_COLUMNS,
    Validated,
    shop_zones,
    usable_over_partitions,
    validate_address_book,
)
from schemas.validate import validate_tables as _validate
from sources.partition import choose_partitions, partitioned_source, split_rows


@dataclass
class Options:
    """What every partition needs to know about the audit."""

    profiles: dict[str, Profile]
    timezones: dict[str, str]
    as_of: pd.Timestamp
    window_days: int = 30
    at_risk_hours: float = 24.0
    platforms: list[str] | None = None
    shops: list[str] | None = None


@dataclass
class PartOutput:
    """What one partition sends back: partial outputs only (no tables)."""

    index: int
    counts: dict[str, dict[str, int]]
    quarantine: pd.DataFrame          # + owners + _pos (the row's position in its table)
    findings: pd.DataFrame
    kpis: pd.DataFrame                # with numerator / denominator
    not_evaluated: list[str]
    warnings: list[str]
    raw_shops: set[tuple[str, str]]   # (platform, shop_id) of rows read
    valid_shops: set[tuple[str, str]]
    failures: dict[str, str] = field(default_factory=dict)  # platform → error
    timings: dict[str, float] = field(default_factory=dict)
    peak_rss: int = 0
    usability: dict | None = None     # counts for the whole-source usability checks


@dataclass
class Merged:
    """The partitioned run's result, shaped as the unpartitioned steps' results are:
    ``validated`` (counts, quarantine, warnings; its ``tables`` hold no rows) and ``outcome``
    (findings, KPIs, rules not evaluated, the point-in-time parameters)."""

    validated: Validated
    outcome: AuditOutcome | None
    valid_shops: list[tuple[str, str]]
    unaudited_shops: list[tuple[str, str]]
    failures: list[dict]
    partitions: int
    timings: dict[str, float]
    info: dict = field(default_factory=dict)


def _shops(df: pd.DataFrame | None, strip: bool = False) -> set[tuple[str, str]]:
    if df is None or not {"platform", "shop_id"} <= set(df.columns) or not len(df):
        return set()
    # The distinct pairs first (a few hundred among a partition's rows): stripping and
    # dropping the empty ones then works on those only, with the same set as the result.
    pairs = df[["platform", "shop_id"]].drop_duplicates().dropna().astype("str")
    if strip:
        pairs = pairs.apply(lambda s: s.str.strip())
        pairs = pairs[(pairs["platform"] != "") & (pairs["shop_id"] != "")]
    return set(map(tuple, pairs.drop_duplicates().to_numpy().tolist()))


def restrict(tables: dict[str, pd.DataFrame | None], platforms: list[str] | None = None,
             shops: list[str] | None = None) -> dict[str, pd.DataFrame | None]:
    """The validated tables cut down to the orders of ``platforms`` and ``shops`` (None or
    empty: all), with the refunds and messages of those orders; the address book whole."""
    orders = tables["orders"]
    keep = pd.Series(True, index=orders.index)
    if platforms:
        keep &= orders["platform"].isin(platforms)
    if shops:
        keep &= orders["shop_id"].isin(shops)
    if keep.all():
        return tables
    ids = pd.Index(orders.loc[keep, "order_id"].drop_duplicates())
    out = dict(tables)
    out["orders"] = orders[keep].reset_index(drop=True)
    for t in ("refunds", "messages"):
        df = tables.get(t)
        if df is not None:
            out[t] = df[ids.get_indexer(df["order_id"]) >= 0].reset_index(drop=True)
    return out


def _rss() -> int:
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    except Exception:  # pragma: no cover
        return 0


def check_tables(tables: dict[str, pd.DataFrame | None], o: Options
                 ) -> tuple[AuditOutcome | None, dict[str, str]]:
    """The check over ``tables``; when it fails, once per platform (failure isolation).
    Returns the outcome of what succeeded (None: nothing) and {platform: error}."""
    try:
        return run_rules(tables, o.profiles, o.as_of, o.window_days, o.at_risk_hours), {}
    except Exception:
        pass
    outs, failed = [], {}
    for p in sorted(tables["orders"]["platform"].dropna().unique().tolist()):
        try:
            outs.append(run_rules(restrict(tables, [p]), o.profiles, o.as_of, o.window_days,
                                  o.at_risk_hours))
        except Exception as exc:
            failed[p] = f"{type(exc).__name__}: {exc}"[:500]
    if not outs:
        return None, failed
    return AuditOutcome(findings=merge_findings([x.findings for x in outs]),
                        kpis=merge_kpis([x.kpis for x in outs]), data=outs[0].data,
                        not_evaluated=outs[0].not_evaluated), failed


def run_part(source, k: int, book: pd.DataFrame, o: Options) -> PartOutput:
    """Partition ``k``: read, validate, check. What a worker runs."""
    timings: dict[str, float] = {}
    t = time.perf_counter()
    raw = source.read(k)
    timings["load"] = time.perf_counter() - t
    raw_shops = _shops(raw.get("orders"), strip=True)
    t = time.perf_counter()
    tables, numbers = split_rows(raw)
    del raw
    v = _validate(tables, o.timezones, row_numbers=numbers, keep_pos=True)
    del tables
    timings["validate"] = time.perf_counter() - t
    valid = dict(v.tables)
    valid["return_addresses"] = book
    valid_shops = _shops(valid["orders"])
    if o.platforms or o.shops:
        valid = restrict(valid, o.platforms, o.shops)
    t = time.perf_counter()
    outcome, failed = check_tables(valid, o)
    timings["check"] = time.perf_counter() - t
    del valid
    counts = {t: c for t, c in v.counts.items() if t != "return_addresses"}
    q = v.quarantine[v.quarantine["table"] != "return_addresses"]
    if outcome is None:
        from checks.findings import OUT_COLUMNS, empty_findings

        findings, kpis, not_eval = empty_findings()[OUT_COLUMNS], None, []
    else:
        findings, kpis, not_eval = outcome.findings, outcome.kpis, outcome.not_evaluated
    return PartOutput(index=k, counts=counts, quarantine=q, findings=findings, kpis=kpis,
                      not_evaluated=not_eval, warnings=v.warnings, raw_shops=raw_shops,
                      valid_shops=valid_shops, failures=failed, timings=timings,
                      peak_rss=_rss(), usability=v.usability)


def merge_parts(parts: list[PartOutput], book: Validated, o: Options) -> Merged:
    """One result from the partitions' partial outputs (see the module docstring)."""
    parts = sorted(parts, key=lambda p: p.index)
    counts: dict[str, dict[str, int]] = {}
    for p in parts:
        for t, c in p.counts.items():
            acc = counts.setdefault(t, dict.fromkeys(c, 0))
            for key, n in c.items():
                acc[key] += int(n)
    counts["return_addresses"] = book.counts["return_addresses"]
    # Table order as validate_tables builds it: orders, refunds, return_addresses, messages.
    counts = {t: counts[t] for t in ("orders", "refunds", "return_addresses", "messages")
              if t in counts}
    qs = [p.quarantine for p in parts if len(p.quarantine)]
    bq = book.quarantine
    if len(bq):
        qs.append(bq)
    if qs:
        q = pd.concat(qs, ignore_index=True)
        q = q.sort_values(["table", "_pos", "column", "check"], kind="stable")
        quarantine = q[[*QUARANTINE_COLUMNS, *OWNER_COLUMNS]].reset_index(drop=True)
    else:
        quarantine = parts[0].quarantine[[*QUARANTINE_COLUMNS, *OWNER_COLUMNS]] \
            .reset_index(drop=True)
    warnings: list[str] = []
    for w in [*parts[0].warnings, *book.warnings]:
        if w not in warnings:
            warnings.append(w)
    unusable = usable_over_partitions([p.usability for p in parts if p.usability], warnings)
    failed: dict[str, str] = {}
    for p in parts:
        for plat, err in p.failures.items():
            failed.setdefault(plat, err)
    found = []
    kpis = []
    for p in parts:
        f, k = p.findings, p.kpis
        if failed and len(f):
            f = f[~f["platform"].isin(list(failed))]
        if k is not None and failed:
            k = k[~k["platform"].isin(list(failed))]
        found.append(f)
        if k is not None:
            kpis.append(k)
    valid_shops = set().union(*(p.valid_shops for p in parts))
    raw_shops = set().union(*(p.raw_shops for p in parts))
    # No rows stay here but the address book's (small, validated once): the report needs it.
    empty_tables = {"orders": None, "refunds": None,
                    "return_addresses": book.tables["return_addresses"], "messages": None}
    validated = Validated(tables=empty_tables, quarantine=quarantine, counts=counts,
                          warnings=warnings, unusable=unusable)
    timings: dict[str, float] = {}
    for p in parts:
        for key, v in p.timings.items():
            timings[key] = timings.get(key, 0.0) + v
    outcome = None
    if kpis or any(len(f) for f in found):
        not_eval = next((p.not_evaluated for p in parts if p.kpis is not None), [])
        start = o.as_of.tz_convert("UTC") - pd.Timedelta(days=o.window_days)
        data = _parameters(o, start)
        outcome = AuditOutcome(findings=merge_findings(found), kpis=merge_kpis(kpis),
                               data=data, not_evaluated=not_eval, timings=dict(timings))
    failures = [{"stage": "check", "platform": plat, "shop_id": None, "error": err}
                for plat, err in sorted(failed.items())]
    return Merged(validated=validated, outcome=outcome, valid_shops=sorted(valid_shops),
                  unaudited_shops=sorted(raw_shops - valid_shops), failures=failures,
                  partitions=len(parts), timings=timings,
                  info={"peak_rss_parts": max((p.peak_rss for p in parts), default=0)})


def _parameters(o: Options, start: pd.Timestamp):
    """The point-in-time parameters (as_of, window start) as ``prepare`` sets them, on empty
    frames: the merged outcome carries no tables."""
    from schemas.tables import MODELS

    empty = {}
    for t, model in MODELS.items():
        cols = list(model.to_schema().columns)
        empty[t] = pd.DataFrame({c: pd.Series([], dtype="object") for c in cols})
    try:
        return prepare(empty, o.profiles, o.as_of, o.window_days, o.at_risk_hours)
    except Exception:  # the parameters are what matters; frames are empty anyway
        from checks.context import AuditData

        as_of = pd.Timestamp(o.as_of).tz_convert("UTC")
        return AuditData(as_of=as_of, start=start, window_days=o.window_days,
                         at_risk_hours=o.at_risk_hours, profiles=o.profiles,
                         orders=empty["orders"], refunds=empty["refunds"],
                         addresses=empty["return_addresses"], messages=None)


def warm_caches(o: Options) -> None:
    """Build here what every partition's validation and check would build the same way
    whatever its rows: pandera's backends and the tables' schemas, PC002's lexicon and
    wording model, the business calendars of the profiles, the divisions look-ups and the
    phone metadata of the address checks, and the modules each of them imports.

    For ``ProcessExecutor.start``: called just before the workers are forked, so that they
    inherit it (shared pages, copy on write) instead of each building its own on its first
    partition. Nothing that depends on a partition's rows or on the address book is built
    here. An optimisation only: a step that fails is skipped, and a partition meets the
    same failure in its own run, where it is reported as usual."""
    from checks import address_quality, clock, tone
    from schemas import validate

    calendars = sorted({p.business_calendar for p in o.profiles.values()
                        if p.business_calendar})
    steps = [validate.warm, tone.warm, address_quality.warm,
             *(partial(clock.business_calendar, name) for name in calendars)]
    for step in steps:
        try:
            step()
        except Exception:  # see the docstring: the partition reports it
            continue


class SequentialExecutor:
    """Partition after partition in this process: memory is one partition's."""

    name = "sequential"

    def map(self, fn, source, ks: list[int], book, o: Options) -> list[PartOutput]:
        return [fn(source, k, book, o) for k in ks]


def _ready() -> int:
    """A no-op task: submitting it makes the process pool fork its workers."""
    return os.getpid()


class ProcessExecutor:
    """The partitions in parallel on this machine's cores: Dask's multiprocessing scheduler
    (``dask.multiprocessing.get``) over ``workers`` processes, one partition per task.

    Why not a ``LocalCluster``: on a small machine its scheduler, nanny and worker processes
    each start a fresh interpreter and import pandas, pandera and the rules (~3 s of CPU per
    worker), which eats most of what two cores save at a million orders. Where the platform
    allows it the worker processes are forked from this one (``fork``): they start in
    milliseconds with every module imported. ``start`` forks them before the routing pass,
    while this process holds little more than its modules and what ``warm_caches`` built
    for every partition alike, so the workers do not inherit (and count in their resident
    memory) the routing pass's buffers; the pool is then handed to Dask's scheduler.
    Elsewhere Dask's default (``spawn``) is used.

    Each task reads its own partition (spill files or a ``WHERE``), so only the source's
    description, the address book and the options travel to a worker, and only partial
    outputs come back; the merge is the same as for the other executors, so the written
    files are byte-identical. Peak memory is about ``workers`` partitions at once (~0.5 GB
    each at 250k orders) plus this process.

    A task that raises stops the run (Dask re-raises it here); an ``InputError`` keeps its
    message, anything else becomes ``PartitionFailed``: nothing is merged or written.
    """

    name = "processes"

    def __init__(self, workers: int = 2) -> None:
        self.workers = max(1, int(workers))
        self.info: dict = {}
        self.timings: dict[str, float] = {}  # of ``start``'s warm-up, for the run's timings
        self._pool = None

    @staticmethod
    def _context() -> str:
        import multiprocessing

        return "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"

    def start(self, warm: Callable[[], None] | None = None) -> None:
        """Fork the worker processes now (see the class docstring), after ``warm`` (e.g.
        ``warm_caches``): what it builds here, every worker inherits instead of building
        its own. Neither runs where the workers are not forked."""
        if self._pool is not None or self._context() != "fork":
            return
        import gc
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        if warm is not None:
            t = time.perf_counter()
            warm()
            self.timings["partition.warm"] = time.perf_counter() - t
        # What this process holds is moved out of the collector's reach first: a worker's
        # garbage collections would otherwise walk, and so copy page by page, the heap it
        # shares with this process.
        gc.collect()
        gc.freeze()
        try:
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("fork"))
            self._pool.submit(_ready)  # a fork pool starts all its workers on the first task
        finally:
            gc.unfreeze()

    def close(self) -> None:
        """Stop workers started by ``start`` that no ``map`` used (a run that stopped early)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(cancel_futures=True)

    def map(self, fn, source, ks: list[int], book, o: Options) -> list[PartOutput]:
        import dask
        from dask.multiprocessing import get

        from schemas.errors import InputError

        context = self._context()
        workers = min(self.workers, len(ks)) or 1
        self.info = {"workers": workers, "start_method": context}
        graph = {("audit-part", k): (fn, source, k, book, o) for k in ks}
        keys = [("audit-part", k) for k in ks]
        pool, self._pool = self._pool, None
        try:
            with dask.config.set({"multiprocessing.context": context}):
                # chunksize=1: one partition per submission (Dask's default batches six
                # tasks into one, which would run four partitions in one process).
                return list(get(graph, keys, num_workers=workers, optimize_graph=False,
                                chunksize=1,
                                pool=_AllQueued(pool, len(ks)) if pool is not None else None))
        except InputError:
            raise
        except Exception as exc:
            raise PartitionFailed(
                f"A partition could not be audited in a worker process "
                f"({type(exc).__name__}: {str(exc)[:300]}); nothing was written.") from exc
        finally:
            if pool is not None:
                pool.shutdown()


class _AllQueued:
    """The forked pool as Dask's scheduler sees it: one slot per partition, so every
    partition is handed to the pool at once and a worker that finishes one starts the next
    from the pool's queue, instead of idling while the scheduler takes the result back and
    sends the next task (~0.15 s a partition at 1M orders). The pool still runs its
    ``workers`` processes, one partition each at a time; Dask reads ``_max_workers`` of the
    executor it is given as its number of slots."""

    def __init__(self, pool, slots: int) -> None:
        self._pool, self._max_workers = pool, max(1, int(slots))

    def submit(self, fn, /, *args, **kwargs):
        return self._pool.submit(fn, *args, **kwargs)


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), not the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def parallel_enabled() -> bool:
    """The ``parallel`` setting (``REFUND_AUDIT_PARALLEL``, or ``.env``; default on): true
    runs the partitions of a run without ``--workers`` in parallel on this machine's cores."""
    from flows.settings import Settings

    try:
        return bool(Settings().parallel)
    except Exception:  # settings the CLI would have refused already: the default
        return True


def default_executor(partitions: int):
    """The executor of a partitioned run without ``--workers`` / ``--dask-address``: the
    partitions in parallel on this machine's cores (``ProcessExecutor``) unless parallel runs
    are turned off, when there are at least two cores and two partitions; else one after
    another here (``SequentialExecutor``)."""
    cores = usable_cores()
    if partitions >= 2 and cores >= 2 and parallel_enabled():
        return ProcessExecutor(workers=min(cores, partitions))
    return SequentialExecutor()


class PartitionFailed(RuntimeError):
    """A partition could not be audited (after the cluster's retries): the run stops before
    anything is written, so no partial audit can pass for a complete one."""


class DaskExecutor:
    """The partitions as tasks on a Dask cluster: an existing scheduler (``address``) or a
    ``LocalCluster`` of ``workers`` single-threaded processes started for the run.

    Each task reads its own partition (spill files in a folder the workers can reach, or the
    database with a ``WHERE``), so nothing but the source's description, the address book
    and the options travel to the workers, and only partial outputs come back. A worker that
    dies mid-task is replaced by the scheduler, which runs the task again elsewhere (up to
    its ``allowed-failures``, 3 by default); a task that raises is retried ``retries``
    times. When a partition still fails, ``PartitionFailed`` is raised and nothing is merged.
    """

    name = "dask"

    def __init__(self, workers: int | None = None, address: str | None = None,
                 retries: int = 1) -> None:
        self.workers, self.address, self.retries = workers, address, retries
        self.info: dict = {}

    def map(self, fn, source, ks: list[int], book, o: Options) -> list[PartOutput]:
        import logging
        import uuid

        from distributed import Client, LocalCluster

        quiet = [logging.getLogger(n) for n in ("distributed", "distributed.nanny",
                                                 "distributed.scheduler")]
        levels = [q.level for q in quiet]
        for q in quiet:
            q.setLevel(logging.ERROR)
        cluster = None
        try:
            if self.address:
                client = Client(self.address, timeout="30s")
            else:
                cluster = LocalCluster(n_workers=int(self.workers or 1), threads_per_worker=1,
                                       processes=True, dashboard_address=":0")
                client = Client(cluster)
            with client:
                info = client.scheduler_info()
                self.info = {"address": info.get("address"),
                             "workers": len(info.get("workers", {}))}
                run = uuid.uuid4().hex[:8]
                [book_f] = client.scatter([book], broadcast=True, hash=False)
                [opt_f] = client.scatter([o], broadcast=True, hash=False)
                futures = [client.submit(fn, source, k, book_f, opt_f, key=f"audit-part-{k}-{run}",
                                         pure=False, retries=self.retries) for k in ks]
                out = []
                for k, f in zip(ks, futures, strict=True):
                    try:
                        out.append(f.result())
                    except Exception as exc:
                        from schemas.errors import InputError

                        if isinstance(exc, InputError):
                            raise
                        raise PartitionFailed(
                            f"Partition {k + 1} of {len(ks)} could not be audited on the Dask "
                            f"cluster ({type(exc).__name__}: {str(exc)[:300]}); nothing was "
                            "written.") from exc
                return out
        finally:
            if cluster is not None:
                cluster.close()
            for q, lvl in zip(quiet, levels, strict=True):
                q.setLevel(lvl)


def partitions_for(source: str, *, partitions: int | None = None, workers: int | None = None,
                   dask_address: str | None = None, encoding: str = "utf-8",
                   pg_schema: str | None = None) -> int:
    """How many partitions a run uses: ``partitions`` when given (1: none); otherwise from
    the data size (~250k orders each; 1 below ~400k orders), and at least two per Dask
    worker when a cluster is asked for. A folder read through a column mapping is not
    partitioned (1)."""
    if partitions:
        return int(partitions)
    src = partitioned_source(source, encoding=encoding, schema=pg_schema)
    if src is None:
        return 1
    try:
        n = choose_partitions(src.estimate_orders())
    except Exception:  # the load step reports an unreadable source in its own words
        return 1
    if workers:
        n = max(n, 2 * int(workers))
    elif dask_address:
        n = max(n, 4)
    return n


def run_partitioned(source: str, options: Options, n_partitions: int | None = None,
                    executor=None, *, encoding: str = "utf-8", pg_schema: str | None = None,
                    window=None, spill_dir: str | None = None, log=None) -> Merged:
    """Load, validate and check ``source`` in ``n_partitions`` partitions (None: chosen from
    the data size, ~250k orders each) on ``executor`` (default: sequentially here; ``"auto"``:
    ``default_executor``, in parallel on this machine's cores), and merge. Raises InputError for unusable input, as the unpartitioned steps do."""
    from schemas.errors import InputError

    log = log or (lambda *a: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    src = partitioned_source(source, encoding=encoding, schema=pg_schema, window=window,
                             spill_dir=spill_dir or os.environ.get("REFUND_AUDIT_SPILL_DIR"))
    if src is None:
        raise InputError("This source cannot be read in partitions (a folder read through a "
                         "column mapping); run it without --partitions.")
    try:
        n = n_partitions or choose_partitions(src.estimate_orders())
        if executor == "auto":
            executor = default_executor(n)
        if isinstance(executor, ProcessExecutor):  # its workers, before the routing pass
            executor.start(warm=partial(warm_caches, options))
            timings.update(executor.timings)
        t = time.perf_counter()
        plan = src.prepare(n)
        timings["partition.prepare"] = time.perf_counter() - t
        log(f"{n} partition(s) by order_id; {plan.linked_groups} group(s) of orders kept "
            "together by a shared refund or message id")
        t = time.perf_counter()
        raw_book, first_shops = src.book()
        book = validate_address_book(raw_book, shop_zones(first_shops, options.timezones),
                                     keep_pos=True)
        timings["partition.book"] = time.perf_counter() - t
        executor = executor or SequentialExecutor()
        t = time.perf_counter()
        parts = executor.map(run_part, src, list(range(n)), book.tables["return_addresses"],
                             options)
        timings["partition.run"] = time.perf_counter() - t
        t = time.perf_counter()
        merged = merge_parts(parts, book, options)
        timings["partition.merge"] = time.perf_counter() - t
        lost = {t: (n_rows, merged.validated.counts.get(t, {}).get("read", 0))
                for t, n_rows in getattr(src, "rows", {}).items()
                if merged.validated.counts.get(t, {}).get("read", 0) != n_rows}
        if lost:  # a spill file or a partition went missing: never a silent partial audit
            raise PartitionFailed(
                "The partitions did not read every row (" + "; ".join(
                    f"{t}: {got} of {n_rows}" for t, (n_rows, got) in lost.items())
                + "); nothing was written.")
    finally:
        if isinstance(executor, ProcessExecutor):
            executor.close()
        src.cleanup()
    merged.timings = {**{f"part.{k}": v for k, v in merged.timings.items()}, **timings,
                      "partition.total": time.perf_counter() - t0}
    merged.info.update(getattr(executor, "info", {}))
    merged.info.update(executor=executor.name, partitions=n, pid=os.getpid(),
                       linked_groups=plan.linked_groups)
    return merged


def audit_in_partitions(source: str, profiles: dict, timezones: dict[str, str],
                        as_of: pd.Timestamp, *, window_days: int = 30,
                        at_risk_hours: float = 24.0, platforms=None, shops=None,
                        encoding: str = "utf-8", pg_schema: str | None = None,
                        partitions: int = 0, workers: int | None = None,
                        dask_address: str | None = None, log=None):
    """The load, validate and check steps of a run, partitioned: what the pipeline calls in
    their place. Returns (validated, warnings, outcome, failures) shaped as those steps'
    results; raises InputError for unusable input (nothing audited) as they do.
    ``validated.tables["orders"]`` holds the audited shops' keys only (the tables stay in
    the partitions)."""
    from schemas.errors import InputError

    log = log or (lambda *a: None)
    window = (as_of - pd.Timedelta(days=window_days), as_of)
    opts = Options(profiles, timezones, as_of, window_days, at_risk_hours,
                   list(platforms or []) or None, list(shops or []) or None)
    executor = DaskExecutor(workers=workers, address=dask_address) \
        if (workers or dask_address) else "auto"
    m = run_partitioned(source, opts, partitions or None, executor, encoding=encoding,
                        pg_schema=pg_schema, window=window, log=log)
    v = m.validated
    if v.unusable:
        raise InputError(v.unusable)
    warnings = [*v.warnings, *(
        f"shop {p}/{s}: every order was quarantined, so it was not audited (see "
        "quarantine.csv)" for p, s in m.unaudited_shops)]
    audited = [(p, s) for p, s in m.valid_shops
               if (not platforms or p in platforms) and (not shops or s in shops)]
    if (platforms or shops) and not audited:
        raise InputError(
            f"Nothing to audit: no valid order of platform(s) {platforms or 'any'} and "
            f"shop(s) {shops or 'any'}. Shops with valid orders: "
            + (", ".join(f"{p}/{s}" for p, s in m.valid_shops[:30]) or "none") + ".")
    if m.outcome is None:
        if m.failures:
            raise InputError("Nothing could be audited: the check failed for every "
                             "platform: " + "; ".join(f"{f['platform']}: {f['error']}"
                                                      for f in m.failures))
        raise InputError("Nothing could be audited: no valid order.")
    v.tables["orders"] = pd.DataFrame(audited or [], columns=["platform", "shop_id"])
    # summed over the partitions (part.*: CPU-ish seconds) and the engine's own phases
    m.outcome.timings = {**m.timings, "partitions": float(m.partitions)}
    return v, warnings, m.outcome, m.failures


__all__ = ["audit_in_partitions", "partitions_for", "DaskExecutor", "Merged", "Options",
           "PartOutput", "PartitionFailed", "ProcessExecutor", "SequentialExecutor",
           "check_tables", "default_executor", "merge_parts", "restrict", "run_part",
           "run_partitioned", "warm_caches"]
