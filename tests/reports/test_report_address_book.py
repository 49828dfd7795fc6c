"""The shop page's address-book section: entries written with a former division name or as a
development zone are not RA006 findings, but the page names the current division so the
team can update the book. Only the shop's own entries are listed."""

from __future__ import annotations

import html

import pandas as pd

from reports.render import write_reports


def _notes() -> pd.DataFrame:
    # Worked by hand: 富阳市 became 杭州市富阳区 in 2014; 高新区 is a zone of 成都市.
    return pd.DataFrame([
        {"shop_id": "tg-flagship", "address_id": "A-OLD", "province": "浙江省",
         "city": "杭州市", "district": "富阳市", "kind": "former_name",
         "suggestion": "浙江省 / 杭州市 / 富阳区", "current_province": "浙江省",
         "current_city": "杭州市", "current_district": "富阳区"},
        {"shop_id": "tg-flagship", "address_id": "A-ZONE", "province": "四川省",
         "city": "成都市", "district": "高新区", "kind": "zone", "suggestion": "",
         "current_province": "", "current_city": "", "current_district": ""},
        {"shop_id": "tm-store", "address_id": "B-OTHER-SHOP", "province": "江苏省",
         "city": "无锡市", "district": "北塘区", "kind": "former_name",
         "suggestion": "江苏省 / 无锡市 / 梁溪区", "current_province": "江苏省",
         "current_city": "无锡市", "current_district": "梁溪区"},
    ])


def test_the_shop_page_suggests_the_current_name_of_its_own_entries_only(build, tmp_path):
    result = build.result()
    result.address_notes = _notes()
    paths = write_reports(result, tmp_path)
    page = next(p for p in paths if "tg-flagship" in p.name)
    text = html.unescape(page.read_text(encoding="utf-8"))
    assert "退货地址簿：需更新的地名" in text
    assert "A-OLD" in text and "浙江省 / 杭州市 / 富阳市" in text
    assert "浙江省 / 杭州市 / 富阳区" in text
    assert "A-ZONE" in text and "开发区/功能区" in text
    assert "B-OTHER-SHOP" not in text and "梁溪区" not in text
    other = next(p for p in paths if "tm-store" in p.name)
    other_text = html.unescape(other.read_text(encoding="utf-8"))
    assert "B-OTHER-SHOP" in other_text and "江苏省 / 无锡市 / 梁溪区" in other_text
    assert "A-OLD" not in other_text


def test_no_section_without_notes(build, tmp_path):
    result = build.result()
    paths = write_reports(result, tmp_path)
    page = next(p for p in paths if "tg-flagship" in p.name)
    assert "退货地址簿：需更新的地名" not in page.read_text(encoding="utf-8")
