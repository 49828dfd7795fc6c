"""The report's public entry points, kept under their historical names.

The work is split by what it holds: ``reports.shared`` (what all pages of an audit share),
``reports.shop`` / ``reports.overview`` (page content), ``reports.rows`` (finding rows),
``reports.kpi_cards`` (KPIs and trend bars), ``reports.changes`` (changes since the last
run), ``reports.quality`` (data quality and warnings), ``reports.format`` (values and
times), ``reports.i18n`` (gettext catalogs), ``reports.page`` (pages on disk) and
``reports.mail_body`` (the mail body).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from checks.result import AuditResult
from reports.mail_body import MailBody, MailBuilder, build_mail
from reports.overview import overview_view
from reports.page import Renderer, write_reports
from reports.shared import (
    NOT_GIVEN,
    Shared,
    group_findings,
    group_history,
    redact_source,
    shop_keys,
    shop_page_names,
)
from reports.shop import shop_view
from reports.views import MAIL, PAGE, page_caps


def shared_for(result: AuditResult, *, lang: str = "zh", caps: int = 200,
               diff: Any = NOT_GIVEN, report_tz: str | None = None,
               history: pd.DataFrame | None = None) -> Shared:
    """The parts every page of one audit shares. Without ``diff`` there is no "changes
    since the last run" section."""
    return Shared.of(result, lang=lang, caps=caps, diff=diff, report_tz=report_tz,
                     history=history)


def build_context(result: AuditResult, *, shop: tuple[str, str] | None,
                  history: pd.DataFrame | None, lang: str = "zh", caps: int = 200,
                  diff: dict[str, Any] | None = None, mail: bool = False,
                  report_tz: str | None = None) -> dict[str, Any]:
    """The template context of one page (``mail=True``: of one mail body); ``shop=None`` →
    the all-shops overview."""
    shared = Shared.of(result, lang=lang, caps=caps, diff=diff, report_tz=report_tz,
                       history=history)
    view_caps = MAIL if mail else page_caps(caps)
    if shop is None:
        return overview_view(shared, view_caps, links=not mail)
    return shop_view(shared, shop, view_caps, links=not mail)


def shop_context(shared: Shared, platform: str, shop_id: str, findings: Any = None,
                 history: pd.DataFrame | None = None, *, links: bool) -> dict[str, Any]:
    """A shop's context in the older call form: ``links=True`` a page, ``links=False`` a mail
    body (``Renderer.page`` then renders the mail template). ``findings`` is taken from
    ``shared``; new code calls ``reports.mail_body.build_mail``."""
    if history is not None:
        if shared._history_by_shop is None:
            shared._history_by_shop = {}
        shared._history_by_shop[(platform, shop_id)] = history
    ctx = shop_view(shared, (platform, shop_id), PAGE if links else MAIL, links=links)
    return ctx if links else {**ctx, "mail": True}


def overview_context(shared: Shared, *, links: bool) -> dict[str, Any]:
    """The overview's context in the older call form (see :func:`shop_context`)."""
    ctx = overview_view(shared, PAGE if links else MAIL, links=links)
    return ctx if links else {**ctx, "mail": True}


__all__ = [
    "NOT_GIVEN", "MailBody", "MailBuilder", "Renderer", "Shared", "build_context", "build_mail",
    "group_findings", "group_history", "overview_context", "redact_source", "shared_for",
    "shop_context", "shop_keys", "shop_page_names", "write_reports",
]
