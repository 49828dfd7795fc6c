"""KPI cards: value against threshold, the counts behind it, and its trend as bars.

A trend is drawn as HTML bars (table cells whose ``width`` attribute is the value), with the
date and the value written beside each bar: mail clients that drop SVG (Gmail, Outlook,
Yahoo) still show it, and a reader never has to guess a number from a line.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import pandas as pd

from reports.format import as_float, fmt_kpi, fmt_time, text
from reports.i18n import N_
from reports.shared import Shared

#: KPI display order; metrics not listed follow alphabetically.
KPI_ORDER = [
    "dispute_refund_rate",
    "intervention_rate",
    "late_response_rate",
    "invalid_rejection_rate",
    "self_completion_rate",
    "seven_day_refusals",
    "return_address_defect_rate",
    "message_late_rate",
]
KPI_NAMES = {
    "dispute_refund_rate": N_("Dispute refund rate"),
    "intervention_rate": N_("Platform intervention rate"),
    "late_response_rate": N_("Late response rate"),
    "invalid_rejection_rate": N_("Wrongful refusal rate"),
    "self_completion_rate": N_("Settled without the platform"),
    "return_address_defect_rate": N_("Return address problem rate"),
    "message_late_rate": N_("Late message reply rate"),
}
#: The refusal KPI is worded with the platform's own window (7 days on the Chinese
#: platforms, 30 on Amazon US), read from the platform profile.
REFUSALS_NAME = N_("No-reason returns refused ({days}-day window)")
STATUS_NAMES = {
    "ok": N_("Within target"),
    "warn": N_("Close to limit"),
    "breach": N_("Over limit"),
    "empty": N_("No data"),
}
TREND_POINTS = 7  # bars per KPI: the last six runs and this one
BAR_WIDTH = 120  # pixels of the longest bar


@lru_cache(maxsize=16)
def return_window_days(platform: str) -> int | None:
    try:
        from checks.profiles import load_profiles

        prof = load_profiles().get(platform)
        if prof is None:
            return None
        days = (prof.versions[-1].settings.get("no_reason_return_window") or {}).get("days")
        return int(days) if days else None
    except Exception:  # a profile problem must not cost the report; the name says "7/30"
        return None


def kpi_name(shared: Shared, metric: str, platform: str) -> str:
    if metric == "seven_day_refusals":
        days = return_window_days(platform)
        return shared.tr(REFUSALS_NAME, days=days if days else "7/30")
    name = KPI_NAMES.get(metric)
    return shared.tr(name) if name else metric


def kpi_cards(
    shared: Shared, key: tuple[str, str], zone: str, *, points: int = TREND_POINTS
) -> list[dict[str, Any]]:
    kpis = shared.result.kpis
    if not len(kpis):
        return []
    mine = _kpis_of(shared, key)
    if not len(mine):
        return []
    order = {m: i for i, m in enumerate(KPI_ORDER)}
    records = sorted(
        mine.to_dict("records"),
        key=lambda r: (order.get(r["metric"], len(order)), str(r["metric"])),
    )
    past = _past_values(shared.history_of(key), shared.run["run_id"], points - 1)
    tr = shared.tr
    this_run = fmt_time(shared.as_of, zone, "%m-%d") if shared.as_of is not None else ""
    cards = []
    for rec in records:
        metric = text(rec["metric"])
        value, threshold = as_float(rec.get("value")), as_float(rec.get("threshold"))
        status = text(rec.get("status"))
        if value is None or status not in ("ok", "warn", "breach"):
            status = "empty"
        better = text(rec.get("better")) or "lower"
        is_rate = metric.endswith("_rate")
        num, den = as_float(rec.get("numerator")), as_float(rec.get("denominator"))
        series = [(fmt_time(t, zone, "%m-%d"), v) for t, v in past.get(metric, [])]
        series.append((this_run, value))
        cards.append(
            {
                "metric": metric,
                "name": kpi_name(shared, metric, key[0]),
                "value": fmt_kpi(value, is_rate),
                "threshold": (("≥ " if better == "higher" else "≤ ") + fmt_kpi(threshold, is_rate))
                if threshold is not None
                else "—",
                "better": tr("higher is better") if better == "higher" else tr("lower is better"),
                "status": status,
                "status_label": tr(STATUS_NAMES[status]),
                "counts": f"{int(num)} / {int(den)}" if num is not None and den is not None
                else "",
                "trend": bars(series, threshold, is_rate, better == "higher"),
            }
        )
    return cards


def _kpis_of(shared: Shared, key: tuple[str, str]) -> pd.DataFrame:
    by = shared.__dict__.setdefault("_kpis_by_shop", None)
    if by is None:
        from reports.shared import group_by_shop

        by = shared.__dict__["_kpis_by_shop"] = group_by_shop(shared.result.kpis)
    return by.get(key, shared.result.kpis.iloc[0:0])


def _past_values(history: pd.DataFrame | None, run_id: str, n: int
                 ) -> dict[str, list[tuple[pd.Timestamp, float | None]]]:
    """Earlier runs' (as_of, value) per metric, oldest first, this run excluded, last ``n``."""
    if history is None or not len(history) or n <= 0:
        return {}
    hist = history[history["run_id"].astype(str) != run_id]
    hist = hist.assign(_t=pd.to_datetime(hist["as_of"], utc=True)).sort_values(
        ["_t", "run_id"], kind="stable"
    )
    out = {}
    for metric, rows in hist.groupby("metric", sort=False):
        tail = rows.tail(n)
        out[text(metric)] = [(t, as_float(v)) for t, v in zip(tail["_t"], tail["value"],
                                                               strict=True)]
    return out


def bars(series: list[tuple[str, float | None]], threshold: float | None, is_rate: bool,
         higher_is_better: bool = False) -> list[dict[str, Any]]:
    """``[{date, value, width}]``: bar widths in pixels against the largest of the values
    and the threshold (so a bar past the threshold looks it); at least 1 px for a value
    above zero, none for an empty one."""
    known = [v for _, v in series if v is not None]
    top = max([*known, threshold or 0.0, 0.0])
    out = []
    for date, v in series:
        empty = v is None or top <= 0
        width = 0 if empty else max(round(v / top * BAR_WIDTH), 1 if v > 0 else 0)
        bad = threshold is not None and v is not None and (
            v < threshold if higher_is_better else v > threshold)
        out.append({"date": date, "value": fmt_kpi(v, is_rate), "width": width,
                    "rest": BAR_WIDTH - width, "bad": bad})
    return out
