"""PostgreSQL as a source of the four tables (docs/spec.md), through SQLAlchemy and psycopg 3.

Like every source it hands over raw text: each column is cast to text in SQL, so validation
sees what is stored and quarantines it with the original value. ``timestamptz`` columns come
out as UTC ISO 8601 with ``Z`` (an instant); ``timestamp`` (without time zone) columns as ISO
text without an offset, which the contract reads as local time of the row's platform.

Three things matter for a nightly job against a production database, and live here:

- Memory stays bounded: rows are streamed through a server-side cursor and packed into Arrow
  string columns a chunk at a time (never a million Python tuples at once).
- A server that is down is one ``SourceUnavailable`` error per attempt (the pipeline's one
  retry layer, ``flows.retry``, tries again); a wrong password or database is an
  ``InputError`` at once. Both name host, port and database, the password masked. Passwords are never
  printed: they are scrubbed from every message, and may come from ``PGPASSWORD`` or
  ``~/.pgpass`` instead of the URL.
- Optional window push-down (``window=(start, as_of)``): only rows the audit can use travel.
  See ``docs/sources.md`` for the exact semantics; the run's read counts then refer to the
  rows read, not to the whole tables.

All tables are read in one read-only REPEATABLE READ transaction: a consistent snapshot even
while the back-end keeps writing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.pool import NullPool

from schemas.errors import InputError
from sources.base import (
    _SECRET_KEY,
    TABLES,
    SourceUnavailable,
    _as_text,
    check_tables,
    contract_columns,
    db_url,
    mask_uri,
)

TZ_TYPES = {"timestamp with time zone"}
NAIVE_TYPES = {"timestamp without time zone"}
# Naive columns hold local wall time (UTC-12 … UTC+14), and a window in profile-zone calendar
# days may differ from N × 24 h by a DST hour: push-down widens the window by a day each side.
PUSHDOWN_MARGIN = pd.Timedelta(days=1)
_ISO_UTC = """'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'"""
_ISO_LOCAL = """'YYYY-MM-DD"T"HH24:MI:SS.US'"""
# Errors on connect that will not go away by waiting: fail at once.
_PERMANENT = (
    "password authentication failed",
    "does not exist",
    "no password supplied",
    "permission denied",
    "no pg_hba.conf entry",
    "invalid dsn",
    "invalid connection option",
    "invalid integer value",
)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _select_expr(column: str, data_type: str) -> str:
    """The SQL that turns one column into contract text, aliased to its trimmed name."""
    c = _quote(column)
    if data_type in TZ_TYPES:
        expr = (
            f"CASE WHEN isfinite({c}) THEN to_char({c} AT TIME ZONE 'UTC', {_ISO_UTC}) "
            f"ELSE CAST({c} AS TEXT) END"
        )
    elif data_type in NAIVE_TYPES:
        expr = f"CASE WHEN isfinite({c}) THEN to_char({c}, {_ISO_LOCAL}) ELSE CAST({c} AS TEXT) END"
    else:
        expr = f"CAST({c} AS TEXT)"
    return f"{expr} AS {_quote(column.strip())}"


def normalise_url(uri: str) -> URL:
    """An SQLAlchemy URL that uses psycopg 3 whatever the user wrote (postgres://,
    postgresql://, postgresql+psycopg://)."""
    try:
        url = db_url(
            uri.replace("postgres://", "postgresql://", 1) if uri.startswith("postgres://") else uri
        )
    except ArgumentError:
        raise InputError(
            f"{mask_uri(uri)!r} is not a valid database URL; expected "
            "postgresql+psycopg://user@host:port/database."
        ) from None
    if url.drivername in ("postgresql", "postgresql+psycopg2", "postgresql+psycopg"):
        url = url.set(drivername="postgresql+psycopg")
    return url


def driver_message(exc: BaseException, url: URL) -> str:
    """A driver's error on one line, with the password masked should the driver quote it."""
    message = " ".join(str(exc).split()) or type(exc).__name__
    secrets = [str(url.password or "")] + [
        str(v) for k, v in url.query.items() if _SECRET_KEY.search(k)]
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        message = message.replace(secret, "***")
    return message


@dataclass
class PostgresSource:
    """The four tables in a PostgreSQL schema (default: the connection's search_path).

    ``window=(start, as_of)`` pushes the audit window down into SQL; ``chunk_size`` rows are
    streamed at a time (None: fetch everything at once, for comparison). One connection
    attempt per read: retries belong to the caller (flows.retry).
    """

    uri: str
    schema: str | None = None
    window: tuple[pd.Timestamp, pd.Timestamp] | None = None
    chunk_size: int | None = 50_000
    connect_timeout: int = 10
    # What the last read did: {"pushdown": bool, "pushdown_note": str, "rows": {table: n}}.
    last_read: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.url = normalise_url(self.uri)

    @property
    def display(self) -> str:
        shown = mask_uri(self.uri)
        return f"{shown} (schema {self.schema})" if self.schema else shown

    # -- errors -----------------------------------------------------------------------------
    def _where(self) -> str:
        u = self.url
        return (
            f"the PostgreSQL database {u.database or '(default)'} on "
            f"{u.host or 'localhost'}:{u.port or 5432} ({mask_uri(self.uri)})"
        )

    def _error(self, what: str, exc: BaseException) -> InputError:
        orig = getattr(exc, "orig", None) or exc
        detail = driver_message(orig, self.url)
        return InputError(f"{what} {self._where()}: {detail}")

    # -- connecting -------------------------------------------------------------------------
    def _connect(self, timeout: int | None = None) -> Connection:
        """One attempt. A server that is down or slow is ``SourceUnavailable`` (the load step
        tries again, flows.retry); a wrong password or database is an InputError at once."""
        engine = create_engine(
            self.url, poolclass=NullPool,
            connect_args={"connect_timeout": timeout or self.connect_timeout},
        )
        try:
            return engine.connect()
        except (OperationalError, DBAPIError) as exc:
            detail = str(getattr(exc, "orig", exc))
            permanent = any(p in detail for p in _PERMANENT)
            hint = (
                "Check the user, password (from the URL, PGPASSWORD or ~/.pgpass) "
                "and database name."
                if permanent
                else "Check that the server is running and reachable, and the "
                "host/port in --source."
            )
            err = self._error("Cannot connect to", exc)
            kind = InputError if permanent else SourceUnavailable
            raise kind(f"{err} {hint} Nothing was audited.") from None

    def probe(self, timeout: int = 3) -> None:
        """Fail fast, before any data is read: one quick connection attempt (no retry), the
        schema, the required tables and columns. Raises InputError / SourceUnavailable."""
        conn = self._connect(timeout)
        try:
            with conn.begin():
                schema = self._schema(conn)
                check_tables(self.display, {t: {c.strip() for c, _ in cols}
                                            for t, cols in self._columns(conn, schema).items()})
        except DBAPIError as exc:
            raise self._error("Reading failed from", exc) from None
        finally:
            conn.close()

    # -- reading ----------------------------------------------------------------------------
    def read(self, tables: Iterable[str] = TABLES) -> dict[str, pd.DataFrame | None]:
        tables = list(tables)
        conn = self._connect()
        try:
            conn = conn.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
            with conn.begin():
                schema = self._schema(conn)
                cols = self._columns(conn, schema)
                where, params = self._pushdown(cols, schema, tables)
                out: dict[str, pd.DataFrame | None] = {}
                rows = {}
                for t in tables:
                    if t not in cols:
                        out[t] = None
                        continue
                    out[t] = self._fetch(conn, schema, t, cols[t], where.get(t), params)
                    rows[t] = len(out[t])
                self.last_read["rows"] = rows
                return out
        except InputError:
            raise
        except DBAPIError as exc:
            raise self._error("Reading failed from", exc) from None
        finally:
            conn.close()

    def _schema(self, conn: Connection) -> str:
        if self.schema is None:
            return conn.execute(text("SELECT current_schema()")).scalar_one() or "public"
        found = conn.execute(
            text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": self.schema}
        ).scalar()
        if not found:
            raise InputError(
                f"The schema {self.schema!r} does not exist in {self._where()}. Give the "
                "schema that holds orders, refunds, return_addresses (and messages) with "
                "--schema. Nothing was audited."
            )
        return self.schema

    def _columns(self, conn: Connection, schema: str) -> dict[str, list[tuple[str, str]]]:
        """Contract columns present per table: [(stored name, data type)], in table order."""
        res = conn.execute(
            text(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = :s AND table_name = ANY(:t) ORDER BY table_name, "
                "ordinal_position"
            ),
            {"s": schema, "t": list(TABLES)},
        )
        out: dict[str, list[tuple[str, str]]] = {}
        for table, column, dtype in res:
            out.setdefault(table, [])
            if column.strip() in contract_columns(table):
                out[table].append((column, dtype))
        return out

    def _pushdown(self, cols, schema: str, tables: list[str]):
        """Per table, (WITH clause, disjoint WHERE branches) for the window; {} to read
        everything."""
        self.last_read = {"pushdown": False, "pushdown_note": "no window given"}
        if self.window is None:
            return {}, {}
        need = {
            "refunds": ("refund_id", "order_id", "requested_at"),
            "orders": ("order_id", "paid_at"),
        }
        if "messages" in cols and "messages" in tables:
            need["messages"] = ("order_id", "sent_at")
        types = {t: dict(cols.get(t, [])) for t in need}
        for t, names in need.items():
            for n in names:
                if n not in types[t]:
                    self.last_read["pushdown_note"] = f"{t}.{n} is missing: read in full"
                    return {}, {}
            ts = names[-1]
            if types[t][ts] not in TZ_TYPES | NAIVE_TYPES:
                self.last_read["pushdown_note"] = (
                    f"{t}.{ts} is {types[t][ts]}, not a timestamp type: read in full"
                )
                return {}, {}
        start, as_of = (pd.Timestamp(x) for x in self.window)
        start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
        as_of = as_of.tz_localize("UTC") if as_of.tzinfo is None else as_of.tz_convert("UTC")
        lo, hi = start - PUSHDOWN_MARGIN, as_of + PUSHDOWN_MARGIN
        params = {
            "lo_tz": lo.to_pydatetime(),
            "hi_tz": hi.to_pydatetime(),
            "lo_naive": lo.tz_localize(None).to_pydatetime(),
            "hi_naive": hi.tz_localize(None).to_pydatetime(),
        }

        def inw(table: str, column: str) -> str:
            sfx = "tz" if types[table][column] in TZ_TYPES else "naive"
            c = _quote(column)
            return f"({c} >= :lo_{sfx} AND {c} < :hi_{sfx})"

        def q(table: str) -> str:
            return f"{_quote(schema)}.{_quote(table)}"

        # Each table is read as UNION ALL of disjoint branches, each a plain semi-join
        # (`col IN (SELECT …)`): with `a OR col IN (SELECT …)` PostgreSQL cannot use a hash
        # semi-join and re-runs the subquery per row once it outgrows work_mem (measured:
        # minutes on a million orders, against seconds).
        in_r, in_o = inw("refunds", "requested_at"), inw("orders", "paid_at")
        ctes = [
            f"r_ids AS (SELECT refund_id FROM {q('refunds')} WHERE {in_r} "
            "AND refund_id IS NOT NULL)",
            f"o_keys AS (SELECT order_id FROM {q('refunds')} WHERE refund_id IN "
            f"(SELECT refund_id FROM r_ids) UNION SELECT order_id FROM {q('refunds')} "
            f"WHERE {in_r}"
            + (
                f" UNION SELECT order_id FROM {q('messages')} WHERE {inw('messages', 'sent_at')}"
                if "messages" in need
                else ""
            )
            + ")",
        ]
        where = {
            "refunds": [
                "refund_id IN (SELECT refund_id FROM r_ids)",
                f"refund_id IS NULL AND {in_r}",
            ],
            "orders": [
                in_o,
                f"NOT COALESCE({in_o}, false) AND order_id IN (SELECT order_id FROM o_keys)",
            ],
        }
        if "messages" in need:
            in_m = inw("messages", "sent_at")
            ctes.append(
                f"o_ids AS (SELECT order_id FROM {q('orders')} WHERE {in_o} UNION "
                f"SELECT order_id FROM {q('orders')} WHERE order_id IN "
                "(SELECT order_id FROM o_keys))"
            )
            where["messages"] = [
                in_m,
                f"NOT COALESCE({in_m}, false) AND order_id IN (SELECT order_id FROM o_ids)",
            ]
        where = {t: ("WITH " + ", ".join(ctes), branches) for t, branches in where.items()}
        self.last_read.update(
            pushdown=True,
            pushdown_note=(f"window {lo.isoformat()} .. {hi.isoformat()} pushed down"),
        )
        return where, params

    def _fetch(
        self,
        conn: Connection,
        schema: str,
        table: str,
        cols: list[tuple[str, str]],
        where: tuple[str, list[str]] | None,
        params: dict,
    ) -> pd.DataFrame:
        names = [c.strip() for c, _ in cols]
        if not cols:
            return pd.DataFrame(index=pd.RangeIndex(self._count(conn, schema, table)))
        select = (
            f"SELECT {', '.join(_select_expr(c, d) for c, d in cols)} "
            f"FROM {_quote(schema)}.{_quote(table)}"
        )
        if where:
            with_clause, branches = where
            sql = with_clause + " " + " UNION ALL ".join(f"{select} WHERE {b}" for b in branches)
        else:
            sql = select
        arrow_schema = pa.schema([(n, pa.string()) for n in names])
        if self.chunk_size is None:
            rows = conn.execute(text(sql), params if where else {}).fetchall()
            df = pd.DataFrame.from_records(rows, columns=names)
            return _as_text(df)
        result = conn.execution_options(
            stream_results=True, max_row_buffer=self.chunk_size
        ).execute(text(sql), params if where else {})
        batches = []
        while chunk := result.fetchmany(self.chunk_size):
            arrays = [pa.array(col, type=pa.string()) for col in zip(*chunk, strict=True)]
            batches.append(pa.RecordBatch.from_arrays(arrays, schema=arrow_schema))
        return pa.Table.from_batches(batches, schema=arrow_schema).to_pandas()

    @staticmethod
    def _count(conn: Connection, schema: str, table: str) -> int:
        return conn.execute(
            text(f"SELECT count(*) FROM {_quote(schema)}.{_quote(table)}")
        ).scalar_one()
