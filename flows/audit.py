"""The audit flow: load → validate → check → score → write → record (→ deliver).

Each step is a Prefect task wrapping plain functions from sources/, schemas/, checks/ and
reports/, so a test can call ``step.fn(...)`` without Prefect. Unusable input is not an
exception that Prefect would print with a traceback: the step returns the problem and the flow
ends in a Failed state whose message is the one-paragraph error the CLI shows (exit 2).

Partial failure: the check runs once per platform (``flows.partition``), a shop's report
page is isolated, and the history and artifact steps only warn; the run then ends Completed
with the warnings in its state message and run.json. It ends Failed only when nothing could
be audited.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, Failed
from prefect.tasks import exponential_backoff

from checks.address_quality import address_book_notes
from checks.audit import run_rules
from checks.profiles import load_profiles, timezones, versions_in_force
from checks.registry import CATALOG_VERSION, catalog
from checks.result import AuditResult
from flows import artifacts
from flows.partition import (
    describe,
    merge,
    platforms_of,
    restrict,
    shops_of,
    unaudited_shops,
    write_reports_isolated,
)
from reports.diff import report_diff
from reports.email import SmtpConfig, build_messages, deliver, load_recipients
from reports.history import append_run, load_history
from reports.outputs import findings_summary, write_csvs, write_run_json
from schemas.errors import InputError
from schemas.validate import Validated, validate_tables
from sources.base import mask_uri, open_source


@dataclass
class Problem:
    """Unusable input or configuration, carried as a value (see module docstring)."""

    message: str


# A database or share that blips at 02:00 gets two more tries; bad input (InputError) is
# returned, not raised, so it is never retried.
@task(name="load", cache_policy=NO_CACHE, retries=2,
      retry_delay_seconds=exponential_backoff(backoff_factor=5))
def load(source: str, encoding: str = "utf-8", schema: str | None = None,
         window: tuple[pd.Timestamp, pd.Timestamp] | None = None):
    """Pull the four raw tables from the source (PostgreSQL: only what the window needs,
    see docs/sources.md)."""
    try:
        return open_source(source, encoding=encoding, schema=schema, window=window).read()
    except InputError as exc:
        return Problem(str(exc))


@task(name="validate", cache_policy=NO_CACHE)
def validate(raw, tz: dict[str, str]):
    """Schema checks, quarantine and the read = valid + quarantined + superseded counts."""
    try:
        validated = validate_tables(raw, tz)
    except InputError as exc:
        return Problem(str(exc))
    # No valid order at all: nothing to audit, and nothing written that looks like an audit.
    return Problem(validated.unusable) if validated.unusable else validated


@task(name="check", cache_policy=NO_CACHE)
def check(validated: Validated, profiles, as_of: pd.Timestamp, window_days: int,
          at_risk_hours: float, platform: str | None = None):
    """Every rule of the catalog on the point-in-time view; KPIs scored per shop.
    With ``platform``: that platform's partition only (see flows.partition)."""
    tables = restrict(validated.tables, [platform]) if platform else validated.tables
    return run_rules(tables, profiles, as_of, window_days, at_risk_hours)


@task(name="write", cache_policy=NO_CACHE)
def write(result: AuditResult, out_dir: Path, lang: str, history_root: Path | str | None):
    """findings.csv, kpis.csv, quarantine.csv, run.json and the HTML reports, with trends
    and the re-audit diff from the history store ``history_root`` (a folder or a
    SQLAlchemy URL)."""
    paths = write_csvs(result, out_dir)
    history = None
    if history_root is not None:
        try:
            history = load_history(history_root, result)
        except Exception as exc:  # trends are a nicety; the audit goes on without them
            get_run_logger().warning("No trends: the history store could not be read (%s)",
                                     describe(exc))
    diff = None  # None: the report says there is no earlier run to compare with
    if history_root is not None:
        try:  # before `record` appends this run; every row, each shop page shows its own
            diff = report_diff(history_root, result, limit=None)
        except Exception as exc:  # like the trends: a nicety, the audit goes on without it
            get_run_logger().warning("No re-audit diff: the history store could not be read "
                                     "(%s)", describe(exc))
    t = time.perf_counter()
    pages, failures = write_reports_isolated(result, out_dir, history=history, lang=lang,
                                             diff=diff)
    result.run["timings"]["report"] = round(time.perf_counter() - t, 3)
    write_run_json(result.run, out_dir)
    return {"paths": {k: str(v) for k, v in paths.items()}, "pages": [str(p) for p in pages],
            "failures": failures}


@task(name="record", cache_policy=NO_CACHE)
def record(result: AuditResult, store: Path | str):
    """Append the run to the history store, replacing earlier rows of the same audit."""
    return append_run(store, result)


class MailNotSent(Exception):
    """Some messages stayed in the outbox (server down); raised so the step retries."""


# Delivery retries with backoff; what is still unsent stays in the outbox for the next run.
@task(name="deliver", cache_policy=NO_CACHE, retries=2,
      retry_delay_seconds=exponential_backoff(backoff_factor=5))
def deliver_mail(result: AuditResult, out_dir: Path, lang: str):
    """Email each shop's page to its recipients (settings: SMTP, recipients file)."""
    from flows.settings import Settings

    s = Settings()
    if s.recipients_file is None:
        raise InputError("Email is on but no recipients file is set "
                         "(REFUND_AUDIT_RECIPIENTS_FILE).")
    recipients = load_recipients(Path(s.recipients_file))
    smtp = SmtpConfig(**s.smtp.model_dump())
    messages = build_messages(result, out_dir, recipients, lang=lang, sender=smtp.sender)
    report = deliver(messages, smtp, outbox=Path(s.out_root) / "outbox",
                     sent_log=Path(s.out_root) / "sent.json")
    if report.pending:
        raise MailNotSent(f"{len(report.pending)} message(s) kept in the outbox for the next "
                          f"run: {report.error}")
    return {"sent": len(report.sent), "already_sent": len(report.already_sent),
            "failed": len(report.failed)}


@task(name="publish", cache_policy=NO_CACHE)
def publish(result: AuditResult, out_dir: Path):
    """The markdown summary and KPI table artifacts in the Prefect UI."""
    artifacts.publish(result, str(out_dir))


def audit_key(source: str, as_of: pd.Timestamp, window_days: int, profile_versions: dict,
              shops: list[str] | None = None, *, platforms: list[str] | None = None,
              at_risk_hours: float | None = None) -> str:
    """The audit's identity: the same key means the same audit (idempotent re-runs)."""
    ident = {"source": source, "as_of": as_of.isoformat(), "window_days": window_days,
             "profiles": profile_versions, "catalog": CATALOG_VERSION,
             "shops": sorted(shops or [])}
    # Only when set, so that keys of earlier unfiltered audits stay what they were.
    if platforms:
        ident["platforms"] = sorted(platforms)
    if at_risk_hours is not None:
        ident["at_risk_hours"] = float(at_risk_hours)
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]


def parse_as_of(value: str | datetime | None) -> pd.Timestamp:
    """``as_of`` as UTC; naive values are read as UTC; default: now."""
    if value is None or value == "":
        return pd.Timestamp.now(tz="UTC").floor("s")
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def check_isolated(validated: Validated, profiles, as_of: pd.Timestamp, window_days: int,
                   at_risk_hours: float):
    """The check step over every shop at once; only when that fails, once per platform, so
    that one platform's failure does not stop the rest (see flows.partition: the merged
    parts equal the whole). Partitioning always would cost 2-2.5x the check time (measured).

    Returns (the outcome, or None when every platform failed; the failures).
    """
    logger = get_run_logger()
    state = check(validated, profiles, as_of, window_days, at_risk_hours, return_state=True)
    if state.is_completed():
        return state.result(), []
    logger.warning("      the check failed (%s); isolating it per platform",
                   describe(state.result(raise_on_failure=False)))
    parts, failures = [], []
    for platform in platforms_of(validated.tables):
        t = time.perf_counter()
        step = check.with_options(task_run_name=f"check-{platform}")
        state = step(validated, profiles, as_of, window_days, at_risk_hours, platform,
                     return_state=True)
        if state.is_completed():
            parts.append(state.result())
            logger.info("      %s: %d findings (%.1f s)", platform, len(parts[-1].findings),
                        time.perf_counter() - t)
            continue
        error = describe(state.result(raise_on_failure=False))
        failures.append({"stage": "check", "platform": platform, "shop_id": None,
                         "error": error})
        logger.error("      %s: the check failed (%s); not audited: %s", platform, error,
                     ", ".join(s for p, s in shops_of(validated.tables["orders"])
                               if p == platform))
    return (merge(parts) if parts else None), failures


def failure_warning(f: dict) -> str:
    """One warning line per isolated failure (run.json, state message, artifacts)."""
    if f["stage"] == "check":
        return (f"platform {f['platform']}: the check failed ({f['error']}); its shops are "
                "not in this run's findings and KPIs")
    if f["stage"] == "report" and f["shop_id"] is not None:
        return (f"shop {f['platform']}/{f['shop_id']}: its report page failed ({f['error']});"
                " its findings are in findings.csv")
    return f"{f['stage']}: {f['error']}"


@flow(name="audit", log_prints=True)
def audit(source: str, out: str, as_of: str | None = None, window_days: int = 30,
          at_risk_hours: float = 24.0, encoding: str = "utf-8", pg_schema: str | None = None,
          lang: str = "zh", profiles_dir: str | None = None,
          platforms: list[str] | None = None, shops: list[str] | None = None,
          history_store: str | None = None, workers: int | None = None,
          dask_address: str | None = None, email: bool = False):
    """Audit one source's refunds as of ``as_of`` and write the outputs to ``out``.

    ``platforms`` / ``shops`` restrict the audited shops; validation, quarantine and the
    counts still cover the whole source. ``history_store``: a SQLAlchemy URL; default
    ``history.sqlite`` in the parent folder of ``out``. ``workers`` (a LocalCluster of that
    many processes) or ``dask_address`` (an existing scheduler): the check runs in groups of
    shops on Dask (flows/scale.py), with the same outputs.
    """
    logger = get_run_logger()
    started = pd.Timestamp.now(tz="UTC")
    timings: dict[str, float] = {}
    try:
        ts_as_of = parse_as_of(as_of)
    except (ValueError, TypeError):
        return Failed(message=f"--as-of {as_of!r} is not an ISO 8601 timestamp "
                              "(e.g. 2026-11-20T02:00:00+08:00).")
    try:
        profiles = load_profiles(profiles_dir)
    except InputError as exc:  # a profile with a typo: exit 2, one paragraph
        return Failed(message=str(exc))
    tz = timezones(profiles)
    shown_source = mask_uri(source)

    logger.info("[1/5] load: %s", shown_source)
    t = time.perf_counter()
    window = (ts_as_of - pd.Timedelta(days=window_days), ts_as_of)
    raw = load(source, encoding, pg_schema, window)
    timings["load"] = time.perf_counter() - t
    if isinstance(raw, Problem):
        return Failed(message=raw.message)
    logger.info("[2/5] validate: %s", ", ".join(
        f"{k} {len(v)}" for k, v in raw.items() if v is not None))
    t = time.perf_counter()
    validated = validate(raw, tz)
    timings["validate"] = time.perf_counter() - t
    if isinstance(validated, Problem):
        return Failed(message=validated.message)
    warnings = [*validated.warnings, *(
        f"shop {p}/{s}: every order was quarantined, so it was not audited (see "
        "quarantine.csv)" for p, s in unaudited_shops(raw["orders"], validated.tables["orders"]))]
    del raw
    for w in warnings:
        logger.warning(w)
    if platforms or shops:
        known = shops_of(validated.tables["orders"])
        validated = dataclasses.replace(
            validated, tables=restrict(validated.tables, platforms, shops))
        if not len(validated.tables["orders"]):
            return Failed(message=(
                f"Nothing to audit: no valid order of platform(s) {platforms or 'any'} and "
                f"shop(s) {shops or 'any'}. Shops with valid orders: "
                + (", ".join(f"{p}/{s}" for p, s in known[:30]) or "none") + "."))

    logger.info("[3/5] check: %d shop(s) as of %s", len(shops_of(validated.tables["orders"])),
                ts_as_of.isoformat())
    t = time.perf_counter()
    outcome, failures = None, []
    if workers or dask_address:
        from flows.scale import check_on_dask  # Dask is imported only when asked for

        outcome = check_on_dask(validated.tables, profiles, ts_as_of, window_days,
                                at_risk_hours, workers=workers, address=dask_address)
    if outcome is None:
        outcome, failures = check_isolated(validated, profiles, ts_as_of, window_days,
                                           at_risk_hours)
    timings["check"] = time.perf_counter() - t
    if outcome is None:
        return Failed(message="Nothing could be audited: the check failed for every "
                      "platform: " + "; ".join(f"{f['platform']}: {f['error']}"
                                               for f in failures))
    for (p, s), n in outcome.findings.groupby(["platform", "shop_id"]).size().items():
        logger.info("      %s/%s: %d findings", p, s, n)
    timings.update({f"check.{k}": v for k, v in outcome.timings.items()})

    pv = versions_in_force(profiles, ts_as_of)
    selection = {"platforms": sorted(platforms or []), "shops": sorted(shops or [])}
    run = {
        "run_id": str(uuid.uuid4()),
        "audit_key": audit_key(shown_source, ts_as_of, window_days, pv, shops,
                               platforms=platforms, at_risk_hours=at_risk_hours),
        "started_at": started.isoformat(),
        "as_of": ts_as_of.isoformat(),
        "window_days": window_days,
        "window_start": outcome.data.start.isoformat(),
        "at_risk_hours": at_risk_hours,
        "source": shown_source,
        "mapping": os.environ.get("REFUND_AUDIT_MAPPING") or None,
        "selection": selection,
        "profile_versions": {p: {"version": v, "file": Path(profiles[p].path).name}
                             for p, v in pv.items()},
        "rule_catalog_version": CATALOG_VERSION,
        "rules_not_evaluated": outcome.not_evaluated,
        "counts": validated.counts,
        "reconciled": all(c["read"] == c["valid"] + c["quarantined"] + c["superseded"]
                          for c in validated.counts.values()),
        "findings": findings_summary(outcome.findings),
        "warnings": warnings + [failure_warning(f) for f in failures],
        "failures": failures,
        "timings": {k: round(v, 3) for k, v in timings.items()},
    }
    audited = outcome.kpis[["platform", "shop_id"]].drop_duplicates().reset_index(drop=True)
    result = AuditResult(run=run, findings=outcome.findings, kpis=outcome.kpis,
                         quarantine=validated.quarantine, counts=validated.counts,
                         catalog=catalog(), timezones=tz, shops=audited,
                         not_evaluated=outcome.not_evaluated,
                         address_notes=address_book_notes(validated.tables["return_addresses"]))
    out_dir = Path(out)
    store = history_store or out_dir.parent
    n = len(outcome.findings)

    logger.info("[4/5] write: %d findings, %d shop(s) → %s", n, len(audited), out_dir)
    t = time.perf_counter()
    written = write(result, out_dir, lang, store)
    run["timings"]["write"] = round(time.perf_counter() - t, 3)

    logger.info("[5/5] record: history store, Prefect artifacts")
    t = time.perf_counter()
    late = list(written.pop("failures"))
    for name, state in (("history", record(result, store, return_state=True)),
                        ("artifacts", publish(result, out_dir, return_state=True))):
        if not state.is_completed():
            late.append({"stage": name, "platform": None, "shop_id": None,
                         "error": describe(state.result(raise_on_failure=False))})
    run["timings"]["record"] = round(time.perf_counter() - t, 3)
    if email:
        logger.info("      deliver: email to the shops' recipients")
        state = deliver_mail(result, out_dir, lang, return_state=True)
        if state.is_completed():
            run["email"] = state.result()
        else:
            late.append({"stage": "email", "platform": None, "shop_id": None,
                         "error": describe(state.result(raise_on_failure=False))})
    for f in late:
        logger.warning(failure_warning(f))
    run["failures"] += late
    run["warnings"] += [failure_warning(f) for f in late]
    write_run_json(run, out_dir)

    done = f"{n} findings as of {ts_as_of.isoformat()}; outputs in {out_dir}"
    if validated.counts["orders"]["read"] and not len(validated.tables["orders"]):
        return Failed(message=f"Nothing could be audited: every order was quarantined; see "
                              f"quarantine.csv in {out_dir}.")
    if run["failures"]:
        done += f" (completed with {len(run['failures'])} failure(s): " + "; ".join(
            failure_warning(f) for f in run["failures"]) + ")"
    logger.info("Audit %s: %s", run["run_id"], done)
    return Completed(message=done, data={"run": run, "out": str(out_dir), **written})
