"""One shop's report content (page or mail body): only that shop's findings, KPIs,
set-aside rows and warnings, times in the shop's platform zone."""

from __future__ import annotations

from typing import Any

from reports.changes import changes
from reports.format import fmt_local, fmt_time
from reports.kpi_cards import kpi_cards
from reports.quality import address_book_notes, shop_quality, shop_warnings
from reports.rows import Selection, cut, cut_groups
from reports.shared import Shared, overall_status, period
from reports.views import MAIL, PAGE, Caps


def selection(shared: Shared, caps: Caps) -> Selection:
    """The rows of every shop, chosen and formatted once per audit for the page and the mail
    body alike (the larger of their caps; each view cuts its lists to its own)."""
    at_risk, per_rule, contestable = (max(caps.at_risk, PAGE.at_risk, MAIL.at_risk),
                                      max(caps.per_rule, PAGE.per_rule, MAIL.per_rule),
                                      max(caps.contestable, PAGE.contestable,
                                          MAIL.contestable))
    key = ("selection", at_risk, per_rule, contestable)
    sel = shared.cache.get(key)
    if sel is None:
        sel = shared.cache[key] = Selection(shared, at_risk=at_risk, per_rule=per_rule,
                                            contestable=contestable)
    return sel


def layout(caps: Caps) -> str:
    """Rows laid out for a page (with evidence) or for a mail body."""
    return "page" if caps.evidence else "mail"


def shop_view(shared: Shared, key: tuple[str, str], caps: Caps, *, links: bool) -> dict[str, Any]:
    platform, shop_id = key
    tr, zone = shared.tr, shared.zone(platform)
    mine = selection(shared, caps).of(key, layout(caps), caps.detail)
    counts = mine["counts"]
    kpis = kpi_cards(shared, key, zone)
    overall = overall_status(critical=counts["critical"], violations=counts["violation"],
                             at_risk=counts["at_risk"],
                             kpi_statuses=[k["status"] for k in kpis])
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
            "counts": counts,
        },
        "kpis": kpis,
        "at_risk": cut(mine["at_risk"], counts["at_risk"], caps.at_risk),
        "violations": cut_groups(mine["violation"], caps.per_rule),
        "contestable": cut_groups(mine["contestable"], caps.contestable),
        "changes": changes(shared, key, zone, caps.changes),
        "warnings": shop_warnings(shared, platform, shop_id),
        "quality": shop_quality(shared, key, caps.reasons),
        "address_book": address_book_notes(shared, shop_id, caps.reasons),
        "not_evaluated": [str(r) for r in shared.result.not_evaluated],
    }
