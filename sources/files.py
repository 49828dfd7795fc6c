"""Where a folder source's tables are, checked with the standard library only.

Why apart from sources.base: ``refund-audit run`` checks that a folder's files exist and can
be read before it imports pandas, pyarrow and pandera (~1 s), so a wrong folder is refused
at once. Anything at a table's place that cannot be read is an error, never "no such table":
a folder, a broken or looping link, a file without read permission, and two files for one
table (which one would be the truth?).
"""

from __future__ import annotations

import codecs
import csv
import io
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


def _header(path: Path, encoding: str) -> list[str]:
    """The header row as the CSV reader will see it (the first non-empty line)."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise InputError(
            f"--encoding {encoding!r} is not a known text encoding; use utf-8 (the default) or gbk."
        ) from None
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
        complete = not fh.read(1)
    if not head.removeprefix(codecs.BOM_UTF8).strip(b" \t\r\n\x00"):
        raise InputError(
            f"{path} is empty: a CSV file needs at least a header line with the columns listed in docs/spec.md."
        )
    enc = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        # a multi-byte character cut at the end of the sample is fine; a bad byte is not
        text = codecs.getincrementaldecoder(enc)().decode(head, final=complete)
    except UnicodeDecodeError:
        raise _encoding_error(path, encoding, head) from None
    try:
        return next((row for row in csv.reader(io.StringIO(text)) if row), [])
    except csv.Error as exc:
        raise InputError(f"{path}: the header line cannot be read as CSV ({exc}).") from None


NEWLINE = b"\n"
_CANDIDATES = (("utf-8", "UTF-8"), ("gb18030", "GBK (GB18030)"), ("big5", "Big5"))


def _decodes(sample: bytes, encoding: str) -> int | None:
    """None when ``sample`` decodes (a character cut at its end is fine), else the offset of
    the first bad byte."""
    try:
        codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
        return None
    except UnicodeDecodeError as exc:
        return exc.start


def _encoding_error(path: Path, encoding: str, sample: bytes) -> InputError:
    declared = codecs.lookup(encoding).name
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        likely = ("utf-16", "UTF-16")
    else:
        likely = next(
            (
                (c, label)
                for c, label in _CANDIDATES
                if codecs.lookup(c).name != declared and _decodes(sample, c) is None
            ),
            None,
        )
    if likely is None:
        hint = " Save it as UTF-8 or name its encoding with --encoding."
    elif likely[0] == "gb18030" and declared in ("gbk", "gb2312"):
        hint = " It looks like GB18030 (a superset of GBK): run again with --encoding gb18030."
    elif likely[0] == "gb18030":
        hint = (
            f" It looks like {likely[1]}, as Chinese seller back-ends often export; run "
            "again with --encoding gbk."
        )
    else:
        hint = f" It looks like {likely[1]}: run again with --encoding {likely[0]}."
    bad = _decodes(sample, encoding)
    where = (
        ""
        if bad is None
        else f" (first undecodable byte on line {sample[:bad].count(NEWLINE) + 1})"
    )
    return InputError(f"{path} is not valid {encoding.upper()} text{where}.{hint}")


def missing_table(where: str, table: str) -> InputError:
    """The one-paragraph error for a required table the source lacks (``where``: the
    source as shown, or "" when the sentence needs no name)."""
    source = f"The source {where}" if where else "The source"
    return InputError(
        f"{source} has no table '{table}'. The audit needs the tables "
        f"{', '.join(REQUIRED_TABLES)} (and optionally messages) with the columns "
        "listed in docs/spec.md. Nothing was audited.")


def quick_check(uri: str, encoding: str = "utf-8", mapped: bool = False) -> None:
    """The files of a folder source (``uri`` without ``://`` or ``file://``): the folder,
    each table's file and that its header decodes, then that the required ones are
    present (``mapped``: a column mapping names the files, so only the folder). Other
    sources are checked by their ``probe``."""
    if "://" in uri and not uri.startswith("file://"):
        return
    folder = Path(uri.removeprefix("file://"))
    check_folder(folder)
    if mapped:
        return
    found = {t: locate(folder, t) for t in TABLES}
    for path in found.values():  # a file that is there but unreadable says more than a gap
        if path is not None and path.suffix == ".csv":
            _header(path, encoding)
    for t in REQUIRED_TABLES:
        if found[t] is None:
            raise missing_table(str(folder), t)
