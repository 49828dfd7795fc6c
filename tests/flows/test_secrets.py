"""A database password never reaches a person or Prefect: every URL form is masked in
messages, stdout/stderr, run.json, the history store, the HTML pages and the Prefect flow
run's parameters and logs; the password comes back only where the audit runs."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from schemas.errors import InputError
from sources.base import mask_uri

AS_OF = "2026-11-20T02:00:00+08:00"
PG_URL = os.environ.get(
    "REFUND_AUDIT_TEST_PG_URL",
    "postgresql+psycopg://refund_audit:refund_audit@127.0.0.1:5432/refund_audit_test")


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql+psycopg://ra:pw1@db.example:5432/shop",
     "postgresql+psycopg://ra:***@db.example:5432/shop"),
    ("postgresql+psycopg://ra@db.example/shop?password=pw1&sslmode=require",
     "postgresql+psycopg://ra@db.example/shop?password=***&sslmode=require"),
    # an unencoded "@" in the password: the user part ends at the last "@" before the host
    ("postgresql://ra:p@ss@db.example/shop", "postgresql://ra:***@db.example/shop"),
    ("postgresql://ra:p%40ss@db.example/shop", "postgresql://ra:***@db.example/shop"),
    # an "@" inside a query-string password does not end the user part
    ("postgresql://ra@db.example/shop?password=p@ss", "postgresql://ra@db.example/shop"
     "?password=***"),
    ("postgresql://ra:pw1@db.example/shop?sslpassword=k3y", "postgresql://ra:***@db.example/"
     "shop?sslpassword=***"),
    ("postgres://ra:pw1@db.example/shop", "postgres://ra:***@db.example/shop"),
    ("sqlite:////data/shop.sqlite", "sqlite:////data/shop.sqlite"),
    ("/data/exports", "/data/exports"),
])
def test_every_url_form_is_masked(url, shown):
    assert mask_uri(url) == shown


def test_a_url_sqlalchemy_cannot_parse_keeps_nothing_before_the_last_at():
    shown = mask_uri("postgresql://ra:pw1@db.example:notaport/shop?password=pw2")
    assert "pw1" not in shown and "pw2" not in shown


def test_the_password_comes_back_only_from_this_process_or_its_settings(monkeypatch):
    from flows.options import real_source, register_source

    monkeypatch.delenv("REFUND_AUDIT_SOURCE", raising=False)
    monkeypatch.delenv("REFUND_AUDIT_SOURCE_PASSWORD", raising=False)
    shown = "postgresql+psycopg://ra:***@elsewhere.example/x"
    with pytest.raises(InputError, match="REFUND_AUDIT_SOURCE_PASSWORD"):
        real_source(shown)
    monkeypatch.setenv("REFUND_AUDIT_SOURCE_PASSWORD", "pw@1")
    assert make_url(real_source(shown)).password == "pw@1"
    full = f"postgresql+psycopg://ra:pw9@registered-{uuid.uuid4().hex[:6]}.example/x"
    assert real_source(register_source(full)) == full


def test_deployment_parameters_keep_only_the_masked_source():
    from flows.params import AuditParams

    p = AuditParams(source="postgresql://ra:pw1@db.example/shop?password=pw2")
    assert p.source == "postgresql://ra:***@db.example/shop?password=***"


@pytest.fixture(scope="module")
def pg_source(tables):
    """A small dataset in a fresh schema of the test database."""
    from sources.loader import load_into_postgres

    schema = f"ra_secret_{uuid.uuid4().hex[:8]}"
    load_into_postgres({t: df.head(60) for t, df in tables.items()}, PG_URL, schema)
    yield schema
    engine = create_engine(make_url(PG_URL), poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def _forms() -> dict[str, str]:
    u = make_url(PG_URL)
    plain = u.set(password=None).render_as_string(hide_password=False)
    return {"userinfo": u.render_as_string(hide_password=False),
            "query": f"{plain}?password={u.password}"}


def _leaks(needles: list[str], *texts: str) -> list[str]:
    return [n for n in needles for t in texts if n in t]


@pytest.mark.prefect
@pytest.mark.parametrize("mode", ["--no-prefect", "--prefect"])
@pytest.mark.parametrize("form", ["userinfo", "query"])
def test_a_postgres_password_appears_nowhere(cli, tmp_path, pg_source, form, mode):
    url = _forms()[form]
    password = make_url(PG_URL).password
    needles = [f":{password}@", f"password={password}"]
    out = tmp_path / "audits" / "run"
    p = subprocess.run([*cli, "run", "--source", url, "--schema", pg_source, "--as-of", AS_OF,
                        "--out", str(out), mode], capture_output=True, text=True,
                       timeout=300, env=os.environ.copy())
    assert p.returncode == 0, p.stdout + p.stderr
    assert not _leaks(needles, p.stdout, p.stderr)
    run = json.loads((out / "run.json").read_text())
    assert run["source"] == mask_uri(url) and "***" in run["source"]
    assert run["counts"]["orders"]["read"] > 0
    files = [f for f in (tmp_path / "audits").rglob("*") if f.is_file()]
    assert any(f.name == "history.sqlite" for f in files)
    assert any(f.suffix == ".html" for f in files)
    for f in files:
        assert not _leaks(needles, f.read_bytes().decode("utf-8", "replace")), f
    if mode == "--prefect":
        from prefect.client.orchestration import get_client
        from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

        with get_client(sync_client=True) as client:
            runs = [r for r in client.read_flow_runs(limit=200)
                    if r.parameters.get("out") == str(out)]
            assert len(runs) == 1
            assert runs[0].parameters["source"] == mask_uri(url)
            logs = client.read_logs(log_filter=LogFilter(
                flow_run_id=LogFilterFlowRunId(any_=[runs[0].id])))
        assert not _leaks(needles, json.dumps(runs[0].parameters),
                          *(log.message for log in logs))
