"""Where the four tables come from: one interface over an SQLite database (the embedded
default), a folder of ``<table>.csv`` / ``<table>.parquet`` files, and (sources.postgres)
PostgreSQL. Every source returns raw frames: text columns as strings, exactly as stored, so
that validation sees what the user gave and can quarantine it with the original value.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from schemas.errors import InputError
from schemas.tables import MODELS
from sources import files
from sources.files import _encoding_error, _header

TABLES = tuple(MODELS)


class SourceUnavailable(InputError):
    """The source cannot be reached now (connection refused, a timeout): waiting may fix it,
    so the load step tries again (flows.retry). Every other InputError is permanent."""


def contract_columns(table: str) -> list[str]:
    return list(MODELS[table].to_schema().columns)


class Source(Protocol):
    """Anything that can hand over the four raw tables."""

    display: str

    def read(self, tables: Iterable[str] = TABLES) -> dict[str, pd.DataFrame | None]:
        """Raw frames by table name; None for a table the source does not have."""
        ...


SECRET = "***"
# Query-string keys that carry a secret (libpq's password, sslpassword; tokens, keys).
_SECRET_KEY = re.compile(r"pass|secret|token|key", re.IGNORECASE)


def db_url(uri: str):
    """An SQLAlchemy URL from ``uri``, also when the password holds an unencoded ``@``: the
    user part ends at the *last* ``@`` before the host (the authority ends at the first
    ``/`` or ``?``), so no tail of the password is ever read as the host, and an ``@`` in
    the query string is left alone. Raises sqlalchemy's ArgumentError when malformed."""
    from urllib.parse import parse_qsl, unquote

    from sqlalchemy.engine import make_url

    scheme, _, rest = uri.partition("://")
    cut = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    userinfo, at, hostport = rest[:cut].rpartition("@")
    path, q, query = rest[cut:].partition("?")
    # the query string apart: SQLAlchemy's own parser reads an "@" in it as the user's end
    url = make_url(f"{scheme}://{hostport}{path}")
    if q:
        url = url.update_query_pairs(parse_qsl(query, keep_blank_values=True))
    if at:
        user, colon, password = userinfo.partition(":")
        url = url.set(username=unquote(user) or None,
                      password=unquote(password) if colon else None)
    return url


def mask_uri(uri: str) -> str:
    """The URI with every password (user part or query string) replaced by ***, safe for
    logs, run.json, the history store, reports and Prefect parameters."""
    if "://" not in uri or uri.startswith("file://"):
        return uri
    try:
        url = db_url(uri)
        url = url.set(query={k: (SECRET if _SECRET_KEY.search(k) else v)
                             for k, v in url.query.items()})
        return url.render_as_string(hide_password=True).replace("%2A%2A%2A", SECRET)
    except Exception:  # not an SQLAlchemy URL: keep only the scheme and the host part
        scheme, _, rest = uri.partition("://")
        _, at, hostpart = rest.rpartition("@")
        host, q, _ = hostpart.partition("?")
        return f"{scheme}://{SECRET + '@' if at else ''}{host}{'?' + SECRET if q else ''}"


def with_password(shown: str, password: str) -> str:
    """``shown`` (a masked URL) with its user part's password set to ``password``."""
    url = db_url(shown)
    url = url.set(password=password,
                  query={k: v for k, v in url.query.items() if v != SECRET})
    return url.render_as_string(hide_password=False)


def _as_text(df: pd.DataFrame) -> pd.DataFrame:
    for c in df.columns:
        col = df[c]
        if isinstance(col.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(col.dtype):
            continue
        if not pd.api.types.is_string_dtype(col.dtype) or col.dtype == object:
            try:
                text = col.astype("str")
            except UnicodeDecodeError:  # a binary column that is not UTF-8
                text = col.map(
                    lambda v: v.decode("utf-8", "replace") if isinstance(v, bytes) else v,
                    na_action="ignore",
                ).astype("str")
            df[c] = text.where(col.notna(), None)
    return df


@dataclass
class CsvFolder:
    """A folder of ``<table>.csv`` (UTF-8, BOM allowed; GBK with encoding="gbk") or
    ``<table>.parquet`` files; with a ``mapping`` (sources.mapping), a back-end's export
    files with their own headers and values."""

    folder: Path
    encoding: str = "utf-8"
    mapping: str | Path | None = None

    @property
    def display(self) -> str:
        return str(self.folder)

    def read(self, tables: Iterable[str] = TABLES) -> dict[str, pd.DataFrame | None]:
        self._check_folder()
        mapped = {}
        if self.mapping is not None:
            from sources.mapping import load_mapping

            mapped = load_mapping(self.mapping).tables
        out: dict[str, pd.DataFrame | None] = {}
        for t in tables:
            if t in mapped:
                out[t] = self._read_mapped(t, mapped[t])
                continue
            path = self.locate(t)
            if path is None:
                out[t] = None
            elif path.suffix == ".parquet":
                out[t] = read_parquet(path, t)
            else:
                out[t] = read_csv(path, t, self.encoding)
        return out

    def _check_folder(self) -> None:
        files.check_folder(self.folder)

    def locate(self, table: str) -> Path | None:
        """The file of ``table`` (sources.files.locate)."""
        return files.locate(self.folder, table)

    def probe(self) -> None:
        """Fail fast, before any data is read: the folder, each table's file and the
        required columns of its header (CSV) or footer (Parquet). Raises InputError."""
        self._check_folder()
        mapped = set()
        if self.mapping is not None:
            from sources.mapping import load_mapping

            mapped = set(load_mapping(self.mapping).tables)
        present = {}
        for t in TABLES:
            if t in mapped:  # the mapping checks its own files and columns when read
                present[t] = set(contract_columns(t))
                continue
            path = self.locate(t)
            if path is not None:
                present[t] = ({n.strip() for n in parquet_schema(path).names}
                              if path.suffix == ".parquet"
                              else {h.strip() for h in _header(path, self.encoding)})
        check_tables(str(self.folder), present)

    def _read_mapped(self, table: str, tm) -> pd.DataFrame | None:
        from sources.mapping import apply_mapping, find_files

        keep = tm.source_columns() | set(contract_columns(table))
        frames = []
        for path in find_files(self.folder, tm):
            raw = (
                read_parquet(path, table, keep=keep)
                if path.suffix == ".parquet"
                else read_csv(path, table, self.encoding, keep=keep)
            )
            frames.append(apply_mapping(raw, tm, str(path)))
        if not frames:
            return None
        return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def read_csv(
    path: Path, table: str, encoding: str = "utf-8", keep: set[str] | None = None
) -> pd.DataFrame:
    """One CSV file as text columns; only the contract's columns (or ``keep``) are kept
    (extras ignored); header names are trimmed (exports often carry trailing spaces)."""
    header = _header(path, encoding)
    names = [h.strip() for h in header]
    wanted = keep if keep is not None else set(contract_columns(table))
    dups = sorted({n for n in names if n in wanted and names.count(n) > 1})
    if dups:
        raise InputError(
            f"{path} has the column {dups[0]!r} more than once; each input "
            "column must appear exactly once."
        )
    keep = [h for h, n in zip(header, names, strict=True) if n in wanted]
    enc = None if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    ragged: list = []

    def on_ragged(row) -> str:
        ragged.append(row)
        return "error"  # a row cut or split by a missing quote must not vanish silently

    try:
        tbl = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=enc or "utf8", block_size=1 << 24),
            parse_options=pacsv.ParseOptions(
                newlines_in_values=True, invalid_row_handler=on_ragged
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in header},
                # no contract column: read one column anyway, for the row count
                include_columns=keep or header[:1],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except UnicodeDecodeError:  # raised by the transcoder for a non-UTF-8 --encoding
        raise _encoding_error(path, encoding, path.read_bytes()[: 1 << 20]) from None
    except (pa.ArrowInvalid, pa.ArrowKeyError) as exc:
        msg = str(exc)
        if "UTF8" in msg or "utf8" in msg.lower():
            raise _encoding_error(path, encoding, path.read_bytes()[: 1 << 20]) from None
        if ragged:
            r = ragged[0]
            start = (r.text or "")[:60]
            raise InputError(
                f"{path}: a row has {r.actual_columns} field(s) where the header has "
                f"{r.expected_columns} (the row begins {start!r}); a value containing a comma, "
                "quote or line break may be missing its quotes. Nothing was audited."
            ) from None
        raise InputError(f"{path} could not be read as CSV: {msg.splitlines()[0][:200]}") from None
    df = tbl.to_pandas()
    df.columns = [c.strip() for c in df.columns]
    if not keep:
        df = df[[]]
    return _as_text(df)


def parquet_schema(path: Path) -> pa.Schema:
    """A Parquet file's schema, from its footer (a truncated or foreign file fails here)."""
    try:
        return pq.ParquetFile(path).schema_arrow
    except Exception as exc:
        raise InputError(f"{path} is not a readable Parquet file: {_one_line(exc)}. "
                         "Nothing was audited.") from None


def _one_line(exc: BaseException) -> str:
    return (" ".join(str(exc).split()) or type(exc).__name__)[:300]


def read_parquet(path: Path, table: str, keep: set[str] | None = None) -> pd.DataFrame:
    """A Parquet file; typed timestamp columns stay typed, everything else becomes text."""
    schema = parquet_schema(path)
    wanted = keep if keep is not None else set(contract_columns(table))
    cols = [n for n in schema.names if n.strip() in wanted]
    try:
        df = pq.read_table(path, columns=cols).to_pandas()
    except Exception as exc:  # a corrupt page or column chunk: the file is unusable
        raise InputError(f"{path} is not a readable Parquet file: {_one_line(exc)}. "
                         "Nothing was audited.") from None
    df.columns = [c.strip() for c in df.columns]
    return _as_text(df)


def check_tables(where: str, present: dict[str, set[str]]) -> None:
    """InputError unless ``present`` ({table: its column names}) has every required table
    with its required columns; the message names what is missing and where."""
    from schemas.tables import REQUIRED_TABLES, columns

    for t in REQUIRED_TABLES:
        if t not in present:
            raise files.missing_table(where, t)
    for t, names in present.items():
        required = [c for c, m in columns(t).items() if not m["nullable"]]
        missing = [c for c in required if c not in names]
        if missing:
            raise InputError(
                f"The table '{t}' in {where} is missing the required column(s) "
                f"{', '.join(map(repr, missing))}. The input format (docs/spec.md) requires these columns in '{t}': "
                f"{', '.join(required)}. Nothing was audited.")


@dataclass
class SqliteSource:
    """An SQLite database file with the four tables (the embedded default)."""

    path: Path

    @property
    def display(self) -> str:
        return f"sqlite:///{self.path}"

    def _open(self) -> sqlite3.Connection:
        if not self.path.is_file():
            raise InputError(
                f"The SQLite database {self.path} does not exist. Create it with "
                "`refund-audit demo` or point --source at your data."
            )
        try:
            with self.path.open("rb"):
                pass
            return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        except (OSError, sqlite3.Error) as exc:
            why = getattr(exc, "strerror", None) or exc
            raise InputError(f"Cannot open the SQLite database {self.path}: {why}") from None

    def _tables(self, con: sqlite3.Connection) -> set[str]:
        return {r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}

    def probe(self) -> None:
        """Fail fast: the file opens as a database with the required tables and columns."""
        con = self._open()
        try:
            have = self._tables(con)
            check_tables(self.display, {
                t: {r[1].strip() for r in con.execute(f'PRAGMA table_info("{t}")')}
                for t in TABLES if t in have})
        except sqlite3.DatabaseError as exc:
            raise InputError(f"Cannot read the SQLite database {self.path}: {exc}") from None
        finally:
            con.close()

    def read(self, tables: Iterable[str] = TABLES) -> dict[str, pd.DataFrame | None]:
        con = self._open()
        try:
            have = self._tables(con)
            out: dict[str, pd.DataFrame | None] = {}
            for t in tables:
                if t not in have:
                    out[t] = None
                    continue
                cols = [r[1] for r in con.execute(f'PRAGMA table_info("{t}")')]
                keep = [c for c in cols if c.strip() in set(contract_columns(t))]
                sel = ", ".join(f'CAST("{c}" AS TEXT) AS "{c.strip()}"' for c in keep) or "1"
                cur = con.execute(f'SELECT {sel} FROM "{t}"')
                rows = cur.fetchall()
                df = pd.DataFrame.from_records(rows, columns=[c.strip() for c in keep])
                out[t] = _as_text(df)
            return out
        except sqlite3.DatabaseError as exc:
            raise InputError(f"Cannot read the SQLite database {self.path}: {exc}") from None
        finally:
            con.close()


MAPPING_ENV = "REFUND_AUDIT_MAPPING"


def open_source(
    uri: str,
    *,
    encoding: str = "utf-8",
    schema: str | None = None,
    mapping: str | Path | None = None,
    window: tuple[pd.Timestamp, pd.Timestamp] | None = None,
) -> Source:
    """A source from a URI: ``sqlite:///path``, ``postgresql+psycopg://…`` or a folder path.

    ``mapping`` (default: the ``REFUND_AUDIT_MAPPING`` environment variable, which
    ``refund-audit run --mapping`` sets) reads a folder of back-end exports through a column
    mapping; ``window=(start, as_of)`` lets PostgreSQL send only the rows the audit uses.
    """
    mapping = mapping or os.environ.get(MAPPING_ENV) or None
    if mapping and not _is_folder_uri(uri):
        raise InputError(
            f"A column mapping ({mapping}) applies to a folder of CSV/Parquet "
            f"exports, not to {mask_uri(uri)!r}. For a database, create views "
            "with the table and column names of docs/spec.md."
        )
    if uri.startswith("sqlite:///"):
        return SqliteSource(Path(uri[len("sqlite:///") :]))
    if uri.startswith(("postgresql", "postgres://")):
        try:
            from sources.postgres import PostgresSource
        except ImportError as exc:  # pragma: no cover - shipped with the project
            raise InputError(f"PostgreSQL sources are not available: {exc}") from None
        return PostgresSource(uri, schema=schema, window=window)
    if not _is_folder_uri(uri):
        raise InputError(
            f"Unknown source {mask_uri(uri)!r}: use sqlite:///path, "
            "postgresql+psycopg://user@host/db or a folder of CSV/Parquet files."
        )
    return CsvFolder(Path(uri.removeprefix("file://")), encoding=encoding, mapping=mapping)


def _is_folder_uri(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file://")
