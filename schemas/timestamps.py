"""Parsing the contract's timestamps (CONTRACT §2) into tz-aware UTC.

With an offset (or ``Z``) a value means that instant; without one it is local time in the
zone of the row's platform profile. A local time that occurs twice (clocks going back) is its
first occurrence; one that never occurs (clocks going forward) moves forward by the gap.
Everything inside the project is UTC; local time only at the edges.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

UNIT = "us"
UTC_DTYPE = pd.DatetimeTZDtype(unit=UNIT, tz="UTC")

# An offset only counts after a time of day, so "2026-11-12" (ends in "-12") stays naive.
_OFFSET_RE = r"[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?[ ]?(?:[Zz]|[+-][0-9]{2}(?::?[0-9]{2})?)$"


def localize_naive(naive: pd.Series, tz: str) -> pd.Series:
    """Naive local wall times in ``tz`` → UTC, with the contract's DST rules."""
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
    """Parse a column of timestamps; return (UTC series, mask of present-but-unparseable).

    ``values`` may be strings or already-typed datetimes (Parquet). ``zones`` gives the IANA
    zone of each row (or one zone for all) for naive values. ``clean``: the strings are
    already stripped with empty ones missing (the validation's text columns), so that pass is
    skipped.
    """
    n = len(values)
    out = pd.Series(pd.NaT, index=values.index, dtype=UTC_DTYPE)
    if n == 0:
        return out, pd.Series(False, index=values.index)
    if isinstance(zones, str):
        zones = pd.Series(zones, index=values.index)
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").astype(UTC_DTYPE), pd.Series(False, index=values.index)
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return _localize_by_zone(values, zones), pd.Series(False, index=values.index)

    if clean and values.dtype == "str":
        s = values
    else:
        s = values.astype("str").str.strip()
        s = s.where(s.notna() & (s != ""), None)
    present = s.notna().to_numpy(dtype=bool)
    has_off = present & s.str.contains(_OFFSET_RE, regex=True).fillna(False).to_numpy(
        dtype=bool)
    # The instants are gathered by position as naive UTC wall times and made tz-aware once:
    # assigning into a Series by mask aligns indexes, ~0.15 s per million values per part.
    utc = np.full(n, np.datetime64("NaT"), dtype=f"datetime64[{UNIT}]")
    if has_off.any():
        aware = _safe_to_datetime(s[has_off], utc=True)
        utc[has_off] = aware.astype(UTC_DTYPE).dt.tz_localize(None).to_numpy()
    naive_mask = present & ~has_off
    if naive_mask.any():
        naive = _safe_to_datetime(s[naive_mask], utc=False)
        if isinstance(naive.dtype, pd.DatetimeTZDtype):  # defensive: mixed input
            naive = naive.dt.tz_convert("UTC").dt.tz_localize(None)
        utc[naive_mask] = _utc_walls(naive, zones[naive_mask])
    out = pd.Series(utc, index=values.index).dt.tz_localize("UTC").astype(UTC_DTYPE)
    bad = pd.Series(present & np.isnat(utc), index=values.index)
    return out, bad


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


def _safe_to_datetime(s: pd.Series, *, utc: bool) -> pd.Series:
    """ISO 8601 parse; a value pandas rejects as a whole column (e.g. an offset after an
    hour-only time, "2026-11-12T10+08:00", read among naive values) becomes NaT for that row
    only, so it is quarantined instead of failing the run."""
    try:
        return pd.to_datetime(s, format="ISO8601", utc=utc, errors="coerce")
    except (ValueError, TypeError):
        def one(v):
            try:
                t = pd.Timestamp(v)
            except (ValueError, TypeError):
                return pd.NaT
            if utc:
                return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
            return pd.NaT if t.tzinfo is not None else t
        out = s.map(one)
        return pd.to_datetime(out, utc=utc) if utc else pd.to_datetime(out)
