"""Return address entry checks (RA004 defects, RA006 nesting) as named cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from checks import address_quality as aq
from checks.address_quality import (
    DIVISIONS_DIR,
    address_book_notes,
    address_defects,
    division_notes,
    divisions_nest,
)

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
     ["missing country", "phone not a valid CN number"]),
    ("CN phone too short", {"phone": "12345"}, ["phone not a valid CN number"]),
    ("CN landline", {"phone": "010-12345678"}, []),
    ("CN mobile in international form", {"phone": "+86 138 1234 5678"}, []),
    ("CN 400 number", {"phone": "400-812-3123"}, []),
    ("CN 800 number", {"phone": "8008101234"}, []),
    ("CN premium rate number", {"phone": "16812345"},
     ["phone not a CN mobile, landline or 400/800 number"]),
    ("HK number on a CN entry", {"phone": "+852 9123 4567"},
     ["phone not a valid CN number"]),
    ("not a number at all", {"phone": "call us"}, ["phone not a valid CN number"]),
    ("US phone invalid", {"base": "US", "phone": "555-1234"},
     ["phone not a valid US number"]),
    ("HK phone invalid", {"base": "HK", "phone": "1234"}, ["phone not a valid HK number"]),
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
     ["missing recipient", "missing street", "phone not a valid CN number"]),
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
    assert result.tolist() == [[], ["phone not a valid CN number"], [],
                               ["phone not a valid CN number"]]  # fmt: skip
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
    ("东莞 with a county-level city of 浙江", ("CN", "广东省", "东莞市", "桐乡市"), False),
    ("仙桃 with a county of 浙江", ("CN", "湖北省", "仙桃市", "文成县"), False),
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
    ("autonomous region written as a province", ("CN", "广西省", "柳州市", "城中区"), True),
    ("各族 autonomous county, short", ("CN", "广西", "百色市", "隆林县"), True),
    ("banner by its official short form", ("CN", "内蒙古", "乌兰察布市", "察右中旗"), True),
    ("typo in the district (颖 for 颍)", ("CN", "安徽省", "阜阳市", "颖东区"), False),
    ("typo in the district (佘 for 余)", ("CN", "浙江省", "杭州市", "佘杭区"), False),
    ("typo in the city (卅 for 州)", ("CN", "浙江省", "台卅市", "天台县"), False),
    ("typo in the province", ("CN", "江浙省", "宁波市", "海曙区"), False),
    ("county-level city written as the prefecture", ("CN", "贵州省", "都匀市", "瓮安县"), False),
    ("district of another province", ("CN", "浙江省", "杭州市", "天河区"), False),
    ("district of another city of the province", ("CN", "浙江省", "杭州市", "北仑区"), False),
    ("Macau under CN", ("CN", "澳门", "澳门半岛", "大堂区"), True),
    ("Macau under CN, a Hong Kong district", ("CN", "澳门特别行政区", "澳门半岛", "湾仔区"), False),
    ("country HK: not judged", ("HK", "香港", "九龙", "湾仔区"), True),
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


# (id, (province, city, district), expected kind, expected current "province / city / district")
# The current names are the history of each division as published by the Ministry of Civil
# Affairs, written out by hand here.
FORMER_AND_ZONE_CASES = [
    # former names of renamed or merged divisions, across the years
    ("2000 地区→市: county under the former 地区", ("山西省", "忻州地区", "定襄县"),
     "former_name", "山西省 / 忻州市 / 定襄县"),
    ("2000 地区→市: the 地区 alone", ("山西省", "忻州地区", ""),
     "former_name", "山西省 / 忻州市"),
    ("2001 县→区 in a municipality", ("北京市", "北京市", "大兴县"),
     "former_name", "北京市 / 北京市 / 大兴区"),
    ("2001 市→区 (余杭市)", ("浙江省", "杭州市", "余杭市"),
     "former_name", "浙江省 / 杭州市 / 余杭区"),
    ("2006 市→区 in 重庆, 县 placeholder", ("重庆市", "县", "江津市"),
     "former_name", "重庆市 / 重庆市 / 江津区"),
    ("2009 merged into 浦东新区", ("上海", "上海市", "南汇区"),
     "former_name", "上海市 / 上海市 / 浦东新区"),
    ("2009 merged into 滨海新区", ("天津市", "市辖区", "塘沽区"),
     "former_name", "天津市 / 天津市 / 滨海新区"),
    ("2010 city renamed 襄樊→襄阳, district unchanged", ("湖北省", "襄樊市", "樊城区"),
     "former_name", "湖北省 / 襄阳市 / 樊城区"),
    ("2010 city and district renamed", ("湖北省", "襄樊市", "襄阳区"),
     "former_name", "湖北省 / 襄阳市 / 襄州区"),
    ("2011 prefecture 巢湖 shared out", ("安徽省", "巢湖市", "庐江县"),
     "former_name", "安徽省 / 合肥市 / 庐江县"),
    ("2013 绍兴县→柯桥区", ("浙江省", "绍兴市", "绍兴县"),
     "former_name", "浙江省 / 绍兴市 / 柯桥区"),
    ("2014 富阳市→富阳区", ("浙江省", "杭州市", "富阳市"),
     "former_name", "浙江省 / 杭州市 / 富阳区"),
    ("2014 富阳市, short forms", ("浙江", "杭州", "富阳市"),
     "former_name", "浙江省 / 杭州市 / 富阳区"),
    ("2015 北塘区→梁溪区", ("江苏省", "无锡市", "北塘区"),
     "former_name", "江苏省 / 无锡市 / 梁溪区"),
    ("2015 南长区→梁溪区", ("江苏", "无锡", "南长区"),
     "former_name", "江苏省 / 无锡市 / 梁溪区"),
    ("2015 崇安区→梁溪区", ("江苏省", "无锡市", "崇安区"),
     "former_name", "江苏省 / 无锡市 / 梁溪区"),
    ("2016 江东区→鄞州区", ("浙江省", "宁波市", "江东区"),
     "former_name", "浙江省 / 宁波市 / 鄞州区"),
    ("2001 通什市→五指山市, directly under 海南", ("海南省", "通什市", ""),
     "former_name", "海南省 / 五指山市"),
    ("2002 琼山市 (under 海南) → 海口市琼山区", ("海南省", "", "琼山市"),
     "former_name", "海南省 / 海口市 / 琼山区"),
    ("2016 山南地区→山南市, 县→区", ("西藏自治区", "山南地区", "乃东县"),
     "former_name", "西藏自治区 / 山南市 / 乃东区"),
    ("2016 山南地区, county unchanged", ("西藏", "山南地区", "扎囊县"),
     "former_name", "西藏自治区 / 山南市 / 扎囊县"),
    ("2016 county-level city under its former prefecture", ("四川省", "资阳市", "简阳市"),
     "former_name", "四川省 / 成都市 / 简阳市"),
    ("2017 县→市", ("湖南省", "长沙市", "宁乡县"),
     "former_name", "湖南省 / 长沙市 / 宁乡市"),
    ("2018 prefecture 莱芜 merged into 济南", ("山东省", "莱芜市", "莱城区"),
     "former_name", "山东省 / 济南市 / 莱芜区"),
    ("2021 江干区 merged", ("浙江省", "杭州市", "江干区"),
     "former_name", "浙江省 / 杭州市 / 上城区"),
    ("2021 下城区 merged", ("浙江省", "杭州市", "下城区"),
     "former_name", "浙江省 / 杭州市 / 拱墅区"),
    ("2021 江干, suffix dropped", ("浙江", "杭州", "江干"),
     "former_name", "浙江省 / 杭州市 / 上城区"),
    # development and functional zones under their own city
    ("bare 高新区", ("四川省", "成都市", "高新区"), "zone", None),
    ("bare 经济技术开发区 in a municipality", ("北京", "北京市", "经济技术开发区"), "zone", None),
    ("zone named after its city", ("浙江省", "宁波市", "宁波高新区"), "zone", None),
    ("zone named after a district of its city", ("广东省", "深圳市", "龙华新区"), "zone", None),
    ("杭州湾新区 is in 宁波", ("浙江省", "宁波市", "杭州湾新区"), "zone", None),
    ("工业园区", ("江苏省", "苏州市", "工业园区"), "zone", None),
    ("保税区", ("山东省", "青岛市", "保税区"), "zone", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("parts", "kind", "suggestion"),
    [c[1:] for c in FORMER_AND_ZONE_CASES],
    ids=[c[0] for c in FORMER_AND_ZONE_CASES],
)
def test_former_names_and_zones_are_not_findings(parts: tuple, kind: str, suggestion) -> None:
    province, city, district = parts
    entries = book({"province": province, "city": city, "district": district})
    notes = division_notes(entries)
    assert notes["nests"].tolist() == [True]
    assert notes["kind"].tolist() == [kind]
    if suggestion is None:
        assert notes["suggestion"].isna().all()
        assert notes[["current_province", "current_city", "current_district"]].isna().all(axis=None)
    else:
        assert notes["suggestion"].tolist() == [suggestion]
        current = notes.iloc[0][["current_province", "current_city", "current_district"]]
        assert " / ".join(part for part in current if part) == suggestion
    assert divisions_nest(entries).tolist() == [True]


NOT_NESTING_CASES = [
    # a former name is accepted only under the parent it had
    ("南长区 was in 无锡, not 苏州", ("江苏省", "苏州市", "南长区")),
    ("江东区 was in 宁波, not 杭州", ("浙江省", "杭州市", "江东区")),
    ("富阳市 was in 杭州, not 宁波", ("浙江省", "宁波市", "富阳市")),
    ("former city, district of another city", ("湖北省", "襄樊市", "洪山区")),
    ("former city under another province", ("湖南省", "襄樊市", "樊城区")),
    ("county-level city under a prefecture it never belonged to", ("四川省", "绵阳市", "简阳市")),
    ("山南地区 with a district of 拉萨", ("西藏自治区", "山南地区", "城关区")),
    # a zone must be under its own city, in the right province
    ("zone named after another city", ("江苏省", "南京市", "苏州工业园区")),
    ("zone named after a district of another city", ("浙江省", "宁波市", "萧山经济技术开发区")),
    ("zone under a city of another province", ("浙江省", "成都市", "高新区")),
    ("a real 新区 division of another municipality", ("北京市", "北京市", "浦东新区")),
    ("zone-like word under a city that does not exist", ("浙江省", "杭卅市", "高新区")),
]


@pytest.mark.parametrize(
    "parts", [c[1] for c in NOT_NESTING_CASES], ids=[c[0] for c in NOT_NESTING_CASES]
)
def test_real_non_nesting_still_fires(parts: tuple) -> None:
    province, city, district = parts
    notes = division_notes(book({"province": province, "city": city, "district": district}))
    assert notes["nests"].tolist() == [False]
    assert notes["kind"].tolist() == ["not_nesting"]
    assert notes["suggestion"].isna().all()


def test_notes_keep_the_index_and_say_why() -> None:
    entries = book(
        {},  # 北京市/北京市/朝阳区
        {"base": "US"},
        {"province": "浙江省", "city": "杭州市", "district": "江干区"},
        {"province": "江苏省", "city": "苏州市", "district": "鼓楼区"},
        {"province": "四川省", "city": "成都市", "district": "高新区"},
        {"province": None},
    )
    entries.index = [10, 11, 12, 13, 14, 15]
    notes = division_notes(entries)
    assert list(notes.columns) == aq.NOTE_COLUMNS
    assert list(notes.index) == [10, 11, 12, 13, 14, 15]
    assert notes["kind"].tolist() == [
        "current", "not_judged", "former_name", "not_nesting", "zone", "not_judged"
    ]  # fmt: skip
    assert notes["nests"].tolist() == [True, True, True, False, True, True]
    assert notes["suggestion"].isna().tolist() == [True, True, False, True, True, True]
    assert notes.loc[12, "current_district"] == "上城区"


def test_address_book_notes_list_former_names_and_zones_per_shop() -> None:
    entries = book(
        {"shop_id": "S2", "province": "浙江省", "city": "宁波市", "district": "江东区"},
        {"shop_id": "S1"},  # current: not listed
        {"shop_id": "S1", "province": "江苏省", "city": "苏州市", "district": "鼓楼区"},
        {"shop_id": "S1", "province": "四川省", "city": "成都市", "district": "高新区"},
        {"shop_id": "S1", "province": "西藏", "city": "山南地区", "district": "乃东县"},
    )
    notes = address_book_notes(entries)
    assert list(notes.columns) == aq.BOOK_NOTE_COLUMNS
    assert notes[["shop_id", "address_id", "kind"]].values.tolist() == [
        ["S1", "A3", "zone"],
        ["S1", "A4", "former_name"],
        ["S2", "A0", "former_name"],
    ]
    assert notes["suggestion"].tolist()[1:] == [
        "西藏自治区 / 山南市 / 乃东区", "浙江省 / 宁波市 / 鄞州区"
    ]  # fmt: skip
    assert pd.isna(notes["suggestion"].iloc[0])
    # address_id as the index (the audit's view of the book) gives the same notes
    pd.testing.assert_frame_equal(address_book_notes(entries.set_index("address_id")), notes)


def test_every_former_name_leads_to_an_official_division() -> None:
    """Each row of the shipped change table names a current NBS division as its successor,
    and its former name is accepted where it stood."""
    former = pd.read_csv(DIVISIONS_DIR / "former_names.csv", dtype=str, keep_default_na=False)
    assert len(former) > 800
    assert {"2013", "2014", "2015", "2016", "2021"} <= set(former["year"])
    areas = pd.read_csv(DIVISIONS_DIR / "areas.csv", dtype=str)
    cities = pd.read_csv(DIVISIONS_DIR / "cities.csv", dtype=str)
    county_level = former[former["district"] != ""]
    assert county_level["district"].isin(areas["name"]).all()
    assert former.loc[former["district"] == "", "city"].isin(cities["name"]).all()
    municipality = county_level["old_province"].isin(["北京市", "天津市", "上海市", "重庆市"])
    entries = pd.DataFrame(
        {
            "country": "CN",
            "province": county_level["old_province"],
            # a municipality's district under the municipality; a county-level city that was
            # directly under its province (海南省/琼山市) with no city
            "city": county_level["old_city"].mask(municipality, county_level["old_province"]),
            "district": county_level["old_district"],
        }
    )
    verdicts = divisions_nest(entries)
    assert verdicts.all(), entries[~verdicts].head().to_dict("records")


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


def test_nesting_needs_its_columns() -> None:
    with pytest.raises(KeyError, match="district"):
        divisions_nest(book({}).drop(columns="district"))


def test_nesting_keeps_the_index() -> None:
    entries = book({}, {"city": "上海市"}, {"province": "上海", "city": "上海", "district": "浦东"})
    entries.index = ["x", "x", "y"]
    result = divisions_nest(entries)
    assert list(result.index) == ["x", "x", "y"]
    assert result.tolist() == [True, False, True]


@pytest.mark.slow
def test_a_million_entries_judged_by_their_distinct_values() -> None:
    """(Its time is measured by bench/rules_speed.py.)"""
    rng = np.random.default_rng(3)
    distinct = book(
        {}, {"phone": "12345"}, {"city": "苏州市", "district": "鼓楼区", "province": "江苏省"},
        {"base": "US"}, {"base": "HK", "postcode": "999077"}, {"postcode": "1000"},
    )  # fmt: skip
    entries = distinct.iloc[rng.integers(0, len(distinct), 1_000_000)].reset_index(drop=True)
    nests = divisions_nest(entries)
    defects = address_defects(entries)
    assert ((~nests) == (entries["city"] == "苏州市")).all()
    assert (defects.str.len().gt(0)
            == (entries["phone"].eq("12345") | entries["postcode"].eq("1000"))).all()


def test_empty_book() -> None:
    empty = book({}).iloc[0:0]
    assert address_defects(empty).empty
    assert divisions_nest(empty).empty
    assert list(division_notes(empty).columns) == aq.NOTE_COLUMNS
    assert division_notes(empty).empty
    assert list(address_book_notes(empty).columns) == aq.BOOK_NOTE_COLUMNS
    assert address_book_notes(empty).empty


def test_ra006_in_the_audit_flags_only_real_non_nesting() -> None:
    """Through the rule engine: three agreed returns of one order, sent to an address written
    with a former name (江干区, merged into 上城区 in 2021), to a zone under its own city, and
    to a zone named after another city's district; only the last is an RA006 finding."""
    from factories import address, order, refund, tables

    from checks.audit import run_rules
    from checks.profiles import load_profiles, timezones
    from schemas.validate import validate_tables

    profiles = load_profiles()
    place = {"province": "浙江省", "postcode": "310000"}
    raw = tables(
        orders=[order()],
        refunds=[
            refund(refund_id=f"R{n}", kind="return_refund", decision="agreed",
                   return_address_id=f"A{n}")
            for n in (1, 2, 3)
        ],
        addresses=[
            address(address_id="A1", city="杭州市", district="江干区", **place),
            address(address_id="A2", city="杭州市", district="高新区", **place),
            address(address_id="A3", city="宁波市", district="萧山经济技术开发区", **place),
        ],
    )  # fmt: skip
    validated = validate_tables(raw, timezones(profiles))
    assert validated.quarantine.empty, validated.quarantine.to_dict("records")
    outcome = run_rules(validated.tables, profiles, pd.Timestamp("2026-11-20T02:00+08:00"))
    findings = outcome.findings
    ra006 = findings[findings["rule_id"] == "RA006"]
    assert ra006["refund_id"].tolist() == ["R3"]
    notes = address_book_notes(validated.tables["return_addresses"])
    assert notes["address_id"].tolist() == ["A1", "A2"]
    assert notes["kind"].tolist() == ["former_name", "zone"]
    assert notes["suggestion"].iloc[0] == "浙江省 / 杭州市 / 上城区"
    assert pd.isna(notes["suggestion"].iloc[1])


def test_nesting_100k_rows_of_many_distinct_entries() -> None:
    """An address book of 100,000 rows over ~30,000 distinct triples (every official triple,
    and each with its district moved to another entry's city). (Its time is measured by
    bench/rules_speed.py.)"""
    areas = pd.read_csv(DIVISIONS_DIR / "areas.csv", dtype=str)
    cities = pd.read_csv(DIVISIONS_DIR / "cities.csv", dtype=str)
    provinces = pd.read_csv(DIVISIONS_DIR / "provinces.csv", dtype=str)
    triples = (
        areas.rename(columns={"name": "district"})
        .merge(cities.rename(columns={"code": "cityCode", "name": "city"}))
        .merge(provinces.rename(columns={"code": "provinceCode", "name": "province"}))
    )[["province", "city", "district"]]
    rng = np.random.default_rng(5)
    picks = triples.iloc[rng.integers(0, len(triples), 100_000)].reset_index(drop=True)
    moved = rng.random(100_000) < 0.5
    picks.loc[moved, "district"] = rng.choice(triples["district"].to_numpy(), moved.sum())
    entries = picks.assign(country="CN")
    notes = division_notes(entries)
    assert len(notes) == 100_000
    assert notes.loc[~moved, "nests"].all()  # the official triples, as published
