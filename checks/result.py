"""The audit's result, as one plain object handed from the checks to the reports and the flow.

Everything the outputs (CSV files, run.json, HTML report, email) need is here, so the
reports never reach back into the rules or the sources.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

#: findings.csv columns, in the documented order (docs/spec.md, "Outputs").
FINDING_COLUMNS = [
    "rule_id",
    "status",
    "severity",
    "platform",
    "shop_id",
    "order_id",
    "refund_id",
    "message_id",
    "due_at",
    "responded_at",
    "overdue_hours",
    "detail",
]
KPI_COLUMNS = ["platform", "shop_id", "metric", "value", "threshold", "status"]
QUARANTINE_COLUMNS = ["table", "row_key", "column", "check", "value", "message"]

SEVERITY_ORDER = ["critical", "major", "minor", "info"]
STATUS_ORDER = ["at_risk", "violation", "contestable"]


@dataclass
class AuditResult:
    """What one audit produced.

    findings: FINDING_COLUMNS plus ``title`` (rule title) and ``evidence`` (a dict per row
        with the fields that prove the finding: ids, timestamps as UTC ``pd.Timestamp``,
        address fields, message text). ``due_at``/``responded_at`` are tz-aware UTC
        timestamps (NaT when not a deadline rule or no response); ``overdue_hours`` float.
    kpis: KPI_COLUMNS plus ``better`` (``lower``/``higher``); ``value`` is NaN for a rate
        whose denominator is zero; ``status`` is ``ok``/``warn``/``breach`` or empty.
    quarantine: QUARANTINE_COLUMNS, one row per reason, plus (when the validation could tell)
        ``platform``/``shop_id`` of the row's shop so a shop's report shows only its rows.
    counts: {table: {"read", "valid", "quarantined", "superseded"}}.
    run: the run.json content (run_id, as_of, window_days, source, ...).
    catalog: one dict per rule: id, family, severity, title, policy, source.
    timezones: {platform: IANA zone} for showing local times.
    shops: DataFrame[platform, shop_id] of every audited shop.
    address_notes: address-book entries that are not findings but deserve a line in the
        shop's address-book section (``checks.address_quality.address_book_notes``): columns
        shop_id, address_id, province, city, district, kind (``former_name``: written with the
        name of a renamed or merged division, ``suggestion`` is the current
        "province / city / district" and ``current_province/_city/_district`` its parts;
        ``zone``: a development or functional zone under its own city). Buyer data-free (a
        shop's own warehouse address). None when the flow did not compute it.
    """

    run: dict[str, Any]
    findings: pd.DataFrame
    kpis: pd.DataFrame
    quarantine: pd.DataFrame
    counts: dict[str, dict[str, int]]
    catalog: list[dict[str, Any]]
    timezones: dict[str, str]
    shops: pd.DataFrame
    not_evaluated: list[str] = field(default_factory=list)
    address_notes: pd.DataFrame | None = None
    #: {platform: no-reason return window in days} of the profiles the run used, at its as-of
    return_windows: dict[str, int] = field(default_factory=dict)
    # What the write step read from the history store for this run (KPI trends and the diff
    # against the previous run), kept so that the mails built after it show the same.
    trends: pd.DataFrame | None = None
    diff: dict[str, Any] | None = None
