"""The report's public entry points, kept under their historical names.

The work is split by what it holds: ``reports.shared`` (what all pages of an audit share),
``reports.shop`` / ``reports.overview`` (page content), ``reports.rows`` (finding rows),
``reports.kpi_cards`` (KPIs and trend bars), ``reports.changes`` (changes since the last
run), ``reports.quality`` (data quality and warnings), ``reports.format`` (values and
times), ``reports.i18n`` (gettext catalogs), ``reports.page`` (pages on disk) and
``reports.mail_body`` (the mail body).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from checks.result import AuditResult
from reports.mail_body import MailBody, MailBuilder, build_mail
from reports.overview import overview_view
from reports.page import Renderer, rules_view
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
from reports.views import MAIL, PAGE, Caps, page_caps


def shared_for(result: AuditResult, *, lang: str = "zh", caps: int = 30,
               diff: Any = NOT_GIVEN, report_tz: str | None = None,
               history: pd.DataFrame | None = None) -> Shared:
    """The parts every page of one audit shares. Without ``diff`` there is no "changes
    since the last run" section."""
    return Shared.of(result, lang=lang, caps=caps, diff=diff, report_tz=report_tz,
                     history=history)


def build_context(result: AuditResult, *, shop: tuple[str, str] | None,
                  history: pd.DataFrame | None, lang: str = "zh", caps: int = 30,
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
                 history: pd.DataFrame | None = None, *, links: bool,
                 caps: Caps | None = None) -> dict[str, Any]:
    """A shop's context in the older call form: ``links=True`` a page, ``links=False`` a mail
    body (``Renderer.page`` then renders the mail template). ``findings`` is taken from
    ``shared``; new code calls ``reports.mail_body.build_mail``."""
    if history is not None:
        if shared._history_by_shop is None:
            shared._history_by_shop = {}
        shared._history_by_shop[(platform, shop_id)] = history
    caps = caps or (PAGE if links else MAIL)
    ctx = shop_view(shared, (platform, shop_id), caps, links=links)
    return ctx if links else {**ctx, "mail": True}


def write_reports(
    result: AuditResult,
    out_dir: Path,
    *,
    history: pd.DataFrame | None = None,
    lang: str = "zh",
    caps: int = 30,
    diff: dict[str, Any] | None = None,
    report_tz: str | None = None,
    shops: Collection[tuple[str, str]] | None = None,
    own_rows: bool = True,
) -> list[Path]:
    """Write ``report.html``, ``shops/<name>.html`` for every shop and ``rules.html``;
    return their paths (``report.html`` first, ``rules.html`` last).

    ``<name>`` is given by ``reports.shared.shop_page_names``. ``diff``: the re-audit diff
    (``reports.diff.report_diff`` with ``limit=None`` so every shop gets its own rows and
    every table can mark what is new), None when there is no earlier run. ``report_tz``:
    the zone of the overview (default Asia/Shanghai); shop pages use their platform's zone.
    ``caps`` bounds the at-risk table of a page; the other tables have their own caps.

    ``shops``: write the pages of these shops only (the overview and ``rules.html`` are
    written all the same); another process writes the others (``write_shop_pages``).
    ``own_rows``: their pages are built from those shops' rows only (cheaper); False builds
    them from the whole audit's, whose per-audit work the mail bodies then reuse.
    """
    out_dir = Path(out_dir)
    (out_dir / "shops").mkdir(parents=True, exist_ok=True)
    shared = Shared.of(result, lang=lang, caps=caps, diff=diff, report_tz=report_tz,
                       history=history)
    renderer = Renderer(lang)
    caps_ = page_caps(caps)
    paths = [out_dir / "report.html"]
    paths[0].write_text(renderer.page(overview_view(shared, caps_, links=True)),
                        encoding="utf-8")
    if shops is not None and own_rows:
        paths += write_shop_pages(result, out_dir, shops, page_names=shared.page_names,
                                  history=history, lang=lang, caps=caps, diff=diff,
                                  report_tz=report_tz)
    else:
        wanted = None if shops is None else set(shops)
        paths += _shop_pages(shared, renderer, caps_, out_dir,
                             [k for k in shared.shop_keys if wanted is None or k in wanted])
    rules = out_dir / "rules.html"
    rules.write_text(renderer.page(rules_view(shared)), encoding="utf-8")
    paths.append(rules)
    return paths


def write_shop_pages(result: AuditResult, out_dir: Path, shops: Iterable[tuple[str, str]], *,
                     page_names: dict[tuple[str, str], str],
                     history: pd.DataFrame | None = None, lang: str = "zh", caps: int = 30,
                     diff: dict[str, Any] | None = None, report_tz: str | None = None
                     ) -> list[Path]:
    """The pages of ``shops`` only, byte for byte as ``write_reports`` writes them, built
    from those shops' findings, KPIs and set-aside rows: what one of several processes
    writing an audit's pages at once does. ``page_names``: the whole audit's
    (``Shared.page_names``: a shop's file name depends on the other shops' ids).

    A shop page shows only its own shop's rows plus what the whole run shares (header,
    warnings, diff, history, address-book notes, the rule catalog), so the rows of the
    other shops can be left out of the per-audit work (choosing and formatting rows, KPI
    cards, set-aside reasons) without changing a byte of these pages."""
    out_dir = Path(out_dir)
    (out_dir / "shops").mkdir(parents=True, exist_ok=True)
    keys = list(shops)
    mine = _only_shops(result, set(keys))
    shared = Shared.of(mine, lang=lang, caps=caps, diff=diff, report_tz=report_tz,
                       history=history)
    shared.page_names = page_names
    return _shop_pages(shared, Renderer(lang), page_caps(caps), out_dir, keys)


def _shop_pages(shared: Shared, renderer: Renderer, caps: Caps, out_dir: Path,
                keys: list[tuple[str, str]]) -> list[Path]:
    paths = []
    for key in keys:
        path = out_dir / "shops" / f"{shared.page_names[key]}.html"
        ctx = shop_context(shared, *key, links=True, caps=caps)
        path.write_text(renderer.page(ctx), encoding="utf-8")
        paths.append(path)
    return paths


def _only_shops(result: AuditResult, keys: set[tuple[str, str]]) -> AuditResult:
    """``result`` with the findings, KPIs, shop list and (when it says whose they are)
    set-aside rows of ``keys`` only; everything the run shares is kept whole."""
    def cut(df: pd.DataFrame) -> pd.DataFrame:
        if not len(df) or not {"platform", "shop_id"} <= set(df.columns):
            return df
        pairs = pd.MultiIndex.from_arrays([df["platform"].astype("str"),
                                           df["shop_id"].astype("str")])
        return df[pairs.isin(list(keys))].reset_index(drop=True)

    return dataclasses.replace(result, findings=cut(result.findings), kpis=cut(result.kpis),
                               shops=cut(result.shops), quarantine=cut(result.quarantine))


def overview_context(shared: Shared, *, links: bool) -> dict[str, Any]:
    """The overview's context in the older call form (see :func:`shop_context`)."""
    ctx = overview_view(shared, PAGE if links else MAIL, links=links)
    return ctx if links else {**ctx, "mail": True}


__all__ = [
    "NOT_GIVEN", "MailBody", "MailBuilder", "Renderer", "Shared", "build_context", "build_mail",
    "group_findings", "group_history", "overview_context", "redact_source", "shared_for",
    "shop_context", "shop_keys", "shop_page_names", "write_reports", "write_shop_pages",
]
