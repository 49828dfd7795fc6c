"""Merging the partial outputs of a partitioned audit into one run's outputs.

Why here: the order of findings and KPIs is the checks' business (``run_rules`` and
``compute_kpis`` define it); a partitioned run must reproduce it exactly, whatever the
partitions were (by order hash, by platform after a failure, or both). One canonical order,
applied once to the union: findings by ``checks.audit.SORT`` (stable: rows that tie share
their order, hence their partition, and keep the order they had there); KPIs metric by
metric in ``METRICS`` order, then by platform and shop.

KPIs are never averaged: a shop whose orders span partitions has one partial row per
partition and metric; numerators and denominators are summed and the value and status
recomputed from the sums, exactly as ``compute_kpis`` computes them from whole tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from checks.audit import SORT
from checks.findings import OUT_COLUMNS, empty_findings
from checks.kpis import METRICS, score

KPI_KEY = ["platform", "shop_id", "metric"]
KPI_OUT = ["platform", "shop_id", "metric", "value", "threshold", "status", "better",
           "numerator", "denominator"]


def merge_findings(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The union of partial findings in the order of one run over everything."""
    found = [p for p in parts if p is not None and len(p)]
    if not found:
        return empty_findings()[OUT_COLUMNS]
    f = pd.concat(found, ignore_index=True)[OUT_COLUMNS] if len(found) > 1 else \
        found[0][OUT_COLUMNS]
    return f.sort_values(SORT, kind="stable", na_position="first").reset_index(drop=True)


def merge_kpis(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Per-shop KPIs from partial KPI frames: numerators and denominators summed per
    (platform, shop, metric), value = numerator / denominator (empty when the denominator
    is 0; the numerator itself for a count, whose denominator is empty), status scored
    against the threshold."""
    frames = [p for p in parts if p is not None and len(p)]
    if not frames:
        return (parts[0] if parts else pd.DataFrame(columns=KPI_OUT))[KPI_OUT] \
            .reset_index(drop=True)
    k = pd.concat(frames, ignore_index=True)
    g = k.groupby(KPI_KEY, sort=False, dropna=False)
    first = g[["threshold", "better"]].first()
    num = g["numerator"].sum(min_count=1)
    den = g["denominator"].sum(min_count=1)
    out = first.assign(numerator=num, denominator=den).reset_index()
    rank = out["metric"].map({m: i for i, m in enumerate(METRICS)})
    out = out.assign(_m=rank).sort_values(["_m", "platform", "shop_id"], kind="stable") \
        .drop(columns="_m").reset_index(drop=True)
    n = out["numerator"].astype("float64")
    d = out["denominator"].astype("float64")
    rate = (n / d.where(d > 0)).where(d > 0)
    out["value"] = np.where(d.isna(), n, rate)
    out["threshold"] = pd.to_numeric(out["threshold"], errors="coerce")
    out["status"] = score(out["value"], out["threshold"], out["better"])
    for c in ("platform", "shop_id"):
        out[c] = out[c].astype(frames[0][c].dtype)
    return out[KPI_OUT]
