"""Shops and their return address books: Chinese, US and Hong Kong addresses, the real
administrative divisions, and the planted address defects (RA rules)."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd

from sources.generate.vocabulary import _DIVISIONS, AMAZON, SHOP_PREFIX, D

# --------------------------------------------------------------------------- reference data

_HUBS = [  # (province, city, district, landline area code); checked against the divisions
    ("上海市", "上海市", "青浦区", "021"), ("上海市", "上海市", "松江区", "021"),
    ("上海市", "上海市", "嘉定区", "021"), ("浙江省", "杭州市", "余杭区", "0571"),
    ("浙江省", "杭州市", "萧山区", "0571"), ("浙江省", "宁波市", "北仑区", "0574"),
    ("浙江省", "金华市", "义乌市", "0579"), ("广东省", "广州市", "白云区", "020"),
    ("广东省", "深圳市", "宝安区", "0755"), ("广东省", "深圳市", "龙岗区", "0755"),
    ("北京市", "北京市", "大兴区", "010"), ("北京市", "北京市", "朝阳区", "010"),
    ("北京市", "北京市", "顺义区", "010"), ("天津市", "天津市", "东丽区", "022"),
    ("江苏省", "苏州市", "昆山市", "0512"), ("四川省", "成都市", "双流区", "028"),
    ("湖北省", "武汉市", "东西湖区", "027"), ("河南省", "郑州市", "新郑市", "0371"),
    ("福建省", "厦门市", "湖里区", "0592"),
]  # fmt: skip
_NOT_NESTING = [  # real names, wrong parents: what RA006 must catch
    ("浙江省", "杭州市", "宝安区"), ("广东省", "深圳市", "西湖区"),
    ("江苏省", "杭州市", "余杭区"), ("上海市", "上海市", "朝阳区"),
]  # fmt: skip
_POSTCODE_PREFIX = {
    "11": "10", "12": "30", "13": "05", "14": "03", "15": "01", "21": "11", "22": "13",
    "23": "15", "31": "20", "32": "21", "33": "31", "34": "23", "35": "36", "36": "33",
    "37": "25", "41": "45", "42": "43", "43": "41", "44": "51", "45": "53", "46": "57",
    "50": "40", "51": "61", "52": "55", "53": "65", "54": "85", "61": "71", "62": "73",
    "63": "81", "64": "75", "65": "83",
}  # fmt: skip
_SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾")
_GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟",
          "涛", "明", "超", "秀英", "华", "慧", "建国", "晓东", "志强", "雪梅", "海燕", "子涵"]  # fmt: skip
_ROADS = ["建国路", "中山路", "人民路", "解放路", "长江路", "科技园路", "工业大道", "物流园路",
          "华夏路", "金桥路", "沪青平公路", "龙华大道", "文一西路", "仓储路", "新港大道"]  # fmt: skip
_PARKS = ["SOHO现代城{k}号楼", "智慧物流园{k}号仓", "电商产业园B栋{k}楼", "跨境保税仓{k}号库",
          "国际物流中心{k}号门", "创业园{k}栋售后部"]  # fmt: skip
_US_SITES = [  # state, city, ZIP, ZIP+4, street, area code
    ("WA", "Kent", "98032", "98032-4431", "20529 59th Pl S", "253"),
    ("CA", "Ontario", "91761", "91761-8109", "1910 E Central Ave", "909"),
    ("IL", "Joliet", "60436", "60436-9302", "3501 Channahon Rd", "815"),
    ("TX", "Dallas", "75241", "75241-7103", "1301 Chalk Hill Rd", "214"),
    ("NJ", "Edison", "08817", "08817-2842", "301 Blair Rd", "732"),
    ("GA", "Atlanta", "30344", "30344-5541", "650 Boulder Park Dr", "404"),
    ("AZ", "Phoenix", "85043", "85043-4405", "6835 W Buckeye Rd", "602"),
    ("FL", "Jacksonville", "32226", "32226-6504", "13333 103rd St", "904"),
    ("NV", "Reno", "89506", "89506-3105", "8000 N Virginia St", "775"),
    ("PA", "Carlisle", "17015", "17015-9213", "675 Allen Rd", "717"),
]
_US_NAMES = ["John Miller", "Lisa Wong", "Returns Dept", "Maria Garcia", "RMA Center",
             "David Chen", "Emily Johnson", "Kevin Nguyen"]  # fmt: skip
_HK_SITES = [
    ("九龙", "观塘区", "观塘道388号创纪之城1期15楼"),
    ("新界", "葵青区", "葵涌货柜码头路88号永得利中心8楼"),
]


@cache
def _division_triples() -> tuple[tuple[str, str, str, str], ...]:
    """(province, city, district, province code) that nest per the shipped 2023 divisions."""
    prov = pd.read_csv(_DIVISIONS / "provinces.csv", dtype=str)
    city = pd.read_csv(_DIVISIONS / "cities.csv", dtype=str)
    area = pd.read_csv(_DIVISIONS / "areas.csv", dtype=str)
    pname = dict(zip(prov["code"], prov["name"], strict=True))
    city = city[~city["name"].str.contains("直辖县级")]
    cname = {
        code: (pname[pc_] if name == "市辖区" else name)
        for code, name, pc_ in zip(city["code"], city["name"], city["provinceCode"], strict=True)
    }
    area = area[area["cityCode"].isin(cname)]
    return tuple(
        (pname[p], cname[c], a, p)
        for a, c, p in zip(area["name"], area["cityCode"], area["provinceCode"], strict=True)
    )




class ShopsMixin:
    """The shops, spread over the platforms, and each shop's address book."""

    def build_shops(self) -> None:
        n_shops = self.n_shops or max(4, self.n // 20000)
        self.shop_plat = np.arange(n_shops) % 4
        self.shop_ids = [f"{SHOP_PREFIX[p]}-shop-{i + 1:02d}" for i, p in enumerate(self.shop_plat)]
        w = self.rng.lognormal(0.0, 0.5, n_shops)
        self.shop_p = w / w.sum()

    def _cn_entry(self, hub: bool) -> dict[str, str | None]:
        r = self.rng
        if hub:
            prov, city, dist, area_code = _HUBS[r.integers(len(_HUBS))]
            pcode = next(t[3] for t in _division_triples() if t[0] == prov)
        else:
            triples = _division_triples()
            prov, city, dist, pcode = triples[r.integers(len(triples))]
            area_code = ""
        kind = r.random()
        if kind < 0.55 or not area_code:
            prefix = int(r.choice([*range(130, 140), 150, 151, 152, 153, 155, 156, 157, 158,
                                   159, *range(180, 190)]))  # fmt: skip
            phone = f"{prefix}{r.integers(10**8):08d}"
        elif kind < 0.85:
            width = 7 if area_code == "0592" else 8  # Xiamen keeps 7-digit numbers
            phone = f"{area_code}-{r.integers(2, 8)}{r.integers(10 ** (width - 1)):0{width - 1}d}"
        else:
            phone = f"400-{r.integers(100, 1000)}-{r.integers(10000):04d}"
        street = f"{_ROADS[r.integers(len(_ROADS))]}{r.integers(1, 999)}号" + _PARKS[
            r.integers(len(_PARKS))
        ].format(k=r.integers(1, 9))
        name = _SURNAMES[r.integers(len(_SURNAMES))] + _GIVEN[r.integers(len(_GIVEN))]
        return {
            "recipient": name, "phone": phone, "country": "CN", "province": prov,
            "city": city, "district": dist, "street": street,
            "postcode": f"{_POSTCODE_PREFIX[pcode]}{r.integers(10000):04d}",
        }  # fmt: skip

    def _us_entry(self) -> dict[str, str | None]:
        r = self.rng
        state, city, zip5, zip4, street, area = _US_SITES[r.integers(len(_US_SITES))]
        exchange = int(r.integers(200, 1000))
        while exchange == 555 or exchange % 100 == 11:
            exchange = int(r.integers(200, 1000))
        line = int(r.integers(10000))
        phone = (
            f"+1 {area}-{exchange}-{line:04d}" if r.random() < 0.5
            else f"({area}) {exchange}-{line:04d}"
        )  # fmt: skip
        return {
            "recipient": _US_NAMES[r.integers(len(_US_NAMES))], "phone": phone,
            "country": "US", "province": state, "city": city, "district": None,
            "street": f"{street}, Dock {r.integers(1, 40)}",
            "postcode": zip4 if r.random() < 0.4 else zip5,
        }  # fmt: skip

    def _hk_entry(self) -> dict[str, str | None]:
        r = self.rng
        city, dist, street = _HK_SITES[r.integers(len(_HK_SITES))]
        prefix = str(r.choice(["21", "23", "25", "26", "27", "61", "63", "64"]))
        name = _SURNAMES[r.integers(len(_SURNAMES))] + _GIVEN[r.integers(len(_GIVEN))]
        return {
            "recipient": name, "phone": f"+852 {prefix}{r.integers(100):02d} {r.integers(10000):04d}",
            "country": "HK", "province": "香港特别行政区", "city": city, "district": dist,
            "street": street, "postcode": None,
        }  # fmt: skip

    def _defect(self, entry: dict[str, str | None], variant: int) -> dict[str, str | None]:
        e = dict(entry)
        if e["country"] == "US":
            field, value = [("postcode", "9103"), ("phone", "+1 206-055-1234"),
                            ("street", None)][variant % 3]  # fmt: skip
        else:
            field, value = [("postcode", None), ("phone", "1381234567"), ("postcode", "20170"),
                            ("district", None), ("recipient", None)][variant % 5]  # fmt: skip
        e[field] = value
        return e

    def build_address_book(self) -> None:
        """Per shop: e1/e2 in use, e3 retired, e4 defective, e5 out of place, e6 HK, e7 future."""
        A, r = self.A, self.rng
        rows: list[dict[str, str | float | int | None]] = []
        n_shops = len(self.shop_ids)
        self.role = {k: np.full(n_shops, -1) for k in ("e1", "e2", "e3", "e4", "e5", "e6", "e7")}
        self.e1_from = np.zeros(n_shops)
        self.e3_to = np.zeros(n_shops)

        per_shop = np.zeros(n_shops, dtype=np.int64)

        def add(shop: int, role: str, entry: dict, valid_from: float, valid_to: float) -> None:
            self.role[role][shop] = len(rows)
            per_shop[shop] += 1
            rows.append({
                **entry, "address_id": f"{self.shop_ids[shop]}-ra{per_shop[shop]:02d}",
                "shop": shop, "valid_from": valid_from, "valid_to": valid_to,
            })  # fmt: skip

        for s in range(n_shops):
            us = self.shop_plat[s] == AMAZON
            make = self._us_entry if us else (lambda: self._cn_entry(r.random() < 0.7))
            switched = s % 2 == 0  # the shop moved warehouse 20 days ago
            e1_from = A - 20 * D if switched else A - r.uniform(200, 700) * D
            e3_to = e1_from if switched else A - 90 * D
            self.e1_from[s], self.e3_to[s] = e1_from, e3_to
            add(s, "e3", make(), A - r.uniform(800, 1200) * D, e3_to)
            add(s, "e1", make(), e1_from, np.nan)
            add(s, "e2", make(), A - r.uniform(100, 400) * D, np.nan)
            add(s, "e4", self._defect(make(), s), A - r.uniform(60, 300) * D, np.nan)
            if us:
                entry = self._cn_entry(True)  # the seller's Shenzhen warehouse: wrong country
            else:
                entry = self._cn_entry(True)
                entry["province"], entry["city"], entry["district"] = _NOT_NESTING[
                    s % len(_NOT_NESTING)
                ]
            add(s, "e5", entry, A - r.uniform(60, 300) * D, np.nan)
            if not us:
                add(s, "e6", self._hk_entry(), A - r.uniform(60, 300) * D, np.nan)
            if s % 3 == 1:
                add(s, "e7", make(), A + r.uniform(2, 10) * D, np.nan)
        self.book = rows
        self.book_ids = [row["address_id"] for row in rows]
        # RA002: ids that look like this shop's but are in no book
        self.unknown_addr = len(rows) + np.arange(n_shops)
        self.addr_pool = self.book_ids + [f"{sid}-ra99" for sid in self.shop_ids]

