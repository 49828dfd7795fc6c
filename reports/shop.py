"""One shop's report content (page or mail body): only that shop's findings, KPIs,
set-aside rows and warnings, times in the shop's platform zone."""

from __future__ import annotations

from typing import Any

from reports.changes import changes
from reports.format import fmt_local, fmt_time
from reports.kpi_cards import kpi_cards
from reports.quality import shop_quality, shop_warnings
from reports.rows import due_soon, rule_groups
from reports.shared import Shared, overall_status, period
from reports.views import Caps


def shop_view(shared: Shared, key: tuple[str, str], caps: Caps, *, links: bool) -> dict[str, Any]:
    platform, shop_id = key
    tr, zone = shared.tr, shared.zone(platform)
    findings = shared.findings_of(key)
    status = findings["status"] if len(findings) else None
    at_risk = findings[status == "at_risk"] if status is not None else findings
    violations = findings[status == "violation"] if status is not None else findings
    contestable = findings[status == "contestable"] if status is not None else findings
    kpis = kpi_cards(shared, key, zone)
    critical = int((violations["severity"] == "critical").sum()) if len(violations) else 0
    overall = overall_status(critical=critical, violations=len(violations),
                             at_risk=len(at_risk), kpi_statuses=[k["status"] for k in kpis])
    row_kw = {"evidence": caps.evidence, "detail_len": caps.detail}
    return {
        "page": "shop",
        "lang": shared.lang,
        "title": f"{tr('Refund audit')} · {shop_id} · {platform}",
        "run": shared.run,
        "links": {"overview": "../report.html", "rules": "../rules.html"} if links else None,
        "head": {
            "shop_id": shop_id,
            "platform": platform,
            "timezone": zone,
            "as_of": fmt_local(shared.as_of, zone),
            "as_of_date": fmt_time(shared.as_of, zone, "%Y-%m-%d"),
            "period": period(shared.as_of, shared.window_days, zone),
            "overall": {"key": overall, "label": shared.overall_label(overall)},
            "counts": {"at_risk": len(at_risk), "violation": len(violations),
                       "critical": critical, "contestable": len(contestable)},
        },
        "kpis": kpis,
        "at_risk": due_soon(shared, at_risk, zone, caps.at_risk, **row_kw),
        "violations": rule_groups(shared, violations, zone, cap=caps.per_rule, sort="overdue",
                                  **row_kw),
        "contestable": rule_groups(shared, contestable, zone, cap=caps.contestable, sort="ids",
                                   **row_kw),
        "changes": changes(shared, key, zone, caps.changes),
        "warnings": shop_warnings(shared, platform, shop_id),
        "quality": shop_quality(shared, key, caps.reasons),
        "not_evaluated": [str(r) for r in shared.result.not_evaluated],
    }
