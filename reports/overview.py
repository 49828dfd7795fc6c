"""The all-shops overview (page and the ``default`` recipients' mail): shops ranked by how
urgent they are, the items due soon across shops, totals per rule, what changed, and the
source's data quality. Times in the report zone (``report_timezone``)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from reports.changes import changes
from reports.quality import overview_quality
from reports.rows import overview_due_soon
from reports.shared import SEV_RANK, Shared, overall_status
from reports.shop import layout
from reports.views import Caps

_OVERALL_RANK = {"action": 0, "attention": 1, "ok": 2}


def _tallies(shared: Shared) -> tuple[dict, dict]:
    """Findings per shop by status and severity, KPI statuses per shop: counted once per
    audit for the overview page and its mail."""
    cached = shared.cache.get("overview_tallies")
    if cached is not None:
        return cached
    result = shared.result
    f = result.findings
    counts: dict[tuple[str, str], dict[str, int]] = {}
    if len(f):
        grouped = f.groupby(["platform", "shop_id", "status", "severity"], sort=False).size()
        for (platform, shop_id, status, severity), n in grouped.items():
            c = counts.setdefault((str(platform), str(shop_id)), {})
            c[f"{status}:{severity}"] = c.get(f"{status}:{severity}", 0) + int(n)
            c[str(status)] = c.get(str(status), 0) + int(n)
    kpi_status: dict[tuple[str, str], list[str]] = {}
    if len(result.kpis):
        for platform, shop_id, status in result.kpis[["platform", "shop_id", "status"]
                                                      ].itertuples(index=False):
            kpi_status.setdefault((str(platform), str(shop_id)), []).append(
                "" if pd.isna(status) else str(status))
    shared.cache["overview_tallies"] = (counts, kpi_status)
    return counts, kpi_status


def overview_view(shared: Shared, caps: Caps, *, links: bool) -> dict[str, Any]:
    tr, result, zone = shared.tr, shared.result, shared.report_tz
    counts, kpi_status = _tallies(shared)
    rows = []
    for key in shared.shop_keys:
        c = counts.get(key, {})
        statuses = kpi_status.get(key, [])
        row = {
            "platform": key[0],
            "shop_id": key[1],
            "href": f"shops/{shared.page_names[key]}.html" if links else None,
            "critical": c.get("violation:critical", 0),
            "violation": c.get("violation", 0),
            "at_risk": c.get("at_risk", 0),
            "contestable": c.get("contestable", 0),
            "kpi_breaches": statuses.count("breach"),
            "kpi_warns": statuses.count("warn"),
        }
        overall = overall_status(critical=row["critical"], violations=row["violation"],
                                 at_risk=row["at_risk"], kpi_statuses=statuses)
        row["overall"] = {"key": overall, "label": shared.overall_label(overall)}
        rows.append(row)
    rows.sort(key=lambda r: (_OVERALL_RANK[r["overall"]["key"]], -r["critical"],
                             -r["kpi_breaches"], -r["violation"], -r["at_risk"],
                             -r["kpi_warns"], r["platform"], r["shop_id"]))
    for i, row in enumerate(rows, 1):
        row["rank"] = i
    by_status = {k: sum(r[k] for r in rows) for k in ("at_risk", "violation", "contestable",
                                                      "critical")}
    by_overall = {k: sum(1 for r in rows if r["overall"]["key"] == k) for k in _OVERALL_RANK}
    soon = overview_due_soon(shared, caps.at_risk, caps.detail, layout=layout(caps),
                             links=links)
    return {
        "page": "overview",
        "lang": shared.lang,
        "title": f"{tr('Refund audit')} · {tr('All shops overview')}",
        "run": shared.run,
        "links": {"rules": "rules.html"} if links else None,
        "head": {"as_of": shared.run["as_of"], "as_of_date": shared.run["as_of_date"],
                 "period": shared.run["period"], "timezone": zone,
                 "shops": len(rows), "by_overall": by_overall, "counts": by_status,
                 "overall": {"key": _worst(rows),
                             "label": shared.overall_label(_worst(rows))}},
        "timezones": [{"platform": p, "zone": shared.zone(p)}
                      for p in sorted({k[0] for k in shared.shop_keys})],
        "ranking": rows[: caps.shops],
        "ranking_more": max(len(rows) - caps.shops, 0),
        "at_risk": soon,
        "rule_totals": rule_totals(shared),
        "changes": changes(shared, None, zone, caps.changes),
        "warnings": list(shared.warnings),
        "quality": overview_quality(shared, caps.reasons),
        "not_evaluated": [str(r) for r in result.not_evaluated],
    }


def _worst(rows: list[dict[str, Any]]) -> str:
    keys = [r["overall"]["key"] for r in rows]
    return min(keys, key=_OVERALL_RANK.__getitem__) if keys else "ok"


def rule_totals(shared: Shared) -> list[dict[str, Any]]:
    cached = shared.cache.get("rule_totals")
    if cached is None:
        cached = shared.cache["rule_totals"] = _rule_totals(shared)
    return cached


def _rule_totals(shared: Shared) -> list[dict[str, Any]]:
    f = shared.result.findings
    if not len(f):
        return []
    table = f.groupby(["rule_id", "status"], sort=False).size()
    per_rule: dict[str, dict[str, int]] = {}
    for (rule_id, status), n in table.items():
        per_rule.setdefault(str(rule_id), {})[str(status)] = int(n)
    first_sev = f.drop_duplicates("rule_id").set_index("rule_id")["severity"]
    rows = []
    for rule_id, c in per_rule.items():
        sev = shared.rule_severity(rule_id, first_sev.get(rule_id, ""))
        rows.append({"rule_id": rule_id, "title": shared.rule_title(rule_id),
                     "severity": sev, "severity_label": shared.severity_label(sev),
                     "at_risk": c.get("at_risk", 0), "violation": c.get("violation", 0),
                     "contestable": c.get("contestable", 0), "total": sum(c.values())})
    rows.sort(key=lambda r: (SEV_RANK.get(r["severity"], len(SEV_RANK)), r["rule_id"]))
    return rows
