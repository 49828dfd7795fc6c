"""Is a return address entry usable as entered? The building blocks of rules RA004 and RA006.

A buyer can only send a return to an address that is complete and reachable, and platforms rule
against the seller when the parcel bounces. The house rules ask two things of an address-book entry:

- RA004 (``address_defects``): every part present (district too for CN; no postcode for HK and
  MO, which have none), a phone valid for the entry's country (CN: mobile, landline or 400/800),
  and a CN postcode of 6 digits, a US one a ZIP or ZIP+4;
- RA006 (``divisions_nest``): a CN entry's province / city / district nest as in China's
  official administrative divisions (NBS 2023 codes shipped in ``data/china_divisions``), read
  the way people actually write addresses (short names, municipality forms, cities without
  districts).

Both work column-wise; the per-entry Python (phone parsing, division look-up) runs once per
distinct value, so an address book of millions of rows costs what its distinct values cost.
"""

from __future__ import annotations

import csv
import gc
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import phonenumbers

__all__ = ["address_defects", "divisions_nest"]

DIVISIONS_DIR = Path(__file__).parent / "data" / "china_divisions"

#: Parts every entry needs, in the order their reasons are listed.
REQUIRED = ("recipient", "phone", "country", "province", "city", "district", "street", "postcode")
#: Hong Kong and Macau have no postcodes.
NO_POSTCODE = frozenset({"HK", "MO"})
#: CN phone types a buyer can reach a seller on: mobile, landline, and 400 (shared cost) /
#: 800 (toll free) service numbers, which phonenumbers classifies as below.
CN_PHONE_TYPES = frozenset(
    {
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        phonenumbers.PhoneNumberType.TOLL_FREE,
        phonenumbers.PhoneNumberType.SHARED_COST,
    }
)
# Explicit character classes rather than \d keep the pyarrow (RE2) path.
POSTCODE_FORMATS = {
    "CN": ("[0-9]{6}", "CN postcode not 6 digits"),
    "US": ("[0-9]{5}(-[0-9]{4})?", "US postcode not ZIP or ZIP+4"),
}


def _clean(column: pd.Series) -> pd.Series:
    """Strings with surrounding whitespace removed; empty or whitespace-only becomes NA."""
    text = column.astype("string").str.strip()
    return text.mask(text == "")


def _book_column(book: pd.DataFrame, name: str) -> pd.Series:
    if name not in book.columns:
        raise KeyError(f"address book has no column {name!r}")
    return _clean(book[name])


# --------------------------------------------------------------------------- RA004


def address_defects(book: pd.DataFrame) -> pd.Series:
    """Why each entry is unusable as entered (RA004); an empty list when it is fine.

    Returns a Series indexed like ``book`` of lists of short English reasons, e.g.
    ``["missing district", "phone not a valid CN number: 12345"]``. Beyond the contract's list,
    a missing country is reported too: without it neither the phone nor the postcode can be
    judged, and a cross-border return needs it.
    """
    parts = {name: _book_column(book, name) for name in REQUIRED}
    country = parts["country"].str.upper()
    n = len(book)
    found: list[tuple[np.ndarray, np.ndarray]] = []

    for name in REQUIRED:
        missing = parts[name].isna()
        if name == "district":
            missing &= country == "CN"
        elif name == "postcode":
            missing &= ~country.isin(NO_POSTCODE)
        _collect(found, missing, f"missing {name}")

    phone_reason = _phone_reasons(parts["phone"], country)
    _collect(found, phone_reason.notna(), phone_reason)

    for code, (pattern, message) in POSTCODE_FORMATS.items():
        postcode = parts["postcode"]
        bad = (country == code) & postcode.notna() & ~postcode.str.fullmatch(pattern).fillna(False)
        _collect(found, bad, message + ": ", postcode)

    return _as_lists(found, n, book.index)


def _collect(
    found: list[tuple[np.ndarray, np.ndarray]],
    mask: pd.Series,
    reason: str | pd.Series,
    value: pd.Series | None = None,
) -> None:
    """Record ``reason`` (``+ value``) for the rows in ``mask``; text is built for those only."""
    positions = np.flatnonzero(mask.fillna(False).to_numpy(dtype=bool))
    if positions.size == 0:
        return
    if isinstance(reason, str):
        texts = np.full(positions.size, reason, dtype=object)
        if value is not None:
            texts = texts + value.iloc[positions].to_numpy(dtype=object)
    else:
        texts = reason.iloc[positions].to_numpy(dtype=object)
    found.append((positions, texts))


def _as_lists(found: list[tuple[np.ndarray, np.ndarray]], n: int, index: pd.Index) -> pd.Series:
    """One list per row, its reasons in the order the checks ran."""
    # A million fresh lists would set off repeated full garbage collections (4x the cost);
    # none of them can be part of a reference cycle, so collection waits until they exist.
    paused = gc.isenabled()
    gc.disable()
    try:
        lists: list[list[str]] = [[] for _ in range(n)]
        for positions, texts in found:
            for pos, text in zip(positions.tolist(), texts.tolist(), strict=True):
                lists[pos].append(text)
    finally:
        if paused:
            gc.enable()
    return pd.Series(lists, index=index, dtype=object, name="defects")


def _distinct(columns: list[pd.Series]) -> tuple[np.ndarray, np.ndarray]:
    """(code of each row's combination of values, position of each combination's first row).

    Column-wise factorizing and combining integer codes avoids building a tuple per row.
    """
    code = np.zeros(len(columns[0]), dtype=np.int64)
    for column in columns:
        values, uniques = pd.factorize(column)
        # Re-factorizing keeps the combined code dense, so it never nears int64 overflow.
        code, _ = pd.factorize(code * (len(uniques) + 1) + values + 1)
    _, first = np.unique(code, return_index=True)
    return code, first


def _phone_reasons(phone: pd.Series, country: pd.Series) -> pd.Series:
    """Reason per row when the phone is not valid for the entry's country, else NA."""
    codes, first = _distinct([phone, country])
    phones = phone.iloc[first].fillna("").to_numpy(dtype=object)
    countries = country.iloc[first].fillna("").to_numpy(dtype=object)
    reasons = np.array(
        [_phone_reason(p, c) for p, c in zip(phones, countries, strict=True)], dtype=object
    )
    return pd.Series(reasons[codes], index=phone.index, dtype="string")


def _phone_reason(phone: str, country: str) -> str | None:
    if not phone:
        return None  # reported as "missing phone"
    region = country or None
    if region is None and not phone.startswith("+"):
        return None  # no country to judge a national number by; "missing country" says so
    try:
        number = phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException:
        return f"phone not a valid {region or 'international'} number: {phone}"
    if region is None:
        region = phonenumbers.region_code_for_number(number)
        valid = phonenumbers.is_valid_number(number)
    else:
        valid = phonenumbers.is_valid_number_for_region(number, region)
    if not valid:
        return f"phone not a valid {region or 'international'} number: {phone}"
    if region == "CN" and phonenumbers.number_type(number) not in CN_PHONE_TYPES:
        return f"phone not a CN mobile, landline or 400/800 number: {phone}"
    return None


# --------------------------------------------------------------------------- RA006


def divisions_nest(book: pd.DataFrame) -> pd.Series:
    """Whether a CN entry's province / city / district nest per the national divisions (RA006).

    True for entries not in CN and for parts not given (RA004 reports what is missing): only
    the parts present are checked against each other. Names are matched the way people write
    them: official names, names without their generic suffix (广东, 石家庄, 朝阳), autonomous
    names without the ethnic part (广西, 延边州), municipality city forms (北京市/北京/市辖区/
    北京城区), county-level cities directly under a province as the city (湖北省/仙桃市), and
    cities without districts (东莞市, 中山市, 儋州市, 嘉峪关市) with their towns as district.
    """
    country = _book_column(book, "country").str.upper()
    keys = pd.DataFrame(
        {name: _book_column(book, name).fillna("") for name in ("province", "city", "district")}
    )
    keys = keys.where((country == "CN").fillna(False), "")  # province "" means True
    codes, first = _distinct([keys[name] for name in keys.columns])
    triples = keys.iloc[first].to_numpy(dtype=object)
    divisions = _divisions()
    verdicts = np.array([divisions.nests(p, c, d) for p, c, d in triples], dtype=bool)
    return pd.Series(verdicts[codes], index=book.index, name="divisions_nest")


#: The four municipalities: the "city" level is 市辖区 (and 县 for Chongqing) in NBS data while
#: people write the municipality's own name there.
MUNICIPALITIES = ("11", "12", "31", "50")
#: The 56 ethnic groups, named as in autonomous division names (蒙古族 or plain 蒙古).
ETHNIC_GROUPS = (
    *("蒙古", "回", "藏", "维吾尔", "苗", "彝", "壮", "布依", "朝鲜", "满", "侗", "瑶", "白"),
    *("土家", "哈尼", "哈萨克", "傣", "黎", "傈僳", "佤", "畲", "高山", "拉祜", "水", "东乡"),
    *("纳西", "景颇", "柯尔克孜", "土", "达斡尔", "仫佬", "羌", "布朗", "撒拉", "毛南", "仡佬"),
    *("锡伯", "阿昌", "普米", "塔吉克", "怒", "乌孜别克", "俄罗斯", "鄂温克", "德昂", "保安"),
    *("裕固", "京", "塔塔尔", "独龙", "鄂伦春", "赫哲", "门巴", "珞巴", "基诺", "汉"),
)
#: Generic suffixes people drop, longest first so 地区 wins over 区.
SUFFIXES = (
    *("特别行政区", "自治区", "自治州", "自治县", "自治旗"),
    *("地区", "林区", "特区", "新区"),
    *("省", "市", "区", "县", "旗", "盟"),
)
#: Short forms autonomous divisions take with their ethnic part dropped (延边州, 白沙县).
SHORT_AUTONOMOUS = {"自治州": "州", "自治县": "县", "自治旗": "旗"}
#: NBS placeholder names that are not places: never shortened.
PLACEHOLDERS = frozenset({"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"})


def _aliases(name: str) -> set[str]:
    """The ways people write an official division name (the name itself included)."""
    found = {name}
    if name in PLACEHOLDERS:
        return found
    for suffix in SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            found.add(name[: -len(suffix)])
            if suffix in ("自治区", "自治州", "自治县", "自治旗"):
                core = _without_ethnic(name[: -len(suffix)])
                found.add(core)
                if suffix in SHORT_AUTONOMOUS:
                    found.add(core + SHORT_AUTONOMOUS[suffix])
            break
    return found


def _without_ethnic(stem: str) -> str:
    """延边朝鲜族 → 延边, 海西蒙古族藏族 → 海西, 博尔塔拉蒙古 → 博尔塔拉; keeps ≥ 2 characters."""
    changed = True
    while changed:
        changed = False
        for group in ETHNIC_GROUPS:
            # A one-character group (白, 水, 土) is only an ethnic part when followed by 族.
            forms = (group + "族", group) if len(group) > 1 else (group + "族",)
            for form in forms:
                if stem.endswith(form) and len(stem) - len(form) >= 2:
                    stem = stem[: -len(form)]
                    changed = True
                    break
            if changed:
                break
    return stem


@dataclass
class _City:
    """One thing a person can write as the city: the districts it accepts below it.

    ``leaf``: no county-level divisions below it in the data (东莞市, or a county-level city
    written as the city); then a district naming its own county or a town is accepted, and only
    a district naming another county of the same province is not.
    """

    districts: set[str] = field(default_factory=set)
    leaf: bool = False


@dataclass
class _Province:
    cities: dict[str, list[_City]] = field(default_factory=dict)
    all_districts: set[str] = field(default_factory=set)  # aliases, for a missing city
    county_names: set[str] = field(default_factory=set)  # official names, for leaf cities

    def add_city(self, names: set[str], city: _City) -> None:
        for name in names:
            self.cities.setdefault(name, []).append(city)


class _Divisions:
    def __init__(self, provinces: dict[str, _Province], province_names: dict[str, list[str]]):
        self.provinces = provinces
        self.province_names = province_names

    def nests(self, province: str, city: str, district: str) -> bool:
        if not province:
            return True
        candidates = [self.provinces[code] for code in self.province_names.get(province, [])]
        if not candidates:
            return False
        return any(self._nests_in(p, city, district) for p in candidates)

    @staticmethod
    def _nests_in(province: _Province, city: str, district: str) -> bool:
        if not city:
            return not district or district in province.all_districts
        cities = province.cities.get(city, [])
        if not district:
            return bool(cities)
        return any(
            district in c.districts or (c.leaf and district not in province.county_names)
            for c in cities
        )


@lru_cache(maxsize=1)
def _divisions() -> _Divisions:
    """Load the NBS 2023 divisions (and HK/MO/TW) into alias look-ups, once."""
    provinces_csv = _read_csv("provinces.csv")
    cities_csv = _read_csv("cities.csv")
    areas_csv = _read_csv("areas.csv")

    areas_of: dict[str, list[str]] = {}
    for area in areas_csv:
        areas_of.setdefault(area["cityCode"], []).append(area["name"])

    provinces: dict[str, _Province] = {}
    names: dict[str, list[str]] = {}
    for row in provinces_csv:
        code, pname = row["code"], row["name"]
        province = provinces[code] = _Province()
        for alias in _aliases(pname):
            names.setdefault(alias, []).append(code)
        municipality = _City()
        for city in (c for c in cities_csv if c["provinceCode"] == code):
            counties = areas_of.get(city["code"], [])
            province.county_names.update(counties)
            district_aliases = set().union(*(_aliases(a) for a in counties))
            province.all_districts |= district_aliases
            if code in MUNICIPALITIES:
                municipality.districts |= district_aliases
                continue
            own = _aliases(city["name"])
            # NBS lists a city without districts (东莞市) with itself as its only area.
            leaf = len(counties) == 1 and counties[0] == city["name"]
            province.add_city(own, _City(district_aliases, leaf))
            if "直辖县级行政区划" in city["name"]:
                # People write these county-level cities at the city level (湖北省/仙桃市).
                for county in counties:
                    province.add_city(_aliases(county), _City(_aliases(county), leaf=True))
        if code in MUNICIPALITIES:
            short = min(_aliases(pname), key=len)
            forms = _aliases(pname) | {"市辖区", "县", f"{short}城区", f"{short}郊县"}
            province.add_city(forms, municipality)

    hk_mo_tw = json.loads((DIVISIONS_DIR / "HK-MO-TW.json").read_text(encoding="utf-8"))
    for number, (pname, cities) in enumerate(hk_mo_tw.items()):
        code = f"x{number}"
        province = provinces[code] = _Province()
        for alias in _aliases(pname):
            names.setdefault(alias, []).append(code)
        for cname, counties in cities.items():
            district_aliases = set().union(*(_aliases(a) for a in counties))
            province.county_names.update(counties)
            province.all_districts |= district_aliases
            province.add_city(_aliases(cname), _City(district_aliases))
    return _Divisions(provinces, names)


def _read_csv(name: str) -> list[dict[str, str]]:
    with (DIVISIONS_DIR / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))
