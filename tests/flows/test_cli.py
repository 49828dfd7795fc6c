"""`refund-audit run` as a user runs it (a subprocess): bad options and unusable input are
refused with one paragraph on stderr and exit 2, before anything is written and before
Prefect is imported; a good run writes what it says it wrote.

Timing is not asserted here (bench/cli_speed.py measures it); that each refusal returns, with
no Prefect log line, is."""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

AS_OF = "2026-11-20T02:00:00+08:00"
ERROR = "refund-audit: error: "


def run(cli, *args, env: dict | None = None, prefix: list[str] | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*(prefix or []), *cli, "run", *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(env or {})},
                          cwd=cwd)


def assert_refused(p: subprocess.CompletedProcess, out: Path, *needles: str) -> str:
    """Exit 2, exactly one paragraph on stderr (the error), nothing that looks like an
    audit written, and no sign that Prefect was started."""
    assert p.returncode == 2, p.stdout + p.stderr
    err = p.stderr.strip()
    assert err.startswith(ERROR), err
    assert "\n" not in err, err  # one paragraph: one line
    assert "Traceback" not in p.stderr + p.stdout
    assert "prefect" not in (p.stderr + p.stdout).lower()
    for needle in needles:
        assert needle in err, (needle, err)
    assert not out.exists() or not any(out.iterdir())
    return err


# -- bad options ----------------------------------------------------------------------------
BAD_OPTIONS = [
    (["--lang", "xx"], "--lang"),
    (["--window-days", "100000000"], "--window-days"),
    (["--window-days", "0"], "--window-days"),
    (["--as-of", "0001-01-01"], "2000–2100"),
    (["--as-of", "9999-12-31"], "2000–2100"),
    (["--as-of", "9999-12-31T23:59:59+00:00"], "2000–2100"),
    (["--as-of", "now"], "ISO 8601"),
    (["--as-of", "today"], "ISO 8601"),
    (["--as-of", "2026-13-01"], "ISO 8601"),
    (["--at-risk-hours", "nan"], "finite"),
    (["--at-risk-hours", "inf"], "finite"),
    (["--at-risk-hours", "1e308"], "720"),
    (["--at-risk-hours", "0"], "greater than 0"),
    (["--at-risk-hours", "-5"], "greater than 0"),
    (["--fail-on", "bad"], "--fail-on"),
    (["--encoding", "klingon"], "encoding"),
    (["--workers", "0"], "--workers"),
    (["--no-such-option"], "no-such-option"),
]


@pytest.fixture(scope="module")
def good_source(tables, tmp_path_factory) -> Path:
    from sources.writers import write_csv_folder

    small = {t: df.head(30) for t, df in tables.items()}
    return write_csv_folder(small, tmp_path_factory.mktemp("good") / "csv")


@pytest.mark.parametrize(("args", "needle"), BAD_OPTIONS,
                         ids=[" ".join(a) for a, _ in BAD_OPTIONS])
def test_bad_option_exits_2_with_one_paragraph(cli, good_source, tmp_path, args, needle):
    out = tmp_path / "out"
    p = run(cli, "--source", str(good_source), "--out", str(out), *args)
    assert_refused(p, out, needle)


def test_bad_setting_exits_2_naming_the_variable(cli, good_source, tmp_path):
    out = tmp_path / "out"
    p = run(cli, "--source", str(good_source), "--out", str(out),
            env={"REFUND_AUDIT_WINDOW_DAYS": "many"})
    assert_refused(p, out, "REFUND_AUDIT_WINDOW_DAYS")


# -- unusable input -------------------------------------------------------------------------
def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _parquet(csv: Path, path: Path, **kw) -> None:
    df = pd.read_csv(csv, dtype=str, keep_default_na=False)
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, **kw)


def no_orders(src, d):
    (d / "orders.csv").unlink()
    return ["no table 'orders'"]


def orders_is_a_folder(src, d):
    (d / "orders.csv").unlink()
    (d / "orders.csv").mkdir()
    return [f"{d / 'orders.csv'} is a folder"]


def messages_symlink_loop(src, d):
    (d / "messages.csv").unlink()
    (d / "messages.csv").symlink_to(d / "messages.csv")
    return [str(d / "messages.csv"), "symbolic links"]


def messages_dangling_link(src, d):
    (d / "messages.csv").unlink()
    (d / "messages.csv").symlink_to(d / "gone.csv")
    return [str(d / "messages.csv"), "missing file"]


def parquet_beside_csv(src, d):
    _parquet(d / "orders.csv", d / "orders.parquet")
    return [str(d / "orders.parquet"), str(d / "orders.csv"), "Two files"]


def truncated_parquet(src, d):
    _parquet(d / "orders.csv", d / "whole.parquet")
    (d / "orders.parquet").write_bytes((d / "whole.parquet").read_bytes()[:200])
    (d / "whole.parquet").unlink()
    (d / "orders.csv").unlink()
    return [str(d / "orders.parquet"), "not a readable Parquet file"]


def corrupt_parquet_page(src, d):
    """The footer is intact (the up-front check passes); a data page is garbage."""
    _parquet(d / "orders.csv", d / "orders.parquet", compression="snappy",
             use_dictionary=False)
    data = bytearray((d / "orders.parquet").read_bytes())
    for i in range(8, min(len(data) // 3, 400)):
        data[i] = 0xFF
    (d / "orders.parquet").write_bytes(bytes(data))
    (d / "orders.csv").unlink()
    return [str(d / "orders.parquet"), "not a readable Parquet file"]


def missing_required_column(src, d):
    df = pd.read_csv(d / "refunds.csv", dtype=str, keep_default_na=False)
    df.drop(columns=["requested_at"]).to_csv(d / "refunds.csv", index=False)
    return ["'refunds'", "requested_at"]


def empty_orders_file(src, d):
    (d / "orders.csv").write_bytes(b"")
    return [str(d / "orders.csv"), "empty"]


UNUSABLE = [no_orders, orders_is_a_folder, messages_symlink_loop, messages_dangling_link,
            parquet_beside_csv, truncated_parquet, corrupt_parquet_page,
            missing_required_column, empty_orders_file]


@pytest.mark.parametrize("make", UNUSABLE, ids=[f.__name__ for f in UNUSABLE])
def test_unusable_folder_exits_2_with_one_paragraph(cli, good_source, tmp_path, make):
    d = _copy(good_source, tmp_path / "src")
    needles = make(good_source, d)
    out = tmp_path / "out"
    # A damaged page behind an intact footer is found when the data is read, so in a Prefect
    # run the error comes after the flow's log lines; in-process it is the only line.
    mode = ["--no-prefect"] if make is corrupt_parquet_page else []
    assert_refused(run(cli, "--source", str(d), "--out", str(out), "--as-of", AS_OF, *mode),
                   out, *needles)


def test_file_without_read_permission_exits_2(cli, good_source, tmp_path):
    d = _copy(good_source, tmp_path / "src")
    (d / "refunds.csv").chmod(0)
    # root reads anything: drop that privilege for the run, as an ordinary user has none
    prefix = (["setpriv", "--bounding-set", "-dac_override,-dac_read_search"]
              if os.geteuid() == 0 else [])
    out = tmp_path / "out"
    p = run(cli, "--source", str(d), "--out", str(out), "--as-of", AS_OF, prefix=prefix)
    assert_refused(p, out, str(d / "refunds.csv"), "Permission denied")


def test_sqlite_without_a_required_table_exits_2(cli, tmp_path):
    db = tmp_path / "x.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE orders (order_id TEXT)")
    out = tmp_path / "out"
    assert_refused(run(cli, "--source", f"sqlite:///{db}", "--out", str(out)), out,
                   "no table 'refunds'")


def test_not_a_database_exits_2(cli, tmp_path):
    db = tmp_path / "x.sqlite"
    db.write_text("this is not a database\n" * 100)
    out = tmp_path / "out"
    assert_refused(run(cli, "--source", f"sqlite:///{db}", "--out", str(out)), out,
                   str(db))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SECRET = "s3cr3t-p@ss"


@pytest.mark.parametrize("form", ["userinfo", "query", "unencoded_at"])
def test_unreachable_postgres_exits_2_at_once_with_the_password_masked(cli, tmp_path, form):
    port = _free_port()
    url = {"userinfo": f"postgresql+psycopg://ra:{SECRET.replace('@', '%40')}@127.0.0.1:"
                       f"{port}/db",
           "query": f"postgresql+psycopg://ra@127.0.0.1:{port}/db?password={SECRET}",
           "unencoded_at": f"postgresql+psycopg://ra:{SECRET}@127.0.0.1:{port}/db"}[form]
    out = tmp_path / "out"
    err = assert_refused(run(cli, "--source", url, "--out", str(out)), out,
                         f"127.0.0.1:{port}", "***")
    for piece in (SECRET, "s3cr3t", "ss@127", "p%40ss"):
        assert piece not in err


# -- what a good run says it wrote ----------------------------------------------------------
def test_in_process_run_lists_the_files_it_wrote(cli, good_source, tmp_path):
    out = tmp_path / "out"
    p = run(cli, "--source", str(good_source), "--out", str(out), "--as-of", "2026-11-20",
            "--no-prefect")
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    last = p.stdout.strip().splitlines()[-1]
    assert last.startswith(f"Outputs in {out}: findings.csv kpis.csv quarantine.csv "
                           "run.json report.html shops/")
    for name in ("findings.csv", "kpis.csv", "quarantine.csv", "run.json", "report.html"):
        assert (out / name).is_file(), name
    # A date alone is its midnight in the report zone (Asia/Shanghai, UTC+8): 16:00 UTC
    # the day before.
    import json

    assert json.loads((out / "run.json").read_text())["as_of"] == "2026-11-19T16:00:00+00:00"


def test_no_report_html_claimed_when_the_report_failed(good_source, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import reports.render
    from flows.cli import app

    def broken(*args, **kwargs):
        raise RuntimeError("template trouble")

    monkeypatch.setattr(reports.render, "write_reports", broken)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["run", "--source", str(good_source), "--out", str(out),
                                   "--as-of", AS_OF, "--no-prefect"])
    assert res.exit_code == 0, res.output
    assert "report.html" not in res.output.strip().splitlines()[-1]
    assert "report: RuntimeError: template trouble" in res.output
    assert not (out / "report.html").exists()
    assert (out / "findings.csv").exists() and (out / "run.json").exists()


@pytest.mark.prefect
def test_in_process_and_prefect_runs_write_byte_identical_csvs(cli, csv_source, tmp_path):
    outs = {}
    for mode in ("--no-prefect", "--prefect"):
        out = tmp_path / mode.strip("-") / "run"
        p = run(cli, "--source", csv_source, "--as-of", AS_OF, "--out", str(out), mode)
        assert p.returncode == 0, p.stdout + p.stderr
        # only the Prefect run is a flow run (its log lines name it)
        assert ("Flow run" in p.stdout + p.stderr) == (mode == "--prefect")
        outs[mode] = out
    a, b = outs["--no-prefect"], outs["--prefect"]
    for name in ("findings.csv", "kpis.csv", "quarantine.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert len((a / "findings.csv").read_bytes().splitlines()) > 20
    import json

    ra, rb = (json.loads((d / "run.json").read_text()) for d in (a, b))
    assert ra["audit_key"] == rb["audit_key"] and ra["counts"] == rb["counts"]
