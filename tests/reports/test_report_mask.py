"""Masking of buyer names and phone numbers (138****5678, 张*)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reports.mask import mask_field, mask_name, mask_phone, mask_phones_in_text


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("13812345678", "138****5678"),
        ("138-1234-5678", "138****5678"),
        ("+86 138 1234 5678", "+861******5678"),
        ("021-12345678", "021****5678"),
        ("4155550123", "41******23"),
        ("5550123", "5****23"),
        ("12345", "1***5"),
        ("1234", "****"),
        ("n/a", "***"),
        ("", ""),
        (None, ""),
        (math.nan, ""),
    ],
)
def test_mask_phone(raw, masked):
    assert mask_phone(raw) == masked


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("张三", "张*"),
        ("欧阳娜娜", "欧***"),
        ("张", "*"),
        ("John Smith", "J*** S****"),
        ("  Mary  Jane Watson ", "M*** J*** W*****"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_name(raw, masked):
    assert mask_name(raw) == masked


@given(st.text(alphabet="0123456789", min_size=5, max_size=20))
def test_a_masked_phone_hides_at_least_half_of_its_digits(digits):
    masked = mask_phone(digits)
    assert len(masked) == len(digits)
    assert masked.count("*") * 2 >= len(digits) or len(digits) >= 11
    assert masked.count("*") >= 4 or len(digits) < 11


def test_free_text_masks_mobile_numbers_but_not_ids():
    text = "我的电话 13912345678，订单 1381234567890123"
    assert mask_phones_in_text(text) == "我的电话 139****5678，订单 1381234567890123"


@pytest.mark.parametrize(
    ("key", "value", "masked"),
    [
        ("recipient", "王小明", "王**"),
        ("buyer_name", "Li Lei", "L* L**"),
        ("name", "李四", "李*"),
        ("phone", "13812345678", "138****5678"),
        ("buyer_phone", "13812345678", "138****5678"),
        ("text", "call 13812345678", "call 138****5678"),
        ("province", "浙江省", "浙江省"),
        ("order_id", "13812345678", "13812345678"),
    ],
)
def test_mask_field_by_key(key, value, masked):
    assert mask_field(key, value) == masked
