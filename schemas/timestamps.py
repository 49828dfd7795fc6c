"""Reading the input tables' timestamps into tz-aware UTC, one value at a time.

A value's verdict never depends on its neighbours in the column: each one is matched
against an explicit grammar (below, and in docs/spec.md) before any parser sees it, and the
parser is only ever given values of one shape (with an offset, or without), so no single odd
value can switch a column to lenient parsing or fail it as a whole. Words such as ``now`` or
``today``, US or European day orders, month names and RFC 2822 dates are not accepted:
they would make an audit depend on the clock or on a guess.

Accepted (ISO 8601, extended format):

- a date: ``2026-11-10``;
- a date and a time of day, separated by ``T`` or one space: ``2026-11-10T10:00``,
  ``2026-11-10 10:00:00``, ``2026-11-10T10:00:00.123456789`` (up to 9 fraction digits; the
  audit keeps microseconds);
- optionally after a time, an offset: ``Z``, ``+08:00``, ``+0800`` or ``+08``.

With an offset a value means that instant; without one it is local time in the zone of the
row's platform profile. A local time that occurs twice (clocks going back) is its first
occurrence; one that never occurs (clocks going forward) moves forward by the gap.

Accepted years are 1900 to 2261: outside them a value is ``out_of_range`` (a
``9999-12-31`` "open end" marker, a ``0001-01-01`` "unknown"). The upper bound keeps every
instant inside what pandas can hold at nanosecond resolution, which the rules' arithmetic
uses. A column where a far-future value means "no end" (``valid_to``) reads any value after
the range as empty instead. Everything inside the project is UTC; local time only at the
edges.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

UNIT = "us"
UTC_DTYPE = pd.DatetimeTZDtype(unit=UNIT, tz="UTC")

#: The accepted years (see the module docstring).
MIN_YEAR, MAX_YEAR = 1900, 2261
_LOW = np.datetime64(f"{MIN_YEAR}-01-01T00:00:00", UNIT)
_HIGH = np.datetime64(f"{MAX_YEAR + 1}-01-01T00:00:00", UNIT)

_DATE = r"-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
_TIME = r"[T ](?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,9})?)?"
_OFFSET = r"(?:Z|[+-](?:[01][0-9]|2[0-3])(?::?[0-5][0-9])?)"
#: The grammar, any year (to tell "out of range" from "not a timestamp").
ISO_ANY_YEAR = rf"^[0-9]{{4}}{_DATE}(?:{_TIME}{_OFFSET}?)?$"
_YEAR = r"(?:19[0-9]{2}|2[01][0-9]{2}|22[0-5][0-9]|226[01])"
#: The grammar, accepted years only, with an offset: the one pass every value goes through.
ISO_WITH_OFFSET = rf"^{_YEAR}{_DATE}{_TIME}{_OFFSET}$"
#: ... and without one: the pass the values without an offset go through.
ISO_WITHOUT_OFFSET = rf"^{_YEAR}{_DATE}(?:{_TIME})?$"


@dataclass
class Parsed:
    """A parsed column: UTC values, and the present values that were rejected, by reason."""

    values: pd.Series
    malformed: pd.Series     # not an accepted ISO 8601 timestamp (or an impossible date)
    out_of_range: pd.Series  # a timestamp, but outside the accepted years


def localize_naive(naive: pd.Series, tz: str) -> pd.Series:
    """Naive local wall times in ``tz`` → UTC, with the DST rules of the module docstring."""
    naive = naive.astype(f"datetime64[{UNIT}]")
    if tz in ("UTC", "Etc/UTC"):
        return naive.dt.tz_localize("UTC")
    # ambiguous=True picks the DST (first) occurrence of a repeated wall time.
    local = naive.dt.tz_localize(
        tz, ambiguous=np.ones(len(naive), dtype=bool), nonexistent="NaT"
    )
    gap = local.isna() & naive.notna()
    if gap.any():
        # The offset in force just before the gap: shifting by it moves the time forward
        # by exactly the gap's length (02:30 in a 1 h gap becomes 03:30).
        before = (naive[gap] - pd.Timedelta(hours=6)).dt.tz_localize(
            tz, ambiguous=True, nonexistent="shift_forward"
        )
        offset = before.dt.tz_localize(None) - before.dt.tz_convert("UTC").dt.tz_localize(None)
        utc_vals = (naive[gap] - offset).dt.tz_localize("UTC")
        local = local.dt.tz_convert("UTC")
        local[gap] = utc_vals
        return local.astype(UTC_DTYPE)
    return local.dt.tz_convert("UTC").astype(UTC_DTYPE)


def parse_timestamps(values: pd.Series, zones: pd.Series | str, *, clean: bool = False
                     ) -> tuple[pd.Series, pd.Series]:
    """Parse a column of timestamps; return (UTC series, mask of present-but-rejected).

    See ``parse_column``; a value out of range counts as rejected here.
    """
    p = parse_column(values, zones, clean=clean)
    return p.values, p.malformed | p.out_of_range


def parse_column(values: pd.Series, zones: pd.Series | str, *, clean: bool = False,
                 open_end: bool = False) -> Parsed:
    """Parse a column of timestamps per the module docstring.

    ``values`` may be strings or already-typed datetimes (Parquet). ``zones`` gives the IANA
    zone of each row (or one zone for all) for naive values. ``clean``: the strings are
    already stripped with empty ones missing (the validation's text columns), so that pass is
    skipped. ``open_end``: a value after the accepted years means "no end" (empty), not
    out of range.
    """
    n = len(values)
    index = values.index
    if n == 0:
        no = pd.Series(np.zeros(n, dtype=bool), index=index)
        return Parsed(pd.Series(pd.NaT, index=index, dtype=UTC_DTYPE), no, no.copy())
    if isinstance(zones, str):
        zones = pd.Series(zones, index=index)
    if _is_typed(values):
        return _typed(values, zones, open_end)
    utc, malformed, out_of_range = _parse_text(_stripped(values, clean), zones, open_end)
    out = pd.Series(utc, index=index).dt.tz_localize("UTC").astype(UTC_DTYPE)
    return Parsed(out, pd.Series(malformed, index=index),
                  pd.Series(out_of_range, index=index))


#: A small table: at most this many values in all (rows × columns). Its columns of a kind
#: are read as one column (``parse_columns`` here, the text columns in schemas.validate).
#: Above it each column is read on its own: at that size the fixed cost per column no
#: longer counts, and no concatenated copy is made.
BATCH_VALUES = 50_000


def parse_columns(columns: dict[str, pd.Series], zones: pd.Series | str, *,
                  clean: bool = False, open_end: frozenset[str] | set[str] = frozenset()
                  ) -> dict[str, Parsed]:
    """``parse_column`` on each of several columns of one table (one index, one zone per
    row), with the same results; ``open_end``: the names of the columns read that way.

    Why: each call has a fixed cost of ~2–3 ms (about twenty Arrow and pandas calls, and a
    localisation per zone), which on a table of a few dozen rows is nearly all of it, and a
    table has up to eleven timestamp columns. So a small table's text columns are put one
    after another into one column, read once (the zones repeated, "open end" as a per-value
    mask) and cut back into columns. A value's verdict never depends on its neighbours (the
    module docstring), so where it sits in the batch changes nothing.
    """
    out: dict[str, Parsed] = {}
    names = list(columns)
    batch = [c for c in names if len(columns[c]) and not _is_typed(columns[c])]
    n = len(columns[batch[0]]) if batch else 0
    if len(batch) < 2 or n * len(batch) > BATCH_VALUES:
        batch = []
    for c in names:
        if c not in batch:
            out[c] = parse_column(columns[c], zones, clean=clean, open_end=c in open_end)
    if not batch:
        return out
    index = columns[batch[0]].index
    if isinstance(zones, str):
        zones = pd.Series(zones, index=index)
    k = len(batch)
    text = pd.concat([_stripped(columns[c], clean) for c in batch], ignore_index=True)
    zone = pd.concat([zones] * k, ignore_index=True)
    late_is_end = np.repeat(np.array([c in open_end for c in batch]), n)
    utc, malformed, out_of_range = _parse_text(text, zone, late_is_end)
    aware = pd.Series(utc).dt.tz_localize("UTC").astype(UTC_DTYPE).array
    for i, c in enumerate(batch):
        part = slice(i * n, (i + 1) * n)
        out[c] = Parsed(pd.Series(aware[part], index=index),
                        pd.Series(malformed[part], index=index),
                        pd.Series(out_of_range[part], index=index))
    return {c: out[c] for c in names}


def _is_typed(values: pd.Series) -> bool:
    """Already datetimes (Parquet), not text."""
    return isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(
        values.dtype)


def _stripped(values: pd.Series, clean: bool) -> pd.Series:
    """Text with surrounding blanks removed and empty values missing (as is when ``clean``
    and already text)."""
    if clean and values.dtype == "str":
        return values
    s = values.astype("str").str.strip()
    return s.where(s.notna() & (s != ""), None)


def _parse_text(s: pd.Series, zones: pd.Series, open_end: bool | np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stripped text (missing: empty) → (naive UTC instants as datetime64[us], malformed,
    out of range), by position; ``zones`` by position too. ``open_end``: for all values, or
    per value (a mask)."""
    n = len(s)
    arr = pa.array(s, from_pandas=True)
    present = s.notna().to_numpy(dtype=bool)
    # Each value is matched once or twice: first with an offset (most exports), then what
    # is left without one; the grammar is split so that no pass runs over every value twice.
    has_off = _matches(arr, ISO_WITH_OFFSET)
    ok = has_off.copy()
    rest = np.flatnonzero(present & ~has_off)
    if len(rest):
        ok[rest] = _matches(_take(arr, rest), ISO_WITHOUT_OFFSET)
    # The rejected values are few: only they are matched again to tell the two reasons apart.
    rejected = np.flatnonzero(present & ~ok)
    out_of_range = np.zeros(n, dtype=bool)
    if len(rejected):
        out_of_range[rejected] = _matches(_take(arr, rejected), ISO_ANY_YEAR)
    # The instants are gathered by position as naive UTC wall times and made tz-aware once:
    # assigning into a Series by mask aligns indexes, ~0.15 s per million values per part.
    utc = np.full(n, np.datetime64("NaT"), dtype=f"datetime64[{UNIT}]")
    if has_off.any():
        at = np.flatnonzero(has_off)
        utc[at] = _instants(_take(arr, at), aware=True)
    naive_mask = ok & ~has_off
    if naive_mask.any():
        at = np.flatnonzero(naive_mask)
        naive = pd.Series(_instants(_take(arr, at), aware=False))
        utc[at] = _utc_walls(naive, zones.iloc[at])
    # What the grammar lets through and the parser still rejects: an impossible date
    # (2026-02-30).
    malformed = present & ~out_of_range & np.isnat(utc)
    # A value after the accepted years in an open-end column means "no end".
    far = np.flatnonzero(out_of_range & open_end)  # all of the grammar: four digits first
    if len(far):
        out_of_range[far[_late(_take(arr, far))]] = False
    return utc, malformed, out_of_range


def _matches(arr: pa.Array | pa.ChunkedArray, pattern: str) -> np.ndarray:
    """Arrow's RE2 search (the pattern anchors itself), null as False."""
    hit = pc.match_substring_regex(arr, pattern).fill_null(False)
    return hit.to_numpy(zero_copy_only=False).astype(bool, copy=False)


def _instants(arr: pa.Array | pa.ChunkedArray, *, aware: bool) -> np.ndarray:
    """Values that matched the grammar → datetime64[us] (UTC instants when ``aware``, else
    wall times), NaT for an impossible date (2026-02-30).

    Arrow's ISO 8601 cast reads exactly the grammar's forms (``T`` or space, 0–9 fraction
    digits, ``Z``/``±hh``/``±hhmm``/``±hh:mm``) without a Python object per value (pandas'
    ``to_datetime`` needs them: ~1 s per million values). It reads to nanoseconds, which every
    accepted year fits in, and the fraction is then floored to microseconds, as pandas floors
    it. The one thing the grammar lets through that a calendar refuses, a day past the end of
    its month, fails Arrow's whole cast: such values are found first (year, month and day
    are at fixed places in the grammar) and read as missing."""
    impossible = _impossible_dates(arr)
    if impossible.any():
        arr = pc.if_else(pa.array(impossible), pa.scalar(None, arr.type), arr)
    ts = pc.cast(arr, pa.timestamp("ns", "UTC" if aware else None))
    if isinstance(ts, pa.ChunkedArray):
        ts = ts.combine_chunks() if ts.num_chunks != 1 else ts.chunk(0)
    ns = ts.to_numpy(zero_copy_only=False).astype("datetime64[ns]", copy=False)
    return ns.astype(f"datetime64[{UNIT}]")


_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def _impossible_dates(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Grammar-shaped values (``YYYY-MM-DD...``, month 01–12, day 01–31) whose day is past
    the end of their month (Gregorian leap years). The digits sit at fixed byte offsets, so
    they are read straight from the Arrow buffers (no text slicing, no parsing)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.chunk(0) if arr.num_chunks == 1 else (
            pa.concat_arrays(arr.chunks) if arr.num_chunks else pa.array([], arr.type))
    n = len(arr)
    if not n:
        return np.zeros(0, dtype=bool)
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offs = np.frombuffer(arr.buffers()[1], dtype=width)[arr.offset: arr.offset + n + 1]
    starts = offs[:-1].astype(np.int64)
    data = arr.buffers()[2]
    data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(1, np.uint8)
    # Only a value of ten bytes or more has a full date (nulls and oddities: not judged).
    whole = (offs[1:] - offs[:-1]) >= 10
    if arr.null_count:
        whole &= pc.is_valid(arr).to_numpy(zero_copy_only=False)
    last_byte = len(data) - 1

    def number(at: np.ndarray, first: int, width: int) -> np.ndarray:
        v = np.zeros(len(at), dtype=np.int64)
        for i in range(width):
            v = v * 10 + (data[np.minimum(at + first + i, last_byte)].astype(np.int64) - 48)
        return v

    day = number(starts, 8, 2)
    late = whole & (day > 28)
    if not late.any():
        return late
    at = np.flatnonzero(late)
    year, month = number(starts[at], 0, 4), number(starts[at], 5, 2)
    ok = (month >= 1) & (month <= 12)
    month = np.where(ok, month, 1)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    end = _DAYS[month] + ((month == 2) & leap)
    out = np.zeros(n, dtype=bool)
    out[at] = ok & (day[at] > end)
    return out


def _take(arr: pa.Array | pa.ChunkedArray, pos: np.ndarray) -> pa.Array | pa.ChunkedArray:
    """The values at ``pos``; all of them (no copy) when ``pos`` is every position."""
    return arr if len(pos) == len(arr) else arr.take(pa.array(pos))


def _late(arr: pa.Array) -> np.ndarray:
    """Values (all of the grammar, any year) whose year is after the accepted ones."""
    year = pc.cast(pc.utf8_slice_codeunits(arr, 0, 4), pa.int32())
    return pc.greater(year, MAX_YEAR).fill_null(False).to_numpy(zero_copy_only=False)


def _typed(values: pd.Series, zones: pd.Series, open_end: bool) -> Parsed:
    """Already-typed datetimes (Parquet): the same range rules, without the grammar."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        walls = values.dt.tz_convert("UTC").dt.tz_localize(None)
    else:
        walls = values
    # Compared at the column's own resolution: a year-9999 value in seconds or milliseconds
    # does not fit in nanoseconds, and must not be cast before it is looked at.
    raw = walls.to_numpy()
    unit = np.datetime_data(raw.dtype)[0]
    low, high = _LOW.astype(f"datetime64[{unit}]"), _HIGH.astype(f"datetime64[{unit}]")
    present = ~np.isnat(raw)
    early = present & (raw < low)
    late = present & (raw >= high)
    keep = pd.Series(np.where(early | late, np.datetime64("NaT"), raw).astype(
        f"datetime64[{UNIT}]"), index=values.index)
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        out = keep.dt.tz_localize("UTC").astype(UTC_DTYPE)
    else:
        out = _localize_by_zone(keep, zones)
    out_of_range = early | (late & (not open_end))
    no = np.zeros(len(values), dtype=bool)
    return Parsed(out, pd.Series(no, index=values.index),
                  pd.Series(out_of_range, index=values.index))


def _localize_by_zone(naive: pd.Series, zones: pd.Series) -> pd.Series:
    utc = _utc_walls(naive, zones)
    return pd.Series(utc, index=naive.index).dt.tz_localize("UTC").astype(UTC_DTYPE)


def _utc_walls(naive: pd.Series, zones: pd.Series) -> np.ndarray:
    """Naive wall times, each in its row's zone (by position), as UTC instants in a naive
    datetime64 array: one localisation per zone."""
    utc = np.full(len(naive), np.datetime64("NaT"), dtype=f"datetime64[{UNIT}]")
    codes, names = pd.factorize(zones.fillna("UTC"))
    for i, tz in enumerate(names):
        at = codes == i
        utc[at] = localize_naive(naive[at], str(tz)).dt.tz_localize(None).to_numpy()
    return utc


def to_iso_utc(ts: pd.Series) -> pd.Series:
    """UTC ISO 8601 text with a ``Z`` suffix, empty for NaT (findings.csv format)."""
    text = ts.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return text.fillna("")
