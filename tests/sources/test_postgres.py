"""The PostgreSQL source against a real server (scripts/ensure-postgres.sh; `make test` runs
it first). Nothing is mocked. Each test works in its own schema, created and dropped here.

The URL is REFUND_AUDIT_TEST_PG_URL or the default below. When the server is unreachable the
tests fail (they do not skip): a green run means PostgreSQL really was exercised.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import uuid

import factories as F
import pandas as pd
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from checks.audit import run_rules
from checks.profiles import load_profiles, timezones
from schemas.errors import InputError
from schemas.validate import validate_tables
from sources.base import open_source
from sources.generate import generate_tables
from sources.loader import load_into_postgres
from sources.postgres import PostgresSource
from sources.writers import write_csv_folder, write_sqlite

pytestmark = pytest.mark.service

DEFAULT_URL = "postgresql+psycopg://refund_audit:refund_audit@127.0.0.1:5432/refund_audit_test"
URL = os.environ.get("REFUND_AUDIT_TEST_PG_URL", DEFAULT_URL)
PROFILES = load_profiles(None)
TZ = timezones(PROFILES)
AS_OF = pd.Timestamp("2026-11-20T02:00:00+08:00")


@pytest.fixture(scope="module")
def pg_url() -> str:
    """The test server's URL; fails the tests (never skips) when it is unreachable."""
    engine = create_engine(make_url(URL), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {make_url(URL).render_as_string()}: "
            f"{exc}. Run `bash scripts/ensure-postgres.sh` (make test does)."
        )
    finally:
        engine.dispose()
    return URL


@pytest.fixture
def schema(pg_url):
    name = f"ra_test_{uuid.uuid4().hex[:10]}"
    yield name
    engine = create_engine(make_url(pg_url), poolclass=NullPool)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
    engine.dispose()


def _audit(raw):
    v = validate_tables(raw, TZ)
    return v, run_rules(v.tables, PROFILES, AS_OF)


def _same(a, b) -> None:
    (va, oa), (vb, ob) = a, b
    assert va.counts == vb.counts
    for t in va.tables:
        pd.testing.assert_frame_equal(va.tables[t], vb.tables[t])
    pd.testing.assert_frame_equal(va.quarantine, vb.quarantine)
    pd.testing.assert_frame_equal(oa.findings, ob.findings)
    pd.testing.assert_frame_equal(oa.kpis, ob.kpis)


def test_same_findings_from_csv_sqlite_and_postgres(tmp_path, pg_url, schema):
    tables = generate_tables(1500)
    write_csv_folder(tables, tmp_path / "csv")
    write_sqlite(tables, tmp_path / "db.sqlite")
    loaded = load_into_postgres(tables, pg_url, schema)
    assert loaded == {t: len(df) for t, df in tables.items()}

    csv = _audit(open_source(str(tmp_path / "csv")).read())
    sqlite = _audit(open_source(f"sqlite:///{tmp_path / 'db.sqlite'}").read())
    pg = _audit(open_source(pg_url, schema=schema).read())
    assert len(csv[1].findings) > 50 and len(csv[0].quarantine) > 0  # a meaningful comparison
    _same(csv, sqlite)
    _same(csv, pg)


def test_chunked_read_equals_one_fetch(pg_url, schema):
    tables = generate_tables(300)
    load_into_postgres(tables, pg_url, schema)
    a = PostgresSource(pg_url, schema=schema, chunk_size=7).read()
    b = PostgresSource(pg_url, schema=schema, chunk_size=None).read()
    for t in tables:
        pd.testing.assert_frame_equal(a[t], b[t])
        assert len(a[t]) == len(tables[t])


def test_typed_timestamp_columns_read_as_iso_text(pg_url, schema):
    """timestamptz → UTC with Z; timestamp (no zone) → local wall time without offset."""
    tables = F.tables(refunds=[F.refund()], messages=[F.message(message_id="M1")])
    load_into_postgres(tables, pg_url, schema + "_t")
    load_into_postgres(tables, pg_url, schema + "_tz", timestamps="timestamptz")
    load_into_postgres(tables, pg_url, schema + "_naive", timestamps="timestamp")
    try:
        text_raw = PostgresSource(pg_url, schema=schema + "_t").read()
        tz_raw = PostgresSource(pg_url, schema=schema + "_tz").read()
        naive_raw = PostgresSource(pg_url, schema=schema + "_naive").read()
        assert tz_raw["orders"]["paid_at"][0] == "2026-11-01T02:00:00.000000Z"
        assert naive_raw["orders"]["paid_at"][0] == "2026-11-01T10:00:00.000000"
        assert pd.isna(tz_raw["refunds"]["escalated_at"][0])
        base = _audit(text_raw)
        _same(base, _audit(tz_raw))
        _same(base, _audit(naive_raw))
    finally:
        engine = create_engine(make_url(pg_url), poolclass=NullPool)
        with engine.begin() as conn:
            for sfx in ("_t", "_tz", "_naive"):
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}{sfx}" CASCADE'))
        engine.dispose()


def test_window_pushdown_reads_fewer_rows_and_finds_the_same(pg_url, schema):
    """Clean generated data in timestamptz columns, with a year of history before the window:
    the pushed-down read moves a fraction of the rows and gives the same findings."""
    tables = generate_tables(1500, dirty=False)
    old = generate_tables(1500, dirty=False, seed=11, as_of="2025-11-20T02:00:00+08:00")
    for t in tables:  # last year's activity, with its own ids
        key = {
            "orders": "order_id",
            "refunds": "refund_id",
            "return_addresses": "address_id",
            "messages": "message_id",
        }[t]
        o = old[t].copy()
        o[key] = "OLD-" + o[key]
        for ref in ("order_id", "refund_id"):
            if ref in o.columns and ref != key:
                o[ref] = ("OLD-" + o[ref]).where(o[ref].notna(), None)
        tables[t] = pd.concat([tables[t], o], ignore_index=True)
    load_into_postgres(tables, pg_url, schema, timestamps="timestamptz", local_tz="Asia/Shanghai")
    full_src = PostgresSource(pg_url, schema=schema)
    full = full_src.read()
    start = AS_OF - pd.Timedelta(days=30)
    src = PostgresSource(pg_url, schema=schema, window=(start, AS_OF))
    part = src.read()
    assert src.last_read["pushdown"] is True
    assert full_src.last_read["pushdown"] is False
    for t in ("orders", "refunds", "messages"):
        assert len(part[t]) < len(full[t]) * 0.7, t
    assert len(part["return_addresses"]) == len(full["return_addresses"])

    vf, of = _audit(full)
    vp, op = _audit(part)
    pd.testing.assert_frame_equal(of.findings, op.findings)
    # KPI rows: shops with no activity in the window drop out of the pushed-down read
    kf = of.kpis.merge(op.kpis[["platform", "shop_id"]].drop_duplicates())
    pd.testing.assert_frame_equal(kf.reset_index(drop=True), op.kpis.reset_index(drop=True))

    # every version of every in-scope refund travelled, and their orders
    ids = part["refunds"]["refund_id"]
    in_window = vf.tables["refunds"]
    in_window = in_window[
        (in_window["requested_at"] >= start) & (in_window["requested_at"] < AS_OF)
    ]
    assert set(in_window["refund_id"]) <= set(ids)
    assert set(part["refunds"]["order_id"].dropna()) <= set(part["orders"]["order_id"])
    assert set(part["messages"]["order_id"]) <= set(part["orders"]["order_id"])


def test_pushdown_keeps_all_versions_and_threads(pg_url, schema):
    """A refund requested in the window whose older version predates a change, and a buyer
    message in the window on an old order: both travel, with what they need."""
    orders = [
        F.order(order_id="O1"),
        F.order(
            order_id="OLD",
            paid_at="2026-01-01T10:00:00+08:00",
            shipped_at="2026-01-02T10:00:00+08:00",
            delivered_at="2026-01-03T10:00:00+08:00",
        ),
        F.order(
            order_id="GONE", paid_at="2025-06-01T10:00:00+08:00", shipped_at=None, delivered_at=None
        ),
    ]
    refunds = [
        F.refund(
            updated_at="2026-11-05T11:00:00+08:00",
            decision="pending",
            decided_at=None,
            refunded_at=None,
            refunded_amount=None,
        ),
        F.refund(updated_at="2026-11-06T11:00:00+08:00"),
        F.refund(
            refund_id="R-OLD",
            order_id="GONE",
            requested_at="2025-06-02T10:00:00+08:00",
            first_response_at=None,
            decided_at="2025-06-02T11:00:00+08:00",
            refunded_at="2025-06-02T12:00:00+08:00",
            updated_at="2025-06-02T12:00:00+08:00",
        ),
    ]
    messages = [
        F.message(
            message_id="M0", order_id="OLD", sender="buyer", sent_at="2026-01-05T10:00:00+08:00"
        ),
        F.message(
            message_id="M1", order_id="OLD", sender="buyer", sent_at="2026-11-10T10:00:00+08:00"
        ),
        F.message(
            message_id="M2", order_id="GONE", sender="buyer", sent_at="2025-06-03T10:00:00+08:00"
        ),
    ]
    load_into_postgres(
        F.tables(orders=orders, refunds=refunds, messages=messages),
        pg_url,
        schema,
        timestamps="timestamptz",
    )
    src = PostgresSource(pg_url, schema=schema, window=(AS_OF - pd.Timedelta(days=30), AS_OF))
    raw = src.read()
    assert sorted(raw["refunds"]["updated_at"]) == [
        "2026-11-05T03:00:00.000000Z",
        "2026-11-06T03:00:00.000000Z",
    ]
    assert sorted(raw["orders"]["order_id"]) == ["O1", "OLD"]
    # the whole thread of an order in scope, so RT004 sees who spoke last
    assert sorted(raw["messages"]["message_id"]) == ["M0", "M1"]
    v = validate_tables(raw, TZ)
    assert v.counts["refunds"] == {"read": 2, "valid": 1, "quarantined": 0, "superseded": 1}


def test_pushdown_needs_timestamp_columns(pg_url, schema):
    load_into_postgres(F.tables(refunds=[F.refund()]), pg_url, schema)  # TEXT columns
    src = PostgresSource(pg_url, schema=schema, window=(AS_OF - pd.Timedelta(days=30), AS_OF))
    raw = src.read()
    assert src.last_read["pushdown"] is False
    assert "not a timestamp type" in src.last_read["pushdown_note"]
    assert len(raw["refunds"]) == 1


def test_missing_messages_table_is_none_and_missing_schema_is_input_error(pg_url, schema):
    load_into_postgres(F.tables(with_messages=False), pg_url, schema)
    raw = open_source(pg_url, schema=schema).read()
    assert raw["messages"] is None and len(raw["orders"]) == 1
    with pytest.raises(InputError, match="schema 'no_such_schema' does not exist"):
        open_source(pg_url, schema="no_such_schema").read()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SECRET = "S3cret-pw-9qX"


def _down_url() -> str:
    u = make_url(URL)
    return u.set(password=SECRET, port=_free_port(), host="127.0.0.1").render_as_string(
        hide_password=False
    )


def test_server_down_is_transient_and_retried_by_the_one_retry_layer():
    from flows.retry import with_retries
    from sources.base import SourceUnavailable

    url = _down_url()
    with pytest.raises(SourceUnavailable):  # one attempt: the source does not retry itself
        PostgresSource(url).read()
    t = time.perf_counter()
    with pytest.raises(SourceUnavailable) as exc:
        with_retries(PostgresSource(url).read, retries=3, backoff=0.1)
    elapsed = time.perf_counter() - t
    msg = str(exc.value)
    assert elapsed >= 0.1 + 0.2 + 0.4
    assert "tried 4 times" in msg
    port = make_url(url).port
    assert f"127.0.0.1:{port}" in msg and make_url(URL).database in msg
    assert "***" in msg and SECRET not in msg
    assert "Nothing was audited" in msg


def test_wrong_password_fails_at_once_and_masks_it(pg_url):
    from flows.retry import with_retries
    from sources.base import SourceUnavailable

    url = make_url(pg_url).set(password=SECRET).render_as_string(hide_password=False)
    t = time.perf_counter()
    with pytest.raises(InputError, match="password authentication failed") as exc:
        with_retries(PostgresSource(url).read, retries=3, backoff=1)
    assert time.perf_counter() - t < 1  # not retried: waiting will not fix a password
    assert not isinstance(exc.value, SourceUnavailable)
    assert SECRET not in str(exc.value)


def test_cli_server_down_exits_2_at_once_masked_and_writes_nothing(cli, tmp_path):
    out = tmp_path / "out"
    res = subprocess.run(
        [*cli, "run", "--source", _down_url(), "--as-of", AS_OF.isoformat(), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Cannot connect to the PostgreSQL database" in res.stderr
    assert "Traceback" not in res.stderr
    assert SECRET not in res.stdout + res.stderr
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.prefect
def test_cli_postgres_run_masks_the_password(cli, tmp_path, pg_url, schema):
    load_into_postgres(generate_tables(200), pg_url, schema)
    out = tmp_path / "out"
    res = subprocess.run(
        [
            *cli,
            "run",
            "--source",
            pg_url,
            "--schema",
            schema,
            "--as-of",
            AS_OF.isoformat(),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    password = make_url(pg_url).password
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["source"] == make_url(pg_url).render_as_string(hide_password=True)
    assert run["counts"]["orders"]["read"] > 0
    # the password as it sits in a URL (":pw@") appears in no output and no log line
    needle = f":{password}@"
    assert needle not in res.stdout + res.stderr
    for p in out.rglob("*"):
        if p.is_file():
            assert needle not in p.read_text(encoding="utf-8", errors="replace"), p


def test_loader_errors_are_input_errors(pg_url, schema):
    dirty = F.tables(orders=[F.order(paid_at="not a time")])
    with pytest.raises(InputError, match="--timestamps text"):
        load_into_postgres(dirty, pg_url, schema, timestamps="timestamptz")
    with pytest.raises(InputError, match="0x00"):  # PostgreSQL text cannot hold NUL
        load_into_postgres(F.tables(orders=[F.order(shop_id="S\x001")]), pg_url, schema)
    with pytest.raises(InputError, match=r"\*\*\*") as exc:
        load_into_postgres(dirty, _down_url(), schema)
    assert SECRET not in str(exc.value)


def test_cli_load_pg_then_read(cli, tmp_path, pg_url, schema):
    write_csv_folder(generate_tables(100), tmp_path / "csv")
    res = subprocess.run(
        [*cli, "load-pg", pg_url, "--source", str(tmp_path / "csv"), "--schema", schema],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert f":{make_url(pg_url).password}@" not in res.stdout + res.stderr
    raw = open_source(pg_url, schema=schema).read()
    csv = open_source(str(tmp_path / "csv")).read()
    for t in csv:
        pd.testing.assert_frame_equal(raw[t], csv[t])
