"""The message catalogs: every text the report shows has Chinese and English.

The ids are extracted the way ``make messages`` does (templates, ``tr()``/``N_()`` in
``reports/``, the rules' titles and next actions) and looked up in the ``.po`` files as they
are in the repository, so a new label without a translation fails here, not on a page.
"""

from __future__ import annotations

import re

from babel.messages.pofile import read_po

from checks.registry import RULES
from reports.i18n import Tr, extract, po_path


def catalog(lang: str):
    with po_path(lang).open("rb") as fh:
        return read_po(fh)


def test_every_message_id_has_chinese_and_english_text():
    ids = {m.id for m in extract() if m.id}
    assert len(ids) > 100  # the extraction found the templates and the rules
    zh, en = catalog("zh"), catalog("en")
    missing_zh = sorted(i for i in ids if not (zh.get(i) and zh.get(i).string))
    missing_en = sorted(i for i in ids if en.get(i) is None)
    assert missing_zh == [] and missing_en == []
    for msgid in ids:
        text = zh.get(msgid).string
        assert re.search(r"[\u4e00-\u9fff]", text), (msgid, text)  # it is Chinese
        # placeholders survive translation
        assert set(re.findall(r"{\w+}", text)) == set(re.findall(r"{\w+}", msgid)), msgid


def test_every_rule_has_a_next_action_in_both_languages():
    tr = Tr("zh")
    for rule in RULES:
        assert rule.action, rule.id
        shown = tr(rule.action)
        assert shown.endswith(rule.action) and shown != rule.action, rule.id
        assert tr(rule.title) != rule.title, rule.id


def test_english_only_mode_shows_no_chinese():
    tr = Tr("en")
    assert tr("Due soon") == "Due soon"
    assert tr("{n} more", n=3) == "3 more"
    assert Tr("zh")("all {n} findings (UTF-8, opens in Excel)", n=5).startswith("全部 5 条")


def test_shop_team_words_not_data_engineering_jargon():
    """Set-aside rows and older versions are not called 隔离 / 被取代 / 核对, and a KPI
    warning and an item due soon have different words."""
    zh = {m.id: m.string for m in catalog("zh") if m.id}
    text = "\n".join(zh.values())
    for jargon in ("隔离", "被取代", "核对"):
        assert jargon not in text
    assert zh["Due soon"] != zh["Close to limit"]
    assert "7天无理由" not in zh["No-reason returns refused ({days}-day window)"]
