"""Is a return address entry usable as entered? The building blocks of rules RA004 and RA006.

A buyer can only send a return to an address that is complete and reachable, and platforms rule
against the seller when the parcel bounces. Two things are asked of an address-book entry:

- RA004 (``address_defects``): every part present (district too for CN; no postcode for HK and
  MO, which have none), a phone valid for the entry's country (CN: mobile, landline or 400/800),
  and a CN postcode of 6 digits, a US one a ZIP or ZIP+4;
- RA006 (``divisions_nest``, ``division_notes``): a CN entry's province / city / district
  nest as in China's official administrative divisions (NBS 2023 codes shipped in
  ``data/china_divisions``), read the way people actually write addresses (short names,
  municipality forms, cities without districts). Address books outlive division changes, so a
  former name written under the parent it had while in use (杭州市/江干区, merged in 2021) and
  a development zone under its own city (成都市/高新区) are accepted, and the current name is
  offered instead (``address_book_notes``): flagging them would bury the few real errors.

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

from checks import disk_cache

__all__ = ["address_book_notes", "address_defects", "division_notes", "divisions_nest"]

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
    ``["missing district", "phone not a valid CN number"]`` (the number itself is not repeated:
    the reason is read by people and the phone is personal data; the evidence shows it masked).
    Beyond the parts listed above,
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
        return f"phone not a valid {region or 'international'} number"
    if region is None:
        region = phonenumbers.region_code_for_number(number)
        valid = phonenumbers.is_valid_number(number)
    else:
        valid = phonenumbers.is_valid_number_for_region(number, region)
    if not valid:
        return f"phone not a valid {region or 'international'} number"
    if region == "CN" and phonenumbers.number_type(number) not in CN_PHONE_TYPES:
        return "phone not a CN mobile, landline or 400/800 number"
    return None


def warm() -> None:
    """Load now what judging any address book needs and no entry changes: the divisions
    look-ups, and the phone metadata (its number patterns compiled) of the countries these
    checks know by name. A process about to fork workers calls this first
    (``flows.partitioned``), so that they share one copy; the verdicts on a book's own
    entries are left to the partitions."""
    _divisions()
    for region in sorted({"CN", *POSTCODE_FORMATS, *NO_POSTCODE}):
        example = phonenumbers.example_number(region)
        if example is not None:  # parsed and judged the way an entry's phone is
            _phone_reason(phonenumbers.format_number(
                example, phonenumbers.PhoneNumberFormat.E164), region)


# --------------------------------------------------------------------------- RA006

#: What ``division_notes`` says of an entry's province / city / district.
KINDS = ("current", "former_name", "zone", "not_nesting", "not_judged")
NOTE_COLUMNS = ["nests", "kind", "suggestion", "current_province", "current_city",
                "current_district"]  # fmt: skip


def divisions_nest(book: pd.DataFrame) -> pd.Series:
    """Whether a CN entry's province / city / district nest per the national divisions (RA006).

    True for entries not in CN and for parts not given (RA004 reports what is missing), for
    former names that nested when they were in use, and for development or functional zones
    under their own city; ``division_notes`` says which, and gives the current names.
    """
    codes, judged = _judge(book)
    verdicts = np.array([kind != "not_nesting" for kind, _ in judged], dtype=bool)
    return pd.Series(verdicts[codes], index=book.index, name="divisions_nest")


def division_notes(book: pd.DataFrame) -> pd.DataFrame:
    """How each entry's province / city / district read against the divisions, indexed like
    ``book``, with the columns of ``NOTE_COLUMNS``:

    - ``nests`` (bool): not an RA006 finding;
    - ``kind``: ``current`` (nests as the divisions are now), ``former_name`` (a name of a
      renamed, merged or moved division, written under the parent it had while in use:
      杭州市/江干区, 杭州市/富阳市, 山南地区/乃东县, 襄樊市/樊城区), ``zone`` (a development or
      functional zone — 高新区, 经济技术开发区, 新区, 工业园区 … — under its own city),
      ``not_nesting`` (the finding), ``not_judged`` (not CN, or no province);
    - ``suggestion``: for a former name, the current division as "province / city /
      district" (a municipality's city written as the municipality; parts that do not apply
      left out: "山西省 / 忻州市" for the former 忻州地区); NA otherwise;
    - ``current_province`` / ``current_city`` / ``current_district``: its parts ("" for a
      part that does not apply), NA when there is no suggestion.

    Names are matched the way people write them: official names, names without their generic
    suffix (广东, 石家庄, 朝阳), autonomous names without the ethnic part (广西, 延边州, 隆林县),
    autonomous regions written as provinces (广西省), official short banner names (察右中旗),
    municipality city forms (北京市/北京/市辖区/北京城区), county-level cities directly under a
    province as the city (湖北省/仙桃市), and cities without districts (东莞市, 中山市, 儋州市,
    嘉峪关市) with their towns as district.
    """
    codes, judged = _judge(book)
    kind_codes = np.array([KINDS.index(kind) for kind, _ in judged], dtype=np.int8)
    kinds = pd.Categorical.from_codes(kind_codes[codes], categories=KINDS)
    columns: dict[str, object] = {"nests": kind_codes[codes] != KINDS.index("not_nesting"),
                                  "kind": kinds}
    suggestion = [" / ".join(filter(None, now)) if now else None for _, now in judged]
    parts = [[now[i] if now else None for _, now in judged] for i in range(3)]
    for name, values in zip(NOTE_COLUMNS[2:], [suggestion, *parts], strict=True):
        # Built once per distinct triple, then spread to the rows.
        columns[name] = pd.array(values, dtype="string").take(codes)
    return pd.DataFrame(columns, index=book.index)


def _judge(book: pd.DataFrame) -> tuple[np.ndarray, list[tuple[str, Current | None]]]:
    """(each row's distinct-entry number, (kind, current division) per distinct entry).

    Rows are grouped on the values as given, and only one row of each group is cleaned and
    judged: cleaning a million strings costs more than judging a few thousand entries.
    """
    parts = ("country", "province", "city", "district")
    for name in parts:
        if name not in book.columns:
            raise KeyError(f"address book has no column {name!r}")
    codes, first = _distinct([book[name] for name in parts])
    distinct = book.iloc[first]
    country = _book_column(distinct, "country").str.upper()
    keys = pd.DataFrame(
        {name: _book_column(distinct, name).fillna("") for name in parts[1:]}
    )
    keys = keys.where((country == "CN").fillna(False), "")  # province "" means not judged
    divisions = _divisions()
    return codes, [divisions.judge(p, c, d) for p, c, d in keys.to_numpy(dtype=object)]


#: ``address_book_notes`` columns: the entry, what its divisions are, and the current name.
BOOK_NOTE_COLUMNS = ["shop_id", "address_id", "province", "city", "district", "kind",
                     "suggestion", "current_province", "current_city", "current_district"]


def address_book_notes(book: pd.DataFrame) -> pd.DataFrame:
    """The address-book entries whose divisions are written with a former name or as a
    development zone: not RA006 findings, but worth a line in the shop's address-book
    section ("浙江省 / 杭州市 / 江干区 → now 浙江省 / 杭州市 / 上城区").

    ``book``: the return_addresses table (``address_id`` as a column or as the index). One row
    per such entry, columns ``BOOK_NOTE_COLUMNS``, sorted by shop and address id; ``kind`` is
    ``former_name`` (``suggestion`` and ``current_*`` give the current division) or ``zone``
    (``suggestion`` NA). Entries retired or not, as the book holds them.
    """
    if "address_id" not in book.columns:
        book = book.rename_axis("address_id").reset_index()
    book = book.reset_index(drop=True)
    notes = division_notes(book)
    keep = notes["kind"].isin(["former_name", "zone"]).to_numpy()
    parts = book.loc[keep, ["shop_id", "address_id", "province", "city", "district"]]
    out = pd.concat([parts, notes.loc[keep, NOTE_COLUMNS[1:]]], axis=1)
    out["kind"] = out["kind"].astype("string")
    return out[BOOK_NOTE_COLUMNS].sort_values(["shop_id", "address_id"]).reset_index(drop=True)


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
    "各",  # 各族: "of all ethnic groups" (隆林各族自治县 → 隆林县)
)
#: Official short forms of long banner names (察哈尔右翼中旗 → 察右中旗, 土默特左旗 → 土左旗).
BANNER_SHORT = {"察哈尔右翼": "察右", "科尔沁左翼": "科左", "科尔沁右翼": "科右",
                "土默特": "土", "达尔罕茂明安联合": "达茂"}  # fmt: skip
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
#: How development and functional zones (not administrative divisions) end, longest first.
#: Parcels to them are delivered by their city's sorting centre like any district's.
ZONE_SUFFIXES = (
    *("高新技术产业开发区", "高新技术开发区", "经济技术开发区", "综合保税区", "经济开发区"),
    *("出口加工区", "高新园区", "工业园区", "产业园区", "保税港区", "开发区", "高新区"),
    *("工业园", "产业园", "保税区", "工业区", "实验区", "试验区", "示范区", "管理区", "度假区"),
    *("风景区", "园区", "新区", "新城"),
)
#: Words in front of a zone's place name that say nothing about where it is.
ZONE_PREFIXES = ("国家级", "国家", "省级")


def _aliases(name: str) -> set[str]:
    """The ways people write an official division name (the name itself included)."""
    found = {name}
    if name in PLACEHOLDERS:
        return found
    for long, short in BANNER_SHORT.items():
        if name.startswith(long) and name.endswith("旗"):
            found.add(short + name[len(long):])
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


Current = tuple[str, str, str]  # (province, city, district) as the report shows them


@dataclass
class _City:
    """One thing a person can write as the city: the districts it accepts below it.

    ``leaf``: no county-level divisions below it in the data (东莞市, or a county-level city
    written as the city); then a district naming its own county or a town is accepted, and not
    one naming another county (``_Divisions._town_like``).
    ``now``: for a former city name (山南地区, 襄樊市), the current city it became; its
    ``former`` then also holds the districts of that city as they are now.
    ``former``: district names accepted below it as former names → the current division.
    """

    districts: set[str] = field(default_factory=set)
    leaf: bool = False
    now: Current | None = None
    former: dict[str, Current] = field(default_factory=dict)
    aliases: frozenset[str] = frozenset()


@dataclass
class _Province:
    name: str = ""
    cities: dict[str, list[_City]] = field(default_factory=dict)
    all_districts: set[str] = field(default_factory=set)  # aliases, for a missing city
    county_names: set[str] = field(default_factory=set)  # official names, for leaf cities
    former_districts: dict[str, Current] = field(default_factory=dict)  # for a missing city
    municipality: _City | None = None

    def add_city(self, names: set[str], city: _City) -> None:
        city.aliases = city.aliases | frozenset(names)
        for name in names:
            self.cities.setdefault(name, []).append(city)


class _Divisions:
    def __init__(self, provinces: dict[str, _Province], province_names: dict[str, list[str]],
                 county_aliases: set[str], place_names: dict[str, set[str]]):
        self.provinces = provinces
        self.province_names = province_names
        #: every alias of every county-level division in the country
        self.county_aliases = county_aliases
        #: province or prefecture name (with and without suffix) → province codes it is in
        self.place_names = place_names
        #: official names of counties, banners and county-level cities (not 区)
        self.county_full_names = {
            name for p in provinces.values() for name in p.county_names
            if name.endswith(("县", "市", "旗"))
        }

    def nests(self, province: str, city: str, district: str) -> bool:
        return self.judge(province, city, district)[0] != "not_nesting"

    def judge(self, province: str, city: str, district: str) -> tuple[str, Current | None]:
        """(kind, current division for a former name) for one entry; see ``division_notes``."""
        if not province:
            return "not_judged", None
        codes = self.province_names.get(province, [])
        candidates = [self.provinces[code] for code in codes]
        if any(self._nests_in(p, city, district) for p in candidates):
            return "current", None
        for p in candidates:
            now = self._former_in(p, city, district)
            if now:
                return "former_name", now
        if any(self._zone_in(p, city, district) for p in candidates):
            return "zone", None
        return "not_nesting", None

    def _nests_in(self, province: _Province, city: str, district: str) -> bool:
        if not city:
            return not district or district in province.all_districts
        cities = [c for c in province.cities.get(city, []) if c.now is None]
        if not district:
            return bool(cities)
        return any(
            district in c.districts or (c.leaf and self._town_like(province, district))
            for c in cities
        )

    def _town_like(self, province: _Province, district: str) -> bool:
        """What may stand below a city without districts: a town or street office, not the
        name of another county of the province, nor the full name of a county or county-level
        city anywhere (东莞市/桐乡市). Full names ending in 区 stay accepted: 东莞 people write
        its street offices so (东城区, also a district of Beijing)."""
        return district not in province.county_names and district not in self.county_full_names

    def _former_in(self, province: _Province, city: str, district: str) -> Current | None:
        if not city:
            return province.former_districts.get(district)
        for c in province.cities.get(city, []):
            if district in c.former:
                return c.former[district]
            if c.now is not None:
                if not district:
                    return c.now
                if c.leaf and self._town_like(province, district):
                    return c.now
        return None

    def _zone_in(self, province: _Province, city: str, district: str) -> bool:
        """A development or functional zone under a city of this province that its name does
        not place elsewhere: 高新区 and 杭州高新区 under 杭州市 are accepted, 苏州工业园区 under
        南京市 and 萧山经济技术开发区 under 宁波市 are not."""
        cities = province.cities.get(city, [])
        if not district or not cities:
            return False
        suffix = next((s for s in ZONE_SUFFIXES if district.endswith(s)), None)
        if suffix is None or district in self.county_aliases:
            return False  # 浦东新区, 滨海新区 are divisions: judged as such
        stem = district[: -len(suffix)]
        for word in ZONE_PREFIXES:
            stem = stem.removeprefix(word)
        own = set().union(*(c.aliases for c in cities), _aliases(province.name))
        if any(stem.startswith(name) for name in own):
            return True  # named after its own city or province (宁波高新区, 浙江杭州湾新区)
        if stem in self.place_names:
            return False  # named after another city or province
        # A stem that is also a county name in another province is still accepted: 镜湖新区
        # (绍兴), 江北新区 (南京) and 城东新区 share their names with districts elsewhere.
        own_districts = set().union(*(c.districts for c in cities), *(c.former for c in cities))
        # named after a county of another city of the province: not here
        return stem not in province.all_districts or stem in own_districts


DIVISION_FILES = ("provinces.csv", "cities.csv", "areas.csv", "HK-MO-TW.json",
                  "former_names.csv")


@lru_cache(maxsize=1)
def _divisions() -> _Divisions:
    """The look-ups, once per process; built once per machine (checks.disk_cache, keyed by
    the data files and this module's code: building them is ~30 ms of a small audit)."""
    key = disk_cache.key_of(Path(__file__).read_bytes(),
                            *((DIVISIONS_DIR / name).read_bytes() for name in DIVISION_FILES))
    divisions = disk_cache.load("divisions", key)
    if not isinstance(divisions, _Divisions):
        divisions = _build_divisions()
        disk_cache.store("divisions", key, divisions)
    return divisions


def _build_divisions() -> _Divisions:
    """Load the NBS 2023 divisions (and HK/MO/TW) and the former names into look-ups."""
    provinces_csv = _read_csv("provinces.csv")
    cities_csv = _read_csv("cities.csv")
    areas_csv = _read_csv("areas.csv")

    areas_of: dict[str, list[str]] = {}
    for area in areas_csv:
        areas_of.setdefault(area["cityCode"], []).append(area["name"])

    provinces: dict[str, _Province] = {}
    names: dict[str, list[str]] = {}
    county_aliases: set[str] = set()
    place_names: dict[str, set[str]] = {}
    #: (province code, city name; '' for a municipality) → its official county-level names
    areas_by_city: dict[tuple[str, str], list[str]] = {}
    for row in provinces_csv:
        code, pname = row["code"], row["name"]
        province = provinces[code] = _Province(pname)
        aliases = _aliases(pname)
        if pname.endswith("自治区"):
            # Autonomous regions are often written as if provinces (广西省, 内蒙古省): the
            # parcel still reaches them, so that is not what RA006 is about.
            aliases |= {min(aliases, key=len) + "省"}
        for alias in aliases:
            names.setdefault(alias, []).append(code)
            place_names.setdefault(alias, set()).add(code)
        municipality = _City()
        for city in (c for c in cities_csv if c["provinceCode"] == code):
            counties = areas_of.get(city["code"], [])
            province.county_names.update(counties)
            district_aliases = set().union(*(_aliases(a) for a in counties))
            county_aliases.update(district_aliases)
            province.all_districts |= district_aliases
            city_key = "" if code in MUNICIPALITIES else city["name"]
            areas_by_city.setdefault((code, city_key), []).extend(counties)
            if code in MUNICIPALITIES:
                municipality.districts |= district_aliases
                continue
            own = _aliases(city["name"])
            if city["name"] not in PLACEHOLDERS:
                for alias in own:
                    place_names.setdefault(alias, set()).add(code)
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
            province.municipality = municipality

    hk_mo_tw = json.loads((DIVISIONS_DIR / "HK-MO-TW.json").read_text(encoding="utf-8"))
    for number, (pname, cities) in enumerate(hk_mo_tw.items()):
        code = f"x{number}"
        province = provinces[code] = _Province(pname)
        for alias in _aliases(pname):
            names.setdefault(alias, []).append(code)
        for cname, counties in cities.items():
            district_aliases = set().union(*(_aliases(a) for a in counties))
            province.county_names.update(counties)
            province.all_districts |= district_aliases
            province.add_city(_aliases(cname), _City(district_aliases))

    _add_former_names(provinces, areas_by_city)
    return _Divisions(provinces, names, county_aliases, place_names)


def _add_former_names(
    provinces: dict[str, _Province], areas_by_city: dict[tuple[str, str], list[str]]
) -> None:
    """Register ``former_names.csv``: each former name under the parent it had while in use
    (and under the parent's current name: 山南市/乃东县 is read as 山南地区/乃东县 was)."""
    rows = _read_csv("former_names.csv")
    code_of = {provinces[c].name: c for c in provinces}

    def shown(code: str, city: str, district: str) -> Current:
        # A municipality's city is written as the municipality itself; a county-level city
        # directly under its province (五指山市) as the city, with no district.
        if not city and provinces[code].municipality is None:
            return (provinces[code].name, district, "")
        return (provinces[code].name, city or provinces[code].name, district)

    def current_cities(province: _Province, city: str) -> list[_City]:
        if not city:
            return [province.municipality] if province.municipality else []
        return [c for c in province.cities.get(city, []) if c.now is None]

    # Former city names first: their districts are the current city's districts.
    for row in (r for r in rows if not r["old_district"]):
        code = code_of.get(row["province"])
        if code is None or row["old_province"] != row["province"]:
            continue
        province = provinces[code]
        targets = current_cities(province, row["city"])
        if not targets:
            continue
        former = _City(now=shown(code, row["city"], ""))
        for area in areas_by_city.get((code, row["city"]), []):
            for alias in _aliases(area):
                former.former.setdefault(alias, shown(code, row["city"], area))
        province.add_city(_aliases(row["old_city"]), former)

    for row in (r for r in rows if r["old_district"]):
        code, old_code = code_of.get(row["province"]), code_of.get(row["old_province"])
        if code is None or old_code is None:
            continue
        now = shown(code, row["city"], row["district"])
        province = provinces[old_code]
        district_aliases = _aliases(row["old_district"])
        if row["old_city"]:
            holders = list(province.cities.get(row["old_city"], []))
            if not holders:
                # A prefecture since abolished and shared out (巢湖市 2011, 莱芜市 2018).
                gone = _City(now=shown(code, row["city"], ""))
                province.add_city(_aliases(row["old_city"]), gone)
                holders = [gone]
        elif province.municipality:
            holders = [province.municipality]
        else:
            # Directly under the province (海南省/琼山市): written as the city, or under the
            # placeholder, or with no city.
            # Not where a current city has that name (a code-list slip must not hide it).
            free = {a for a in district_aliases if not any(
                c.now is None for c in province.cities.get(a, []))}
            province.add_city(free, _City(district_aliases, leaf=True, now=now))
            holders = [c for name in PLACEHOLDERS for c in province.cities.get(name, [])]
        if old_code == code:
            holders += current_cities(provinces[code], row["city"])
        for city in holders:
            for alias in district_aliases:
                city.former.setdefault(alias, now)
        for alias in district_aliases:
            province.former_districts.setdefault(alias, now)


def _read_csv(name: str) -> list[dict[str, str]]:
    with (DIVISIONS_DIR / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))
