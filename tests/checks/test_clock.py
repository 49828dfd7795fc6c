"""The SLA clock (docs/spec.md, "The audit"): DST gaps and overlaps, calendar vs business days."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checks import clock

LA = "America/Los_Angeles"
SH = "Asia/Shanghai"


def utc(*values: str | None) -> pd.Series:
    """Instants from ISO strings with offsets (None → NaT)."""
    return pd.Series(pd.to_datetime(list(values), utc=True, format="ISO8601"))


def naive(*values: str | None) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values), format="ISO8601"))


def same_instants(actual: pd.Series, expected: pd.Series) -> None:
    assert str(actual.dt.tz) == "UTC"
    pd.testing.assert_series_equal(
        actual.dt.as_unit("ns").reset_index(drop=True),
        expected.dt.as_unit("ns").reset_index(drop=True),
        check_names=False,
    )


# --------------------------------------------------------------------------- localize_naive

LOCALIZE_CASES = [
    # (id, zone, naive wall time, UTC instant)
    ("overlap: first occurrence (PDT)", LA, "2026-11-01 01:30", "2026-11-01T08:30Z"),
    ("overlap start", LA, "2026-11-01 01:00", "2026-11-01T08:00Z"),
    ("after overlap", LA, "2026-11-01 02:00", "2026-11-01T10:00Z"),
    ("gap: forward by the gap", LA, "2026-03-08 02:30", "2026-03-08T10:30Z"),
    ("gap start", LA, "2026-03-08 02:00", "2026-03-08T10:00Z"),
    ("just before gap", LA, "2026-03-08 01:59", "2026-03-08T09:59Z"),
    ("gap end", LA, "2026-03-08 03:00", "2026-03-08T10:00Z"),
    ("no DST in Shanghai", SH, "2026-11-10 23:59", "2026-11-10T15:59Z"),
    # A standard-offset change (+04 → +03), not DST: still the first occurrence.
    ("non-DST overlap", "Europe/Moscow", "2014-10-26 01:30", "2014-10-25T21:30Z"),
    # A 30-minute gap: 02:15 read at +10:30 is 02:45 at +11:00.
    ("half-hour gap", "Australia/Lord_Howe", "2026-10-04 02:15", "2026-10-03T15:45Z"),
    ("half-hour overlap: first", "Australia/Lord_Howe", "2026-04-05 01:45", "2026-04-04T14:45Z"),
]


@pytest.mark.parametrize(
    ("zone", "wall", "expected"),
    [c[1:] for c in LOCALIZE_CASES],
    ids=[c[0] for c in LOCALIZE_CASES],
)
def test_localize_naive(zone: str, wall: str, expected: str) -> None:
    same_instants(clock.localize_naive(naive(wall), zone), utc(expected))


def test_localize_naive_keeps_index_nat_and_repeated_labels() -> None:
    walls = naive("2026-03-08 02:30", None, "2026-06-01 12:00", "2026-11-01 01:30")
    walls.index = ["a", "a", "b", "c"]
    result = clock.localize_naive(walls, LA)
    assert list(result.index) == ["a", "a", "b", "c"]
    assert result.isna().tolist() == [False, True, False, False]
    same_instants(result, utc("2026-03-08T10:30Z", None, "2026-06-01T19:00Z", "2026-11-01T08:30Z"))


def test_localize_naive_any_resolution() -> None:
    walls = naive("2026-03-08 02:30").dt.as_unit("s")
    same_instants(clock.localize_naive(walls, LA), utc("2026-03-08T10:30Z"))


# --------------------------------------------------------------------------- calendar days

CALENDAR_DAY_CASES = [
    # (id, zone, start, days, due)
    ("same local time across DST start (23 h)", LA, "2026-03-07T12:00-08:00", 1,
     "2026-03-08T12:00-07:00"),
    ("lands in the gap: forward", LA, "2026-03-07T02:30-08:00", 1, "2026-03-08T03:30-07:00"),
    ("lands in the overlap: first", LA, "2026-10-31T01:30-07:00", 1, "2026-11-01T01:30-07:00"),
    ("across DST end (25 h)", LA, "2026-10-31T12:00-07:00", 1, "2026-11-01T12:00-08:00"),
    ("Shanghai week", SH, "2026-11-10T23:59+08:00", 7, "2026-11-17T23:59+08:00"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("zone", "start", "days", "due"),
    [c[1:] for c in CALENDAR_DAY_CASES],
    ids=[c[0] for c in CALENDAR_DAY_CASES],
)
def test_add_calendar_days(zone: str, start: str, days: int, due: str) -> None:
    same_instants(clock.add_calendar_days(utc(start), days, zone), utc(due))


def test_add_hours_is_elapsed_time_across_dst() -> None:
    start = utc("2026-03-07T12:00-08:00", None)
    same_instants(clock.add_hours(start, 24), utc("2026-03-08T13:00-07:00", None))
    same_instants(clock.add_hours(start, 1.5), utc("2026-03-07T13:30-08:00", None))


def test_naive_timestamps_are_rejected() -> None:
    with pytest.raises(TypeError, match="tz-aware"):
        clock.add_calendar_days(naive("2026-01-01 00:00"), 1, SH)


def test_fractional_days_are_rejected() -> None:
    with pytest.raises(ValueError, match="whole number"):
        clock.add_calendar_days(utc("2026-01-01T00:00Z"), 1.5, SH)


# --------------------------------------------------------------------------- no-reason window

WINDOW_CASES = [
    # (id, zone, anchor, days, delivered, closes)
    ("Tmall 23:59 → day after +7", SH, "next_midnight", 7, "2026-11-10T23:59+08:00",
     "2026-11-18T00:00+08:00"),
    ("Tmall 00:01 → day after +7", SH, "next_midnight", 7, "2026-11-11T00:01+08:00",
     "2026-11-19T00:00+08:00"),
    ("Tmall midnight exactly", SH, "next_midnight", 7, "2026-11-11T00:00+08:00",
     "2026-11-19T00:00+08:00"),
    ("Amazon 30 days across DST end", LA, "delivery", 30, "2026-10-15T10:00-07:00",
     "2026-11-14T10:00-08:00"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("zone", "anchor", "days", "delivered", "closes"),
    [c[1:] for c in WINDOW_CASES],
    ids=[c[0] for c in WINDOW_CASES],
)
def test_no_reason_window_close(
    zone: str, anchor: str, days: int, delivered: str, closes: str
) -> None:
    result = clock.no_reason_window_close(utc(delivered, None), days, zone, anchor)
    same_instants(result, utc(closes, None))


def test_no_reason_window_unknown_anchor() -> None:
    with pytest.raises(ValueError, match="anchor"):
        clock.no_reason_window_close(utc("2026-11-10T00:00Z"), 7, SH, "shipment")


# --------------------------------------------------------------------------- business days

BUSINESS_DAY_CASES = [
    # (id, zone, calendar, start, days, due)
    ("US Fri +1 skips weekend", LA, "US", "2026-11-06T10:00-08:00", 1, "2026-11-09T10:00-08:00"),
    ("US Veterans Day", LA, "US", "2026-11-10T10:00-08:00", 1, "2026-11-12T10:00-08:00"),
    ("US Thanksgiving", LA, "US", "2026-11-25T10:00-08:00", 2, "2026-11-30T10:00-08:00"),
    ("US Saturday start → Mon 00:00", LA, "US", "2026-11-28T15:00-08:00", 2,
     "2026-12-02T00:00-08:00"),
    ("US start on the holiday", LA, "US", "2026-11-26T09:00-08:00", 1, "2026-11-30T00:00-08:00"),
    ("US zero days on Sunday", LA, "US", "2026-11-29T09:00-08:00", 0, "2026-11-30T00:00-08:00"),
    ("US across DST start", LA, "US", "2026-03-06T10:00-08:00", 1, "2026-03-09T10:00-07:00"),
    ("US observed Independence Day", LA, "US", "2026-07-02T10:00-07:00", 1,
     "2026-07-06T10:00-07:00"),
    ("CN make-up Saturday is a workday", SH, "CN", "2025-10-09T10:00+08:00", 2,
     "2025-10-11T10:00+08:00"),
    ("CN National Day holiday skipped", SH, "CN", "2025-09-30T18:00+08:00", 1,
     "2025-10-09T18:00+08:00"),
    ("CN start in the holiday → next workday 00:00", SH, "CN", "2025-10-04T10:00+08:00", 1,
     "2025-10-10T00:00+08:00"),
    ("CN make-up Sunday before National Day", SH, "CN", "2025-09-26T10:00+08:00", 1,
     "2025-09-28T10:00+08:00"),
    ("CN Spring Festival make-up Sunday", SH, "CN", "2025-01-24T10:00+08:00", 1,
     "2025-01-26T10:00+08:00"),
    ("CN Spring Festival make-up Saturday", SH, "CN", "2025-02-07T10:00+08:00", 1,
     "2025-02-08T10:00+08:00"),
    ("CN ordinary weekend", SH, "CN", "2025-11-07T10:00+08:00", 1, "2025-11-10T10:00+08:00"),
    ("local date, not UTC date", SH, "CN", "2025-11-07T23:30+08:00", 1,
     "2025-11-10T23:30+08:00"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("zone", "calendar", "start", "days", "due"),
    [c[1:] for c in BUSINESS_DAY_CASES],
    ids=[c[0] for c in BUSINESS_DAY_CASES],
)
def test_add_business_days(zone: str, calendar: str, start: str, days: int, due: str) -> None:
    result = clock.add_business_days(utc(start, None), days, zone, calendar)
    same_instants(result, utc(due, None))


BUSINESS_HOUR_CASES = [
    # (id, zone, calendar, start, hours, due)
    ("runs out at day end → next business day 00:00", LA, "US", "2026-11-25T10:00-08:00", 38,
     "2026-11-30T00:00-08:00"),
    ("one hour into Monday", LA, "US", "2026-11-25T10:00-08:00", 39, "2026-11-30T01:00-08:00"),
    ("Saturday start", LA, "US", "2026-11-28T15:00-08:00", 48, "2026-12-02T00:00-08:00"),
    ("fraction of an hour", LA, "US", "2026-11-20T10:00-08:00", 0.5, "2026-11-20T10:30-08:00"),
    ("CN into the make-up Saturday", SH, "CN", "2025-10-09T20:00+08:00", 30,
     "2025-10-11T02:00+08:00"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("zone", "calendar", "start", "hours", "due"),
    [c[1:] for c in BUSINESS_HOUR_CASES],
    ids=[c[0] for c in BUSINESS_HOUR_CASES],
)
def test_add_business_hours(zone: str, calendar: str, start: str, hours: float, due: str) -> None:
    result = clock.add_business_hours(utc(start, None), hours, zone, calendar)
    same_instants(result, utc(due, None))


def test_business_clock_keeps_index() -> None:
    start = utc("2026-11-25T18:00Z", None, "2026-11-28T23:00Z")
    start.index = [10, 10, 3]
    for result in (
        clock.add_business_days(start, 2, LA, "US"),
        clock.add_business_hours(start, 5, LA, "US"),
    ):
        assert list(result.index) == [10, 10, 3]
        assert result.isna().tolist() == [False, True, False]


def test_business_calendars() -> None:
    us, cn = clock.business_calendar("US"), clock.business_calendar("CN")
    assert clock.business_calendar("US") is us  # cached
    days = np.array(["2026-11-26", "2026-11-27", "2026-11-28"], dtype="datetime64[D]")
    assert us.is_business_day(days).tolist() == [False, True, False]
    days = np.array(["2025-10-01", "2025-10-11", "2025-10-12", "NaT"], dtype="datetime64[D]")
    assert cn.is_business_day(days).tolist() == [False, True, False, False]
    # Beyond chinese_calendar's published years: plain weekdays.
    days = np.array(["2035-10-01", "2035-10-06"], dtype="datetime64[D]")
    assert cn.is_business_day(days).tolist() == [True, False]
    with pytest.raises(ValueError, match="calendar"):
        clock.business_calendar("FR")


def test_dates_outside_the_default_years_widen_the_calendar() -> None:
    start = utc("1990-06-01T10:00-07:00", "2060-12-31T10:00-08:00")
    result = clock.add_business_days(start, 1, LA, "US")
    # 1990-06-01 is a Friday. 2060-12-31 is a Friday too, but New Year's Day (observed): the
    # clock starts on Monday 2061-01-03 00:00.
    same_instants(result, utc("1990-06-04T10:00-07:00", "2061-01-04T00:00-08:00"))


def test_add_duration_dispatch() -> None:
    start = utc("2026-11-25T18:00Z", "2026-03-07T10:30Z")
    cases = {
        ("hours", "calendar"): clock.add_hours(start, 48),
        ("days", "calendar"): clock.add_calendar_days(start, 2, LA),
        ("hours", "business"): clock.add_business_hours(start, 48, LA, "US"),
        ("days", "business"): clock.add_business_days(start, 2, LA, "US"),
    }
    for (unit, kind), expected in cases.items():
        same_instants(clock.add_duration(start, 2 if unit == "days" else 48, unit, kind, LA, "US"),
                      expected)  # fmt: skip
    assert clock.add_duration(start, 48, "hours", "calendar", LA, None).notna().all()


@pytest.mark.parametrize(
    ("unit", "kind", "calendar", "message"),
    [
        ("weeks", "calendar", None, "unit"),
        ("days", "lunar", None, "clock"),
        ("days", "business", None, "needs a calendar"),
    ],
)
def test_add_duration_rejects(unit: str, kind: str, calendar: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        clock.add_duration(utc("2026-01-01T00:00Z"), 1, unit, kind, LA, calendar)


# --------------------------------------------------------------------------- properties

instants = st.datetimes(
    min_value=pd.Timestamp("2004-01-01").to_pydatetime(),
    max_value=pd.Timestamp("2030-12-31").to_pydatetime(),
)


@settings(max_examples=200, deadline=None)
@given(
    starts=st.lists(instants, min_size=1, max_size=20),
    days=st.integers(min_value=0, max_value=30),
    profile=st.sampled_from([(LA, "US"), (SH, "CN")]),
)
def test_business_days_equal_24_business_hours_each(starts, days, profile) -> None:
    zone, name = profile
    start = pd.Series(pd.to_datetime(starts)).dt.tz_localize("UTC")
    by_days = clock.add_business_days(start, days, zone, name)
    by_hours = clock.add_business_hours(start, 24 * days, zone, name)
    same_instants(by_days, by_hours)
    assert (by_days >= start).all()
    local_days = by_days.dt.tz_convert(zone).dt.tz_localize(None).to_numpy("datetime64[D]")
    assert clock.business_calendar(name).is_business_day(local_days).all()


# --------------------------------------------------------------------------- speed


@pytest.mark.slow
@pytest.mark.parametrize(
    "compute",
    [
        lambda ts: clock.add_calendar_days(ts, 30, LA),
        lambda ts: clock.add_business_days(ts, 2, LA, "US"),
        lambda ts: clock.add_business_days(ts, 2, SH, "CN"),
    ],
    ids=["calendar_days", "business_days_US", "business_days_CN"],
)
def test_a_million_due_times_agree_with_the_first_thousand(compute) -> None:
    """A million start times at once give, row by row, what the same rows give in a small
    batch (the vectorised path has no size-dependent shortcut). (Its time is measured by
    bench/rules_speed.py.)"""
    rng = np.random.default_rng(7)
    offsets = rng.integers(0, 3 * 365 * 86_400, 1_000_000).astype("timedelta64[s]")
    ts = pd.Series(pd.DatetimeIndex(np.datetime64("2024-01-01", "s") + offsets, tz="UTC"))
    result = compute(ts)
    assert len(result) == len(ts) and (result > ts).all()
    head = compute(ts.head(1000))
    assert (result.head(1000).to_numpy() == head.to_numpy()).all()


@pytest.mark.parametrize("values", [[], [None, None]], ids=["empty", "all NaT"])
def test_nothing_in_nothing_out(values: list) -> None:
    start = pd.Series(pd.to_datetime(values, utc=True), dtype="datetime64[ns, UTC]")
    results = [
        clock.add_hours(start, 1),
        clock.add_calendar_days(start, 1, SH),
        clock.no_reason_window_close(start, 7, SH, "next_midnight"),
        clock.add_business_days(start, 1, SH, "CN"),
        clock.add_business_hours(start, 1, LA, "US"),
    ]
    for result in results:
        assert len(result) == len(values)
        assert result.isna().all()
        assert str(result.dt.tz) == "UTC"


def test_a_custom_calendar_object_is_accepted_within_its_years() -> None:
    weekdays = np.arange("2026-01-01", "2027-01-01", dtype="datetime64[D]")
    custom = clock.BusinessCalendar("weekdays", 2026, 2026, weekdays[np.is_busday(weekdays)])
    start = utc("2026-11-26T10:00-08:00")  # Thanksgiving is a business day here
    same_instants(clock.add_business_days(start, 1, LA, custom), utc("2026-11-27T10:00-08:00"))
    for outside in ("2030-01-02T10:00Z", "2025-06-02T10:00Z", "2026-12-31T10:00Z"):
        with pytest.raises(ValueError, match="covers 2026-2026 only"):
            clock.add_business_days(utc(outside), 1, LA, custom)
