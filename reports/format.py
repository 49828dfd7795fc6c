"""Turning data values into the short strings a person reads: times in a zone with their UTC
offset, numbers, KPI values, evidence values.

Kept apart from the page builders so the mail body and the pages format a value the same
way, and so the cost of a page stays in the few values it shows (every helper takes one
value; nothing here touches a whole frame).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

MAX_TEXT = 200  # characters of one value shown; the rest is in the CSV / the source
TIME_FMT = "%Y-%m-%d %H:%M"


def missing(value: Any) -> bool:
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def is_bool(value: Any) -> bool:
    return isinstance(value, bool | np.bool_)


def is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not is_bool(value) and not missing(value)


def as_float(value: Any) -> float | None:
    if missing(value):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


def text(value: Any) -> str:
    return "" if missing(value) else str(value)


def truncate(value: str, limit: int = MAX_TEXT) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


@lru_cache(maxsize=64)
def zoneinfo(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError, TypeError):
        return None


def valid_zone(name: Any) -> bool:
    return isinstance(name, str) and bool(name) and zoneinfo(name) is not None


def to_utc(value: Any) -> pd.Timestamp | None:
    """A UTC timestamp from a Timestamp/datetime/ISO string; naive values are taken as UTC."""
    if missing(value) or value == "":
        return None
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        return None
    if ts is pd.NaT:
        return None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _local(ts: Any, zone: str) -> datetime | None:
    if ts is None or missing(ts):
        return None
    if isinstance(ts, pd.Timestamp):
        seconds = ts.value / 1e9 if ts.tzinfo is None else ts.timestamp()
    elif isinstance(ts, datetime):
        seconds = (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).timestamp()
    else:
        return None
    # through the epoch and zoneinfo: ten times faster than Timestamp.tz_convert per value
    return datetime.fromtimestamp(seconds, zoneinfo(zone) or UTC)


def offset(local: datetime) -> str:
    """``UTC+08:00`` / ``UTC-08:00`` of an aware datetime."""
    delta = local.utcoffset()
    minutes = int(delta.total_seconds() // 60) if delta is not None else 0
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def fmt_time(ts: Any, zone: str, fmt: str = TIME_FMT) -> str:
    """Local wall time of an instant, without the offset (for columns whose header names it)."""
    local = _local(ts, zone)
    if local is None:
        return "" if ts is None or missing(ts) else text(ts)
    return local.strftime(fmt)


def fmt_local(ts: Any, zone: str, fmt: str = TIME_FMT) -> str:
    """``2026-11-20 14:00 (UTC+08:00)``: local wall time with its offset, so a reader in
    another zone can still place it. Empty for a missing value."""
    local = _local(ts, zone)
    if local is None:
        return "" if ts is None or missing(ts) else text(ts)
    return f"{local.strftime(fmt)} ({offset(local)})"


def zone_offset(ts: Any, zone: str) -> str:
    local = _local(ts, zone)
    return offset(local) if local is not None else ""


def fmt_hours(hours: float) -> str:
    """``6 h`` / ``1.5 h`` / ``3 d 4 h`` — what is left or how late, rounded for reading."""
    h = abs(hours)
    if h >= 48:
        days, rest = divmod(round(h), 24)
        return f"{days} d {rest} h" if rest else f"{days} d"
    return f"{h:.1f}".rstrip("0").rstrip(".") + " h"


def fmt_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def fmt_kpi(value: float | None, is_rate: bool) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.2f}%" if is_rate else fmt_number(value)


def fmt_value(value: Any, zone: str, yes: str = "yes", no: str = "no") -> str:
    """One evidence value: text truncated, times local with offset, lists joined."""
    if isinstance(value, str):
        return truncate(value)
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return truncate(", ".join(fmt_value(v, zone, yes, no) for v in items))
    if isinstance(value, Mapping):
        return truncate(", ".join(f"{k}={fmt_value(v, zone, yes, no)}" for k, v in value.items()))
    if missing(value):
        return "—"
    if isinstance(value, datetime):  # pd.Timestamp included
        return fmt_local(value, zone) or "—"
    if is_bool(value):
        return yes if value else no
    if is_number(value):
        return fmt_number(float(value))
    return truncate(str(value))
