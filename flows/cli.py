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
              profiles_dir: str | None = None) -> dict:
    """Run the audit flow; exit 2 with the flow's message when the input is unusable."""
    from flows.audit import audit

    state = audit(source=source, out=str(out), as_of=as_of, window_days=window_days,
                  at_risk_hours=at_risk_hours, encoding=encoding, pg_schema=pg_schema,
                  lang=lang, profiles_dir=profiles_dir, return_state=True)
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
                    s.profiles_dir)
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


def main() -> None:  # pragma: no cover
    app()
