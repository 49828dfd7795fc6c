"""Formatting generated values as strings, in bulk: timestamps in their many spellings, amounts,
booleans, pools of values; every column becomes one Arrow string array."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sources.generate.vocabulary import ZONES

# --------------------------------------------------------------------------- string formatting
# Strings are assembled as byte matrices (one row per value) and compacted into one Arrow
# buffer: a few numpy gathers per column instead of per-value formatting or string kernels,
# which is what keeps millions of timestamps, ids and amounts cheap.

_PAIRS = np.array([f"{i:02d}" for i in range(100)], dtype="S2").view(np.uint8).reshape(100, 2)


@cache
def _clock_bytes() -> np.ndarray:
    """``HH:MM:SS`` for every second of a day, as an (86400, 8) byte table."""
    text = [f"{h:02d}:{m:02d}:{x:02d}" for h in range(24) for m in range(60) for x in range(60)]
    return np.array(text, dtype="S8").view(np.uint8).reshape(86400, 8)


def _strings(rec: np.ndarray, keep: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """One string per row of the byte matrix ``rec``: the bytes where ``keep`` is set."""
    n = len(rec)
    lengths = keep.sum(axis=1, dtype=np.int64)
    offsets = np.zeros(n + 1, dtype=np.int64)  # large_string: what pandas' str dtype holds
    np.cumsum(lengths, out=offsets[1:])
    data = np.ascontiguousarray(rec[keep])
    valid, nulls = None, 0
    if null is not None and null.any():
        valid, nulls = pa.py_buffer(np.packbits(~null, bitorder="little")), int(null.sum())
    return pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(data), valid, nulls
    )


_PAIRS16 = _PAIRS.copy().view(np.uint16).ravel()


def _digits(v: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative ints, as an (n, width) byte matrix."""
    v = v.astype(np.int64)
    pairs = np.empty((len(v), (width + 1) // 2), dtype=np.uint16)
    for j in range(pairs.shape[1] - 1, -1, -1):
        pairs[:, j] = _PAIRS16[v % 100]
        v = v // 100
    out = pairs.view(np.uint8).reshape(len(v), 2 * pairs.shape[1])
    return out[:, 1:] if width % 2 else out


def _text_bytes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode(), dtype=np.uint8)


def _null_where(arr: pa.Array, empty: np.ndarray) -> pa.Array:
    if not empty.any():
        return arr
    return pc.if_else(pa.array(~empty), arr, pa.scalar(None, arr.type))


_SUFFIXES = ("+08:00", "-07:00", "-08:00", "Z", "")  # the zones' offsets, UTC, naive
_SUFFIX_LEN = np.array([len(x) for x in _SUFFIXES] + [0])


@cache
def _ts_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Timestamps are built as four 8-byte words per value, ``YYYY-MM-`` | ``DDTHH:MM`` |
    ``:SS`` | suffix, each one gather from these tables; ``keep`` marks the bytes to emit."""
    dd_clock = b"".join(
        f"{d:02d}{sep}{h:02d}:{m:02d}".encode()
        for d in range(1, 32)
        for sep in "T "
        for h in range(24)
        for m in range(60)
    )
    seconds = b"".join(f":{x:02d}".encode().ljust(8, b"\0") for x in range(60))
    suffix = b"".join(x.encode().ljust(8, b"\0") for x in _SUFFIXES)
    keep = np.zeros((len(_SUFFIXES) + 1, 32), dtype=bool)  # the last row: null, nothing
    for i, x in enumerate(_SUFFIXES):
        keep[i, :19] = True
        keep[i, 24 : 24 + len(x)] = True
    return (
        np.frombuffer(dd_clock, dtype=np.uint64),
        np.frombuffer(seconds, dtype=np.uint64),
        np.frombuffer(suffix, dtype=np.uint64),
        np.ascontiguousarray(keep).view(np.uint64),
    )


def _local_offsets(s: np.ndarray, zone: np.ndarray, style: np.ndarray) -> np.ndarray:
    """UTC offset (seconds) per instant; naive styles that would not read back are reset to 0."""
    off = np.full(len(s), 8 * 3600, dtype=np.int64)
    la = zone == 1
    if not la.any():
        return off
    utc = s[la].astype("datetime64[s]")
    wall = pd.DatetimeIndex(utc).tz_localize("UTC").tz_convert(ZONES[1]).tz_localize(None)
    wall_s = wall.to_numpy().astype("datetime64[s]")
    off[la] = wall_s.astype(np.int64) - s[la]
    naive = style[la] >= 2
    if naive.any():
        # the repeated hour when clocks go back reads as its first occurrence (docs/spec.md)
        back = pd.DatetimeIndex(wall_s).tz_localize(
            ZONES[1], ambiguous=np.ones(len(wall_s), dtype=bool), nonexistent="shift_forward"
        )
        back_s = back.tz_convert("UTC").tz_localize(None).to_numpy().astype("datetime64[s]")
        la_style = style[la]
        la_style[naive & (back_s.astype(np.int64) != s[la])] = 0
        style[la] = la_style
    return off


def _fmt_ts(sec: np.ndarray, zone: np.ndarray, style: np.ndarray) -> pa.Array:
    """ISO 8601 strings for float seconds (NaN → null) in the row's zone and style.

    style 0: local time with offset, 1: UTC with ``Z``, 2: naive local ``YYYY-MM-DD HH:MM:SS``,
    3: naive local with ``T``.  A naive local time that would read back as another instant (the
    repeated hour when clocks go back) is written with its offset instead.
    """
    n = len(sec)
    empty = np.isnan(sec)
    s = np.where(empty, 0.0, np.floor(sec)).astype(np.int64)
    style = style.astype(np.int8, copy=True)
    off = _local_offsets(s, zone, style)
    shown = np.where(style == 1, s, s + off)
    days = np.floor_divide(shown, 86400)
    clock = shown - days * 86400
    first = int(days.min()) if n else 0
    span = int(days.max()) - first + 1 if n else 1
    calendar = np.arange(first, first + span).astype("datetime64[D]")
    year_month = np.frombuffer(
        np.datetime_as_string(calendar.astype("datetime64[M]")).astype("S7").tobytes(), "S7"
    )
    head = np.frombuffer(b"".join(ym + b"-" for ym in year_month), dtype=np.uint64)
    mday = (calendar - calendar.astype("datetime64[M]")).astype(np.int64)
    dd_clock, seconds, suffix, keep = _ts_tables()
    local = np.where(off == 8 * 3600, 0, np.where(off == -7 * 3600, 1, 2))
    code = np.where(empty, 5, np.where(style == 0, local, np.where(style == 1, 3, 4)))
    rec = np.empty((n, 4), dtype=np.uint64)
    rec[:, 0] = head[days - first]
    rec[:, 1] = dd_clock[(mday[days - first] * 2 + (style == 2)) * 1440 + clock // 60]
    rec[:, 2] = seconds[clock % 60]
    rec[:, 3] = suffix[np.minimum(code, 4)]
    mask = keep[code].view(bool).reshape(n, 32)
    return _strings(rec.view(np.uint8).reshape(n, 32), mask, empty)


def _money(cents: np.ndarray) -> pa.Array:
    """Decimal with 2 places for non-negative int64 cents; negative → null."""
    c = np.maximum(cents, 0)
    whole = c // 100
    rec = np.empty((len(c), 12), dtype=np.uint8)
    rec[:, :9] = _digits(whole, 9)
    rec[:, 9] = ord(".")
    rec[:, 10:] = _PAIRS[c % 100]
    n_digits = 1 + sum((whole >= 10**k).astype(np.int64) for k in range(1, 9))
    return _strings(rec, np.arange(12) >= (9 - n_digits)[:, None], cents < 0)


def _fixed(parts: list[np.ndarray | str], n: int) -> np.ndarray:
    """Concatenate byte matrices and literal strings column-wise into one (n, w) matrix."""
    cols = [
        np.broadcast_to(_text_bytes(p), (n, len(p.encode()))) if isinstance(p, str) else p
        for p in parts
    ]
    return np.concatenate(cols, axis=1) if cols else np.empty((n, 0), dtype=np.uint8)


def _ids(rows: list[tuple[np.ndarray, list[np.ndarray | str]]], n: int) -> pa.Array:
    """Strings whose layout depends on a group: [(row mask, parts)], left-aligned."""
    width = 0
    built = []
    for mask, parts in rows:
        rec = _fixed(parts, int(mask.sum()))
        built.append((mask, rec))
        width = max(width, rec.shape[1])
    out = np.zeros((n, width), dtype=np.uint8)
    length = np.zeros(n, dtype=np.int64)
    for mask, rec in built:
        out[mask, : rec.shape[1]] = rec
        length[mask] = rec.shape[1]
    return _strings(out, np.arange(width) < length[:, None])


_BOOL_WORDS = pa.array(["true", "false", "1", "0", "yes", "no", "TRUE", "FALSE", "True",
                        "False", "Yes", "No", None], type=pa.large_string())  # fmt: skip
_BOOL_STYLE_P = np.array([0.55, 0.17, 0.1, 0.08, 0.07, 0.03])


def _bools(value: np.ndarray, empty: np.ndarray, spelling: np.ndarray) -> pa.Array:
    code = np.where(empty, 12, spelling * 2 + (~value.astype(bool)).astype(np.int64))
    return _BOOL_WORDS.take(pa.array(code))


def _pick(pool: list[str | None], idx: np.ndarray) -> pa.Array:
    return pa.array(pool, type=pa.large_string()).take(pa.array(idx.astype(np.int64)))


def _replace(arr: pa.Array, rows: list[int], values: list[str | None]) -> pa.Array:
    """Set ``arr[rows] = values`` (rows unique)."""
    if not rows:
        return arr
    order = np.argsort(rows)
    mask = np.zeros(len(arr), dtype=bool)
    mask[np.asarray(rows)[order]] = True
    vals = pa.array([values[i] for i in order], type=arr.type)
    return pc.replace_with_mask(arr, pa.array(mask), vals)


def _frame(columns: dict[str, pa.Array], names: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(columns[c], dtype="str") for c in names}, copy=False)


def _layout(key: np.ndarray, n_all: int, dups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row order of the output (sorted by ``key``, exact copies next to their original) and,
    for each input row, its output position (the original's, for a copied row)."""
    rows = np.concatenate([np.arange(n_all), dups])
    order = rows[np.argsort(key[rows], kind="stable")]
    pos = np.empty(n_all, dtype=np.int64)
    pos[order[::-1]] = np.arange(len(order))[::-1]
    return order, pos


