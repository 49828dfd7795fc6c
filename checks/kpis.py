"""Per-shop KPIs over the window (docs/spec.md, "KPIs"), scored against the profile's thresholds.

A rate with a zero denominator is empty, not zero. Status: ``breach`` past the threshold,
``warn`` within 20 % of it (lower-better: above 0.8 × threshold; higher-better: below
1.2 × threshold), ``ok`` otherwise; empty for an empty value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from checks.context import AuditData
from checks.response_time import rt001_deadlines, rt004_turns
from checks.return_address import agreed_returns

METRICS = {
    "dispute_refund_rate": "lower",
    "intervention_rate": "lower",
    "late_response_rate": "lower",
    "invalid_rejection_rate": "lower",
    "self_completion_rate": "higher",
    "seven_day_refusals": "lower",
    "return_address_defect_rate": "lower",
    "message_late_rate": "lower",
}
KEY = ["platform", "shop_id"]


def _count(df: pd.DataFrame, mask=None) -> pd.Series:
    df = df[KEY]  # the key columns only: filtering every column of ten million orders costs
    if mask is not None:
        df = df[np.asarray(mask, dtype=bool)]
    return df.groupby(KEY, sort=False).size()


def compute_kpis(data: AuditData, findings: pd.DataFrame, messages_evaluated: bool
                 ) -> pd.DataFrame:
    """KPI rows (platform, shop_id, metric, value, threshold, status, better, numerator,
    denominator). ``numerator``/``denominator`` are the counts behind the value (the
    denominator is NaN for a plain count), so partial runs can be merged by summing them
    and a reader can see "3 of 40"."""
    shops = data.orders[KEY].drop_duplicates().sort_values(KEY)
    idx = pd.MultiIndex.from_frame(shops)
    o = data.orders
    paid = _count(o, (o["paid_at"] >= data.start) & (o["paid_at"] < data.as_of))
    r = data.refunds
    esc = r["escalated_at"].notna()
    f = findings
    num, den = {}, {}
    num["dispute_refund_rate"] = _count(r, esc & (r["ruling"] == "seller_liable"))
    den["dispute_refund_rate"] = paid
    num["intervention_rate"] = _count(r, esc)
    den["intervention_rate"] = paid
    d1 = rt001_deadlines(data)
    num["late_response_rate"] = _count(f, (f["rule_id"] == "RT001") & (f["status"] ==
                                                                       "violation"))
    den["late_response_rate"] = _count(d1, (d1["due"] < data.as_of) | d1["r"].notna())
    num["invalid_rejection_rate"] = _count(f, f["rule_id"] == "DA003")
    den["invalid_rejection_rate"] = _count(r, r["decision"] == "refused")
    refunded = r["refunded_at"].notna()
    num["self_completion_rate"] = _count(r, refunded & ~esc)
    den["self_completion_rate"] = _count(r, refunded)
    num["seven_day_refusals"] = _count(f, f["rule_id"] == "SD001")
    den["seven_day_refusals"] = None
    agreed = agreed_returns(data)
    ra_hit = f.loc[f["rule_id"].str.startswith("RA"), "refund_id"].unique()
    num["return_address_defect_rate"] = _count(agreed, agreed["refund_id"].isin(ra_hit))
    den["return_address_defect_rate"] = _count(agreed)
    if messages_evaluated:
        t = rt004_turns(data)
        num["message_late_rate"] = _count(f, (f["rule_id"] == "RT004") & (f["status"] ==
                                                                          "violation"))
        den["message_late_rate"] = _count(t, (t["due"] < data.as_of) | t["r"].notna())

    rows = []
    thresholds = {p: prof.at(data.as_of).thresholds for p, prof in data.profiles.items()}
    for metric, better in METRICS.items():
        d = pd.Series(np.nan, index=idx)
        if metric not in num:
            n = values = pd.Series(np.nan, index=idx)
        else:
            n = num[metric].reindex(idx, fill_value=0).astype("float64")
            if den[metric] is None:
                values = n
            else:
                d = den[metric].reindex(idx, fill_value=0).astype("float64")
                values = (n / d).where(d > 0)
        frame = shops.assign(metric=metric, value=values.to_numpy(), better=better,
                             numerator=n.to_numpy(), denominator=d.to_numpy())
        frame["threshold"] = [
            (thresholds.get(p, {}).get(metric) or {}).get("value") for p in frame["platform"]]
        rows.append(frame)
    out = pd.concat(rows, ignore_index=True)
    out["threshold"] = pd.to_numeric(out["threshold"], errors="coerce")
    out["status"] = score(out["value"], out["threshold"], out["better"])
    return out[["platform", "shop_id", "metric", "value", "threshold", "status", "better",
                "numerator", "denominator"]]


def score(value: pd.Series, threshold: pd.Series, better: pd.Series) -> pd.Series:
    """ok / warn / breach per the module docstring; empty when value or threshold is empty."""
    lower = better == "lower"
    breach = np.where(lower, value > threshold, value < threshold)
    warn = np.where(lower, value > 0.8 * threshold, value < 1.2 * threshold)
    status = np.where(breach, "breach", np.where(warn, "warn", "ok")).astype(object)
    status[(value.isna() | threshold.isna()).to_numpy()] = ""
    return pd.Series(status, index=value.index)
