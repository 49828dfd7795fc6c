"""Every fixed word the report and the mail show comes from gettext catalogs.

The catalogs are ``reports/locale/<lang>/LC_MESSAGES/messages.po`` (Babel's format). The
message ids are the English texts; ``zh`` translates them, ``en`` keeps them (an empty
``msgstr`` means "as the id"). The ``.po`` files are read at run time with Babel: no compile
step, no binary ``.mo`` in the repository, and a translator's edit shows on the next run
(reading the ~300 messages takes a few milliseconds, once per process).

``lang="zh"`` shows "中文 English" (the shop team reads Chinese; the English keeps terms
unambiguous for the agency's other staff); ``lang="en"`` shows English only.

A rule's English title and next action are declared with the rule (``checks/``); their
Chinese lives in the same catalog, so ``make messages`` (:func:`update_catalogs`) extracts
them from the registry together with the ``_()`` calls of the templates and the ``tr()`` /
``N_()`` calls of this package.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from typing import Any

from checks import disk_cache

LANGS = ("zh", "en")
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"


def N_(msgid: str) -> str:
    """Marks a text for extraction without translating it (gettext's ``gettext_noop``)."""
    return msgid


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@lru_cache(maxsize=4)
def catalog(lang: str) -> dict[str, str]:
    """``{msgid: text}`` of one language; an untranslated entry is left out. Kept in the
    per-machine cache (checks.disk_cache) under a hash of the ``.po`` file: importing Babel
    and parsing costs ~50 ms of every process that renders."""
    data = po_path(lang).read_bytes()
    key = disk_cache.key_of(data, lang)  # the messages are the file's: no Babel version
    out = disk_cache.load(f"catalog-{lang}", key)
    if isinstance(out, dict):
        return out
    from babel.messages.pofile import read_po

    cat = read_po(io.BytesIO(data), locale=_babel_locale(lang))
    out = {}
    for msg in cat:
        if msg.id and isinstance(msg.id, str) and isinstance(msg.string, str) and msg.string:
            out[msg.id] = msg.string
    disk_cache.store(f"catalog-{lang}", key, out)
    return out


def _babel_locale(lang: str) -> str:
    return {"zh": "zh_Hans_CN", "en": "en"}[lang]


class Tr:
    """``tr("At risk")`` → ``"风险预警 At risk"`` (zh) or ``"At risk"`` (en).

    ``{name}`` placeholders are filled in each language separately
    (``tr("{n} more", n=3)`` → ``"另有 3 条 3 more"``). A text without a Chinese entry is
    shown in English alone (rule titles from an unknown rule, KPI names the catalog does not
    know); the catalog test makes sure no text of ours is left so.
    """

    def __init__(self, lang: str) -> None:
        if lang not in LANGS:
            raise ValueError(f"unknown report language {lang!r}; use one of {', '.join(LANGS)}")
        self.lang = lang
        self._zh = catalog("zh") if lang == "zh" else {}
        self._en = catalog("en")
        self._cache: dict[str, str] = {}

    def en(self, msgid: str, **kw: Any) -> str:
        text = self._en.get(msgid, msgid)
        return text.format(**kw) if kw else text

    def zh(self, msgid: str, **kw: Any) -> str | None:
        text = self._zh.get(msgid)
        if text is None:
            return None
        return text.format(**kw) if kw else text

    def __call__(self, msgid: str, **kw: Any) -> str:
        if not msgid:
            return ""
        if not kw:
            hit = self._cache.get(msgid)
            if hit is None:
                hit = self._cache[msgid] = self._join(self.zh(msgid), self.en(msgid))
            return hit
        return self._join(self.zh(msgid, **kw), self.en(msgid, **kw))

    def _join(self, zh: str | None, en: str) -> str:
        if self.lang == "en" or not zh or zh == en:
            return en
        return f"{zh} {en}"

    def gettext(self, msgid: str) -> str:
        """For jinja2's i18n extension (``{{ _("At risk") }}`` in a template)."""
        return self(msgid)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self(singular if n == 1 else plural)


# --------------------------------------------------------------------------- catalogs


def rule_texts() -> list[tuple[str, str]]:
    """(text, where) of every rule's English title and next action (from the registry)."""
    from checks.registry import RULES

    out = []
    for r in RULES:
        out.append((r.title, f"checks rule {r.id} title"))
        if getattr(r, "action", ""):
            out.append((r.action, f"checks rule {r.id} action"))
    return out


def extract() -> Any:
    """The message template: ``_()`` in the templates, ``tr()``/``N_()`` in ``reports/``,
    and the rules' titles and next actions."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir

    root = Path(__file__).parent
    template = Catalog(project="refund-audit", charset="utf-8")
    method_map = [
        ("templates/**.html", "jinja2.ext:babel_extract"),
        ("templates/**.txt", "jinja2.ext:babel_extract"),
        ("**.py", "python"),
    ]
    options = {
        "templates/**.html": {"extensions": "jinja2.ext.i18n", "trim_blocks": "true",
                              "lstrip_blocks": "true"},
        "templates/**.txt": {"extensions": "jinja2.ext.i18n", "trim_blocks": "true",
                             "lstrip_blocks": "true"},
    }
    keywords = {"_": None, "N_": None, "tr": None, "gettext": None}
    for filename, lineno, message, _comments, _ctx in extract_from_dir(
        root, method_map, options, keywords=keywords
    ):
        if isinstance(message, str) and message:
            template.add(message, locations=[(f"reports/{filename}", lineno)])
    for text, where in rule_texts():
        template.add(text, auto_comments=[where])
    return template


def update_catalogs() -> dict[str, list[str]]:
    """``make messages``: write ``messages.pot`` and merge it into each ``.po`` (new ids
    added empty, gone ids dropped, translations kept). Returns the ids still untranslated."""
    from babel.messages.pofile import read_po, write_po

    template = extract()
    LOCALE_DIR.mkdir(parents=True, exist_ok=True)
    with (LOCALE_DIR / f"{DOMAIN}.pot").open("wb") as fh:
        write_po(fh, template, width=100, omit_header=True, sort_output=True)
    missing: dict[str, list[str]] = {}
    for lang in LANGS:
        path = po_path(lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with path.open("rb") as fh:
                cat = read_po(fh, locale=_babel_locale(lang))
        else:
            from babel.messages.catalog import Catalog

            cat = Catalog(locale=_babel_locale(lang), project="refund-audit")
        cat.update(template, no_fuzzy_matching=True)
        cat.obsolete.clear()
        with path.open("wb") as fh:
            write_po(fh, cat, width=100, omit_header=False, sort_output=True,
                     include_previous=False)
        if lang == "zh":
            missing[lang] = [m.id for m in cat if m.id and not m.string]
    catalog.cache_clear()
    return missing


if __name__ == "__main__":  # python -m reports.i18n  (make messages)
    left = update_catalogs()
    for lang, ids in left.items():
        for msgid in ids:
            print(f"{lang}: untranslated: {msgid}")
