"""Timestamps: the accepted forms, one verdict per value whatever its neighbours, and the
accepted years (docs/spec.md, "Timestamps").

Expected instants are worked by hand: Asia/Shanghai is +08:00 all year; America/Los_Angeles
is -07:00 in summer time (2026-03-08 .. 2026-11-01) and -08:00 otherwise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import schemas.timestamps as timestamps
from schemas.timestamps import parse_column, parse_columns, parse_timestamps

SH = "Asia/Shanghai"
LA = "America/Los_Angeles"


def one(value: str | None, zone: str = SH, open_end: bool = False):
    p = parse_column(pd.Series([value], dtype="str"), zone, open_end=open_end)
    return p.values.iloc[0], bool(p.malformed.iloc[0]), bool(p.out_of_range.iloc[0])


@pytest.mark.parametrize(("text", "zone", "utc"), [
    ("2026-11-10", SH, "2026-11-09T16:00:00"),
    ("2026-11-10T10:00", SH, "2026-11-10T02:00:00"),
    ("2026-11-10 10:00", SH, "2026-11-10T02:00:00"),
    ("2026-11-10T10:00:30", LA, "2026-11-10T18:00:30"),
    ("2026-07-10 10:00:30", LA, "2026-07-10T17:00:30"),
    ("2026-11-10T10:00:00.5", SH, "2026-11-10T02:00:00.500000"),
    ("2026-11-10T10:00:00.123456789Z", SH, "2026-11-10T10:00:00.123456"),  # µs kept
    ("2026-11-10T10:00Z", LA, "2026-11-10T10:00:00"),
    ("2026-11-10T10:00:00+08:00", LA, "2026-11-10T02:00:00"),
    ("2026-11-10T10:00:00+0800", LA, "2026-11-10T02:00:00"),
    ("2026-11-10T10:00+08", LA, "2026-11-10T02:00:00"),
    ("2026-11-10T10:00:00-05:30", SH, "2026-11-10T15:30:00"),
    ("2026-11-10T10:00:00-00:00", SH, "2026-11-10T10:00:00"),
    ("1900-01-01T00:00:00Z", SH, "1900-01-01T00:00:00"),
    ("2261-12-31T23:59:59Z", SH, "2261-12-31T23:59:59"),
])
def test_accepted_forms(text, zone, utc):
    value, malformed, out = one(text, zone)
    assert (malformed, out) == (False, False)
    assert value == pd.Timestamp(utc, tz="UTC")


@pytest.mark.parametrize("text", [
    "now", "today", "yesterday", "NOW",
    "11/10/2026 10:00", "10/11/2026", "Nov 10 2026 10am", "10 Nov 2026",
    "Tue, 10 Nov 2026 10:00:00 +0800",       # RFC 2822
    "2026-11-10T10+08:00",                  # an hour without minutes
    "2026-11-10T10",
    "2026-11-10T10:00:00,5",                # comma fraction
    "2026-11-10t10:00:00z",                 # lower-case designators
    "2026-11-10T10:00:00 +08:00",           # space before the offset
    "2026-11-10+08:00",                     # an offset without a time
    "2026-11-10T10:00:00+25:00",
    "2026-11-10T24:00:00", "2026-11-10T10:60", "2026-11-10T10:00:60",
    "2026-02-30", "2026-13-01", "20261110", "2026/11/10 10:00:00",
    "2026-11-10T10:00:00.1234567891",       # ten fraction digits
    "1e10", "T10:00", "٢٠٢٦-١١-١٠", "２０２６-１１-１０",
])
def test_rejected_forms_are_malformed(text):
    value, malformed, out = one(text)
    assert (malformed, out) == (True, False)
    assert pd.isna(value)


@pytest.mark.parametrize(("text", "utc"), [
    # month ends and leap days (Gregorian: 2024 and 2000 are leap years, 1900 and 2100 not)
    ("2024-02-29T12:00:00Z", "2024-02-29T12:00:00"),
    ("2000-02-29T00:00:00Z", "2000-02-29T00:00:00"),
    ("2026-01-31T00:00:00Z", "2026-01-31T00:00:00"),
    ("2026-04-30T00:00:00Z", "2026-04-30T00:00:00"),
    ("2026-12-31T23:59:59+08:00", "2026-12-31T15:59:59"),
    ("2026-03-01T00:30:00+01:00", "2026-02-28T23:30:00"),
    # a fraction below a microsecond is cut off, towards the past, before 1970 too
    ("1965-01-01T00:00:00.0000005Z", "1965-01-01T00:00:00"),
    ("1969-12-31T23:59:59.9999999Z", "1969-12-31T23:59:59.999999"),
    ("2026-11-10T10:00:00.9999995Z", "2026-11-10T10:00:00.999999"),
])
def test_calendar_edges(text, utc):
    value, malformed, out = one(text)
    assert (malformed, out) == (False, False)
    assert value == pd.Timestamp(utc, tz="UTC")


@pytest.mark.parametrize("text", [
    "2023-02-29", "1900-02-29T00:00:00Z", "2100-02-29 10:00", "2026-04-31",
    "2026-06-31T10:00:00+08:00", "2026-09-31", "2026-11-31T00:00", "2026-02-30T10:00:00Z",
])
def test_days_past_the_end_of_their_month_are_malformed(text):
    value, malformed, out = one(text)
    assert (malformed, out) == (True, False)
    assert pd.isna(value)


def test_an_impossible_date_among_valid_values_spoils_only_itself():
    p = parse_column(pd.Series(["2026-02-28T10:00:00Z", "2026-02-30T10:00:00Z",
                                "2026-03-01", "2023-02-29 10:00", None], dtype="str"), SH)
    assert p.malformed.tolist() == [False, True, False, True, False]
    assert p.values.iloc[0] == pd.Timestamp("2026-02-28T10:00:00", tz="UTC")
    assert p.values.iloc[2] == pd.Timestamp("2026-02-28T16:00:00", tz="UTC")  # +08:00 midnight


@pytest.mark.parametrize("text", [
    "9999-12-31 23:59:59", "9999-12-31T23:59:59Z", "0001-01-01", "0001-01-01T00:00:00",
    "1899-12-31T23:59:59Z", "2262-01-01", "2262-04-12T00:00:00",
    "1677-09-21", "0000-01-01",
])
def test_out_of_range_years(text):
    value, malformed, out = one(text)
    assert (malformed, out) == (False, True)
    assert pd.isna(value)


@pytest.mark.parametrize(("text", "out_of_range"), [
    ("9999-12-31 23:59:59", False),   # far future: no end
    ("2262-01-01", False),
    ("0001-01-01", True),             # far past is not an end marker
])
def test_open_end_column_reads_far_future_as_no_end(text, out_of_range):
    value, malformed, out = one(text, open_end=True)
    assert pd.isna(value)
    assert (malformed, out) == (False, out_of_range)


def test_empty_and_missing_values_are_neither():
    p = parse_column(pd.Series(["", "  ", None], dtype="str"), SH)
    assert p.values.isna().all()
    assert not p.malformed.any() and not p.out_of_range.any()


@pytest.mark.parametrize("unit", ["s", "ms", "us"])
def test_typed_parquet_values_out_of_range(unit):
    raw = np.array(["2026-11-10T10:00:00", "9999-12-31T23:59:59", "0001-01-01T00:00:00"],
                   dtype=f"datetime64[{unit}]")
    naive = pd.Series(raw)
    p = parse_column(naive, SH)
    assert p.values.iloc[0] == pd.Timestamp("2026-11-10T02:00:00Z")
    assert p.values.iloc[1:].isna().all()
    assert p.out_of_range.tolist() == [False, True, True]
    assert not p.malformed.any()
    aware = pd.Series(raw).dt.tz_localize("UTC")
    q = parse_column(aware, SH, open_end=True)
    assert q.values.iloc[0] == pd.Timestamp("2026-11-10T10:00:00Z")
    assert q.out_of_range.tolist() == [False, False, True]  # 9999 is "no end" here


def test_the_two_value_form_is_still_the_old_api():
    values, bad = parse_timestamps(pd.Series(["2026-11-10", "now", "9999-01-01"]), SH)
    assert bad.tolist() == [False, True, True]
    assert values.iloc[0] == pd.Timestamp("2026-11-09T16:00:00Z")


# --------------------------------------------------------------------------- neighbours

POOL = [
    "2026-11-10T10+08:00", "2026-11-10T10:00:00+08:00", "2026-11-10 10:00:00",
    "2026-11-10", "11/10/2026 10:00", "Nov 10 2026 10am", "10/11/2026",
    "Tue, 10 Nov 2026 10:00:00 +0800", "now", "today", "9999-12-31 23:59:59",
    "0001-01-01", "2026-11-05T10:00:00.123456789+08:00", "2026-11-05T10:00:00.123456789",
    "2026-11-10T10:00Z", "2026-11-10T10:00+0800", "2026-02-30", "", None, "garbage",
    "2026-03-08T02:30:00", "2026-11-01T01:30:00",
]
VALUES = st.one_of(st.sampled_from(POOL), st.text(max_size=30))


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(target=VALUES, before=st.lists(VALUES, max_size=6), after=st.lists(VALUES, max_size=6),
       zone=st.sampled_from([SH, LA]), open_end=st.booleans())
def test_a_values_verdict_does_not_depend_on_its_neighbours(target, before, after, zone,
                                                           open_end):
    alone = parse_column(pd.Series([target], dtype="str"), zone, open_end=open_end)
    among = parse_column(pd.Series([*before, target, *after], dtype="str"), zone,
                         open_end=open_end)
    i = len(before)
    got = (among.values.iloc[i], bool(among.malformed.iloc[i]),
           bool(among.out_of_range.iloc[i]))
    want = (alone.values.iloc[0], bool(alone.malformed.iloc[0]),
            bool(alone.out_of_range.iloc[0]))
    assert got[1:] == want[1:]
    assert (pd.isna(got[0]) and pd.isna(want[0])) or got[0] == want[0]


def test_the_odd_values_of_the_probe_among_an_hour_only_offset():
    """The report's case: one hour-only offset value used to switch the column to lenient
    parsing; every other value here is rejected alone, and stays rejected."""
    col = ["2026-11-10T10+08:00", "11/10/2026 10:00", "Nov 10 2026 10am",
           "Tue, 10 Nov 2026 10:00:00 +0800", "10/11/2026", "now",
           "2026-11-05T10:00:00.123456789+08:00", "0001-01-01", "2026-11-10T10:00:00+08:00"]
    p = parse_column(pd.Series(col, dtype="str"), SH)
    assert p.malformed.tolist() == [True] * 6 + [False, False, False]
    assert p.out_of_range.tolist() == [False] * 7 + [True, False]
    assert p.values.iloc[6] == pd.Timestamp("2026-11-05T02:00:00.123456Z")
    assert p.values.iloc[8] == pd.Timestamp("2026-11-10T02:00:00Z")


# --------------------------------------------------------------------------- several columns

#: Rows 10..14 (an index that is not 0..n-1), each in its own zone.
ROWS = pd.Index([10, 11, 12, 13, 14])
ZONES = pd.Series([SH, LA, SH, LA, SH], index=ROWS)
MIX = {
    # accepted (Shanghai +08:00, Los Angeles -07:00 in summer), rejected, impossible, empty
    "a": ["2026-11-10T10:00", "2026-07-10 10:00:30", "now", "2026-02-30", None],
    # far years (not an open-end column: out of range), an offset, blank, a wall time in
    # Los Angeles' spring-forward gap... read in Shanghai (no gap there)
    "b": ["9999-12-31", "0001-01-01", "2026-11-10T10:00:00+08:00", "  ", "2026-03-08T02:30:00"],
    # open end: a far-future value is "no end", a far-past one is still out of range
    "c": ["9999-12-31 23:59:59", "0001-01-01", "2262-01-01", "2024-02-29", "2026-11-01T01:30"],
    # ... and a row of Los Angeles' gap itself
    "d": ["2026-03-08T09:00:00Z", "2026-03-08T02:30:00", "2026-11-10T10:00:00.5+0800",
          "11/10/2026", "2026-04-31"],
}
NAT = None
EXPECTED = {  # (UTC instant or None, malformed, out of range), worked out by hand
    "a": [("2026-11-10T02:00:00", False, False), ("2026-07-10T17:00:30", False, False),
          (NAT, True, False), (NAT, True, False), (NAT, False, False)],
    "b": [(NAT, False, True), (NAT, False, True), ("2026-11-10T02:00:00", False, False),
          (NAT, False, False), ("2026-03-07T18:30:00", False, False)],
    "c": [(NAT, False, False), (NAT, False, True), (NAT, False, False),
          ("2024-02-29T08:00:00", False, False), ("2026-10-31T17:30:00", False, False)],
    # 02:30 does not occur in Los Angeles on 2026-03-08: moved forward by the gap, 03:30
    # PDT (-07:00) = 10:30Z
    "d": [("2026-03-08T09:00:00", False, False), ("2026-03-08T10:30:00", False, False),
          ("2026-11-10T02:00:00.5", False, False), (NAT, True, False), (NAT, True, False)],
}


def _mix() -> dict[str, pd.Series]:
    return {c: pd.Series(v, index=ROWS, dtype="str") for c, v in MIX.items()}


def _as_tuples(p) -> list[tuple]:
    return [(None if pd.isna(v) else v, bool(m), bool(o))
            for v, m, o in zip(p.values, p.malformed, p.out_of_range, strict=True)]


def _want(column: str) -> list[tuple]:
    return [(None if v is None else pd.Timestamp(v, tz="UTC"), m, o)
            for v, m, o in EXPECTED[column]]


def test_several_columns_read_together_as_each_alone(monkeypatch):
    calls = []
    real = timestamps._parse_text
    monkeypatch.setattr(timestamps, "_parse_text",
                        lambda *a: calls.append(len(a[0])) or real(*a))
    got = parse_columns(_mix(), ZONES, open_end={"c"})
    assert calls == [20]  # the four columns, one after another, in one read
    assert list(got) == ["a", "b", "c", "d"]
    for c in MIX:
        assert _as_tuples(got[c]) == _want(c), c
        alone = parse_column(_mix()[c], ZONES, open_end=c == "c")
        pd.testing.assert_series_equal(got[c].values, alone.values)
        pd.testing.assert_series_equal(got[c].malformed, alone.malformed)
        pd.testing.assert_series_equal(got[c].out_of_range, alone.out_of_range)
        assert got[c].values.dtype == "datetime64[us, UTC]"
        assert got[c].values.index.equals(ROWS)


def test_several_columns_above_the_batch_size_are_read_one_by_one(monkeypatch):
    monkeypatch.setattr(timestamps, "BATCH_VALUES", 19)  # 4 columns × 5 rows = 20
    calls = []
    real = timestamps._parse_text
    monkeypatch.setattr(timestamps, "_parse_text",
                        lambda *a: calls.append(len(a[0])) or real(*a))
    got = parse_columns(_mix(), ZONES, open_end={"c"})
    assert calls == [5, 5, 5, 5]
    for c in MIX:
        assert _as_tuples(got[c]) == _want(c), c


def test_typed_columns_among_text_ones_keep_their_own_path():
    cols = _mix()
    cols["t"] = pd.Series(np.array(["2026-11-10T10:00:00", "9999-12-31T00:00:00", None, None,
                                    "1800-01-01T00:00:00"], dtype="datetime64[s]"),
                          index=ROWS)
    got = parse_columns(cols, ZONES, open_end={"c", "t"})
    assert list(got) == ["a", "b", "c", "d", "t"]
    for c in MIX:
        assert _as_tuples(got[c]) == _want(c), c
    # naive Parquet times in the row's zone; 9999 is "no end" here, 1800 out of range
    assert _as_tuples(got["t"]) == [(pd.Timestamp("2026-11-10T02:00:00Z"), False, False),
                                    (None, False, False), (None, False, False),
                                    (None, False, False), (None, False, True)]


def test_one_zone_for_all_and_empty_tables():
    got = parse_columns({"a": pd.Series(["2026-11-10T10:00", "bad"], dtype="str"),
                         "b": pd.Series(["2026-11-10", None], dtype="str")}, LA)
    assert _as_tuples(got["a"]) == [(pd.Timestamp("2026-11-10T18:00:00Z"), False, False),
                                    (None, True, False)]
    assert _as_tuples(got["b"]) == [(pd.Timestamp("2026-11-10T08:00:00Z"), False, False),
                                    (None, False, False)]
    empty = parse_columns({"a": pd.Series([], dtype="str"), "b": pd.Series([], dtype="str")},
                          SH)
    assert [len(p.values) for p in empty.values()] == [0, 0]
