"""Runs the rule catalog over one point-in-time view and scores the KPIs.

Pure: validated frames and parameters in, findings and KPIs out (no clock reads, no I/O).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pandas as pd

from checks.context import AuditData, prepare
from checks.findings import OUT_COLUMNS, empty_findings
from checks.kpis import compute_kpis
from checks.profiles import Profile
from checks.registry import RULES
from checks.result import SEVERITY_ORDER

SORT = ["platform", "shop_id", "rule_id", "refund_id", "message_id", "order_id"]


@dataclass
class AuditOutcome:
    findings: pd.DataFrame
    kpis: pd.DataFrame
    data: AuditData
    not_evaluated: list[str]
    timings: dict[str, float] = field(default_factory=dict)


def run_rules(tables: dict[str, pd.DataFrame], profiles: dict[str, Profile],
              as_of: pd.Timestamp, window_days: int = 30, at_risk_hours: float = 24
              ) -> AuditOutcome:
    """All rules and KPIs on validated ``tables`` (``messages`` may be absent)."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    data = prepare(tables, profiles, as_of, window_days, at_risk_hours)
    timings["prepare"] = time.perf_counter() - t0
    has_messages = data.messages is not None
    parts, not_evaluated = [], []
    for rule in RULES:
        if rule.needs_messages and not has_messages:
            not_evaluated.append(rule.id)
            continue
        t = time.perf_counter()
        parts.append(rule.fn(data, rule))
        timings[f"family:{rule.family}"] = timings.get(f"family:{rule.family}", 0.0) + (
            time.perf_counter() - t)
    parts = [p for p in parts if len(p)]
    findings = (pd.concat(parts, ignore_index=True) if parts else empty_findings())
    findings = findings[OUT_COLUMNS]
    if len(findings):
        findings = findings.sort_values(SORT, kind="stable", na_position="first") \
            .reset_index(drop=True)
    t = time.perf_counter()
    kpis = compute_kpis(data, findings, has_messages)
    timings["kpis"] = time.perf_counter() - t
    return AuditOutcome(findings=findings, kpis=kpis, data=data, not_evaluated=not_evaluated,
                        timings=timings)


def severity_rank(sev: pd.Series) -> pd.Series:
    return sev.map({s: i for i, s in enumerate(SEVERITY_ORDER)})
