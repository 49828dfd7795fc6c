"""End to end, as a user runs it: the CLI in a subprocess on generated demo data, through the
Prefect flow (the session's real Prefect server), checking the reconciliation and the
outputs' columns (docs/spec.md, "Outputs")."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from checks.result import FINDING_COLUMNS, KPI_COLUMNS, QUARANTINE_COLUMNS

pytestmark = pytest.mark.prefect
AS_OF = "2026-11-20T02:00:00+08:00"


def run(cli, *args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([*cli, *args], capture_output=True, text=True, timeout=300,
                          env=os.environ.copy(), cwd=cwd)


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory, cli) -> Path:
    db = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    p = run(cli, "generate", "--orders", "2000", "--out", f"sqlite:///{db}")
    assert p.returncode == 0, p.stderr
    return db


@pytest.fixture(scope="module")
def audited(demo_db, cli, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("out") / "run"
    p = run(cli, "run", "--source", f"sqlite:///{demo_db}", "--as-of", AS_OF,
            "--window-days", "30", "--out", str(out))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Traceback" not in p.stderr
    return out


def test_outputs_have_the_contract_columns(audited):
    f = pd.read_csv(audited / "findings.csv", dtype=str, keep_default_na=False)
    assert list(f.columns) == FINDING_COLUMNS
    assert list(pd.read_csv(audited / "kpis.csv").columns) == KPI_COLUMNS
    assert list(pd.read_csv(audited / "quarantine.csv").columns) == QUARANTINE_COLUMNS
    assert (audited / "report.html").stat().st_size > 1000
    assert any((audited / "shops").glob("*.html"))
    # Every rule of the catalog fires on the demo data; times are UTC ISO 8601.
    assert set(f["rule_id"]) >= {"RA001", "RA002", "RA003", "RA004", "RA005", "RA006",
                                 "SD001", "SD002", "RT001", "RT002", "RT003", "RT004",
                                 "DA001", "DA002", "DA003", "PC001", "PC002"}
    due = f.loc[f["due_at"] != "", "due_at"]
    assert due.str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").all()
    oh = f.loc[f["overdue_hours"] != "", "overdue_hours"]
    assert oh.str.fullmatch(r"-?\d+\.\d\d").all()
    assert (f.loc[f["status"] == "at_risk", "overdue_hours"].astype(float) <= 0).all()


def test_run_json_reconciles_every_table(audited):
    run_json = json.loads((audited / "run.json").read_text())
    assert run_json["reconciled"] is True
    for table, c in run_json["counts"].items():
        assert c["read"] == c["valid"] + c["quarantined"] + c["superseded"], table
        assert c["quarantined"] > 0 and c["superseded"] > 0, table
    q = pd.read_csv(audited / "quarantine.csv", dtype=str, keep_default_na=False)
    for table, c in run_json["counts"].items():
        assert q.loc[q["table"] == table, "row_key"].nunique() == c["quarantined"], table
    f = pd.read_csv(audited / "findings.csv", dtype=str)
    per_rule = f.groupby(["rule_id", "status"]).size()
    for rule, statuses in run_json["findings"].items():
        for status, n in statuses.items():
            assert per_rule[(rule, status)] == n
    assert run_json["profile_versions"]["tmall_global"]["version"]
    assert run_json["rule_catalog_version"]
    assert {"load", "validate", "check"} <= set(run_json["timings"])


def test_missing_orders_file_exits_2_with_one_paragraph(cli, tmp_path):
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "refunds.csv").write_text("refund_id\nR1\n")
    out = tmp_path / "out"
    p = run(cli, "run", "--source", str(folder), "--out", str(out), "--as-of", AS_OF)
    assert p.returncode == 2
    assert "orders" in p.stderr and "Traceback" not in p.stderr
    assert len([line for line in p.stderr.strip().splitlines() if line.startswith(
        "refund-audit: error")]) == 1
    assert not (out / "findings.csv").exists()


def test_fail_on_critical_exits_1(demo_db, cli, tmp_path):
    p = run(cli, "run", "--source", f"sqlite:///{demo_db}", "--as-of", AS_OF, "--out",
            str(tmp_path / "o"), "--fail-on", "critical")
    assert p.returncode == 1, p.stderr


# ------------------------------------------------------------- hostile input, as a user runs it

def _folder_from(demo_db: Path, folder: Path) -> Path:
    """The demo tables as a folder of CSV files, to edit."""
    import sqlite3

    folder.mkdir()
    with sqlite3.connect(demo_db) as con:
        for t in ("orders", "refunds", "return_addresses", "messages"):
            pd.read_sql(f"select * from {t}", con).to_csv(folder / f"{t}.csv", index=False)
    return folder


def test_header_only_orders_exits_2_and_writes_nothing(demo_db, cli, tmp_path):
    src = _folder_from(demo_db, tmp_path / "src")
    header = (src / "orders.csv").read_text(encoding="utf-8").splitlines()[0]
    (src / "orders.csv").write_text(header + "\n", encoding="utf-8")
    out = tmp_path / "out"
    p = run(cli, "run", "--source", str(src), "--as-of", AS_OF, "--out", str(out))
    assert p.returncode == 2, p.stdout + p.stderr
    assert "The orders table has no rows" in p.stderr and "Traceback" not in p.stderr
    assert not (out / "run.json").exists() and not (out / "report.html").exists()


def test_every_order_quarantined_exits_2_and_writes_nothing(demo_db, cli, tmp_path):
    src = _folder_from(demo_db, tmp_path / "src")
    o = pd.read_csv(src / "orders.csv", dtype=str)
    o["currency"] = "NaN"
    o.to_csv(src / "orders.csv", index=False)
    out = tmp_path / "out"
    p = run(cli, "run", "--source", str(src), "--as-of", AS_OF, "--out", str(out))
    assert p.returncode == 2, p.stdout + p.stderr
    assert "Every order was quarantined" in p.stderr and "currency format" in p.stderr
    assert "Traceback" not in p.stderr
    assert not (out / "run.json").exists() and not (out / "report.html").exists()


def test_open_ended_and_out_of_range_times_do_not_stop_the_night(demo_db, cli, tmp_path):
    src = _folder_from(demo_db, tmp_path / "src")
    o = pd.read_csv(src / "orders.csv", dtype=str)
    amz = o.index[o["platform"] == "amazon_us"][:2]
    o.loc[amz[0], "delivered_at"] = "9999-12-31 23:59:59"
    o.loc[amz[1], "paid_at"] = "0001-01-01"
    o.to_csv(src / "orders.csv", index=False)
    a = pd.read_csv(src / "return_addresses.csv", dtype=str)
    a.loc[0, "valid_to"] = "9999-12-31 23:59:59"
    a.to_csv(src / "return_addresses.csv", index=False)
    out = tmp_path / "out"
    p = run(cli, "run", "--source", str(src), "--as-of", AS_OF, "--out", str(out))
    assert p.returncode == 0, p.stdout + p.stderr
    q = pd.read_csv(out / "quarantine.csv", dtype=str, keep_default_na=False)
    hits = q[q["check"] == "out_of_range"]
    assert set(zip(hits["table"], hits["column"], hits["value"], strict=True)) == {
        ("orders", "delivered_at", "9999-12-31 23:59:59"), ("orders", "paid_at", "0001-01-01")}


def test_a_profile_typo_exits_2_naming_file_and_key(demo_db, cli, tmp_path):
    import shutil

    from checks.profiles import PROFILE_DIR

    profiles = tmp_path / "profiles"
    shutil.copytree(PROFILE_DIR, profiles)
    path = profiles / "amazon_us.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("hours: 48", "hour: 48", 1),
                    encoding="utf-8")
    env = {**os.environ, "REFUND_AUDIT_PROFILES_DIR": str(profiles)}
    p = subprocess.run([*cli, "run", "--source", f"sqlite:///{demo_db}", "--as-of", AS_OF,
                        "--out", str(tmp_path / "out")], capture_output=True, text=True,
                       timeout=300, env=env)
    assert p.returncode == 2, p.stdout + p.stderr
    assert str(path) in p.stderr and "refund_response_unshipped.hour" in p.stderr
    assert "Traceback" not in p.stderr


@pytest.mark.slow
def test_two_processes_with_different_hash_seeds_write_the_same_audit(demo_db, cli, tmp_path):
    """The same audit in two processes (string hashing differs between them): the same
    bytes in every output, once the run's own id and clock are set aside."""
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / f"seed-{seed}" / "run"  # each with its own history beside it
        env = {**os.environ, "PYTHONHASHSEED": seed}
        p = subprocess.run([*cli, "run", "--source", f"sqlite:///{demo_db}", "--as-of", AS_OF,
                            "--out", str(out)], capture_output=True, text=True, timeout=300,
                           env=env)
        assert p.returncode == 0, p.stdout + p.stderr
        run_json = json.loads((out / "run.json").read_text(encoding="utf-8"))
        own = [run_json["run_id"], run_json["started_at"]]
        files = {}
        for f in sorted(out.rglob("*")):
            if f.is_file() and f.name != "run.json":
                data = f.read_bytes()
                for s in own:
                    data = data.replace(s.encode(), b"<own>")
                files[str(f.relative_to(out))] = data
        outs.append(files)
    assert set(outs[0]) == set(outs[1]) and "findings.csv" in outs[0]
    for name in outs[0]:
        assert outs[0][name] == outs[1][name], name


def test_the_refusal_kpi_names_the_window_of_the_profiles_the_run_used(demo_db, cli,
                                                                         tmp_path):
    """A compliance team's own profiles folder with a 15-day Tmall window (the shipped one
    says 7): the Tmall shop pages name the 15-day window, the Amazon ones keep 30."""
    import shutil

    from checks.profiles import PROFILE_DIR

    profiles = tmp_path / "profiles"
    shutil.copytree(PROFILE_DIR, profiles)
    path = profiles / "tmall.yaml"
    text = path.read_text(encoding="utf-8")
    assert "no_reason_return_window:\n        days: 7\n" in text
    path.write_text(text.replace("no_reason_return_window:\n        days: 7\n",
                                 "no_reason_return_window:\n        days: 15\n", 1),
                    encoding="utf-8")
    env = {**os.environ, "REFUND_AUDIT_PROFILES_DIR": str(profiles)}
    out = tmp_path / "out"
    p = subprocess.run([*cli, "run", "--source", f"sqlite:///{demo_db}", "--as-of", AS_OF,
                        "--out", str(out), "--lang", "en"], capture_output=True, text=True,
                       timeout=300, env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    pages = {f.name: f.read_text(encoding="utf-8") for f in (out / "shops").glob("*.html")}
    # the demo's shop ids: tm-… on Tmall, tmg-… on Tmall Global, amz-… on Amazon US
    tmall = [t for n, t in pages.items() if n.startswith("tm-")]
    amazon = [t for n, t in pages.items() if n.startswith("amz-")]
    assert tmall and amazon
    assert all("No-reason returns refused (15-day window)" in t for t in tmall)
    assert not any("(7-day window)" in t for t in tmall)
    assert all("No-reason returns refused (30-day window)" in t for t in amazon)
