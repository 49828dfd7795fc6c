"""Where a folder source's tables are, checked with the standard library only.

Why apart from sources.base: ``refund-audit run`` checks that a folder's files exist and can
be read before it imports pandas, pyarrow and pandera (~1 s), so a wrong folder is refused
at once. Anything at a table's place that cannot be read is an error, never "no such table":
a folder, a broken or looping link, a file without read permission, and two files for one
table (which one would be the truth?).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from schemas.errors import InputError
from schemas.names import REQUIRED_TABLES, TABLES


def check_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise InputError(
            f"The source folder {folder} does not exist or is not a folder. Give a folder of "
            "<table>.csv / <table>.parquet files or an sqlite:/// or postgresql:// URL.")
    try:
        os.listdir(folder)
    except OSError as exc:
        raise InputError(f"The source folder {folder} cannot be read: {exc.strerror}. "
                         "Nothing was audited.") from None


def locate(folder: Path, table: str) -> Path | None:
    """The file of ``table``: ``<table>.parquet`` or ``<table>.csv``; None when neither is
    there; InputError when what is there cannot be read, or both are."""
    found = []
    for path in (folder / f"{table}.parquet", folder / f"{table}.csv"):
        if not os.path.lexists(path):
            continue
        try:
            if stat.S_ISDIR(path.stat().st_mode):
                raise InputError(f"{path} is a folder, not a file. The {table} table must be "
                                 "a CSV or Parquet file. Nothing was audited.")
            with path.open("rb"):
                pass
        except OSError as exc:
            why = ("it is a link to a missing file" if isinstance(exc, FileNotFoundError)
                   else exc.strerror or str(exc))
            raise InputError(f"{path} cannot be read: {why}. Nothing was audited.") from None
        found.append(path)
    if len(found) > 1:
        raise InputError(
            f"Two files for the {table} table: {found[0]} and {found[1]}. Keep one of them "
            "(or move the other out of the folder) so that it is clear which one to audit. "
            "Nothing was audited.")
    return found[0] if found else None


def missing_table(where: str, table: str) -> InputError:
    return InputError(
        f"The source {where} has no table '{table}'. The audit needs the tables "
        f"{', '.join(REQUIRED_TABLES)} (and optionally messages) with the contract's "
        "columns. Nothing was audited.")


def quick_check(uri: str, mapped: bool = False) -> None:
    """The files of a folder source (``uri`` without ``://`` or ``file://``): the folder,
    every table's file, the required ones present (``mapped``: a column mapping names the
    files, so only the folder). Other sources are checked by their ``probe``."""
    if "://" in uri and not uri.startswith("file://"):
        return
    folder = Path(uri.removeprefix("file://"))
    check_folder(folder)
    if mapped:
        return
    for t in TABLES:
        if locate(folder, t) is None and t in REQUIRED_TABLES:
            raise missing_table(str(folder), t)
