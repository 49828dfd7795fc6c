"""Rendering pages and mail bodies: the jinja2 environments (one per language, gettext from
the catalogs) and the ``rules.html`` content. ``reports.render.write_reports`` writes the
pages on disk: ``report.html`` (all shops), ``shops/<name>.html`` (one per shop) and
``rules.html`` (the rule catalog, written once and linked from every page).

Pages are opened in a browser (and attached to the mail), so they use a plain ``<style>``
block rather than inlined styles: a quarter of the bytes, and no CSS inliner run per page.
Cost is proportional to what is shown: the findings are grouped per shop once
(``reports.shared``), every table is capped (``reports.views.PAGE``), and only the shown rows
are formatted.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from checks import disk_cache
from reports.format import text
from reports.i18n import Tr
from reports.shared import Shared

TEMPLATES = Path(__file__).parent / "templates"


# Everything that shapes the templates' compiled code (the bytecode cache's folder is named
# after it): the environment's syntax options, what is autoescaped, gettext's style.
_OPTIONS: dict[str, Any] = dict(
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    extensions=["jinja2.ext.i18n"],
)
_AUTOESCAPE = ["html"]
_NEWSTYLE_GETTEXT = False


@lru_cache(maxsize=4)
def environment(lang: str) -> jinja2.Environment:
    """One jinja2 environment per language, with gettext from the catalogs."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(_AUTOESCAPE),
        undefined=jinja2.StrictUndefined,
        auto_reload=False,  # templates do not change during a run; skip the mtime checks
        bytecode_cache=_bytecode_cache(),
        **_OPTIONS,
    )
    tr = Tr(lang)
    env.install_gettext_callables(tr.gettext, tr.ngettext, newstyle=_NEWSTYLE_GETTEXT)
    return env


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiling the templates costs ~0.1 s of every process that renders; their compiled
    code is kept in the per-machine cache (checks.disk_cache). Jinja checks each entry
    against its template's source; the folder is per jinja version and per everything else
    the compiled code depends on (`_OPTIONS`, `_AUTOESCAPE`, `_NEWSTYLE_GETTEXT`)."""
    folder = disk_cache.cache_dir()
    if folder is None:
        return None
    shape = repr((sorted(_OPTIONS.items()), _AUTOESCAPE, _NEWSTYLE_GETTEXT))
    folder = folder / f"jinja-{disk_cache.key_of(jinja2.__version__, shape)}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return jinja2.FileSystemBytecodeCache(str(folder))


def load_page_templates(lang: str) -> None:
    """Load the shop page's templates (and the stylesheet) now: a process about to fork
    page writers loads them once for all of them."""
    env = environment(lang)
    for name in ("page/base.html", "page/macros.html", "page/shop.html"):
        env.get_template(name)
    stylesheet()


@lru_cache(maxsize=1)
def stylesheet() -> str:
    return (TEMPLATES / "report.css").read_text(encoding="utf-8")


class Renderer:
    """Renders a page or mail context to HTML / text with the right language's catalog."""

    def __init__(self, lang: str = "zh") -> None:
        self.lang = lang

    def _env(self, ctx: Mapping[str, Any]) -> jinja2.Environment:
        return environment(ctx.get("lang", self.lang))

    def page(self, ctx: Mapping[str, Any]) -> str:
        if ctx.get("mail"):  # a mail context (``links=False``) from the older call form
            return self.mail_html(self._mail_defaults(ctx))
        name = {"shop": "page/shop.html", "overview": "page/overview.html",
                "rules": "page/rules.html"}[ctx["page"]]
        return self._env(ctx).get_template(name).render(**ctx, css=stylesheet())

    def mail_html(self, ctx: Mapping[str, Any]) -> str:
        name = "mail/shop.html" if ctx["page"] == "shop" else "mail/overview.html"
        return self._env(ctx).get_template(name).render(**ctx)

    def mail_text(self, ctx: Mapping[str, Any]) -> str:
        name = "mail/shop.txt" if ctx["page"] == "shop" else "mail/overview.txt"
        return self._env(ctx).get_template(name).render(**ctx)

    def text(self, ctx: Mapping[str, Any]) -> str:
        """The plain-text body for a context of the older call form (before
        ``reports.mail_body``); the attachments are named generically."""
        return self.mail_text(self._mail_defaults(ctx))

    def _mail_defaults(self, ctx: Mapping[str, Any]) -> dict[str, Any]:
        tr = Tr(ctx.get("lang", self.lang))
        hint = tr("full list in findings.csv")
        return {"attachments": {"csv_hint": hint, "page_hint": hint, "files": []},
                "warnings_more": 0, **ctx}


def rules_view(shared: Shared) -> dict[str, Any]:
    skipped = set(map(str, shared.result.not_evaluated))
    rules = []
    for rule in shared.result.catalog:
        rule_id = text(rule.get("id"))
        severity = text(rule.get("severity"))
        rules.append({
            "rule_id": rule_id,
            "severity": severity,
            "severity_label": shared.severity_label(severity),
            "title": shared.rule_title(rule_id),
            "action": shared.rule_action(rule_id),
            "policy": text(rule.get("policy")),
            "source": text(rule.get("source")),
            "not_evaluated": rule_id in skipped,
        })
    return {"page": "rules", "lang": shared.lang, "title": shared.tr("Rule catalog"),
            "run": shared.run, "rules": rules}


__all__ = ["Renderer", "environment", "rules_view"]
