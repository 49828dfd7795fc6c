"""Shared machinery for rules: the rule metadata, the deadline evaluation (docs/spec.md), and
building findings frames. A rule is a small pure function: AuditData in, findings out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from checks.clock import add_duration
from checks.profiles import Duration, Profile
from checks.result import FINDING_COLUMNS
from schemas.timestamps import UTC_DTYPE

OUT_COLUMNS = [*FINDING_COLUMNS, "title", "evidence"]
#: The columns of a rule's rows that ``make_findings`` reads besides the evidence.
_ID_COLUMNS = ("platform", "shop_id", "order_id", "refund_id")


@dataclass(frozen=True)
class Rule:
    """One rule's metadata, declared once; the catalog, docs and report read it from here."""

    id: str
    family: str
    severity: str
    title: str
    policy: str
    source: str
    needs_messages: bool
    fn: Callable
    #: What the shop team does about a finding of this rule (English; Chinese in the
    #: report's message catalog).
    action: str = ""

    @property
    def doc(self) -> str:
        return (self.fn.__doc__ or "").strip()


def empty_findings() -> pd.DataFrame:
    """No findings, with the findings' columns: each call its own copy of one frame built
    once (building it costs ~3 ms, and a small audit's rules return it ~10 times)."""
    return _empty_findings().copy()


@lru_cache(maxsize=1)
def _empty_findings() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="object") for c in OUT_COLUMNS})


def deadline_status(due: pd.Series, responded: pd.Series, as_of: pd.Timestamp,
                    at_risk_hours: float) -> pd.Series:
    """``violation``/``at_risk``/NA per the deadline rule of docs/spec.md."""
    late = (responded > due).fillna(False)
    open_ = responded.isna()
    passed = (due < as_of).fillna(False)
    soon = ((due >= as_of) & (due <= as_of + pd.Timedelta(hours=at_risk_hours))).fillna(False)
    status = pd.Series(pd.NA, index=due.index, dtype="object")
    status[late | (open_ & passed)] = "violation"
    status[open_ & soon] = "at_risk"
    return status


def overdue_hours(due: pd.Series, responded: pd.Series, as_of: pd.Timestamp) -> pd.Series:
    end = responded.fillna(as_of).astype(UTC_DTYPE)
    return (end - due).dt.total_seconds() / 3600.0


def due_by_version(df: pd.DataFrame, data, start_col: str, at_col: str, setting: str,
                   pick: Callable | None = None) -> tuple[pd.Series, pd.Series]:
    """Due time per row: ``start_col`` + the profile setting in force at ``at_col``.

    ``pick(version, frame) -> (Duration | None, row mask)`` may choose per-row settings
    (e.g. shipped vs unshipped); returns (due, SLA label) series.
    """
    due = pd.Series(pd.NaT, index=df.index, dtype=UTC_DTYPE)
    label = pd.Series(pd.NA, index=df.index, dtype="object")
    for _platform, prof, ver, mask in data.version_groups(df, at_col):
        choices = pick(ver, df[mask]) if pick else [(ver.duration(setting), None)]
        for dur, sub in choices:
            if dur is None:
                continue
            m = mask.copy()
            if sub is not None:
                m[mask] = np.asarray(sub, dtype=bool)
            if not m.any():
                continue
            due[m] = apply_duration(df.loc[m, start_col], dur, prof)
            label[m] = dur.label
    return due, label


def apply_duration(ts: pd.Series, dur: Duration, prof: Profile) -> pd.Series:
    return add_duration(ts, dur.amount, dur.unit, dur.clock, prof.timezone,
                        prof.business_calendar).astype(UTC_DTYPE)


def make_findings(rule: Rule, df: pd.DataFrame, *, status: str | pd.Series,
                  detail: pd.Series | str, evidence: Iterable[str],
                  due: pd.Series | None = None, responded: pd.Series | None = None,
                  overdue: pd.Series | None = None,
                  message_id: pd.Series | None = None) -> pd.DataFrame:
    """Findings frame (OUT_COLUMNS) for the rows of ``df``; all series share df's index."""
    n = len(df)
    if n == 0:
        return empty_findings()
    ev_cols = [c for c in evidence if c in df.columns]
    out = pd.DataFrame({
        "rule_id": rule.id,
        "status": status if isinstance(status, str) else _values(status),
        "severity": rule.severity,
        "platform": _values(df["platform"]),
        "shop_id": _values(df["shop_id"]),
        "order_id": _values(df["order_id"]),
        "refund_id": (_values(df["refund_id"]) if "refund_id" in df.columns
                      else np.full(n, None)),
        "message_id": (_values(message_id) if message_id is not None
                       else np.full(n, None)),
        # The times as they are (a tz-aware Series' to_numpy() makes a Timestamp object per
        # value, which to_datetime below then reads back one by one).
        "due_at": due.array if due is not None else _no_times(n),
        "responded_at": responded.array if responded is not None else _no_times(n),
        "overdue_hours": (overdue.to_numpy() if overdue is not None else np.full(n, np.nan)),
        "detail": detail if isinstance(detail, str) else _values(detail),
        "title": rule.title,
        "evidence": df[ev_cols].to_dict("records"),
    })
    out["due_at"] = pd.to_datetime(out["due_at"], utc=True).astype(UTC_DTYPE)
    out["responded_at"] = pd.to_datetime(out["responded_at"], utc=True).astype(UTC_DTYPE)
    return out


def _values(s: pd.Series):
    """A column's values for a new frame: text as it is (to_numpy() would make a Python
    string per value, which the frame then reads back into text again)."""
    return s.array if s.dtype == _TEXT else s.to_numpy()


_TEXT = pd.api.types.pandas_dtype("str")


def _no_times(n: int) -> np.ndarray:
    return np.full(n, np.datetime64("NaT", "us"))


def fmt_ts(s: pd.Series) -> pd.Series:
    """UTC text for details ("2026-11-20 02:00 UTC"), "—" when empty."""
    return s.dt.strftime("%Y-%m-%d %H:%M UTC").fillna("—")


def fmt_hours(h: pd.Series) -> pd.Series:
    return h.abs().round(1).astype("str") + " h"


def deadline_findings(rule: Rule, df: pd.DataFrame, due: pd.Series, responded: pd.Series,
                      data, what: str, sla: pd.Series, evidence: Iterable[str],
                      message_id: pd.Series | None = None) -> pd.DataFrame:
    """Evaluate a deadline rule on ``df`` and build its findings with a readable detail."""
    status = deadline_status(due, responded, data.as_of, data.at_risk_hours)
    hit = status.notna()
    if not hit.any():
        return empty_findings()
    d, r, st = due[hit], responded[hit], status[hit]
    over = overdue_hours(d, r, data.as_of)
    late_answer = r.notna()
    hours, when = fmt_hours(over), fmt_ts(d)  # each formatted once for the three wordings
    detail = pd.Series(what + " (SLA " + sla[hit].astype("str") + ")", index=d.index)
    detail = detail.where(
        ~late_answer, detail + ": answered " + hours + " after the deadline " + when + ".")
    detail = detail.where(
        ~(~late_answer & (st == "violation")),
        detail + ": no response yet, " + hours + " past the deadline " + when + ".")
    detail = detail.where(
        ~(st == "at_risk"), detail + ": no response yet; due " + when + ", " + hours
        + " left.")
    # Only the columns the findings read are filtered (the refunds carry ~35).
    kept = [c for c in dict.fromkeys([*_ID_COLUMNS, *evidence]) if c in df.columns]
    sub = df[kept][hit].assign(due_at=d, sla=sla[hit])
    return make_findings(rule, sub, status=st, detail=detail, evidence=[*evidence, "sla"],
                         due=d, responded=r, overdue=over,
                         message_id=message_id[hit] if message_id is not None else None)


def rule(id: str, *, family: str, severity: str, title: str, policy: str, source: str,
         needs_messages: bool = False, action: str = "") -> Callable:
    """Declare a rule's metadata once; the function gets ``(data, rule)`` when run."""

    def wrap(fn: Callable) -> Callable:
        fn.rule = Rule(id=id, family=family, severity=severity, title=title, policy=policy,
                       source=source, needs_messages=needs_messages, fn=fn,
                       action=action)
        return fn

    return wrap
