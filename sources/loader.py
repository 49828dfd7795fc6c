"""Loading a dataset into PostgreSQL with the project's own loader (tests, CI, users' trials).

``load_into_postgres`` creates the four tables in a schema and COPYs the rows in through
psycopg (CSV written by Arrow, a few MB per write: about a million rows in seconds). Columns
are TEXT by default, which keeps dirty values as they are, so the PostgreSQL source can be
checked against the CSV and SQLite sources on exactly the same data. ``timestamps=
"timestamptz"`` or ``"timestamp"`` converts the contract's timestamp columns to those types
after the copy, as a production database would store them; values without an offset are
read as ``local_tz`` wall time, and a value PostgreSQL cannot parse stops the load (typed
columns cannot hold dirty text; use the TEXT variant for dirty data).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from schemas.errors import InputError
from schemas.tables import columns
from sources.base import mask_uri
from sources.postgres import _quote, driver_message, normalise_url

TIMESTAMP_TYPES = ("text", "timestamptz", "timestamp")
_BATCH = 200_000


def load_into_postgres(
    tables: Mapping[str, pd.DataFrame | None],
    url: str,
    schema: str | None = None,
    *,
    timestamps: str = "text",
    local_tz: str = "Asia/Shanghai",
    replace: bool = True,
) -> dict[str, int]:
    """Create each given table (TEXT columns named as the frame's) in ``schema`` (created if
    missing; default ``public``) and copy the rows in, in one transaction. None tables are
    skipped (and dropped when ``replace``). Returns rows loaded per table; InputError (the
    password masked) when the server refuses."""
    if timestamps not in TIMESTAMP_TYPES:
        raise ValueError(f"timestamps must be one of {TIMESTAMP_TYPES}, not {timestamps!r}")
    schema = schema or "public"
    engine = create_engine(normalise_url(url), poolclass=NullPool)
    loaded: dict[str, int] = {}
    try:
        with engine.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {_quote(schema)}"))
            conn.execute(text("SELECT set_config('TimeZone', :tz, true)"), {"tz": local_tz})
            for name, df in tables.items():
                qual = f"{_quote(schema)}.{_quote(name)}"
                if replace:
                    conn.execute(text(f"DROP TABLE IF EXISTS {qual}"))
                if df is None:
                    continue
                cols = [str(c) for c in df.columns]
                conn.execute(
                    text(
                        f"CREATE TABLE {qual} ("
                        + ", ".join(f"{_quote(c)} TEXT" for c in cols)
                        + ")"
                    )
                )
                _copy(conn.connection.driver_connection, qual, cols, df)
                loaded[name] = len(df)
                if timestamps != "text" and name in (
                    "orders",
                    "refunds",
                    "return_addresses",
                    "messages",
                ):
                    _retype(conn, qual, name, cols, timestamps)
    except (DBAPIError, psycopg.Error) as exc:  # COPY runs on the raw psycopg connection
        detail = driver_message(getattr(exc, "orig", None) or exc, normalise_url(url))
        hint = (
            " Typed timestamp columns cannot hold values PostgreSQL does not parse; load "
            "with timestamps='text' (--timestamps text)."
            if timestamps != "text"
            else ""
        )
        raise InputError(f"Loading into {mask_uri(url)} failed: {detail[:300]}.{hint}") from None
    finally:
        engine.dispose()
    return loaded


def _copy(pg, qual: str, cols: list[str], df: pd.DataFrame) -> None:
    """COPY ... FROM STDIN as CSV: nulls unquoted-empty, empty strings quoted."""
    arrays = [
        pa.array(df[c].astype("str").where(df[c].notna(), None), type=pa.string())
        for c in df.columns
    ]
    tbl = pa.Table.from_arrays(arrays, names=cols)
    collist = ", ".join(_quote(c) for c in cols)
    with (
        pg.cursor() as cur,
        cur.copy(f"COPY {qual} ({collist}) FROM STDIN (FORMAT csv, HEADER false)") as cp,
    ):
        for start in range(0, tbl.num_rows, _BATCH):
            sink = pa.BufferOutputStream()
            pacsv.write_csv(
                tbl.slice(start, _BATCH),
                sink,
                pacsv.WriteOptions(include_header=False, quoting_style="all_valid"),
            )
            cp.write(sink.getvalue().to_pybytes())


def _retype(conn, qual: str, table: str, cols: list[str], timestamps: str) -> None:
    ts_cols = [c for c, m in columns(table).items() if m["kind"] == "timestamp" and c in cols]
    if not ts_cols:
        return
    if timestamps == "timestamptz":
        using = "NULLIF(btrim({c}), '')::timestamptz"
    else:  # wall time in local_tz (the session TimeZone), as the contract reads naive values
        using = "(NULLIF(btrim({c}), '')::timestamptz AT TIME ZONE current_setting('TimeZone'))"
    conn.execute(
        text(
            f"ALTER TABLE {qual} "
            + ", ".join(
                f"ALTER COLUMN {_quote(c)} TYPE {timestamps} USING {using.format(c=_quote(c))}"
                for c in ts_cols
            )
        )
    )
