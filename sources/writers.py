"""Write the four input tables where the audit reads them: a CSV or Parquet folder, SQLite.

Used by the demo, the tests and the benchmark to lay generated tables (``sources.generate``)
out as a user's source would be.  Every value is written as text, NA as empty (CSV) or NULL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

__all__ = ["write_csv_folder", "write_parquet_folder", "write_sqlite"]

_SQLITE_BATCH = 50_000


def write_csv_folder(tables: Mapping[str, pd.DataFrame], folder: str | Path) -> Path:
    """``<folder>/<table>.csv`` per table: UTF-8, header, no index, empty string for NA."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_csv(out / f"{name}.csv", index=False, na_rep="", encoding="utf-8")
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
        con.execute("PRAGMA journal_mode = OFF")
        con.execute("PRAGMA synchronous = OFF")
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
                        chunk[c].astype("object").where(chunk[c].notna(), None).tolist()
                        for c in chunk.columns
                    ]
                    con.executemany(
                        f"INSERT INTO {table} VALUES ({marks})", zip(*columns, strict=True)
                    )
    finally:
        con.close()
    return path
