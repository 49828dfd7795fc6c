"""Return address entry checks (RA004 defects, RA006 nesting) as named cases."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from checks import address_quality as aq
from checks.address_quality import DIVISIONS_DIR, address_defects, divisions_nest

VALID = {
    "CN": {"recipient": "张三", "phone": "13812345678", "country": "CN", "province": "北京市",
           "city": "北京市", "district": "朝阳区", "street": "建国路1号", "postcode": "100020"},
    "US": {"recipient": "Returns Dept", "phone": "+1 650-253-0000", "country": "US",
           "province": "CA", "city": "Mountain View", "district": None,
           "street": "1600 Amphitheatre Pkwy", "postcode": "94043"},
    "HK": {"recipient": "陳大文", "phone": "9123 4567", "country": "HK", "province": "香港",
           "city": "九龙", "district": "油尖旺区", "street": "弥敦道1号", "postcode": None},
    "MO": {"recipient": "李四", "phone": "6612 3456", "country": "MO", "province": "澳门",
           "city": "澳门半岛", "district": None, "street": "新马路1号", "postcode": None},
    "JP": {"recipient": "Tanaka", "phone": "03-1234-5678", "country": "JP", "province": "Tokyo",
           "city": "Chiyoda", "district": None, "street": "1-1 Marunouchi", "postcode": "100-0005"},
}  # fmt: skip


def book(*entries: dict) -> pd.DataFrame:
    """An address book from entries that name only what differs from a valid one.

    Each entry gives ``base`` (a key of VALID, default CN) and the columns it changes.
    """
    rows = []
    for number, entry in enumerate(entries):
        entry = dict(entry)
        row = {"address_id": f"A{number}", "shop_id": "S1", **VALID[entry.pop("base", "CN")]}
        row.update(entry)
        rows.append(row)
    return pd.DataFrame(rows)


DEFECT_CASES = [
    # (id, entry, expected reasons)
    ("valid CN", {}, []),
    ("valid US without district", {"base": "US"}, []),
    ("valid HK without postcode", {"base": "HK"}, []),
    ("valid MO without postcode", {"base": "MO"}, []),
    ("JP postcode any format", {"base": "JP"}, []),
    ("missing recipient (None)", {"recipient": None}, ["missing recipient"]),
    ("missing recipient (blank)", {"recipient": "   "}, ["missing recipient"]),
    ("missing recipient (NA)", {"recipient": pd.NA}, ["missing recipient"]),
    ("missing recipient (NaN)", {"recipient": np.nan}, ["missing recipient"]),
    ("missing district, CN", {"district": ""}, ["missing district"]),
    ("missing street", {"street": None}, ["missing street"]),
    ("missing province", {"province": None}, ["missing province"]),
    ("missing city", {"city": None}, ["missing city"]),
    ("missing postcode, US", {"base": "US", "postcode": None}, ["missing postcode"]),
    ("missing postcode, JP", {"base": "JP", "postcode": " "}, ["missing postcode"]),
    ("missing phone", {"phone": None}, ["missing phone"]),
    ("missing country, national phone not judged", {"country": None}, ["missing country"]),
    ("missing country, international phone judged", {"country": None, "phone": "+86 12345"},
     ["missing country", "phone not a valid CN number: +86 12345"]),
    ("CN phone too short", {"phone": "12345"}, ["phone not a valid CN number: 12345"]),
    ("CN landline", {"phone": "010-12345678"}, []),
    ("CN mobile in international form", {"phone": "+86 138 1234 5678"}, []),
    ("CN 400 number", {"phone": "400-812-3123"}, []),
    ("CN 800 number", {"phone": "8008101234"}, []),
    ("CN premium rate number", {"phone": "16812345"},
     ["phone not a CN mobile, landline or 400/800 number: 16812345"]),
    ("HK number on a CN entry", {"phone": "+852 9123 4567"},
     ["phone not a valid CN number: +852 9123 4567"]),
    ("not a number at all", {"phone": "call us"}, ["phone not a valid CN number: call us"]),
    ("US phone invalid", {"base": "US", "phone": "555-1234"},
     ["phone not a valid US number: 555-1234"]),
    ("HK phone invalid", {"base": "HK", "phone": "1234"}, ["phone not a valid HK number: 1234"]),
    ("CN postcode 4 digits", {"postcode": "1000"}, ["CN postcode not 6 digits: 1000"]),
    ("CN postcode 7 digits", {"postcode": "1000200"}, ["CN postcode not 6 digits: 1000200"]),
    ("CN postcode with a letter", {"postcode": "10002A"}, ["CN postcode not 6 digits: 10002A"]),
    ("CN postcode padded", {"postcode": " 100020 "}, []),
    ("US ZIP+4", {"base": "US", "postcode": "94043-1351"}, []),
    ("US ZIP too short", {"base": "US", "postcode": "9404"},
     ["US postcode not ZIP or ZIP+4: 9404"]),
    ("US ZIP+4 with space", {"base": "US", "postcode": "94043 1351"},
     ["US postcode not ZIP or ZIP+4: 94043 1351"]),
    ("lower-case country", {"country": "cn", "district": None}, ["missing district"]),
    ("several reasons, in column order", {"street": None, "recipient": "", "phone": "12345"},
     ["missing recipient", "missing street", "phone not a valid CN number: 12345"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("entry", "expected"), [c[1:] for c in DEFECT_CASES], ids=[c[0] for c in DEFECT_CASES]
)
def test_address_defects(entry: dict, expected: list[str]) -> None:
    assert address_defects(book(entry)).tolist() == [expected]


def test_everything_missing() -> None:
    empty = book({column: "" for column in aq.REQUIRED})
    assert address_defects(empty).iloc[0] == [
        f"missing {c}" for c in aq.REQUIRED if c != "district"
    ]


def test_defects_keep_the_index_and_give_each_row_its_own_list() -> None:
    entries = book({}, {"phone": "12345"}, {}, {"phone": "12345", "base": "CN"})
    entries.index = [7, 7, 3, 1]
    result = address_defects(entries)
    assert list(result.index) == [7, 7, 3, 1]
    assert result.tolist() == [[], ["phone not a valid CN number: 12345"], [],
                               ["phone not a valid CN number: 12345"]]  # fmt: skip
    result.iloc[0].append("x")
    assert result.iloc[2] == []


def test_defects_on_pyarrow_and_object_strings_agree() -> None:
    entries = book({}, {"phone": "12345", "postcode": "1000"}, {"recipient": None})
    as_str = entries.astype("str")
    assert address_defects(entries).tolist() == address_defects(as_str).tolist()


def test_missing_column_is_an_error() -> None:
    with pytest.raises(KeyError, match="postcode"):
        address_defects(book({}).drop(columns="postcode"))


# --------------------------------------------------------------------------- RA006

NEST_CASES = [
    # (id, (country, province, city, district), nests)
    ("municipality full form", ("CN", "北京市", "北京市", "朝阳区"), True),
    ("municipality short form", ("CN", "北京", "北京", "朝阳区"), True),
    ("municipality with 市辖区", ("CN", "北京市", "市辖区", "朝阳区"), True),
    ("municipality with 北京城区", ("CN", "北京市", "北京城区", "朝阳"), True),
    ("Chongqing county", ("CN", "重庆", "重庆市", "忠县"), True),
    ("Chongqing 县 placeholder", ("CN", "重庆市", "县", "忠县"), True),
    ("municipality, wrong district", ("CN", "北京市", "北京市", "浦东新区"), False),
    ("district suffix differs", ("CN", "北京市", "北京市", "朝阳县"), False),
    ("鼓楼区 in 南京", ("CN", "江苏省", "南京市", "鼓楼区"), True),
    ("鼓楼区 in 福州", ("CN", "福建省", "福州市", "鼓楼区"), True),
    ("鼓楼区 in 苏州: wrong city", ("CN", "江苏省", "苏州市", "鼓楼区"), False),
    ("福州 in 江苏: wrong province", ("CN", "江苏省", "福州市", "鼓楼区"), False),
    ("short province and city", ("CN", "广东", "深圳", "南山区"), True),
    ("short district", ("CN", "福建", "福州", "鼓楼"), True),
    ("autonomous region short", ("CN", "广西", "南宁市", "青秀区"), True),
    ("内蒙古 with a banner", ("CN", "内蒙古", "呼伦贝尔", "鄂温克族自治旗"), True),
    ("autonomous prefecture short", ("CN", "吉林省", "延边州", "延吉市"), True),
    ("新疆 county-level city as city", ("CN", "新疆", "石河子市", ""), True),
    ("county-level city as city", ("CN", "湖北省", "仙桃市", ""), True),
    ("county-level city repeated", ("CN", "湖北省", "仙桃市", "仙桃市"), True),
    ("county-level city with a town", ("CN", "湖北省", "仙桃市", "郑场镇"), True),
    ("county-level city, district of 武汉", ("CN", "湖北省", "仙桃市", "洪山区"), False),
    ("county-level city under placeholder", ("CN", "湖北省", "省直辖县级行政区划", "仙桃市"), True),
    ("济源 directly under 河南", ("CN", "河南省", "济源市", ""), True),
    ("东莞 with a town", ("CN", "广东省", "东莞市", "虎门镇"), True),
    ("东莞 with a street office written as 区", ("CN", "广东省", "东莞市", "东城区"), True),
    ("东莞 with a 深圳 district", ("CN", "广东省", "东莞市", "南山区"), False),
    ("中山 without district", ("CN", "广东省", "中山市", ""), True),
    ("儋州 with a town", ("CN", "海南省", "儋州市", "那大镇"), True),
    ("嘉峪关 repeated", ("CN", "甘肃省", "嘉峪关市", "嘉峪关市"), True),
    ("no city: district in province", ("CN", "江苏省", "", "鼓楼区"), True),
    ("no city: district elsewhere", ("CN", "江苏省", "", "朝阳区"), False),
    ("province only", ("CN", "江苏省", None, None), True),
    ("unknown province", ("CN", "火星省", "", ""), False),
    ("unknown city", ("CN", "江苏省", "北京市", ""), False),
    ("province missing: not judged", ("CN", None, "南京市", "朝阳区"), True),
    ("Taiwan", ("CN", "台湾省", "台北市", "大安区"), True),
    ("Hong Kong under CN", ("CN", "香港", "九龙", "油尖旺区"), True),
    ("Hong Kong, wrong district", ("CN", "香港特别行政区", "九龙", "湾仔区"), False),
    ("not CN: not judged", ("US", "CA", "北京市", "鼓楼区"), True),
    ("no country: not judged", (None, "江苏省", "苏州市", "鼓楼区"), True),
    ("padded and lower-case country", ("cn", " 江苏省 ", "南京市 ", "鼓楼区"), True),
]


@pytest.mark.parametrize(
    ("parts", "nests"), [c[1:] for c in NEST_CASES], ids=[c[0] for c in NEST_CASES]
)
def test_divisions_nest(parts: tuple, nests: bool) -> None:
    country, province, city, district = parts
    entry = {"country": country, "province": province, "city": city, "district": district}
    result = divisions_nest(book(entry))
    assert result.dtype == bool
    assert result.tolist() == [nests]


def test_every_official_division_nests() -> None:
    """Each NBS province/city/area triple, as published, is accepted."""
    provinces = pd.read_csv(DIVISIONS_DIR / "provinces.csv", dtype=str)
    cities = pd.read_csv(DIVISIONS_DIR / "cities.csv", dtype=str)
    areas = pd.read_csv(DIVISIONS_DIR / "areas.csv", dtype=str)
    triples = (
        areas.rename(columns={"name": "district"})
        .merge(cities.rename(columns={"code": "cityCode", "name": "city"}))
        .merge(provinces.rename(columns={"code": "provinceCode", "name": "province"}))
    )
    entries = triples[["province", "city", "district"]].assign(country="CN")
    verdicts = divisions_nest(entries)
    assert len(entries) > 2900
    assert verdicts.all(), entries[~verdicts].head().to_dict("records")


def test_nesting_keeps_the_index() -> None:
    entries = book({}, {"city": "上海市"}, {"province": "上海", "city": "上海", "district": "浦东"})
    entries.index = ["x", "x", "y"]
    result = divisions_nest(entries)
    assert list(result.index) == ["x", "x", "y"]
    assert result.tolist() == [True, False, True]


@pytest.mark.slow
def test_a_million_entries_take_distinct_values_time() -> None:
    rng = np.random.default_rng(3)
    distinct = book(
        {}, {"phone": "12345"}, {"city": "苏州市", "district": "鼓楼区", "province": "江苏省"},
        {"base": "US"}, {"base": "HK", "postcode": "999077"}, {"postcode": "1000"},
    )  # fmt: skip
    entries = distinct.iloc[rng.integers(0, len(distinct), 1_000_000)].reset_index(drop=True)
    start = time.perf_counter()
    nests = divisions_nest(entries)
    defects = address_defects(entries)
    elapsed = time.perf_counter() - start
    assert (~nests).sum() == (entries["city"] == "苏州市").sum()
    assert (
        defects.str.len().gt(0).sum()
        == entries["phone"].eq("12345").sum() + entries["postcode"].eq("1000").sum()
    )
    assert elapsed < 5


def test_empty_book() -> None:
    empty = book({}).iloc[0:0]
    assert address_defects(empty).empty
    assert divisions_nest(empty).empty
