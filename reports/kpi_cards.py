"""KPI cards: value against threshold, the counts behind it, and its trend as bars.

A trend is drawn as HTML bars (table cells whose ``width`` attribute is the value), with the
date and the value written beside each bar: mail clients that drop SVG (Gmail, Outlook,
Yahoo) still show it, and a reader never has to guess a number from a line.
"""

from __future__ import annotations

import html
from functools import lru_cache
from typing import Any

import pandas as pd
from markupsafe import Markup

from reports.format import as_float, fmt_kpi, fmt_time, text
from reports.i18n import N_
from reports.rows import local_times
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
def _shipped_window_days(platform: str) -> int | None:
    """The shipped profile's newest window, for a result built without the run's profiles
    (a hand-made AuditResult); an audit run always carries its own (``return_windows``)."""
    try:
        from checks.profiles import load_profiles

        prof = load_profiles().get(platform)
        if prof is None:
            return None
        days = (prof.versions[-1].settings.get("no_reason_return_window") or {}).get("days")
        return int(days) if days else None
    except Exception:  # a profile problem must not cost the report; the name says "7/30"
        return None


def return_window_days(shared: Shared, platform: str) -> int | None:
    """The window of the profile version the run used for ``platform`` (its own profiles
    folder, in force at its as-of)."""
    windows = shared.result.return_windows
    if windows:
        return windows.get(platform)
    return _shipped_window_days(platform)


def kpi_name(shared: Shared, metric: str, platform: str) -> str:
    if metric == "seven_day_refusals":
        days = return_window_days(shared, platform)
        return shared.tr(REFUSALS_NAME, days=days if days else "7/30")
    name = KPI_NAMES.get(metric)
    return shared.tr(name) if name else metric


def kpi_cards(shared: Shared, key: tuple[str, str], zone: str) -> list[dict[str, Any]]:
    return _prepared(shared).get(key, [])


def _prepared(shared: Shared) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Every shop's KPI cards, built in one pass (cached on ``shared``)."""
    cached = shared.cache.get("kpi_cards")
    if cached is not None:
        return cached
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    shared.cache["kpi_cards"] = out
    kpis = shared.result.kpis
    if not len(kpis):
        return out
    tr = shared.tr
    past = _past_values(shared, TREND_POINTS - 1)
    order = {m: i for i, m in enumerate(KPI_ORDER)}
    this_run = {}
    labels = {"higher": tr("higher is better"), "lower": tr("lower is better")}
    status_labels = {k: tr(v) for k, v in STATUS_NAMES.items()}
    names: dict[tuple[str, str], str] = {}
    cols = [c for c in ("platform", "shop_id", "metric", "value", "threshold", "status",
                        "better", "numerator", "denominator") if c in kpis.columns]
    for rec in kpis[cols].to_dict("records"):
        key = (text(rec["platform"]), text(rec["shop_id"]))
        metric = text(rec["metric"])
        zone = shared.zone(key[0])
        if zone not in this_run:
            this_run[zone] = fmt_time(shared.as_of, zone, "%m-%d") if shared.as_of is not None \
                else ""
        value, threshold = as_float(rec.get("value")), as_float(rec.get("threshold"))
        status = text(rec.get("status"))
        if value is None or status not in ("ok", "warn", "breach"):
            status = "empty"
        better = text(rec.get("better")) or "lower"
        is_rate = metric.endswith("_rate")
        num, den = as_float(rec.get("numerator")), as_float(rec.get("denominator"))
        series = [*past.get((*key, metric), []), (this_run[zone], value)]
        if (key[0], metric) not in names:
            names[(key[0], metric)] = kpi_name(shared, metric, key[0])
        out.setdefault(key, []).append({
            "metric": metric,
            "name": names[(key[0], metric)],
            "value": fmt_kpi(value, is_rate),
            "threshold": (("≥ " if better == "higher" else "≤ ") + fmt_kpi(threshold, is_rate))
            if threshold is not None else "—",
            "better": labels["higher" if better == "higher" else "lower"],
            "status": status,
            "status_label": status_labels[status],
            "counts": f"{int(num)} / {int(den)}" if num is not None and den is not None else "",
            "trend": (trend := bars(series, threshold, is_rate, better == "higher")),
            "trend_text": " · ".join(f"{b['date']} {b['value']}" for b in trend),
            "trend_page": trend_html(trend, mail=False),
            "trend_mail": trend_html(trend, mail=True),
        })
    for cards in out.values():
        cards.sort(key=lambda c: (order.get(c["metric"], len(order)), c["metric"]))
    return out


def _past_values(shared: Shared, n: int
                 ) -> dict[tuple[str, str, str], list[tuple[str, float | None]]]:
    """Earlier runs' (local date, value) per shop and metric, oldest first, this run
    excluded, the last ``n``: one sort and one pass over the history."""
    history = shared.history
    if history is None or not len(history) or n <= 0:
        return {}
    hist = history[history["run_id"].astype(str) != shared.run["run_id"]]
    hist = hist.assign(_t=pd.to_datetime(hist["as_of"], utc=True))
    # one sort on the time column (cheap); groupby.tail keeps that order inside each group
    hist = hist.sort_values("_t", kind="stable")
    hist = hist.groupby(["platform", "shop_id", "metric"], sort=False).tail(n)
    zones = hist["platform"].astype(str).map(shared.zone)
    dates = local_times(hist["_t"], zones, "%m-%d", offset=False)
    out: dict[tuple[str, str, str], list[tuple[str, float | None]]] = {}
    for p, s, m, d, v in zip(hist["platform"].astype(str).tolist(),
                             hist["shop_id"].astype(str).tolist(),
                             hist["metric"].astype(str).tolist(), dates.tolist(),
                             hist["value"].tolist(), strict=True):
        out.setdefault((p, s, m), []).append((d, as_float(v)))
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


def trend_html(trend: list[dict[str, Any]], *, mail: bool) -> Markup:
    """The bars as a small table: date, bar, value (built here once per card; the values
    are dates and formatted numbers, nothing from the data's text)."""
    rows = []
    for b in trend:
        colour = "#cf222e" if b["bad"] else "#0969da"
        bar = (f'<td width="{b["width"]}" height="7" bgcolor="{colour}"></td>'
               if b["width"] else "")
        rows.append(f'<tr><td>{html.escape(b["date"])}&nbsp;</td><td width="{BAR_WIDTH}">'
                    f'<table cellpadding="0" cellspacing="0"><tr>{bar}'
                    f'<td width="{b["rest"]}"></td></tr></table></td>'
                    f'<td>&nbsp;{html.escape(b["value"])}</td></tr>')
    style = ' style="font-size:11px;color:#57606a"' if mail else ' class="trend"'
    return Markup(f'<table cellpadding="0" cellspacing="0"{style}>{"".join(rows)}</table>')
