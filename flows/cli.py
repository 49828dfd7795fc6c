"""The `refund-audit` command line: what users do (run, demo, generate, rules, profiles, ...).

Exit status (CONTRACT §4): 0 when the audit ran, whatever it found (1 with --fail-on when a
finding of that severity or worse exists), 2 on unusable input or configuration, with a
one-paragraph error on stderr and no traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

import flows  # noqa: F401  (offline-safe Prefect settings before prefect is imported)
from flows.settings import DEMO_DB, Settings

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Nightly compliance audit of refunds and returns.")

SEVERITIES = ["critical", "major", "minor", "info"]


def _fail(message: str) -> None:
    typer.echo(f"refund-audit: error: {message}", err=True)
    raise typer.Exit(2)


def run_audit(source: str, out: Path, as_of: str | None, window_days: int,
              at_risk_hours: float, encoding: str, lang: str, pg_schema: str | None = None,
              profiles_dir: str | None = None, *, history_store: str | None = None,
              workers: int | None = None, dask_address: str | None = None,
              email: bool = False, mapping: str | None = None) -> dict:
    """Run the audit flow; exit 2 with the flow's message when the input is unusable."""
    from flows.audit import audit

    state = audit(source=source, out=str(out), as_of=as_of, window_days=window_days,
                  at_risk_hours=at_risk_hours, encoding=encoding, pg_schema=pg_schema,
                  lang=lang, profiles_dir=profiles_dir, history_store=history_store,
                  workers=workers, dask_address=dask_address, email=email,
                  mapping=mapping, report_timezone=Settings().report_timezone,
                  return_state=True)
    if not state.is_completed():
        _fail(state.message or "the audit failed")
    return state.result()


@app.command()
def run(
    source: str = typer.Option(None, help="sqlite:///path, postgresql+psycopg://…, or a "
                               "folder of <table>.csv / <table>.parquet (default: the demo "
                               "database)."),
    as_of: str = typer.Option(None, "--as-of", help="The audit's 'now', ISO 8601 "
                              "(default: the run's start)."),
    window_days: int = typer.Option(None, "--window-days", min=1, help="Window in days "
                                    "(default 30)."),
    out: Path = typer.Option(None, "--out", help="Output folder."),
    at_risk_hours: float = typer.Option(None, "--at-risk-hours", help="At-risk horizon "
                                        "(default 24)."),
    encoding: str = typer.Option(None, "--encoding", help="CSV encoding (utf-8 or gbk)."),
    pg_schema: str = typer.Option(None, "--schema", help="PostgreSQL schema."),
    fail_on: str = typer.Option(None, "--fail-on", help="Exit 1 when a finding of this "
                                "severity or worse exists: critical, major, minor, info."),
    lang: str = typer.Option(None, "--lang", help="Report language: zh (with English) or en."),
    mapping: str = typer.Option(None, "--mapping", help="Column mapping for a folder of "
                                "back-end exports: a YAML/TOML file or a shipped name "
                                "(tmall_refund_export, tmall_order_report); docs/sources.md."),
    workers: int = typer.Option(None, "--workers", min=1, help="Run the check on a local "
                                "Dask cluster of N worker processes (docs/performance.md)."),
    dask_address: str = typer.Option(None, "--dask-address", help="Run the check on an "
                                     "existing Dask scheduler, e.g. tcp://host:8786."),
    email: bool = typer.Option(None, "--email/--no-email", help="Email each shop's report "
                               "to its recipients (REFUND_AUDIT_RECIPIENTS_FILE, "
                               "REFUND_AUDIT_SMTP__*)."),
) -> None:
    """Audit a source and write findings.csv, kpis.csv, quarantine.csv, run.json, report.html."""
    s = Settings()
    if fail_on is not None and fail_on not in SEVERITIES:
        _fail(f"--fail-on must be one of {', '.join(SEVERITIES)}, not {fail_on!r}.")
    source = source or s.source
    out = out or (s.out_root / "latest")
    res = run_audit(source, out, as_of, window_days or s.window_days,
                    at_risk_hours if at_risk_hours is not None else s.at_risk_hours,
                    encoding or s.encoding, lang or s.lang, pg_schema or s.pg_schema,
                    s.profiles_dir, history_store=s.history_url, workers=workers,
                    dask_address=dask_address, email=s.email if email is None else email,
                    mapping=mapping or s.mapping)
    _summary(res)
    if fail_on is not None:
        worst = SEVERITIES[: SEVERITIES.index(fail_on) + 1]
        import pandas as pd

        f = pd.read_csv(Path(res["out"]) / "findings.csv", usecols=["severity"])
        if f["severity"].isin(worst).any():
            raise typer.Exit(1)


def _summary(res: dict) -> None:
    run = res["run"]
    typer.echo(f"Audit {run['run_id']} as of {run['as_of']} ({run['window_days']} days) "
               f"on {run['source']}")
    for t, c in run["counts"].items():
        typer.echo(f"  {t:17} read {c['read']:>8}  valid {c['valid']:>8}  quarantined "
                   f"{c['quarantined']:>6}  superseded {c['superseded']:>6}")
    total = sum(sum(v.values()) for v in run["findings"].values())
    typer.echo(f"  findings: {total}  ("
               + ", ".join(f"{k} {sum(v.values())}" for k, v in sorted(run["findings"].items()))
               + ")")
    if run["rules_not_evaluated"]:
        typer.echo("  not evaluated (no messages table): " + ", ".join(
            run["rules_not_evaluated"]))
    if run.get("email"):
        e = run["email"]
        typer.echo(f"  email: {e['sent']} sent, {e['already_sent']} already sent earlier, "
                   f"{e['failed']} rejected")
    for w in run.get("warnings", []):
        typer.echo(f"  warning: {w}")
    typer.echo(f"Outputs in {res['out']}: findings.csv kpis.csv quarantine.csv run.json "
               "report.html shops/")


@app.command()
def demo(
    orders: int = typer.Option(3000, help="Orders to generate."),
    out: Path = typer.Option(None, "--out", help="Output folder (default out/demo)."),
    as_of: str = typer.Option("2026-11-20T02:00:00+08:00", "--as-of"),
) -> None:
    """Write the demo dataset into the embedded SQLite database and audit it."""
    from sources.generate import generate_tables
    from sources.writers import write_sqlite

    DEMO_DB.parent.mkdir(parents=True, exist_ok=True)
    write_sqlite(generate_tables(orders, as_of=as_of), DEMO_DB)
    typer.echo(f"Demo data: {orders} orders written to {DEMO_DB}")
    s = Settings()
    res = run_audit(f"sqlite:///{DEMO_DB}", out or (s.out_root / "demo"), as_of, 30,
                    s.at_risk_hours, "utf-8", s.lang)
    _summary(res)
    typer.echo(f"Open {Path(res['out']).resolve() / 'report.html'} in a browser.")


@app.command()
def generate(
    orders: int = typer.Option(..., "--orders", min=1, help="Orders to generate."),
    out: str = typer.Option(..., "--out", help="A folder (CSV), folder with --format "
                            "parquet, or sqlite:///path."),
    fmt: str = typer.Option("csv", "--format", help="csv or parquet (folders only)."),
    seed: int = typer.Option(7, help="Random seed."),
    as_of: str = typer.Option("2026-11-20T02:00:00+08:00", "--as-of"),
    clean: bool = typer.Option(False, "--clean", help="No dirty rows."),
) -> None:
    """Generate contract-format data (demo, tests, benchmark)."""
    from sources.generate import generate_tables
    from sources.writers import write_csv_folder, write_parquet_folder, write_sqlite

    tables = generate_tables(orders, seed=seed, as_of=as_of, dirty=not clean)
    if out.startswith("sqlite:///"):
        write_sqlite(tables, out)
    elif fmt == "parquet":
        write_parquet_folder(tables, Path(out))
    else:
        write_csv_folder(tables, Path(out))
    typer.echo(", ".join(f"{t}: {len(df)}" for t, df in tables.items()) + f" → {out}")


@app.command("load-pg")
def load_pg(
    url: str = typer.Argument(..., help="postgresql+psycopg://user@host:port/database (the "
                              "password may come from PGPASSWORD or ~/.pgpass)."),
    source: str = typer.Option(None, "--source", help="What to copy: a folder of CSV/Parquet "
                               "files or sqlite:///path (default: the demo database)."),
    pg_schema: str = typer.Option(None, "--schema", help="Target schema (created if missing; "
                                  "default public). Its four tables are replaced."),
    timestamps: str = typer.Option("text", "--timestamps", help="Column type for the "
                                   "timestamps: text (keeps dirty values), timestamptz or "
                                   "timestamp."),
    encoding: str = typer.Option("utf-8", "--encoding", help="CSV encoding (utf-8 or gbk)."),
) -> None:
    """Copy the four tables from a source into PostgreSQL (docs/sources.md)."""
    from schemas.errors import InputError
    from sources.base import mask_uri, open_source
    from sources.loader import load_into_postgres

    try:
        tables = open_source(source or Settings().source, encoding=encoding).read()
        loaded = load_into_postgres(tables, url, pg_schema, timestamps=timestamps)
    except InputError as exc:
        _fail(str(exc))
    typer.echo(", ".join(f"{t}: {n}" for t, n in loaded.items())
               + f" → {mask_uri(url)} (schema {pg_schema or 'public'})")


@app.command()
def rules(markdown: bool = typer.Option(False, "--markdown", help="docs/rules.md format.")
          ) -> None:
    """Print the rule catalog (id, severity, title, source)."""
    from checks.registry import RULES, rules_markdown

    if markdown:
        sys.stdout.write(rules_markdown())
        return
    for r in RULES:
        typer.echo(f"{r.id}  {r.severity:8}  {r.title}\n        source: {r.source}")


@app.command()
def profiles(as_json: bool = typer.Option(False, "--json")) -> None:
    """List the platform profiles and their versions."""
    from checks.profiles import load_profiles

    ps = load_profiles(Settings().profiles_dir)
    if as_json:
        typer.echo(json.dumps({k: {"timezone": p.timezone, "versions": [
            {"version": v.version, "effective_from": v.effective_from.isoformat()}
            for v in p.versions]} for k, p in ps.items()}, indent=2))
        return
    for k, p in ps.items():
        typer.echo(f"{k:14} {p.name} ({p.timezone})")
        for v in p.versions:
            typer.echo(f"    {v.version:10} from {v.effective_from.isoformat()}")


@app.command()
def serve() -> None:
    """Serve the deployment audit/nightly: runs on its schedule and on trigger (Ctrl-C stops)."""
    from flows import deploy

    s = Settings()
    typer.echo(f"Serving {deploy.DEPLOYMENT}: cron '{s.schedule_cron}' in "
               f"{s.schedule_timezone}; outputs under {s.out_root}")
    deploy.serve(s)


@app.command()
def trigger(
    as_of: str = typer.Option(None, "--as-of", help="The audit's 'now', ISO 8601 with "
                              "offset (default: the run's scheduled time, i.e. now)."),
    shop: list[str] = typer.Option(None, "--shop", help="Audit only this shop (repeatable)."),
    platform: list[str] = typer.Option(None, "--platform", help="Audit only this platform "
                                       "(repeatable)."),
    window_days: int = typer.Option(None, "--window-days", min=1),
    source: str = typer.Option(None, help="Source URI (default: the served process's)."),
    out: str = typer.Option(None, "--out", help="Output folder on the serving host."),
    wait: bool = typer.Option(False, "--wait", help="Follow the run to its end and print "
                              "where the outputs are."),
    timeout: float = typer.Option(3600, "--timeout", help="With --wait: give up after this "
                                  "many seconds."),
) -> None:
    """Start a run of audit/nightly now through the Prefect API (a served process or worker
    runs it)."""
    from pydantic import ValidationError

    from flows import deploy

    given = {k: v for k, v in {"as_of": as_of, "shops": shop or None,
                               "platforms": platform or None, "window_days": window_days,
                               "source": source, "out": out}.items() if v is not None}
    try:
        run = deploy.trigger(given, wait=wait, timeout=timeout, echo=typer.echo)
    except ValidationError as exc:
        _fail("invalid parameters: " + "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
    except Exception as exc:  # no server, no deployment: one paragraph, no traceback
        if type(exc).__name__ != "ObjectNotFound":
            _fail(f"could not reach the Prefect API or {deploy.DEPLOYMENT} ({exc}). Is "
                  "PREFECT_API_URL set and `refund-audit serve` (or a worker) running?")
        _fail(f"the deployment {deploy.DEPLOYMENT} does not exist on the Prefect server; start "
              "`refund-audit serve` (or `prefect deploy`) first.")
    if not wait:
        typer.echo(f"Follow it in the Prefect UI or with: refund-audit trigger --wait; "
                   f"prefect flow-run logs {run.id}")
        return
    state = run.state
    if state is None or not state.is_final():
        _fail(f"flow run {run.id} did not finish in {timeout:g} s (state: "
              f"{state.name if state else 'unknown'}).")
    typer.echo(f"{state.name}: {state.message or ''}")
    if not state.is_completed():
        raise typer.Exit(2)


def _store(store: str | None) -> str:
    s = Settings()
    return store or s.history_url or str(s.out_root)


@app.command()
def diff(
    run_a: str = typer.Argument(..., help="Earlier run: run_id, unique prefix, or audit_key."),
    run_b: str = typer.Argument(..., help="Later run."),
    store: str = typer.Option(None, "--store", help="History store: folder or SQLAlchemy "
                              "URL (default: settings)."),
    limit: int = typer.Option(50, "--limit", help="Rows shown per list (counts are full)."),
    as_json: bool = typer.Option(False, "--json", help="The full diff as JSON."),
) -> None:
    """Findings that appeared, disappeared or changed status between two runs."""
    from reports.diff import diff_runs

    try:
        d = diff_runs(_store(store), run_a, run_b, limit=None if as_json else limit)
    except KeyError as exc:
        _fail(f"{exc.args[0]} (list runs with `refund-audit history`).")
    if as_json:
        typer.echo(json.dumps(d, indent=2, ensure_ascii=False, default=str))
        return
    a, b, c = d["before"], d["after"], d["counts"]
    typer.echo(f"{a['run_id']} (as of {a['as_of']}) → {b['run_id']} (as of {b['as_of']})")
    typer.echo(f"  appeared {c['appeared']}  disappeared {c['disappeared']}  changed status "
               f"{c['changed']}  unchanged {c['unchanged']}")
    for kind, sign in (("appeared", "+"), ("disappeared", "-"), ("changed", "~")):
        for f in d[kind]:
            status = (f"{f['status_before']} → {f['status_after']}" if kind == "changed"
                      else f["status"])
            ids = " ".join(x for x in (f["refund_id"], f["message_id"]) if x)
            typer.echo(f"  {sign} {f['rule_id']} {status:22} {f['platform']}/{f['shop_id']} "
                       f"{ids}  {f['detail']}")
    if d["truncated"]:
        typer.echo(f"  (lists cut at {limit}; --json for all)")


@app.command()
def history(
    store: str = typer.Option(None, "--store", help="History store: folder or SQLAlchemy URL."),
    limit: int = typer.Option(20, "--limit"),
) -> None:
    """The runs in the history store, newest first (ids for `refund-audit diff`)."""
    from reports.history import list_runs
    from sources.base import mask_uri

    runs = list_runs(_store(store)).head(limit)
    if runs.empty:
        typer.echo(f"No runs recorded in {mask_uri(_store(store))}.")
    for r in runs.itertuples():
        note = f"  superseded by {r.superseded_by[:8]}" if isinstance(r.superseded_by, str) \
            else ""
        typer.echo(f"{r.run_id}  as of {r.as_of}  key {r.audit_key}  {r.n_findings:>7} "
                   f"findings  {r.source}{note}")


def main() -> None:  # pragma: no cover
    app()
