"""The mail body: what a shop's team (or the ``default`` recipients) reads in the inbox.

Call :func:`build_mail` (one mail) or :class:`MailBuilder` (many mails of one audit, sharing
the grouping work)::

    from reports.mail_body import build_mail
    body = build_mail(result, ("tmall", "s1"), history=history, diff=diff, lang="zh",
                      report_tz="Asia/Shanghai", page_name="s1")
    body.subject, body.html, body.text       # key=None → the all-shops overview

The HTML body stays under :data:`MAX_HTML_BYTES` (100 KB; Gmail clips above ~102 KB) at any
data size: every list is capped (``reports.views.MAIL``) and the rest is counted and
pointed to the attachments — the shop's findings CSV and the full shop page (the overview:
findings.csv and report.html). Body content: status, KPI cards (value, limit, the counts
behind it, a trend as HTML bars with dates and values), items due soon sorted by due time,
violations as counts per rule with a few examples and the next action, contestable
disputes, what changed since the last run, this shop's data problems and warnings. No SVG,
no rule catalog, no other shop's data. Styles are inline, short and few; tables carry
``width`` attributes for Outlook. The text part says the same in plain lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from checks.result import AuditResult
from reports.format import truncate
from reports.overview import overview_view
from reports.page import Renderer
from reports.shared import NOT_GIVEN, Shared
from reports.shop import shop_view
from reports.views import MAIL

MAX_HTML_BYTES = 100_000
MAX_WARNINGS = 10  # in one body; the rest are counted (all are in run.json)


@dataclass(frozen=True)
class MailBody:
    subject: str
    html: str
    text: str


class MailBuilder:
    """Builds the mail bodies of one audit; the per-shop grouping is done once."""

    def __init__(
        self,
        result: AuditResult,
        *,
        history: pd.DataFrame | None = None,
        diff: Any = NOT_GIVEN,
        lang: str = "zh",
        report_tz: str | None = None,
    ) -> None:
        self.shared = Shared.of(result, lang=lang, diff=diff, report_tz=report_tz,
                                history=history)
        self.renderer = Renderer(lang)

    def build(self, key: tuple[str, str] | None, *, page_name: str | None = None) -> MailBody:
        shared, tr = self.shared, self.shared.tr
        if key is None:
            ctx = overview_view(shared, MAIL, links=False)
            csv, page = "findings.csv", "report.html"
            n = len(shared.result.findings)
            head = ctx["head"]
            subject = "[" + tr("Refund audit") + "] " + tr("All shops overview") + \
                f" {head['as_of_date']} · {head['overall']['label']}"
        else:
            ctx = shop_view(shared, key, MAIL, links=False)
            name = page_name or shared.page_names.get(key) or key[1]
            csv, page = f"findings-{name}.csv", f"{name}.html"
            counts = ctx["head"]["counts"]
            n = counts["at_risk"] + counts["violation"] + counts["contestable"]
            head = ctx["head"]
            subject = "[" + tr("Refund audit") + f"] {key[1]} ({key[0]}) " \
                f"{head['as_of_date']} · {head['overall']['label']}"
        warnings = [truncate(w, 300) for w in ctx["warnings"]]
        ctx["warnings"] = warnings[:MAX_WARNINGS]
        ctx["warnings_more"] = max(len(warnings) - MAX_WARNINGS, 0)
        ctx["title"] = subject
        ctx["attachments"] = {
            "csv_hint": tr("all rows in the attached {csv}", csv=csv),
            "page_hint": tr("the whole list is in the attached {page}", page=page),
            "files": [
                csv + " — " + tr("all {n} findings (UTF-8, opens in Excel)", n=n),
                page + " — " + tr("the full report page, to open in a browser"),
            ],
        }
        return MailBody(subject=subject, html=self.renderer.mail_html(ctx),
                        text=self.renderer.mail_text(ctx))


def build_mail(
    result: AuditResult,
    key: tuple[str, str] | None,
    *,
    history: pd.DataFrame | None = None,
    diff: Any = NOT_GIVEN,
    lang: str = "zh",
    report_tz: str | None = None,
    page_name: str | None = None,
) -> MailBody:
    """The subject, HTML body and text body of one mail.

    ``key``: ``(platform, shop_id)`` for a shop's mail, None for the all-shops overview.
    ``history``: earlier KPI values (``reports.history.load_history``) for the trends.
    ``diff``: ``reports.diff.report_diff(..., limit=None)`` for "changes since the last run"
    and the "new" marks (None: first run; omitted: no such section). ``report_tz``: zone of
    the overview and its subject date (default Asia/Shanghai); a shop mail uses its
    platform's zone. ``page_name``: the file stem of the shop's page and CSV attachments
    (default: ``reports.shared.shop_page_names``). For many mails of one audit, make one
    :class:`MailBuilder` and call ``build`` per key.
    """
    builder = MailBuilder(result, history=history, diff=diff, lang=lang, report_tz=report_tz)
    return builder.build(key, page_name=page_name)


__all__ = ["MAX_HTML_BYTES", "MailBody", "MailBuilder", "build_mail"]
