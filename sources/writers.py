"""Write the four input tables where the audit reads them: a CSV or Parquet folder, SQLite.

Used by the demo, the tests and the benchmark to lay generated tables (``sources.generate``)
out as a user's source would be.  Every value is written as text, NA as empty (CSV) or NULL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["write_csv_folder", "write_parquet_folder", "write_sqlite"]

_SQLITE_BATCH = 50_000
_CSV_BATCH = 200_000


def _text(value: str) -> pa.Scalar:
    return pa.scalar(value, pa.large_string())


def _has_special(values: pa.Array) -> bool:
    """Whether any value holds a comma, quote or line break (a scan of the string bytes)."""
    data = values.buffers()[2]
    if data is None or not len(values):
        return False
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int64)
    start, end = int(offsets[values.offset]), int(offsets[values.offset + len(values)])
    raw = data.slice(start, end - start).to_pybytes()
    return any(ch in raw for ch in (b",", b'"', b"\r", b"\n"))


def _csv_field(values: pa.Array) -> pa.Array:
    """A column as CSV fields: quoted (quotes doubled) only where needed, NA as empty."""
    values = pc.cast(values, pa.large_string())
    empty = _text("")
    if not _has_special(values):  # most columns (ids, times, amounts): a memory scan decides
        return pc.fill_null(values, empty)
    needs = pc.fill_null(pc.match_substring_regex(values, r'[,"\r\n]'), False)
    quote = _text('"')
    quoted = pc.binary_join_element_wise(
        quote, pc.replace_substring(values, '"', '""'), quote, empty
    )
    return pc.fill_null(pc.if_else(needs, quoted, values), empty)


def _csv_lines(frame: pd.DataFrame) -> pa.Buffer:
    """The frame's rows as CSV lines, each ending in a line feed, in one buffer."""
    if frame.empty:
        return pa.py_buffer(b"")
    fields = [_csv_field(pa.array(frame[c], type=pa.large_string())) for c in frame.columns]
    rows = pc.binary_join_element_wise(*fields, _text(","))
    lines = pc.binary_join_element_wise(rows, _text("\n"), _text(""))
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)
    start, end = int(offsets[lines.offset]), int(offsets[lines.offset + len(lines)])
    return lines.buffers()[2].slice(start, end - start)


def write_csv_folder(tables: Mapping[str, pd.DataFrame], folder: str | Path) -> Path:
    """``<folder>/<table>.csv`` per table: UTF-8, header, no index, empty string for NA.

    Fields are quoted only where a comma, quote or line break needs it (as pandas and Excel
    do); the lines are joined by Arrow kernels, which keeps a million rows to about a second.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        header = pd.DataFrame([list(map(str, frame.columns))], columns=frame.columns)
        with open(out / f"{name}.csv", "wb") as fh:
            fh.write(_csv_lines(header.astype("str")))
            for start in range(0, len(frame), _CSV_BATCH):
                fh.write(_csv_lines(frame.iloc[start : start + _CSV_BATCH]))
    return out


def write_parquet_folder(tables: Mapping[str, pd.DataFrame], folder: str | Path) -> Path:
    """``<folder>/<table>.parquet`` per table, every column a string column."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.astype("str").to_parquet(out / f"{name}.parquet", index=False)
    return out


def _sqlite_path(path_or_url: str | Path) -> str:
    text = str(path_or_url)
    if text.startswith("sqlite:///"):
        path = text.removeprefix("sqlite:///")
        if not path:
            raise ValueError("an SQLite URL needs a file path: sqlite:///path/to/file.sqlite")
        return path
    if text.startswith("sqlite://"):
        raise ValueError(f"not a file SQLite URL: {text!r} (use sqlite:///path/to/file.sqlite)")
    return text


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def write_sqlite(tables: Mapping[str, pd.DataFrame], path_or_url: str | Path) -> Path:
    """Replace each table in the SQLite file (a path or ``sqlite:///path``); all columns TEXT."""
    path = Path(_sqlite_path(path_or_url))
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    try:
        # a generated file is rebuilt from scratch if anything fails, so durability can wait
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "locking_mode = EXCLUSIVE",
                       "cache_size = -262144", "temp_store = MEMORY"):  # fmt: skip
            con.execute(f"PRAGMA {pragma}")
        with con:
            for name, frame in tables.items():
                table = _quote(name)
                cols = ", ".join(f"{_quote(str(c))} TEXT" for c in frame.columns)
                marks = ", ".join("?" for _ in frame.columns)
                con.execute(f"DROP TABLE IF EXISTS {table}")
                con.execute(f"CREATE TABLE {table} ({cols})")
                for start in range(0, len(frame), _SQLITE_BATCH):
                    chunk = frame.iloc[start : start + _SQLITE_BATCH]
                    columns = [
                        pa.array(chunk[c], type=pa.large_string()).to_pylist() for c in chunk
                    ]
                    con.executemany(
                        f"INSERT INTO {table} VALUES ({marks})", zip(*columns, strict=True)
                    )
    finally:
        con.close()
    return path
