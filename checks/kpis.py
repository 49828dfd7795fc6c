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


def _count(codes: np.ndarray, n_shops: int, mask=None) -> np.ndarray:
    """Rows per shop (by ``codes``: each row's shop, -1 for none), of those in ``mask``."""
    if mask is not None:
        codes = codes[np.asarray(mask, dtype=bool)]
    return np.bincount(codes[codes >= 0], minlength=n_shops).astype("float64")


def _shop_codes(df: pd.DataFrame, shops: pd.MultiIndex) -> np.ndarray:
    """Each row's position among ``shops`` by (platform, shop_id); -1 when not among them
    (or a key is empty)."""
    if not len(df):
        return np.zeros(0, dtype=np.int64)
    keys = pd.MultiIndex.from_arrays([df[c] for c in KEY])
    return shops.get_indexer(keys)


def compute_kpis(data: AuditData, findings: pd.DataFrame, messages_evaluated: bool
                 ) -> pd.DataFrame:
    """KPI rows (platform, shop_id, metric, value, threshold, status, better, numerator,
    denominator). ``numerator``/``denominator`` are the counts behind the value (the
    denominator is NaN for a plain count), so partial runs can be merged by summing them
    and a reader can see "3 of 40".

    Each table's rows are given their shop's position once, and every count is a
    ``bincount`` of those positions: a groupby and a reindex per count cost ~2 ms each on a
    tiny audit, and grouped every column of the frame's keys again at scale."""
    shops = data.orders[KEY].drop_duplicates().sort_values(KEY)
    idx = pd.MultiIndex.from_frame(shops)
    k = len(shops)
    o = data.orders
    paid = _count(_shop_codes(o, idx), k,
                  (o["paid_at"] >= data.start) & (o["paid_at"] < data.as_of))
    r = data.refunds
    at_r = _shop_codes(r, idx)
    esc = r["escalated_at"].notna()
    f = findings
    at_f = _shop_codes(f, idx)
    rule = f["rule_id"]
    violation = f["status"] == "violation"
    num, den = {}, {}
    num["dispute_refund_rate"] = _count(at_r, k, esc & (r["ruling"] == "seller_liable"))
    den["dispute_refund_rate"] = paid
    num["intervention_rate"] = _count(at_r, k, esc)
    den["intervention_rate"] = paid
    d1 = rt001_deadlines(data)
    num["late_response_rate"] = _count(at_f, k, (rule == "RT001") & violation)
    den["late_response_rate"] = _count(_shop_codes(d1, idx), k,
                                       (d1["due"] < data.as_of) | d1["r"].notna())
    num["invalid_rejection_rate"] = _count(at_f, k, rule == "DA003")
    den["invalid_rejection_rate"] = _count(at_r, k, r["decision"] == "refused")
    refunded = r["refunded_at"].notna()
    num["self_completion_rate"] = _count(at_r, k, refunded & ~esc)
    den["self_completion_rate"] = _count(at_r, k, refunded)
    num["seven_day_refusals"] = _count(at_f, k, rule == "SD001")
    den["seven_day_refusals"] = None
    agreed = agreed_returns(data)
    ra_hit = f.loc[rule.str.startswith("RA"), "refund_id"].unique()
    at_a = _shop_codes(agreed, idx)
    num["return_address_defect_rate"] = _count(at_a, k, agreed["refund_id"].isin(ra_hit))
    den["return_address_defect_rate"] = _count(at_a, k)
    if messages_evaluated:
        t = rt004_turns(data)
        num["message_late_rate"] = _count(at_f, k, (rule == "RT004") & violation)
        den["message_late_rate"] = _count(_shop_codes(t, idx), k,
                                          (t["due"] < data.as_of) | t["r"].notna())

    # One row per metric and shop, metric by metric, the shops in order.
    thresholds = {p: prof.at(data.as_of).thresholds for p, prof in data.profiles.items()}
    nan = np.full(k, np.nan)
    numerator, denominator, value, threshold = [], [], [], []
    platforms = shops["platform"].tolist()
    for metric in METRICS:
        n = num.get(metric, nan)
        d = den.get(metric) if metric in num else None
        if d is None:
            values, d = n, nan
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                values = np.where(d > 0, n / d, np.nan)
        numerator.append(n)
        denominator.append(d)
        value.append(values)
        threshold += [(thresholds.get(p, {}).get(metric) or {}).get("value")
                      for p in platforms]
    rows = np.tile(np.arange(k), len(METRICS))
    out = pd.DataFrame({
        "platform": shops["platform"].iloc[rows].reset_index(drop=True),
        "shop_id": shops["shop_id"].iloc[rows].reset_index(drop=True),
        "metric": pd.Series(np.repeat(list(METRICS), k), dtype="str"),
        "value": np.concatenate(value),
        "threshold": pd.to_numeric(pd.Series(threshold, dtype=object), errors="coerce")
        .astype("float64"),
    })
    better = pd.Series(np.repeat(list(METRICS.values()), k), dtype="str")
    out["status"] = score(out["value"], out["threshold"], better)
    out["better"] = better
    out["numerator"] = np.concatenate(numerator)
    out["denominator"] = np.concatenate(denominator)
    return out


def score(value: pd.Series, threshold: pd.Series, better: pd.Series) -> pd.Series:
    """ok / warn / breach per the module docstring; empty when value or threshold is empty."""
    lower = better == "lower"
    breach = np.where(lower, value > threshold, value < threshold)
    warn = np.where(lower, value > 0.8 * threshold, value < 1.2 * threshold)
    status = np.where(breach, "breach", np.where(warn, "warn", "ok")).astype(object)
    status[(value.isna() | threshold.isna()).to_numpy()] = ""
    return pd.Series(status, index=value.index)
