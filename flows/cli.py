"""The `refund-audit` command line: what users do (run, send, demo, generate, rules, ...).

Exit status (docs/spec.md): 0 when the audit ran, whatever it found (1 with --fail-on when
a finding of that severity or worse exists), 2 on unusable input or configuration, with a
one-paragraph error on stderr and no traceback, 3 when the audit was written but its mail
did not all reach its readers (the warnings say why; 3 wins over 1).

Why `run` is built this way: the settings, the options and the source are checked first,
before Prefect is imported (its import alone costs ~1–2.5 s, a temporary server 10–15 s),
so bad input is refused about a second after the start. Then the audit runs as a Prefect
flow when a Prefect server is configured (``PREFECT_API_URL``), or with ``--prefect``;
otherwise the same pipeline steps run in this process without Prefect (docs/scheduling.md).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
from enum import StrEnum
from pathlib import Path

import typer

import flows  # noqa: F401  (offline-safe Prefect settings before prefect is imported)
from flows.settings import DEMO_DB, Settings
from schemas.errors import InputError


class _Cli(typer.Typer):
    """A typer app whose option errors are one paragraph too (click would add a usage line
    and a box), like every other error of the tool."""

    def __call__(self, *args, **kwargs):
        # pandera imports hypothesis (test-data synthesis) whenever it is installed, which
        # costs ~0.15 s of every start; the command line never synthesises data.
        sys.modules.setdefault("hypothesis", None)
        process_exit = not args and "args" not in kwargs
        if process_exit:
            # A short-lived process whose objects (modules, tables) mostly live to its end:
            # the cyclic collector's default pace (a pass every 700 new objects) ran ~300
            # passes in a small audit, ~0.1 s of its CPU, finding next to nothing.
            gc.set_threshold(10_000, 10, 10)
        kwargs.setdefault("standalone_mode", False)
        try:
            code = super().__call__(*args, **kwargs)
        except typer.Abort:
            code = 130
        except typer.TyperException as exc:  # click's usage errors, as typer vendors them
            message = exc.format_message().replace("Value error, ", "")
            if type(exc).__name__ == "NoArgsIsHelpError":
                typer.echo(message)
                code = 0
            else:
                typer.echo(f"refund-audit: error: {message}", err=True)
                code = getattr(exc, "exit_code", 2)
        if process_exit and "prefect" not in sys.modules:
            # The interpreter's shutdown runs the cyclic collector over every object still
            # alive (pandas, pyarrow, pydantic, the rules' tables): ~0.3 s of CPU after a
            # small audit, a sixth of its run. Nothing left needs it: outputs are written
            # and closed, and atexit handlers still run. Only when this call ends the
            # process (the console script: no explicit args), never inside a caller's process
            # such as a test runner; Prefect's shutdown is left alone.
            gc.freeze()
        sys.exit(code if isinstance(code, int) else 0)


app = _Cli(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
           help="Nightly compliance audit of refunds and returns.")


class Severity(StrEnum):
    critical = "critical"
    major = "major"
    minor = "minor"
    info = "info"


class Lang(StrEnum):
    zh = "zh"
    en = "en"


SEVERITIES = [s.value for s in Severity]


def _fail(message: str) -> None:
    typer.echo(f"refund-audit: error: {message}", err=True)
    raise typer.Exit(2)


def _settings() -> Settings:
    """The settings, or exit 2 naming the bad environment variable."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        _fail("invalid setting(s): " + "; ".join(
            f"REFUND_AUDIT_{'__'.join(map(str, e['loc'])).upper()}: {e['msg']}"
            for e in exc.errors()) + ". Nothing was audited.")


def prefect_api_url() -> str | None:
    """The Prefect API this process would use, found without importing Prefect: the
    environment, a prefect.toml here, or the active profile in PREFECT_HOME."""
    if "PREFECT_API_URL" in os.environ:
        return os.environ["PREFECT_API_URL"] or None
    try:
        url = _toml(Path("prefect.toml")).get("api", {}).get("url")
        if url:
            return url
    except (OSError, ValueError, AttributeError):  # TOMLDecodeError is a ValueError
        pass
    home = Path(os.environ.get("PREFECT_HOME", "~/.prefect")).expanduser()
    try:
        data = _toml(home / "profiles.toml")
    except (OSError, ValueError):
        return None
    name = os.environ.get("PREFECT_PROFILE") or data.get("active") or ""
    return (data.get("profiles", {}).get(name) or {}).get("PREFECT_API_URL") or None


def _toml(path: Path) -> dict:
    """A TOML file's content. The parser is imported once a file is there to read (~8 ms
    of every start otherwise: a small audit usually has neither file)."""
    text = path.read_text()
    import tomllib

    return tomllib.loads(text)


def use_prefect(flag: bool | None, settings: Settings) -> bool:
    """--prefect / --no-prefect, else REFUND_AUDIT_PREFECT, else: is a server configured?"""
    if flag is not None:
        return flag
    if settings.prefect is not None:
        return settings.prefect
    return prefect_api_url() is not None


def prepare(settings: Settings, **given):
    """The run's options, checked, and its source probed: all before Prefect is imported.
    The source's password stays in this process (flows.options)."""
    from sources.files import quick_check

    try:
        source = given.pop("source", None) or settings.source
        quick_check(source, given.get("encoding") or "utf-8",  # before pandas & co load
                    mapped=bool(given.get("mapping")))
        from flows.options import options, register_source
        from sources.base import open_source

        opts = options(source=register_source(source),
                       history_store=(register_source(settings.history_url)
                                      if settings.history_url else None),
                       report_timezone=settings.report_timezone, **given)
        if opts.out.exists() and not opts.out.is_dir():
            raise InputError(f"--out {opts.out} is a file, not a folder. Nothing was "
                             "audited.")
        from checks.profiles import load_profiles

        load_profiles(opts.profiles_dir)  # a profile that does not validate: exit 2 here
        open_source(source, encoding=opts.encoding, schema=opts.pg_schema,
                    mapping=opts.mapping).probe()
    except InputError as exc:
        _fail(str(exc))
    return opts


def _progress_to_stdout() -> None:
    """The in-process run's progress lines (what Prefect would log), on stdout; warnings
    and errors on stderr."""
    log = logging.getLogger("refund_audit")
    if log.handlers:
        return
    fmt = logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S")
    out, err = logging.StreamHandler(sys.stdout), logging.StreamHandler(sys.stderr)
    out.addFilter(lambda r: r.levelno < logging.WARNING)
    err.setLevel(logging.WARNING)
    for h in (out, err):
        h.setFormatter(fmt)
        log.addHandler(h)
    log.setLevel(logging.INFO)
    log.propagate = False


def flow_parameters(opts) -> dict:
    """The Prefect flow's parameters for ``opts``: nothing secret (the source is masked)."""
    return {"source": opts.source, "out": str(opts.out), "as_of": opts.as_of.isoformat(),
            "window_days": opts.window_days, "at_risk_hours": opts.at_risk_hours,
            "encoding": opts.encoding, "pg_schema": opts.pg_schema, "lang": opts.lang,
            "profiles_dir": opts.profiles_dir, "mapping": opts.mapping,
            "platforms": opts.platforms or None, "shops": opts.shops or None,
            "history_store": opts.history_store, "workers": opts.workers,
            "dask_address": opts.dask_address, "email": opts.email,
            "partitions": opts.partitions}


def run_audit(opts, *, prefect: bool = False) -> dict:
    """Run the audit, as a Prefect flow or in-process; exit 2 with one paragraph when the
    input is unusable."""
    if prefect:
        from flows.audit import audit

        state = audit(**flow_parameters(opts), return_state=True)
        from flows.delivery import DELIVERY_INCOMPLETE

        if state.is_failed() and state.name == DELIVERY_INCOMPLETE:
            return {**state.result(raise_on_failure=False), "delivery_incomplete": True}
        if not state.is_completed():
            _fail(state.message or "the audit failed")
        return state.result()
    from flows import pipeline

    _progress_to_stdout()
    try:
        done = pipeline.run(opts)
    except InputError as exc:
        _fail(str(exc))
    return {**done.as_dict(), "delivery_incomplete": bool(done.undelivered)}


def exit_status(res: dict, fail_on: Severity | None) -> int:
    """0: the audit ran; 1: --fail-on found a finding of that severity or worse; 3: the
    audit was written but its mail did not all reach its readers (wins over 1: a team that
    got no report cannot act on its findings)."""
    if res.get("delivery_incomplete"):
        from flows.delivery import EXIT_DELIVERY_INCOMPLETE

        typer.echo("Delivery incomplete: the audit is written; see the warnings above "
                   "(`refund-audit send` delivers it once they are fixed).", err=True)
        return EXIT_DELIVERY_INCOMPLETE
    if fail_on is None:
        return 0
    import pandas as pd

    worst = SEVERITIES[: SEVERITIES.index(fail_on.value) + 1]
    f = pd.read_csv(Path(res["out"]) / "findings.csv", usecols=["severity"])
    return 1 if f["severity"].isin(worst).any() else 0


@app.command()
def run(
    source: str = typer.Option(None, help="sqlite:///path, postgresql+psycopg://…, or a "
                               "folder of <table>.csv / <table>.parquet (default: the demo "
                               "database). A password is never shown or stored; it may "
                               "also come from REFUND_AUDIT_SOURCE_PASSWORD."),
    as_of: str = typer.Option(None, "--as-of", help="The audit's 'now', ISO 8601, years "
                              "2000–2100: 2026-11-20T02:00:00+08:00, or a date, meaning its "
                              "midnight in REFUND_AUDIT_REPORT_TIMEZONE (default "
                              "Asia/Shanghai). Default: the run's start."),
    window_days: int = typer.Option(None, "--window-days", min=1, max=3660,
                                    help="Window in days, 1–3660 (default 30)."),
    out: Path = typer.Option(None, "--out", help="Output folder."),
    at_risk_hours: float = typer.Option(None, "--at-risk-hours", help="At-risk horizon in hours, more than 0, at "
                                        "most 720 (default 24)."),
    encoding: str = typer.Option(None, "--encoding", help="CSV encoding (utf-8, gbk, "
                                 "gb18030, …)."),
    pg_schema: str = typer.Option(None, "--schema", help="PostgreSQL schema."),
    fail_on: Severity = typer.Option(None, "--fail-on", help="Exit 1 when a finding of "
                                     "this severity or worse exists."),
    lang: Lang = typer.Option(None, "--lang", help="Report language: zh (with English) "
                              "or en."),
    mapping: str = typer.Option(None, "--mapping", help="Column mapping for a folder of "
                                "back-end exports: a YAML/TOML file or a shipped name "
                                "(tmall_refund_export, tmall_order_report); docs/sources.md."),
    workers: int = typer.Option(None, "--workers", min=1, max=256, help="Run the audit's "
                                "partitions on a local Dask cluster of N worker processes "
                                "(docs/partitioning.md)."),
    dask_address: str = typer.Option(None, "--dask-address", help="Run the audit's "
                                     "partitions on an existing Dask scheduler, e.g. "
                                     "tcp://host:8786."),
    partitions: int = typer.Option(None, "--partitions", min=0, max=100_000, help="Audit "
                                   "in N partitions by order, in parallel on this machine's "
                                   "cores (one after another with REFUND_AUDIT_PARALLEL="
                                   "false) or on Dask "
                                   "(bounded memory; 1 = never; default: chosen from the "
                                   "data size, ~250k orders each; docs/partitioning.md)."),
    email: bool = typer.Option(None, "--email/--no-email", help="Email each shop's report "
                               "to its recipients (REFUND_AUDIT_RECIPIENTS_FILE, "
                               "REFUND_AUDIT_SMTP__*)."),
    prefect: bool = typer.Option(None, "--prefect/--no-prefect", help="Run as a Prefect "
                                 "flow (on the server of PREFECT_API_URL, else a temporary "
                                 "local one, 10–15 s) or in-process. Default: as a flow "
                                 "only when a Prefect server is configured."),
) -> None:
    """Audit a source and write findings.csv, kpis.csv, quarantine.csv, run.json, report.html."""
    s = _settings()
    opts = prepare(s, source=source, out=out or (s.out_root / "latest"), as_of=as_of,
                   window_days=window_days or s.window_days,
                   at_risk_hours=at_risk_hours if at_risk_hours is not None
                   else s.at_risk_hours,
                   encoding=encoding or s.encoding, pg_schema=pg_schema or s.pg_schema,
                   lang=(lang.value if lang else s.lang), profiles_dir=s.profiles_dir,
                   mapping=mapping or s.mapping, workers=workers, dask_address=dask_address,
                   email=s.email if email is None else email, partitions=partitions)
    # Dask runs plain partition tasks (flows.partitioned): no Prefect needed for it
    res = run_audit(opts, prefect=use_prefect(prefect, s))
    _summary(res)
    code = exit_status(res, fail_on)
    if code:
        raise typer.Exit(code)


def _summary(res: dict) -> None:
    import pandas as pd

    run = res["run"]
    zone = Settings().report_timezone  # a person reads this: the report zone, with its offset
    as_of = pd.Timestamp(run["as_of"]).tz_convert(zone).isoformat(sep=" ")
    typer.echo(f"Audit {run['run_id']} as of {as_of} ({run['window_days']} days) "
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
        _email_line(run["email"])
    for w in run.get("warnings", []):
        typer.echo(f"  warning: {w}")
    out = Path(res["out"])
    written = [Path(p).name for p in res.get("paths", {}).values()] + ["run.json"]
    pages = [Path(p) for p in res.get("pages", [])]
    if any(p.name == "report.html" and p.parent == out for p in pages):
        written.append("report.html")
    shop_pages = sum(1 for p in pages if p.parent.name == "shops")
    if shop_pages:
        written.append(f"shops/ ({shop_pages} page{'s' if shop_pages > 1 else ''})")
    typer.echo(f"Outputs in {out}: " + " ".join(written))


def _email_line(e: dict) -> None:
    typer.echo(f"  email: {e['sent']} sent, {e['already_sent']} already sent earlier, "
               f"{e['pending']} left in the outbox, {e['failed']} rejected")


@app.command()
def send(
    run: str = typer.Argument(..., help="The run: its output folder, or its run id (or a "
                              "unique prefix of 8+ characters) under the output root."),
    shop: list[str] = typer.Option(None, "--shop", help="Only this shop's mail (a shop id, "
                                   "platform:shop_id, or 'all' for the overview; "
                                   "repeatable)."),
    resend: bool = typer.Option(False, "--resend", help="Send again what was already sent "
                                "(with a new Message-ID)."),
) -> None:
    """Deliver a past run's mail to the recipients file as it is now; what was already sent
    is not sent again unless --resend. Exit 3 when something could not be delivered."""
    from flows.delivery import (
        EXIT_DELIVERY_INCOMPLETE,
        deliver_run,
        find_run,
        mark_overview,
        recipient_check_for_run,
        record_delivery,
    )

    s = _settings()
    try:
        out = find_run(run, s)
    except LookupError as exc:
        _fail(f"{exc}.")
    if not (out / "mail" / "index.json").is_file():
        _fail(f"{out} has no mail kept: it was audited without --email. Run the audit again "
              "with --email.")
    from reports.email import load_index

    if shop and not load_index(out, shop):
        _fail(f"{out} has no mail for {', '.join(shop)}; it has: " + ", ".join(
            e["shop_id"] or "all" for e in load_index(out)) + ".")
    recipients, warnings = recipient_check_for_run(out, shop or None, s)
    if recipients is None:
        for w in warnings:
            typer.echo(f"  warning: {w}")
        raise typer.Exit(EXIT_DELIVERY_INCOMPLETE)
    report = deliver_run(out, recipients, shops=shop or None, resend=resend, settings=s)
    after = report.warnings(s.out_root / "outbox")
    record_delivery(out, report.summary(), warnings + after, "send")
    mark_overview(out, warnings + after, s.lang)
    typer.echo(f"Run in {out}:")
    _email_line(report.summary())
    for w in warnings + after:
        typer.echo(f"  warning: {w}")
    if warnings or after:
        raise typer.Exit(EXIT_DELIVERY_INCOMPLETE)


@app.command()
def demo(
    orders: int = typer.Option(3000, min=1, help="Orders to generate."),
    out: Path = typer.Option(None, "--out", help="Output folder (default out/demo)."),
    as_of: str = typer.Option("2026-11-20T02:00:00+08:00", "--as-of"),
) -> None:
    """Write the demo dataset into the embedded SQLite database and audit it."""
    from sources.generate import generate_tables
    from sources.writers import write_sqlite

    s = _settings()
    DEMO_DB.parent.mkdir(parents=True, exist_ok=True)
    write_sqlite(generate_tables(orders, as_of=as_of), DEMO_DB)
    typer.echo(f"Demo data: {orders} orders written to {DEMO_DB}")
    opts = prepare(s, source=f"sqlite:///{DEMO_DB}", out=out or (s.out_root / "demo"),
                   as_of=as_of, window_days=30, at_risk_hours=s.at_risk_hours,
                   lang=s.lang)
    res = run_audit(opts, prefect=use_prefect(None, s))
    _summary(res)
    if (Path(res["out"]) / "report.html").exists():
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
    shops: int = typer.Option(None, "--shops", min=1, help="Number of shops, spread over the "
                              "four platforms (default: one per 20,000 orders, at least 4)."),
) -> None:
    """Generate contract-format data (demo, tests, benchmark)."""
    from sources.generate import generate_tables
    from sources.writers import write_csv_folder, write_parquet_folder, write_sqlite

    if shops is not None and shops > orders:
        _fail(f"--shops ({shops}) cannot exceed --orders ({orders}): every shop has an order.")
    tables = generate_tables(orders, seed=seed, as_of=as_of, dirty=not clean, shops=shops)
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
    window_days: int = typer.Option(None, "--window-days", min=1, max=3660),
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
    from flows.delivery import DELIVERY_INCOMPLETE, EXIT_DELIVERY_INCOMPLETE

    if state.is_failed() and state.name == DELIVERY_INCOMPLETE:
        raise typer.Exit(EXIT_DELIVERY_INCOMPLETE)
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
    from reports.history import local_time

    zone = Settings().report_timezone
    a, b, c = d["before"], d["after"], d["counts"]
    typer.echo(f"{a['run_id']} (as of {local_time(a['as_of'], zone)}) → {b['run_id']} "
               f"(as of {local_time(b['as_of'], zone)})")
    for side in (a, b):
        if side.get("asked"):
            typer.echo(f"  {side['asked']} was superseded by run {side['run_id']} (the same "
                       "audit re-run with identical findings); its findings are those of "
                       f"{side['run_id']}.")
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
    """The runs in the history store, newest first (ids for `refund-audit diff`); times in
    the report zone (REFUND_AUDIT_REPORT_TIMEZONE)."""
    from reports.history import list_replaced, list_runs, local_time
    from sources.base import mask_uri

    zone = Settings().report_timezone
    runs = list_runs(_store(store)).head(limit)
    if runs.empty:
        typer.echo(f"No runs recorded in {mask_uri(_store(store))}.")
    replaced = list_replaced(_store(store)).groupby("replaced_by")["run_id"].agg(list)
    for r in runs.itertuples():
        note = f"  superseded by {r.superseded_by[:8]}" if isinstance(r.superseded_by, str) \
            else ""
        typer.echo(f"{r.run_id}  as of {local_time(r.as_of, zone)}  key {r.audit_key}  "
                   f"{r.n_findings:>7} findings  {r.source}{note}")
        for old in sorted(replaced.get(r.run_id, [])):
            typer.echo(f"  {old}  superseded by run {r.run_id} (re-run, identical findings)")


def main() -> None:  # pragma: no cover
    app()
