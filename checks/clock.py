"""The SLA clock: every due time a rule needs, computed column-wise.

How time is read and counted (docs/spec.md) is what every deadline rule depends on, so it
lives in one place:

- a naive timestamp is local time of the profile's zone; a wall time that occurs twice (clocks
  going back) is its first occurrence, one that never occurs (clocks going forward) moves forward
  by the gap;
- a setting in days is calendar days in the profile's zone (same local clock time N days later),
  a setting in hours is elapsed hours;
- a business clock counts weekdays minus the profile's public holidays (for China: plus the
  statutory make-up working days, 调休); a clock started on a non-business day starts at the next
  business day's 00:00; N business days later is the same local clock time N business days on.

Inputs and outputs are pandas Series of tz-aware timestamps (any resolution); results are UTC,
indexed like the input, and NaT stays NaT. Everything is numpy/pandas vectorised: no Python
runs per row, so a million due times cost a fraction of a second.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

__all__ = [
    "BusinessCalendar",
    "add_business_days",
    "add_business_hours",
    "add_calendar_days",
    "add_duration",
    "add_hours",
    "business_calendar",
    "localize_naive",
    "no_reason_window_close",
]

#: Years a calendar covers when first built; a computation reaching outside is served by a
#: wider calendar built on demand (see ``_covering``).
DEFAULT_YEARS = (2000, 2035)
CALENDAR_NAMES = ("US", "CN")
ANCHORS = ("next_midnight", "delivery")


# --------------------------------------------------------------------------- local time


def localize_naive(naive: pd.Series, tz: str) -> pd.Series:
    """Read naive local wall times of ``tz`` as instants; return them in UTC.

    A wall time that occurs twice is its first occurrence; one that never occurs moves forward
    by the gap (America/Los_Angeles 2026-03-08 02:30 is read at the offset in force just before
    the gap, -08:00, which is 03:30 PDT = 10:30Z).
    """
    if not pd.api.types.is_datetime64_dtype(naive.dtype):
        naive = pd.to_datetime(naive)
    # ambiguous=True takes the offset in force before the transition, i.e. the first
    # occurrence, whether or not the transition is a DST one.
    first = np.ones(len(naive), dtype=bool)
    local = naive.dt.tz_localize(tz, ambiguous=first, nonexistent="NaT")
    utc = local.dt.tz_convert("UTC")
    gap = (utc.isna() & naive.notna()).to_numpy()
    if not gap.any():
        return utc
    # Positional, not label-aligned: the caller's index may repeat labels.
    values = utc.array.copy()
    values[gap] = _in_gap(naive[gap], tz).array
    return pd.Series(values, index=naive.index, name=naive.name)


def _in_gap(wall: pd.Series, tz: str) -> pd.Series:
    """UTC for wall times inside a forward gap, at the offset in force just before it.

    That is the offset a day earlier: no zone changes its offset twice within a day. (pandas'
    own ``nonexistent="shift_forward"`` assumes one-hour gaps and is wrong for Lord Howe's
    30-minute one.)
    """
    earlier = wall - pd.Timedelta(days=1)
    prior = earlier.dt.tz_localize(
        tz, ambiguous=np.ones(len(wall), dtype=bool), nonexistent="shift_forward"
    )
    offset = earlier - prior.dt.tz_convert("UTC").dt.tz_localize(None)
    return (wall - offset).dt.tz_localize("UTC")


def _local_naive(ts: pd.Series, tz: str) -> pd.Series:
    """Wall times in ``tz`` of tz-aware instants (naive input is an error, not a guess)."""
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        raise TypeError(f"expected tz-aware timestamps, got dtype {ts.dtype}")
    return ts.dt.tz_convert(tz).dt.tz_localize(None)


def _to_utc(ts: pd.Series) -> pd.Series:
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        raise TypeError(f"expected tz-aware timestamps, got dtype {ts.dtype}")
    return ts.dt.tz_convert("UTC")


# --------------------------------------------------------------------------- calendar clock


def add_hours(ts: pd.Series, hours: float) -> pd.Series:
    """Elapsed hours: ``ts + hours``, whatever the local clocks do meanwhile."""
    return _to_utc(ts) + pd.Timedelta(hours=hours)


def add_calendar_days(ts: pd.Series, days: int, tz: str) -> pd.Series:
    """The same local clock time ``days`` calendar days later in ``tz``.

    Across a DST change this is 23 or 25 elapsed hours per day crossed; a resulting wall time
    that occurs twice or never is read as ``localize_naive`` reads it.
    """
    return localize_naive(_local_naive(ts, tz) + pd.Timedelta(days=_whole(days)), tz)


def no_reason_window_close(delivered: pd.Series, days: int, tz: str, anchor: str) -> pd.Series:
    """When a no-reason return window closes (the profile's no_reason_return_window).

    ``anchor="next_midnight"`` (Tmall, JD): ``days`` days from 00:00 local of the day after
    delivery, e.g. delivered 2026-11-10 23:59 Asia/Shanghai, 7 days, closes 2026-11-18 00:00.
    ``anchor="delivery"`` (Amazon): ``days`` calendar days from the delivery instant.
    """
    if anchor == "delivery":
        return add_calendar_days(delivered, days, tz)
    if anchor != "next_midnight":
        raise ValueError(f"unknown window anchor {anchor!r}; expected one of {ANCHORS}")
    midnight = _local_naive(delivered, tz).dt.normalize()
    return localize_naive(midnight + pd.Timedelta(days=_whole(days) + 1), tz)


def _whole(days: float) -> int:
    if days != int(days):
        raise ValueError(f"a setting in days must be a whole number of days, got {days}")
    return int(days)


# --------------------------------------------------------------------------- business clock


@dataclass(frozen=True, eq=False)
class BusinessCalendar:
    """The business dates of one calendar over ``first_year``..``last_year``, sorted.

    Counting business days is then a ``searchsorted`` into ``dates``: the position of a date is
    its business-day number, and the n-th business day after it is ``dates[position + n]``.
    """

    name: str
    first_year: int
    last_year: int
    dates: np.ndarray  # datetime64[D], sorted, unique

    def is_business_day(self, days: np.ndarray) -> np.ndarray:
        """Vectorised membership test for datetime64[D] values (NaT is not a business day)."""
        days = np.asarray(days, dtype="datetime64[D]")
        pos = np.searchsorted(self.dates, days).clip(0, len(self.dates) - 1)
        return ~np.isnat(days) & (self.dates[pos] == days)


def business_calendar(name: str) -> BusinessCalendar:
    """The named business calendar over the default years (built once, then cached).

    ``"US"``: weekdays minus US federal public holidays (``holidays`` package, observed days
    included, as federal offices and banks close on them).
    ``"CN"``: China's working days per ``chinese_calendar``: weekdays minus statutory holidays
    plus the make-up working days (调休) that fall on weekends. Years outside the package's data
    (it is published a year at a time) fall back to plain weekdays.
    """
    return _build(name, *DEFAULT_YEARS)


@lru_cache(maxsize=32)
def _build(name: str, first_year: int, last_year: int) -> BusinessCalendar:
    if name not in CALENDAR_NAMES:
        raise ValueError(f"unknown business calendar {name!r}; expected one of {CALENDAR_NAMES}")
    span = np.arange(
        np.datetime64(f"{first_year}-01-01"),
        np.datetime64(f"{last_year + 1}-01-01"),
        dtype="datetime64[D]",
    )
    weekday = np.is_busday(span)  # Mon-Fri
    off, extra = _exceptions(name, first_year, last_year)
    business = (weekday & ~np.isin(span, off)) | np.isin(span, extra)
    return BusinessCalendar(name, first_year, last_year, span[business])


def _exceptions(name: str, first_year: int, last_year: int) -> tuple[np.ndarray, np.ndarray]:
    """(weekday dates that are not business days, weekend dates that are)."""
    if name == "US":
        import holidays

        off = list(holidays.US(years=range(first_year, last_year + 1)).keys())
        extra: list[dt.date] = []
    else:
        from chinese_calendar import constants

        off = [d for d in constants.holidays if first_year <= d.year <= last_year]
        extra = [d for d in constants.workdays if first_year <= d.year <= last_year]
    return np.array(off, dtype="datetime64[D]"), np.array(extra, dtype="datetime64[D]")


def _covering(calendar: str | BusinessCalendar, days: np.ndarray, ahead: float) -> BusinessCalendar:
    """A calendar of the same name covering ``days`` and ``ahead`` business days after them."""
    cal = calendar if isinstance(calendar, BusinessCalendar) else business_calendar(calendar)
    present = days[~np.isnat(days)]
    if present.size == 0:
        return cal
    lo = int(present.min().astype("datetime64[Y]").astype(int)) + 1970
    # A year has at least ~240 business days in any calendar here; one spare year for holidays.
    hi = int(present.max().astype("datetime64[Y]").astype(int)) + 1970 + int(ahead // 240) + 1
    if (cal.first_year <= lo and hi <= cal.last_year) or cal.name not in CALENDAR_NAMES:
        return cal  # a caller's own calendar cannot be widened; _span_error reports overruns
    # Round out to decades so that repeated calls share one cached calendar.
    return _build(cal.name, min(cal.first_year, lo - lo % 10), max(cal.last_year, hi + 9 - hi % 10))


def _span_error(cal: BusinessCalendar) -> ValueError:
    return ValueError(
        f"business calendar {cal.name!r} covers {cal.first_year}-{cal.last_year} only; "
        "the timestamps or the duration reach outside it"
    )


def _business_position(
    ts: pd.Series, tz: str, calendar: str | BusinessCalendar, ahead: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, BusinessCalendar, str]:
    """Where each instant sits on the business clock.

    Returns (missing mask, business-day number, time of day on that business day, calendar,
    resolution). A start on a non-business day is moved to the next business day's 00:00.
    """
    wall = _local_naive(ts, tz).to_numpy()
    unit = np.datetime_data(wall.dtype)[0]
    missing = np.isnat(wall)
    day = wall.astype("datetime64[D]")
    cal = _covering(calendar, day, ahead)
    pos = np.searchsorted(cal.dates, day)
    if day[~missing].size and day[~missing].min() < cal.dates[0]:
        raise _span_error(cal)
    on_business_day = ~missing & (cal.dates[pos.clip(0, len(cal.dates) - 1)] == day)
    time_of_day = np.where(on_business_day, wall - day.astype(wall.dtype), np.timedelta64(0, unit))
    pos[missing] = 0
    return missing, pos, time_of_day.astype(f"timedelta64[{unit}]"), cal, unit


def _from_position(
    missing: np.ndarray,
    pos: np.ndarray,
    time_of_day: np.ndarray,
    cal: BusinessCalendar,
    unit: str,
    index: pd.Index,
    tz: str,
) -> pd.Series:
    if pos[~missing].size and (pos[~missing].max() >= len(cal.dates) or pos[~missing].min() < 0):
        raise _span_error(cal)
    wall = cal.dates[np.where(missing, 0, pos)].astype(f"datetime64[{unit}]") + time_of_day
    wall[missing] = np.datetime64("NaT")
    return localize_naive(pd.Series(wall, index=index), tz)


def add_business_days(
    ts: pd.Series, days: int, tz: str, calendar: str | BusinessCalendar
) -> pd.Series:
    """The same local clock time ``days`` business days on, in ``tz``.

    A start on a non-business day is first moved to the next business day's 00:00, so a
    request on Saturday 15:00 with 2 business days is due Wednesday 00:00 (US calendar).
    """
    days = _whole(days)
    missing, pos, tod, cal, unit = _business_position(ts, tz, calendar, days)
    return _from_position(missing, pos + days, tod, cal, unit, ts.index, tz)


def add_business_hours(
    ts: pd.Series, hours: float, tz: str, calendar: str | BusinessCalendar
) -> pd.Series:
    """``hours`` hours on a clock that runs only on business days.

    Definition: each business day contributes the 24 hours of its local date (measured on the
    local wall clock), non-business days contribute nothing. A start on a non-business day is
    first moved to the next business day's 00:00. When the hours run out exactly at the end of a
    business day, the due time is the next business day's 00:00: no business time passes in
    between, so that is the latest instant at which the clock still reads ``hours``.
    E.g. Friday 10:00 + 38 business hours = Monday 24:00 = Tuesday 00:00 (no holiday).
    """
    missing, pos, tod, cal, unit = _business_position(ts, tz, calendar, hours / 24)
    day = np.timedelta64(1, "D").astype(f"timedelta64[{unit}]").astype(np.int64)
    step = pd.Timedelta(hours=hours).to_timedelta64().astype(f"timedelta64[{unit}]")
    # Count from the earliest business day in the batch so that nanosecond totals stay far
    # from int64 overflow however wide the calendar grows.
    base = pos.min() if pos.size else 0
    elapsed = (pos - base).astype(np.int64) * day + tod.astype(np.int64) + step.astype(np.int64)
    new_pos, rem = np.divmod(elapsed, day)
    return _from_position(
        missing, new_pos + base, rem.astype(f"timedelta64[{unit}]"), cal, unit, ts.index, tz
    )


# --------------------------------------------------------------------------- dispatch


def add_duration(
    ts: pd.Series,
    amount: float,
    unit: str,
    clock: str,
    tz: str,
    calendar: str | BusinessCalendar | None,
) -> pd.Series:
    """Due times for a profile setting: ``amount`` ``unit`` ("hours"/"days") on ``clock``.

    ``clock="calendar"``: hours are elapsed hours, days calendar days in ``tz``.
    ``clock="business"``: business hours/days on ``calendar`` (required).
    """
    if unit not in ("hours", "days"):
        raise ValueError(f"unknown duration unit {unit!r}; expected 'hours' or 'days'")
    if clock == "calendar":
        return add_hours(ts, amount) if unit == "hours" else add_calendar_days(ts, amount, tz)
    if clock != "business":
        raise ValueError(f"unknown clock {clock!r}; expected 'calendar' or 'business'")
    if calendar is None:
        raise ValueError("a business clock needs a calendar (e.g. 'US', 'CN')")
    if unit == "hours":
        return add_business_hours(ts, amount, tz, calendar)
    return add_business_days(ts, amount, tz, calendar)
