"""The audit pipeline as plain functions: options → load → validate → check → write → record
→ deliver, and the story that runs them in that order.

Why plain: the same steps run two ways. ``refund-audit run`` without a Prefect server runs
them in this process and never imports Prefect (its import alone costs ~1–2.5 s, an
ephemeral server 10–15 s more: docs/scheduling.md); the Prefect flow (``flows.audit``) wraps
each step as a task and hands the wrapped steps to the same story (``run``). One story, two
runners: the outputs are byte-identical (tested), and every behaviour — partial failure,
warnings, the run record — is written once.

Each step takes plain values and returns plain values, so another engine (a partitioned
load → validate → check) can replace the three middle steps without touching the rest.
Unusable input is an ``InputError`` with a one-paragraph message (exit 2), raised by any
step; isolated failures (one platform's check, one shop's page, the history store, the
artifacts, the mail) are collected as ``{"stage", "platform", "shop_id", "error"}`` and the
run still completes.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from flows.options import Options, real_source
from flows.partition import (
    describe,
    shops_of,
    unaudited_shops,
    write_reports_parallel,
)
from flows.partitioned import restrict
from flows.retry import with_retries
from schemas.errors import InputError

LOG = logging.getLogger("refund_audit")


# -- bookkeeping ----------------------------------------------------------------------------
class Stopwatch:
    """Wall time per stage, in the order the stages ran: ``with clock("load"): ...``."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        t = time.perf_counter()
        try:
            yield
        finally:
            self.timings[stage] = round(time.perf_counter() - t, 3)

    def add(self, prefix: str, parts: dict[str, float]) -> None:
        self.timings.update({f"{prefix}.{k}": round(v, 3) for k, v in parts.items()})


def audit_key(source: str, as_of: pd.Timestamp, window_days: int, profile_versions: dict,
              shops: list[str] | None = None, *, platforms: list[str] | None = None,
              at_risk_hours: float | None = None, schema: str | None = None,
              mapping: str | None = None) -> str:
    """The audit's identity (reports.identity: source with paths resolved, its schema and
    column mapping, as_of, window, selection, versions): the same key, the same audit."""
    from reports.identity import audit_key as key

    return key(source, as_of, window_days, profile_versions, shops, platforms=platforms,
               at_risk_hours=at_risk_hours, schema=schema, mapping=mapping)


def run_record(opts: Options, validated, outcome, profiles: dict, *, started: pd.Timestamp,
               warnings: list[str] = (), failures: list[dict] = (),
               timings: dict[str, float] | None = None, run_id: str | None = None,
               key: str | None = None) -> dict[str, Any]:
    """The run.json content of one audit (also the history store's run row)."""
    from checks.profiles import versions_in_force
    from checks.registry import CATALOG_VERSION
    from reports.identity import source_key
    from reports.outputs import findings_summary

    pv = versions_in_force(profiles, opts.as_of)
    return {
        "run_id": run_id or str(uuid.uuid4()),
        "audit_key": key or audit_key(opts.source, opts.as_of, opts.window_days, pv,
                                      opts.shops, platforms=opts.platforms,
                                      at_risk_hours=opts.at_risk_hours,
                                      schema=opts.pg_schema, mapping=opts.mapping),
        # What was read (source, schema, mapping): the report's trends compare these.
        "source_key": source_key(opts.source, opts.pg_schema, opts.mapping),
        "started_at": started.isoformat(),
        "as_of": opts.as_of.isoformat(),
        "window_days": opts.window_days,
        "window_start": outcome.data.start.isoformat(),
        "at_risk_hours": opts.at_risk_hours,
        "source": opts.source,
        "mapping": opts.mapping,
        "selection": {"platforms": sorted(opts.platforms), "shops": sorted(opts.shops)},
        "profile_versions": {p: {"version": v, "file": Path(profiles[p].path).name}
                             for p, v in pv.items()},
        "rule_catalog_version": CATALOG_VERSION,
        "rules_not_evaluated": outcome.not_evaluated,
        "counts": validated.counts,
        "reconciled": all(c["read"] == c["valid"] + c["quarantined"] + c["superseded"]
                          for c in validated.counts.values()),
        "findings": findings_summary(outcome.findings),
        "warnings": [*warnings, *(failure_warning(f) for f in failures)],
        "failures": list(failures),
        "timings": timings if timings is not None else {},  # the stopwatch's, still running
    }


def assemble(run: dict, validated, outcome, profiles: dict):
    """The AuditResult the outputs are written from."""
    from checks.address_quality import address_book_notes
    from checks.profiles import return_windows, timezones
    from checks.registry import catalog
    from checks.result import AuditResult
    from reports.outputs import mask_details

    audited = outcome.kpis[["platform", "shop_id"]].drop_duplicates().reset_index(drop=True)
    # the detail sentence is read by people (pages, mails, CSV): personal data masked, once
    return AuditResult(run=run, findings=mask_details(outcome.findings), kpis=outcome.kpis,
                       quarantine=validated.quarantine, counts=validated.counts,
                       catalog=catalog(), timezones=timezones(profiles), shops=audited,
                       not_evaluated=outcome.not_evaluated,
                       address_notes=address_book_notes(validated.tables["return_addresses"]),
                       return_windows=return_windows(profiles, pd.Timestamp(run["as_of"])))


def failure_warning(f: dict) -> str:
    """One warning line per isolated failure (run.json, state message, artifacts)."""
    if f["stage"] == "check":
        return (f"platform {f['platform']}: the check failed ({f['error']}); its shops are "
                "not in this run's findings and KPIs")
    if f["stage"] == "report" and f["shop_id"] is not None:
        return (f"shop {f['platform']}/{f['shop_id']}: its report page failed ({f['error']});"
                " its findings are in findings.csv")
    return f"{f['stage']}: {f['error']}"


def _failure(stage: str, exc: BaseException, platform: str | None = None) -> dict:
    return {"stage": stage, "platform": platform, "shop_id": None, "error": describe(exc)}


# -- the steps ------------------------------------------------------------------------------
def load(opts: Options) -> dict[str, pd.DataFrame | None]:
    """The four raw tables (PostgreSQL: only what the window needs, docs/sources.md). A
    source that is down is tried again (``flows.retry``); bad input is not."""
    from sources.base import open_source

    window = (opts.as_of - pd.Timedelta(days=opts.window_days), opts.as_of)
    uri = real_source(opts.source)
    return with_retries(lambda: open_source(uri, encoding=opts.encoding, schema=opts.pg_schema,
                                            mapping=opts.mapping, window=window).read())


@dataclass
class Checked:
    """The validated tables of the audited shops, and what the source's data warns of."""

    validated: Any  # schemas.validate.Validated
    warnings: list[str] = field(default_factory=list)
    #: every shop of the source before ``--shop``/``--platform`` (for the recipients check)
    source_shops: list[tuple[str, str]] = field(default_factory=list)


def validate(raw: dict, opts: Options, timezones: dict[str, str]) -> Checked:
    """Schema checks, quarantine and counts over the whole source; then the selected shops
    (``opts.platforms`` / ``opts.shops``)."""
    from schemas.validate import validate_tables

    validated = validate_tables(raw, timezones)
    if validated.unusable:  # no valid order at all: nothing written that looks like an audit
        raise InputError(validated.unusable)
    warnings = [*validated.warnings, *(
        f"shop {p}/{s}: every order was quarantined, so it was not audited (see "
        "quarantine.csv)" for p, s in unaudited_shops(raw["orders"], validated.tables["orders"]))]
    # a recipients key is unknown only when the source has no such shop, selected or not
    source_shops = shops_of(validated.tables["orders"]) if opts.email else []
    if opts.platforms or opts.shops:
        known = shops_of(validated.tables["orders"])
        validated = dataclasses.replace(
            validated, tables=restrict(validated.tables, opts.platforms, opts.shops))
        if not len(validated.tables["orders"]):
            raise InputError(
                f"Nothing to audit: no valid order of platform(s) {opts.platforms or 'any'} "
                f"and shop(s) {opts.shops or 'any'}. Shops with valid orders: "
                + (", ".join(f"{p}/{s}" for p, s in known[:30]) or "none") + ".")
    return Checked(validated, warnings, source_shops)


def check(validated, opts: Options, profiles: dict):
    """Every rule of the catalog on the point-in-time view; KPIs scored per shop. When the
    check over everything fails, once per platform (``flows.partitioned.check_tables``: the
    partitioned audit's own isolation and merge). Returns (the outcome of what could be
    checked, or None; {platform: error})."""
    from checks.profiles import timezones
    from flows.partitioned import Options as PartOptions
    from flows.partitioned import check_tables

    return check_tables(validated.tables, PartOptions(
        profiles, timezones(profiles), opts.as_of, opts.window_days, opts.at_risk_hours))


def partitioned(opts: Options, profiles: dict, timezones: dict[str, str], n: int, log=None):
    """Load, validate and check in ``n`` partitions by order (``flows.partitioned``): the
    three steps' results, (Checked, outcome, failures), with the same outputs. Dask when
    ``opts.workers`` / ``opts.dask_address``; else one partition after another here."""
    from flows.partitioned import PartitionFailed, audit_in_partitions

    try:
        validated, warnings, outcome, failures = audit_in_partitions(
            real_source(opts.source), profiles, timezones, opts.as_of,
            window_days=opts.window_days, at_risk_hours=opts.at_risk_hours,
            platforms=opts.platforms, shops=opts.shops, encoding=opts.encoding,
            pg_schema=opts.pg_schema, partitions=n, workers=opts.workers,
            dask_address=opts.dask_address,
            log=(lambda m: log.info("      %s", m)) if log else None)
    except PartitionFailed as exc:  # nothing merged, nothing written
        raise InputError(str(exc)) from None
    return Checked(validated, warnings), outcome, failures


def write(result, opts: Options, log: logging.Logger = LOG) -> dict:
    """findings.csv, kpis.csv, quarantine.csv, run.json and the HTML reports, with trends
    and the re-audit diff from the history store when it can be read.

    Written into a staging folder that replaces ``opts.out`` as the last step
    (reports.outputs.StagedFolder): a reader sees the earlier complete audit or this one.
    A write failure (unwritable, disk full) is an InputError (exit 2, one paragraph) that
    leaves the folder as it was."""
    from reports.outputs import OutputWriteError, StagedFolder, write_error

    out_dir = Path(opts.out)
    staged = StagedFolder(out_dir)
    try:
        tmp = staged.open()
        written = _write_into(result, opts, tmp, log)
        staged.commit()
    except (OSError, OutputWriteError) as exc:
        staged.discard()
        raise InputError(str(write_error(out_dir, exc) if isinstance(exc, OSError)
                             else exc)) from None
    except BaseException:  # any other failure: no half-written folder left behind either
        staged.discard()
        raise
    return {"paths": {k: str(staged.path(v)) for k, v in written["paths"].items()},
            "pages": [str(staged.path(p)) for p in written["pages"]],
            "failures": written["failures"]}


def _write_into(result, opts: Options, out_dir: Path, log: logging.Logger) -> dict:
    from reports.diff import report_diff
    from reports.history import load_history
    from reports.outputs import write_csvs, write_run_json

    store = opts.store
    history = diff = None  # None: the report says there are no trends / no earlier run
    try:
        history = load_history(store, result)
    except Exception as exc:  # trends are a nicety; the audit goes on without them
        log.warning("No trends: the history store could not be read (%s)", describe(exc))
    try:  # before `record` appends this run; every row, each shop page shows its own
        diff = report_diff(store, result, limit=None)
    except Exception as exc:  # like the trends
        log.warning("No re-audit diff: the history store could not be read (%s)",
                    describe(exc))
    t = time.perf_counter()
    from flows.settings import Settings  # the overview's zone, as for --as-of dates

    # The pages of many shops are written by two processes, this one writing the CSV files
    # meanwhile (flows.partition.write_reports_parallel); the mails reuse this process's
    # per-audit work when it built its pages from the whole audit (own_rows=False).
    (pages, failures), paths = write_reports_parallel(
        result, out_dir, history=history, lang=opts.lang, diff=diff,
        report_tz=Settings().report_timezone, meanwhile=lambda: write_csvs(result, out_dir),
        own_rows=not opts.email)
    result.trends, result.diff = history, diff  # the mails show the same trends and changes
    result.run["timings"]["report"] = round(time.perf_counter() - t, 3)
    write_run_json(result.run, out_dir)
    return {"paths": paths, "pages": pages, "failures": failures}


def record(result, opts: Options) -> Any:
    """Append the run to the history store, replacing earlier rows of the same audit."""
    from flows.settings import Settings
    from reports.history import append_run

    return append_run(opts.store, result, keep_days=Settings().history_keep_days or None)


def publish(result, opts: Options) -> None:
    """Nothing to publish without Prefect (the flow publishes its UI artifacts)."""


def deliver(result, opts: Options, recipients=None) -> dict:
    """Build every shop's mail, keep it in ``out/mail``, send those with recipients;
    {"summary", "warnings"} (flows.delivery: no retries here, per message inside)."""
    from flows.delivery import send_mails

    return send_mails(result, Path(opts.out), opts.lang, recipients)


@dataclass(frozen=True)
class Steps:
    """The step functions a story runs: these plain ones, or the flow's tasks."""

    load: Callable = load
    validate: Callable = validate
    check: Callable = check
    partitioned: Callable = partitioned
    write: Callable = write
    record: Callable = record
    publish: Callable = publish
    deliver: Callable = deliver


PLAIN = Steps()


# -- the story ------------------------------------------------------------------------------
@dataclass
class Done:
    """A finished run: its record, where the outputs are, and the one-line summary. (A run
    with nothing to audit never gets here: validate raises InputError, exit 2.)"""

    run: dict
    out: str
    message: str
    written: dict = field(default_factory=dict)
    #: why the mail did not all reach its readers (exit 3, a Failed flow run)
    undelivered: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"run": self.run, "out": self.out, **self.written}


def run(opts: Options, steps: Steps = PLAIN, log: logging.Logger = LOG) -> Done:
    """One audit, told in the order it happens. Raises InputError for unusable input."""
    from checks.profiles import load_profiles, timezones
    from flows.settings import Settings
    from reports.mask import set_masking
    from reports.outputs import OutputWriteError, check_writable

    started, clock = pd.Timestamp.now(tz="UTC"), Stopwatch()
    set_masking(Settings().mask_personal_data)
    try:  # an unwritable --out is known before the source is read, not after the audit
        check_writable(opts.out)
    except OutputWriteError as exc:
        raise InputError(str(exc)) from None
    profiles = load_profiles(opts.profiles_dir)

    n = partition_count(opts)
    if n > 1:  # large data or a Dask cluster: docs/partitioning.md
        from flows.partitioned import default_executor

        how = ("on Dask" if opts.workers or opts.dask_address
               else "in parallel" if default_executor(n).name == "processes"
               else "one after another")
        log.info("[1-3/5] load, validate, check: %s in %d partitions by order (%s)",
                 opts.source, n, how)
        with clock("partitioned"):
            checked, outcome, failures = steps.partitioned(opts, profiles, timezones(profiles),
                                                           n, log)
        for w in checked.warnings:
            log.warning(w)
        for f in failures:
            log.error("      %s: the check failed (%s); not audited", f["platform"],
                      f["error"])
        clock.add("partitioned", outcome.timings)
    else:
        log.info("[1/5] load: %s", opts.source)
        with clock("load"):
            raw = steps.load(opts)
        log.info("[2/5] validate: %s", ", ".join(
            f"{k} {len(v)}" for k, v in raw.items() if v is not None))
        with clock("validate"):
            checked = steps.validate(raw, opts, timezones(profiles))
        del raw
        for w in checked.warnings:
            log.warning(w)

        log.info("[3/5] check: %d shop(s) as of %s",
                 len(shops_of(checked.validated.tables["orders"])), opts.as_of.isoformat())
        with clock("check"):
            outcome, failures = check_isolated(steps, checked.validated, opts, profiles, log)
        clock.add("check", outcome.timings)

    run = run_record(opts, checked.validated, outcome, profiles, started=started,
                     warnings=checked.warnings, failures=failures, timings=clock.timings)
    result = assemble(run, checked.validated, outcome, profiles)
    recipients, undelivered = None, []
    if opts.email:  # known before the overview is written, so it shows them
        from flows.delivery import recipient_check

        recipients, undelivered = recipient_check(result, checked.source_shops)
        for w in undelivered:
            log.warning(w)
        run["warnings"] += undelivered
    log.info("[4/5] write: %d findings, %d shop(s) → %s", len(outcome.findings),
             len(result.shops), opts.out)
    with clock("write"):
        written = steps.write(result, opts)
    late = written.pop("failures")

    log.info("[5/5] record: history store%s", ", delivery" if opts.email else "")
    with clock("record"):
        late += soft("history", steps.record, result, opts)
        late += soft("artifacts", steps.publish, result, opts)
    if opts.email:
        undelivered += send(steps, result, opts, recipients, run, log)
    done = finish(run, checked.validated, opts, late, written, log)
    done.undelivered = undelivered
    return done


def send(steps: Steps, result, opts: Options, recipients, run: dict,
         log: logging.Logger = LOG) -> list[str]:
    """The deliver step; what it could not deliver is a warning in the run record and on
    the overview page (written before sending, so marked now)."""
    from flows.delivery import mark_overview

    try:
        sent = steps.deliver(result, opts, recipients)
        run["email"], after = sent["summary"], list(sent["warnings"])
    except Exception as exc:  # a bug in building the mail: still never silent
        after = [f"email: {describe(exc)}"]
    for w in after:
        log.warning(w)
    run["warnings"] += after
    if after:
        mark_overview(Path(opts.out), after, opts.lang)
    return after


def partition_count(opts: Options) -> int:
    """Partitions for this run (1: the unpartitioned steps): ``--partitions`` when given,
    else from the data size, at least two per worker on Dask (flows.partitioned)."""
    if opts.partitions == 1 or (opts.mapping and not opts.partitions):
        return 1
    if opts.mapping:
        raise InputError("A folder read through a column mapping cannot be audited in "
                         "partitions: run it without --partitions. Nothing was audited.")
    from flows.partitioned import partitions_for

    return partitions_for(real_source(opts.source), partitions=opts.partitions,
                          workers=opts.workers, dask_address=opts.dask_address,
                          encoding=opts.encoding, pg_schema=opts.pg_schema)


def check_isolated(steps: Steps, validated, opts: Options, profiles: dict,
                   log: logging.Logger = LOG):
    """The check step; a platform whose check fails is left out and named, the others are
    audited (the step isolates per platform, flows.partitioned.check_tables).

    Returns (the outcome; the failures). Raises InputError when every platform failed.
    """
    outcome, failed = steps.check(validated, opts, profiles)
    failures = [{"stage": "check", "platform": p, "shop_id": None, "error": e}
                for p, e in sorted(failed.items())]
    for f in failures:
        log.error("      %s: the check failed (%s); not audited: %s", f["platform"],
                  f["error"], ", ".join(s for p, s in shops_of(validated.tables["orders"])
                                        if p == f["platform"]))
    if outcome is None:
        raise InputError("Nothing could be audited: the check failed for every platform: "
                         + "; ".join(f"{f['platform']}: {f['error']}" for f in failures))
    return outcome, failures


def soft(stage: str, step: Callable, *args, keep: dict | None = None) -> list[dict]:
    """Run a step whose failure must not fail the audit; [] or its one failure. ``keep``:
    the run record, to store the step's result under ``stage``."""
    try:
        value = step(*args)
    except Exception as exc:
        return [_failure(stage, exc)]
    if keep is not None:
        keep[stage] = value
    return []


def finish(run: dict, validated, opts: Options, late: list[dict], written: dict,
           log: logging.Logger = LOG) -> Done:
    """Record the late failures in run.json and say how the run ended."""
    from reports.outputs import write_run_json

    for f in late:
        log.warning(failure_warning(f))
    run["failures"] += late
    run["warnings"] += [failure_warning(f) for f in late]
    try:  # one file, replaced atomically: run.json as `write` left it until then
        write_run_json(run, Path(opts.out))
    except OSError as exc:
        raise InputError(f"Could not update run.json in {opts.out}: {exc.strerror or exc}. "
                         "The audit's outputs there are complete; its run.json lacks this "
                         "run's record and delivery details.") from None
    n = sum(sum(v.values()) for v in run["findings"].values())
    done = f"{n} findings as of {opts.as_of.isoformat()}; outputs in {opts.out}"
    if run["failures"]:
        done += f" (completed with {len(run['failures'])} failure(s): " + "; ".join(
            failure_warning(f) for f in run["failures"]) + ")"
    log.info("Audit %s: %s", run["run_id"], done)
    return Done(run, str(opts.out), done, written=written)
