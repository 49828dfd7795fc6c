"""The audit flow: load → validate → check → score → write (→ deliver).

Each step is a Prefect task wrapping plain functions from sources/, schemas/, checks/ and
reports/, so a test can call ``step.fn(...)`` without Prefect. Unusable input is not an
exception that Prefect would print with a traceback: the step returns the problem and the flow
ends in a Failed state whose message is the one-paragraph error the CLI shows (exit 2).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Failed

from checks.audit import run_rules
from checks.profiles import load_profiles, timezones, versions_in_force
from checks.registry import CATALOG_VERSION, catalog
from checks.result import AuditResult
from reports.outputs import findings_summary, write_csvs, write_run_json
from schemas.errors import InputError
from schemas.validate import Validated, validate_tables
from sources.base import mask_uri, open_source


@dataclass
class Problem:
    """Unusable input or configuration, carried as a value (see module docstring)."""

    message: str


@task(name="load", cache_policy=NO_CACHE)
def load(source: str, encoding: str = "utf-8", schema: str | None = None):
    """Pull the four raw tables from the source."""
    try:
        return open_source(source, encoding=encoding, schema=schema).read()
    except InputError as exc:
        return Problem(str(exc))


@task(name="validate", cache_policy=NO_CACHE)
def validate(raw, tz: dict[str, str]):
    """Schema checks, quarantine and the read = valid + quarantined + superseded counts."""
    try:
        return validate_tables(raw, tz)
    except InputError as exc:
        return Problem(str(exc))


@task(name="check", cache_policy=NO_CACHE)
def check(validated: Validated, profiles, as_of: pd.Timestamp, window_days: int,
          at_risk_hours: float):
    """Every rule of the catalog on the point-in-time view; KPIs scored per shop."""
    return run_rules(validated.tables, profiles, as_of, window_days, at_risk_hours)


@task(name="write", cache_policy=NO_CACHE)
def write(result: AuditResult, out_dir: Path, lang: str, history_root: Path | None):
    """findings.csv, kpis.csv, quarantine.csv, run.json and the HTML reports."""
    paths = write_csvs(result, out_dir)
    from reports.render import write_reports

    history = None
    if history_root is not None:
        try:
            from reports.history import load_history

            history = load_history(history_root, result)
        except ImportError:
            history = None
    t = time.perf_counter()
    pages = write_reports(result, out_dir, history=history, lang=lang)
    result.run["timings"]["report"] = round(time.perf_counter() - t, 3)
    write_run_json(result.run, out_dir)
    return {"paths": {k: str(v) for k, v in paths.items()}, "pages": [str(p) for p in pages]}


def audit_key(source: str, as_of: pd.Timestamp, window_days: int, profile_versions: dict,
              shops: list[str] | None = None) -> str:
    """The audit's identity: the same key means the same audit (idempotent re-runs)."""
    ident = {"source": source, "as_of": as_of.isoformat(), "window_days": window_days,
             "profiles": profile_versions, "catalog": CATALOG_VERSION, "shops": shops or []}
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]


def parse_as_of(value: str | datetime | None) -> pd.Timestamp:
    """``as_of`` as UTC; naive values are read as UTC; default: now."""
    if value is None or value == "":
        return pd.Timestamp.now(tz="UTC").floor("s")
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


@flow(name="audit", log_prints=True)
def audit(source: str, out: str, as_of: str | None = None, window_days: int = 30,
          at_risk_hours: float = 24.0, encoding: str = "utf-8", pg_schema: str | None = None,
          lang: str = "zh", profiles_dir: str | None = None):
    """Audit one source's refunds as of ``as_of`` and write the outputs to ``out``."""
    logger = get_run_logger()
    started = pd.Timestamp.now(tz="UTC")
    timings: dict[str, float] = {}
    try:
        ts_as_of = parse_as_of(as_of)
    except (ValueError, TypeError):
        return Failed(message=f"--as-of {as_of!r} is not an ISO 8601 timestamp "
                              "(e.g. 2026-11-20T02:00:00+08:00).")
    profiles = load_profiles(profiles_dir)
    tz = timezones(profiles)

    t = time.perf_counter()
    raw = load(source, encoding, pg_schema)
    timings["load"] = time.perf_counter() - t
    if isinstance(raw, Problem):
        return Failed(message=raw.message)
    t = time.perf_counter()
    validated = validate(raw, tz)
    timings["validate"] = time.perf_counter() - t
    del raw
    if isinstance(validated, Problem):
        return Failed(message=validated.message)
    for w in validated.warnings:
        logger.warning(w)

    t = time.perf_counter()
    outcome = check(validated, profiles, ts_as_of, window_days, at_risk_hours)
    timings["check"] = time.perf_counter() - t
    timings.update({f"check.{k}": v for k, v in outcome.timings.items()})

    pv = versions_in_force(profiles, ts_as_of)
    shown_source = mask_uri(source)
    run = {
        "run_id": str(uuid.uuid4()),
        "audit_key": audit_key(shown_source, ts_as_of, window_days, pv),
        "started_at": started.isoformat(),
        "as_of": ts_as_of.isoformat(),
        "window_days": window_days,
        "window_start": outcome.data.start.isoformat(),
        "at_risk_hours": at_risk_hours,
        "source": shown_source,
        "profile_versions": {p: {"version": v, "file": Path(profiles[p].path).name}
                             for p, v in pv.items()},
        "rule_catalog_version": CATALOG_VERSION,
        "rules_not_evaluated": outcome.not_evaluated,
        "counts": validated.counts,
        "reconciled": all(c["read"] == c["valid"] + c["quarantined"] + c["superseded"]
                          for c in validated.counts.values()),
        "findings": findings_summary(outcome.findings),
        "warnings": validated.warnings,
        "timings": {k: round(v, 3) for k, v in timings.items()},
    }
    shops = outcome.kpis[["platform", "shop_id"]].drop_duplicates().reset_index(drop=True)
    result = AuditResult(run=run, findings=outcome.findings, kpis=outcome.kpis,
                         quarantine=validated.quarantine, counts=validated.counts,
                         catalog=catalog(), timezones=tz, shops=shops,
                         not_evaluated=outcome.not_evaluated)
    out_dir = Path(out)
    t = time.perf_counter()
    written = write(result, out_dir, lang, out_dir.parent)
    run["timings"]["write"] = round(time.perf_counter() - t, 3)
    write_run_json(run, out_dir)
    n = len(outcome.findings)
    logger.info("Audit %s as of %s: %d findings; outputs in %s", run["run_id"],
                ts_as_of.isoformat(), n, out_dir)
    return {"run": run, "out": str(out_dir), **written}
