"""Synthetic input tables for the demo, the tests and the benchmark.

``generate_tables`` builds the four tables of docs/spec.md (orders, refunds, return_addresses,
messages) exactly as they would sit in CSV files: every value a string, ``NA`` for empty.
The bulk follows a realistic after-sales lifecycle; a small, size-proportional share of rows is
then shaped so that every rule of the catalog fires (violations, ``at_risk`` and ``contestable``
cases); ``dirty=True`` adds a few rows of every quarantine kind.

Everything is drawn with numpy and formatted with pyarrow compute, never per row in Python, so
1M orders take seconds and 10M fit in memory.  Times are float64 seconds since the epoch (UTC)
inside this module, NaN for "not happened"; they become ISO 8601 strings only at the end.
How each rule is planted and the contract points this module had to interpret are written down
in ``docs/decisions-generator.md``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["COLUMNS", "DIRTY_KINDS", "generate_tables"]

H = 3600.0
D = 86400.0

#: Columns of each table, in the documented order (docs/spec.md).
COLUMNS: dict[str, list[str]] = {
    "orders": [
        "order_id", "platform", "shop_id", "buyer_region", "paid_at", "shipped_at",
        "delivered_at", "amount", "currency", "free_shipping", "no_reason_return",
    ],
    "refunds": [
        "refund_id", "order_id", "requested_at", "kind", "reason", "amount",
        "first_response_at", "decision", "decided_at", "return_address_id",
        "buyer_shipped_at", "seller_received_at", "refunded_at", "refunded_amount",
        "escalated_at", "escalation_response_at", "evidence_provided", "ruling", "ruled_at",
        "updated_at",
    ],
    "return_addresses": [
        "address_id", "shop_id", "recipient", "phone", "country", "province", "city",
        "district", "street", "postcode", "valid_from", "valid_to",
    ],
    "messages": ["message_id", "order_id", "refund_id", "sender", "sent_at", "text"],
}  # fmt: skip

#: The quarantine kinds that ``dirty=True`` plants, each in a few rows.
DIRTY_KINDS = (
    "missing_required",
    "wrong_type",
    "enum_outside_list",
    "duplicate_key",
    "missing_order",
    "quarantined_order",
    "unknown_platform",
    "negative_amount",
    "refund_exceeds_order",
    "impossible_timestamps",
)

PLATFORMS = ("tmall_global", "tmall", "jd_worldwide", "amazon_us")
SHOP_PREFIX = ("tmg", "tm", "jdw", "amz")
AMAZON = 3
ZONES = ("Asia/Shanghai", "America/Los_Angeles")  # zone code 0 / 1
KINDS = ("refund_only", "return_refund")
REASONS = ("no_reason", "quality", "not_as_described", "damaged", "wrong_item",
           "not_received", "other")  # fmt: skip
DECISIONS = ("pending", "agreed", "refused")
RULINGS = ("none", "seller_liable", "buyer_liable")
SENDERS = ("buyer", "seller", "platform")
REGIONS = ("CN", "HK", "US", None)

# The shipped profile defaults (docs/spec.md), in hours per platform code.  The generator only
# uses them to place planted cases well clear of (or just before) a deadline; the audit reads
# its own profiles.  amazon_us refunds after receipt on 2 *business* days: planted with margin.
RESP_UNSHIPPED_H = np.array([48.0, 48.0, 48.0, 48.0])
RESP_SHIPPED_H = np.array([120.0, 120.0, 120.0, 48.0])
ESC_H = np.array([24.0, 72.0, 72.0, 72.0])
RECV_H = np.array([168.0, 168.0, 168.0, 48.0])
MSG_H = 24.0
NO_REASON_DAYS = np.array([7.0, 7.0, 7.0, 30.0])

_TIME_FIELDS = ("req", "resp", "dec", "bship", "srecv", "refd", "esc", "escr", "ruled")
_LATER = _TIME_FIELDS[1:]
_DIVISIONS = Path(__file__).resolve().parent.parent / "checks" / "data" / "china_divisions"


# --------------------------------------------------------------------------- public entry point


def generate_tables(
    n_orders: int,
    *,
    seed: int = 7,
    as_of: str = "2026-11-20T02:00:00+08:00",
    window_days: int = 30,
    dirty: bool = True,
    shops: int | None = None,
) -> dict[str, pd.DataFrame]:
    """Generate ``orders``, ``refunds``, ``return_addresses`` and ``messages`` as string frames.

    Deterministic for (n_orders, seed, as_of, window_days, dirty, shops).  Columns are exactly
    the contract's, every value a string or NA.  ``as_of`` must carry an offset.  ``shops``:
    how many shops, spread over the four platforms in turn, each with at least one order
    (default: one per 20,000 orders, at least 4).
    """
    if n_orders < 1:
        raise ValueError("n_orders must be at least 1")
    if shops is not None and not 1 <= shops <= n_orders:
        raise ValueError(f"shops must be between 1 and the number of orders ({n_orders})")
    if window_days < 1:
        raise ValueError("window_days must be at least 1")
    stamp = pd.Timestamp(as_of)
    if stamp.tzinfo is None:
        raise ValueError(f"as_of must carry a UTC offset, got {as_of!r}")
    return _Builder(n_orders, seed, float(stamp.timestamp()), window_days * D, dirty,
                    shops).run()


# --------------------------------------------------------------------------- string formatting
# Strings are assembled as byte matrices (one row per value) and compacted into one Arrow
# buffer: a few numpy gathers per column instead of per-value formatting or string kernels,
# which is what keeps millions of timestamps, ids and amounts cheap.

_PAIRS = np.array([f"{i:02d}" for i in range(100)], dtype="S2").view(np.uint8).reshape(100, 2)


@cache
def _clock_bytes() -> np.ndarray:
    """``HH:MM:SS`` for every second of a day, as an (86400, 8) byte table."""
    text = [f"{h:02d}:{m:02d}:{x:02d}" for h in range(24) for m in range(60) for x in range(60)]
    return np.array(text, dtype="S8").view(np.uint8).reshape(86400, 8)


def _strings(rec: np.ndarray, keep: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """One string per row of the byte matrix ``rec``: the bytes where ``keep`` is set."""
    n = len(rec)
    lengths = keep.sum(axis=1, dtype=np.int64)
    offsets = np.zeros(n + 1, dtype=np.int64)  # large_string: what pandas' str dtype holds
    np.cumsum(lengths, out=offsets[1:])
    data = np.ascontiguousarray(rec[keep])
    valid, nulls = None, 0
    if null is not None and null.any():
        valid, nulls = pa.py_buffer(np.packbits(~null, bitorder="little")), int(null.sum())
    return pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(data), valid, nulls
    )


_PAIRS16 = _PAIRS.copy().view(np.uint16).ravel()


def _digits(v: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative ints, as an (n, width) byte matrix."""
    v = v.astype(np.int64)
    pairs = np.empty((len(v), (width + 1) // 2), dtype=np.uint16)
    for j in range(pairs.shape[1] - 1, -1, -1):
        pairs[:, j] = _PAIRS16[v % 100]
        v = v // 100
    out = pairs.view(np.uint8).reshape(len(v), 2 * pairs.shape[1])
    return out[:, 1:] if width % 2 else out


def _text_bytes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode(), dtype=np.uint8)


def _null_where(arr: pa.Array, empty: np.ndarray) -> pa.Array:
    if not empty.any():
        return arr
    return pc.if_else(pa.array(~empty), arr, pa.scalar(None, arr.type))


_SUFFIXES = ("+08:00", "-07:00", "-08:00", "Z", "")  # the zones' offsets, UTC, naive
_SUFFIX_LEN = np.array([len(x) for x in _SUFFIXES] + [0])


@cache
def _ts_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Timestamps are built as four 8-byte words per value, ``YYYY-MM-`` | ``DDTHH:MM`` |
    ``:SS`` | suffix, each one gather from these tables; ``keep`` marks the bytes to emit."""
    dd_clock = b"".join(
        f"{d:02d}{sep}{h:02d}:{m:02d}".encode()
        for d in range(1, 32)
        for sep in "T "
        for h in range(24)
        for m in range(60)
    )
    seconds = b"".join(f":{x:02d}".encode().ljust(8, b"\0") for x in range(60))
    suffix = b"".join(x.encode().ljust(8, b"\0") for x in _SUFFIXES)
    keep = np.zeros((len(_SUFFIXES) + 1, 32), dtype=bool)  # the last row: null, nothing
    for i, x in enumerate(_SUFFIXES):
        keep[i, :19] = True
        keep[i, 24 : 24 + len(x)] = True
    return (
        np.frombuffer(dd_clock, dtype=np.uint64),
        np.frombuffer(seconds, dtype=np.uint64),
        np.frombuffer(suffix, dtype=np.uint64),
        np.ascontiguousarray(keep).view(np.uint64),
    )


def _local_offsets(s: np.ndarray, zone: np.ndarray, style: np.ndarray) -> np.ndarray:
    """UTC offset (seconds) per instant; naive styles that would not read back are reset to 0."""
    off = np.full(len(s), 8 * 3600, dtype=np.int64)
    la = zone == 1
    if not la.any():
        return off
    utc = s[la].astype("datetime64[s]")
    wall = pd.DatetimeIndex(utc).tz_localize("UTC").tz_convert(ZONES[1]).tz_localize(None)
    wall_s = wall.to_numpy().astype("datetime64[s]")
    off[la] = wall_s.astype(np.int64) - s[la]
    naive = style[la] >= 2
    if naive.any():
        # the repeated hour when clocks go back reads as its first occurrence (docs/spec.md)
        back = pd.DatetimeIndex(wall_s).tz_localize(
            ZONES[1], ambiguous=np.ones(len(wall_s), dtype=bool), nonexistent="shift_forward"
        )
        back_s = back.tz_convert("UTC").tz_localize(None).to_numpy().astype("datetime64[s]")
        la_style = style[la]
        la_style[naive & (back_s.astype(np.int64) != s[la])] = 0
        style[la] = la_style
    return off


def _fmt_ts(sec: np.ndarray, zone: np.ndarray, style: np.ndarray) -> pa.Array:
    """ISO 8601 strings for float seconds (NaN → null) in the row's zone and style.

    style 0: local time with offset, 1: UTC with ``Z``, 2: naive local ``YYYY-MM-DD HH:MM:SS``,
    3: naive local with ``T``.  A naive local time that would read back as another instant (the
    repeated hour when clocks go back) is written with its offset instead.
    """
    n = len(sec)
    empty = np.isnan(sec)
    s = np.where(empty, 0.0, np.floor(sec)).astype(np.int64)
    style = style.astype(np.int8, copy=True)
    off = _local_offsets(s, zone, style)
    shown = np.where(style == 1, s, s + off)
    days = np.floor_divide(shown, 86400)
    clock = shown - days * 86400
    first = int(days.min()) if n else 0
    span = int(days.max()) - first + 1 if n else 1
    calendar = np.arange(first, first + span).astype("datetime64[D]")
    year_month = np.frombuffer(
        np.datetime_as_string(calendar.astype("datetime64[M]")).astype("S7").tobytes(), "S7"
    )
    head = np.frombuffer(b"".join(ym + b"-" for ym in year_month), dtype=np.uint64)
    mday = (calendar - calendar.astype("datetime64[M]")).astype(np.int64)
    dd_clock, seconds, suffix, keep = _ts_tables()
    local = np.where(off == 8 * 3600, 0, np.where(off == -7 * 3600, 1, 2))
    code = np.where(empty, 5, np.where(style == 0, local, np.where(style == 1, 3, 4)))
    rec = np.empty((n, 4), dtype=np.uint64)
    rec[:, 0] = head[days - first]
    rec[:, 1] = dd_clock[(mday[days - first] * 2 + (style == 2)) * 1440 + clock // 60]
    rec[:, 2] = seconds[clock % 60]
    rec[:, 3] = suffix[np.minimum(code, 4)]
    mask = keep[code].view(bool).reshape(n, 32)
    return _strings(rec.view(np.uint8).reshape(n, 32), mask, empty)


def _money(cents: np.ndarray) -> pa.Array:
    """Decimal with 2 places for non-negative int64 cents; negative → null."""
    c = np.maximum(cents, 0)
    whole = c // 100
    rec = np.empty((len(c), 12), dtype=np.uint8)
    rec[:, :9] = _digits(whole, 9)
    rec[:, 9] = ord(".")
    rec[:, 10:] = _PAIRS[c % 100]
    n_digits = 1 + sum((whole >= 10**k).astype(np.int64) for k in range(1, 9))
    return _strings(rec, np.arange(12) >= (9 - n_digits)[:, None], cents < 0)


def _fixed(parts: list[np.ndarray | str], n: int) -> np.ndarray:
    """Concatenate byte matrices and literal strings column-wise into one (n, w) matrix."""
    cols = [
        np.broadcast_to(_text_bytes(p), (n, len(p.encode()))) if isinstance(p, str) else p
        for p in parts
    ]
    return np.concatenate(cols, axis=1) if cols else np.empty((n, 0), dtype=np.uint8)


def _ids(rows: list[tuple[np.ndarray, list[np.ndarray | str]]], n: int) -> pa.Array:
    """Strings whose layout depends on a group: [(row mask, parts)], left-aligned."""
    width = 0
    built = []
    for mask, parts in rows:
        rec = _fixed(parts, int(mask.sum()))
        built.append((mask, rec))
        width = max(width, rec.shape[1])
    out = np.zeros((n, width), dtype=np.uint8)
    length = np.zeros(n, dtype=np.int64)
    for mask, rec in built:
        out[mask, : rec.shape[1]] = rec
        length[mask] = rec.shape[1]
    return _strings(out, np.arange(width) < length[:, None])


_BOOL_WORDS = pa.array(["true", "false", "1", "0", "yes", "no", "TRUE", "FALSE", "True",
                        "False", "Yes", "No", None], type=pa.large_string())  # fmt: skip
_BOOL_STYLE_P = np.array([0.55, 0.17, 0.1, 0.08, 0.07, 0.03])


def _bools(value: np.ndarray, empty: np.ndarray, spelling: np.ndarray) -> pa.Array:
    code = np.where(empty, 12, spelling * 2 + (~value.astype(bool)).astype(np.int64))
    return _BOOL_WORDS.take(pa.array(code))


def _pick(pool: list[str | None], idx: np.ndarray) -> pa.Array:
    return pa.array(pool, type=pa.large_string()).take(pa.array(idx.astype(np.int64)))


def _replace(arr: pa.Array, rows: list[int], values: list[str | None]) -> pa.Array:
    """Set ``arr[rows] = values`` (rows unique)."""
    if not rows:
        return arr
    order = np.argsort(rows)
    mask = np.zeros(len(arr), dtype=bool)
    mask[np.asarray(rows)[order]] = True
    vals = pa.array([values[i] for i in order], type=arr.type)
    return pc.replace_with_mask(arr, pa.array(mask), vals)


def _frame(columns: dict[str, pa.Array], names: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(columns[c], dtype="str") for c in names}, copy=False)


def _layout(key: np.ndarray, n_all: int, dups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row order of the output (sorted by ``key``, exact copies next to their original) and,
    for each input row, its output position (the original's, for a copied row)."""
    rows = np.concatenate([np.arange(n_all), dups])
    order = rows[np.argsort(key[rows], kind="stable")]
    pos = np.empty(n_all, dtype=np.int64)
    pos[order[::-1]] = np.arange(len(order))[::-1]
    return order, pos


# --------------------------------------------------------------------------- ids


def _scramble(i: np.ndarray, mult: int, add: int) -> np.ndarray:
    """A bijection of [0, 10**12): unique, random-looking id digits for a running number."""
    return (i.astype(np.int64) * mult + add) % 10**12


def _order_ids(num: np.ndarray, plat: np.ndarray) -> pa.Array:
    """Taobao-like 19 digits, JD-like 13 digits, Amazon ``113-1234567-1234567``."""
    x = _scramble(num, 738_219_983, 113_592_337)
    tail = (x % 1_000_003) * 7919 % 1_000_000
    groups = []
    for mask, kind in (
        (plat == AMAZON, "amz"),
        (plat == 2, "jd"),
        ((plat != AMAZON) & (plat != 2), "tb"),
    ):
        xs, ts = _digits(x[mask], 12), tail[mask]
        if kind == "tb":
            parts: list[np.ndarray | str] = ["2", xs, _digits(ts, 6)]
        elif kind == "jd":
            parts = ["3", xs]
        else:
            parts = [
                "11",
                _digits(ts % 5 + 1, 1),
                "-",
                xs[:, :7],
                "-",
                xs[:, 7:],
                _digits(ts % 100, 2),
            ]
        groups.append((mask, parts))
    return _ids(groups, len(num))


def _refund_ids(num: np.ndarray, plat: np.ndarray) -> pa.Array:
    y = _scramble(num, 531_372_911, 402_553_781)
    amz = plat == AMAZON
    return _ids(
        [
            (amz, ["D", _digits(y[amz], 12)]),
            (~amz, ["1", _digits(y[~amz], 12), _digits(y[~amz] * 40_503 % 100_000, 5)]),
        ],
        len(num),
    )


def _message_ids(num: np.ndarray) -> pa.Array:
    every = np.ones(len(num), dtype=bool)
    return _ids([(every, ["msg-", _digits(_scramble(num, 914_616_497, 77_003_119), 12)])], len(num))


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


# --------------------------------------------------------------------------- message texts

_CN_TEXTS: dict[str, list[str]] = {
    "open_no_reason": ["不想要了，申请七天无理由退货", "拍错了，麻烦同意一下退款", "买多了，想退一件",
                       "尺码不合适，想退货", "家里已经有了，不需要了，申请退款"],
    "open_quality": ["收到的商品有质量问题，拉链坏了", "用了一次就坏了，申请退货退款",
                     "屏幕有坏点，要求退货", "有异味，质量太差了"],
    "open_not_as_described": ["实物和描述不符，颜色差别很大", "和详情页写的成分不一样",
                              "说是正品，专柜验了说不对"],
    "open_damaged": ["快递送到的时候包装破损，瓶子碎了", "外箱压坏了，里面的东西也有损坏"],
    "open_wrong_item": ["发错货了，我买的是黑色的", "收到的型号不对，麻烦处理一下"],
    "open_not_received": ["物流好几天没更新了，还没收到货", "显示已签收但我没收到"],
    "open_other": ["想问一下退款什么时候到账", "优惠券没用上，能退差价吗", "赠品没收到"],
    "followup": ["在吗？", "请尽快处理，谢谢", "还没处理吗？", "[图片]", "麻烦看一下"],
    "later": ["退货单号已经填了，请查收", "好的，谢谢", "已经寄回了", "钱什么时候退？",
              "收到了，谢谢"],
    "seller_refund": ["亲，非常抱歉给您带来不便，已为您处理退款", "您好，退货地址已发送，请寄回售后仓",
                      "亲，麻烦提供一下商品问题的照片哦", "收到您的退货后会第一时间退款",
                      "亲，已经同意退款，请注意查收", "您好，已为您催促快递，请耐心等待",
                      "本店支持七天无理由退货，请放心"],
    "seller_question": ["亲，48小时内发货哦", "支持开具电子发票", "保证正品，假一赔十",
                        "已为您修改地址", "今天下午已经发出了"],
    "seller_lookalike": ["滚筒洗衣机已发货，请注意查收", "亲，页面滚动到底部可以看到退货地址哦",
                         "您买的滚筒刷明天发货"],
    "platform_escalation": ["平台客服已介入，请双方在规定时间内提交凭证",
                            "小二已介入处理，请卖家尽快响应"],
    "platform_ruling": ["平台已完成判定，请查看处理结果"],
    "question": ["什么时候发货？", "可以开发票吗？", "请问是正品吗？", "能改一下收货地址吗？"],
    "hostile": ["爱买不买", "爱买不买，不退", "滚", "滚！别烦我", "不退，爱找谁找谁去"],
}  # fmt: skip
_EN_TEXTS: dict[str, list[str]] = {
    "open_no_reason": ["I'd like to return this, I changed my mind.", "Ordered the wrong size, "
                       "please accept the return.", "No longer needed, requesting a refund."],
    "open_quality": ["The zipper broke after one use.", "Stopped working after two days."],
    "open_not_as_described": ["The color is nothing like the pictures.",
                              "Item is not as described in the listing."],
    "open_damaged": ["The box arrived crushed and the glass is cracked."],
    "open_wrong_item": ["You sent me the wrong model."],
    "open_not_received": ["Tracking hasn't moved in a week, where is my package?",
                          "It says delivered but I never got it."],
    "open_other": ["When will my refund arrive?", "Can you refund the price difference?"],
    "followup": ["Hello?", "Any update on this?", "Please respond."],
    "later": ["I shipped it back today.", "Thanks!", "Got the refund, thank you.",
              "Tracking number is in the return request."],
    "seller_refund": ["Sorry for the trouble, we have issued a full refund.",
                      "Please use the prepaid label to send the item back.",
                      "Could you send us a photo of the damage?",
                      "Your refund will be processed as soon as the return arrives.",
                      "No problem at all, happy to help!"],
    "seller_question": ["It ships within 1 business day.", "Yes, it is compatible.",
                        "We updated your shipping address."],
    "seller_lookalike": ["We're rolling out the fix for this model next week.",
                         "Rolling out the replacement today, you'll get tracking soon."],
    "platform_escalation": ["Amazon has received an A-to-z Guarantee claim for this order.",
                            "A claim was filed for this order. Please respond within 72 hours."],
    "platform_ruling": ["The A-to-z Guarantee claim has been decided."],
    "question": ["When will this ship?", "Is this compatible with iPhone 15?",
                 "Can I change the delivery address?"],
    "hostile": ["Not my problem.", "not my problem, talk to the carrier",
                "That's not my problem. Stop messaging me."],
}  # fmt: skip
_TEXT_KEYS = list(_CN_TEXTS)
_TEXT_POOL: list[str] = []
_TEXT_OFF = np.zeros(2 * len(_TEXT_KEYS), dtype=np.int64)
_TEXT_LEN = np.zeros(2 * len(_TEXT_KEYS), dtype=np.int64)
for _lang, _texts in enumerate((_CN_TEXTS, _EN_TEXTS)):
    for _k, _key in enumerate(_TEXT_KEYS):
        _TEXT_OFF[_lang * len(_TEXT_KEYS) + _k] = len(_TEXT_POOL)
        _TEXT_LEN[_lang * len(_TEXT_KEYS) + _k] = len(_texts[_key])
        _TEXT_POOL.extend(_texts[_key])
_TEXT_POOL.append(None)  # type: ignore[arg-type]  # an image-only message has no text
_T = {key: k for k, key in enumerate(_TEXT_KEYS)}


# --------------------------------------------------------------------------- array helpers


def _take(t: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[idx] for k, v in t.items()}


def _cat(*parts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _fmax(*arrays: np.ndarray) -> np.ndarray:
    out = arrays[0]
    for a in arrays[1:]:
        out = np.fmax(out, a)
    return out


def _every_shop_sells(shop: np.ndarray, n_shops: int) -> None:
    """Give each shop without an order one order of the shop with the most (in place), so
    that exactly ``n_shops`` shops appear; the draw is left as it was when none is missing."""
    count = np.bincount(shop, minlength=n_shops)
    for missing in np.flatnonzero(count == 0):
        donor = int(np.argmax(count))
        shop[np.flatnonzero(shop == donor)[0]] = missing
        count[donor] -= 1
        count[missing] += 1


class _Builder:
    """One generation run: the random stream, as_of and the tables being built."""

    def __init__(self, n: int, seed: int, as_of: float, window: float, dirty: bool,
                 shops: int | None = None) -> None:
        self.n = n
        self.n_shops = shops
        self.rng = np.random.default_rng(seed)
        self.A = as_of
        self.W = window
        self.dirty = dirty

    # ------------------------------------------------------------------ helpers
    def logn(self, median: float, sigma: float, size: int) -> np.ndarray:
        return median * np.exp(self.rng.normal(0.0, sigma, size))

    def choice(self, p: list[float], size: int, values: list[int] | None = None) -> np.ndarray:
        p_arr = np.asarray(p, dtype=float)
        idx = self.rng.choice(len(p_arr), size=size, p=p_arr / p_arr.sum())
        return idx if values is None else np.asarray(values)[idx]

    def styles(self, size: int) -> np.ndarray:
        return self.choice([0.55, 0.2, 0.15, 0.1], size).astype(np.int8)

    def spellings(self, size: int) -> np.ndarray:
        return self.rng.choice(len(_BOOL_STYLE_P), size=size, p=_BOOL_STYLE_P)

    def plant(self, cand: np.ndarray, frac: float, k_min: int = 2) -> np.ndarray:
        """Pick a rule's share of unclaimed candidate refunds (at least k_min when possible)."""
        idx = np.flatnonzero(cand & ~self.claimed)
        k = min(len(idx), max(k_min, round(frac * self.n_scope)))
        chosen = np.sort(self.rng.choice(idx, size=k, replace=False)) if k else idx[:0]
        self.claimed[chosen] = True
        return chosen

    # ------------------------------------------------------------------ run
    def run(self) -> dict[str, pd.DataFrame]:
        self.build_shops()
        self.build_address_book()
        self.build_orders()
        self.build_refunds()
        self.plant_refunds()
        self.finish_refunds()
        self.build_messages()
        self.plant_messages()
        extra = self.add_dirty() if self.dirty else {t: ({}, []) for t in COLUMNS}
        return {
            "orders": self.format_orders(*extra["orders"]),
            "refunds": self.format_refunds(*extra["refunds"]),
            "return_addresses": self.format_addresses(extra["return_addresses"][1]),
            "messages": self.format_messages(*extra["messages"]),
        }

    # ------------------------------------------------------------------ shops & address book
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

    # ------------------------------------------------------------------ orders
    def build_orders(self) -> None:
        n, A, r = self.n, self.A, self.rng
        shop = r.choice(len(self.shop_ids), size=n, p=self.shop_p)
        if self.n_shops:
            _every_shop_sells(shop, self.n_shops)
        plat = self.shop_plat[shop].astype(np.int8)
        std_off = np.where(plat == AMAZON, -8 * H, 8 * H)
        span = max(2 * D, 1.5 * self.W)
        t = A - span + r.uniform(0, span, n) + std_off
        hour_w = [3, 2, 1, 1, 1, 1, 1, 2, 3, 4, 6, 6, 5, 5, 6, 6, 5, 5, 5, 6, 8, 9, 9, 6]
        paid = np.floor(t / D) * D + self.choice(hour_w, n) * H + r.uniform(0, H, n) - std_off
        paid = np.where(paid >= A - 60, paid - D, paid)
        shipped = paid + np.clip(self.logn(20 * H, 0.7, n), 0.3 * H, 10 * D)
        shipped[r.random(n) < 0.05] = np.nan
        transit = np.array([4.5, 2.0, 3.5, 3.0])[plat] * D * np.exp(r.normal(0, 0.4, n))
        delivered = shipped + transit
        delivered[r.random(n) < 0.03] = np.nan
        cutoff = np.full(n, A)
        # a few orders paid after as_of: the pull ran later than the audit's as_of
        future = r.choice(n, size=min(n, max(2, round(0.003 * n))), replace=False)
        shift = A + r.uniform(10 * 60, 30 * H, len(future)) - paid[future]
        paid[future] += shift
        shipped[future] += shift
        delivered[future] += shift
        cutoff[future] = A + 2 * D
        shipped[shipped > cutoff] = np.nan
        delivered[np.isnan(shipped) | (delivered > cutoff)] = np.nan
        us = plat == AMAZON
        cents = np.where(
            us,
            np.floor(self.logn(29.0, 0.8, n)) * 100 + np.where(r.random(n) < 0.7, 99, 0),
            np.round(self.logn(159.0, 0.9, n), 1) * 100,
        ).astype(np.int64)
        cents = np.clip(cents, 199, 5_000_000)
        region = np.where(
            us,
            np.where(r.random(n) < 0.97, 2, 3),
            self.choice([0.91, 0.04, 0.05], n, [0, 1, 3]),
        ).astype(np.int8)
        by_paid = np.argsort(paid, kind="stable")  # orders are numbered as they were paid
        shop, plat, region, paid = shop[by_paid], plat[by_paid], region[by_paid], paid[by_paid]
        shipped, delivered, cents = shipped[by_paid], delivered[by_paid], cents[by_paid]
        us = plat == AMAZON
        self.od = {
            "num": np.arange(n, dtype=np.int64), "plat": plat, "shop": shop.astype(np.int32),
            "region": region, "paid": paid, "shipped": shipped, "delivered": delivered,
            "cents": cents, "fs": r.random(n) < np.where(us, 0.55, 0.88),
            "nrr": r.random(n) < np.array([0.85, 0.95, 0.9, 0.97])[plat],
            "style": self.styles(n), "spell": self.spellings(n),
        }  # fmt: skip

    # ------------------------------------------------------------------ refunds: bulk lifecycle
    def build_refunds(self) -> None:
        od, A, r = self.od, self.A, self.rng
        target = round(0.22 * self.n)
        m = int(target * 1.6) + 20
        oi = r.integers(0, self.n, m)
        paid, shipped, delivered = od["paid"][oi], od["shipped"][oi], od["delivered"][oi]
        has_ship, has_del = ~np.isnan(shipped), ~np.isnan(delivered)
        u = r.random(m)
        stage = np.where(
            has_del, np.where(u < 0.8, 2, np.where(u < 0.92, 1, 0)),
            np.where(has_ship & (u < 0.6), 1, 0),
        )  # fmt: skip
        reason = np.select(
            [stage == 0, stage == 1],
            [self.choice([0.75, 0.25], m, [0, 6]), self.choice([0.45, 0.35, 0.2], m, [5, 0, 6])],
            self.choice([0.35, 0.2, 0.13, 0.09, 0.06, 0.03, 0.14], m),
        )
        quality = np.isin(reason, (1, 2, 3))
        p_return = np.array([0.85, 0.7, 0.75, 0.35, 0.8, 0.0, 0.4])[reason]
        kind = np.where(stage == 2, r.random(m) < p_return, (stage == 1) & (r.random(m) < 0.1))
        pre_gap = np.fmin(np.where(has_ship, shipped - paid, 3 * D), 3 * D)
        transit_end = np.where(has_del, delivered, np.fmin(shipped + 7 * D, A))
        after = np.select(
            [quality, reason == 0],
            [np.where(r.random(m) < 0.85, r.uniform(0.5 * H, 22 * H, m),
                      24 * H + r.exponential(2 * D, m)),
             r.exponential(2.2 * D, m)],
            r.exponential(3 * D, m),
        )  # fmt: skip
        req = np.select(
            [stage == 0, stage == 1],
            [paid + r.uniform(0.02, 0.95, m) * pre_gap,
             shipped + r.uniform(0.05, 0.95, m) * (transit_end - shipped)],
            delivered + after,
        )  # fmt: skip
        keep = np.flatnonzero(req < A - 60)[:target]
        oi, stage, reason, kind, req = oi[keep], stage[keep], reason[keep], kind[keep], req[keep]
        n = len(keep)
        quality = np.isin(reason, (1, 2, 3))
        plat = od["plat"][oi]
        cents_o = od["cents"][oi]
        partial = (stage == 2) & (r.random(n) < 0.25)
        cents = np.where(partial, np.maximum(1, (cents_o * r.uniform(0.1, 0.9, n))), cents_o)
        self.R = R = {
            "oi": oi.astype(np.int64), "plat": plat, "shop": od["shop"][oi],
            "kind": kind.astype(np.int8), "reason": reason.astype(np.int8),
            "cents": cents.astype(np.int64), "rcents": np.full(n, -1, dtype=np.int64),
            "decision": np.zeros(n, dtype=np.int8), "ruling": np.zeros(n, dtype=np.int8),
            "addr": np.full(n, -1, dtype=np.int64), "evidence": np.full(n, 2, dtype=np.int8),
            "num": np.arange(n, dtype=np.int64), "style": self.styles(n),
            "spell": self.spellings(n), "jitter": r.uniform(5, 300, n),
            "upd_empty": r.random(n) < 0.01, "silent": np.zeros(n, dtype=bool),
            "cutoff": np.full(n, A), **{f: np.full(n, np.nan) for f in _TIME_FIELDS},
        }  # fmt: skip
        R["req"] = req
        self.stage = stage
        self.delivered_r = od["delivered"][oi]
        self.close = self.no_reason_close(self.delivered_r, plat)
        self.resp_sla = self.response_sla(R)
        self.lifecycle(R, quality)
        self.R_quality = quality

    @staticmethod
    def no_reason_close(delivered: np.ndarray, plat: np.ndarray) -> np.ndarray:
        """CN: 7 days from 00:00 of the day after delivery; amazon_us: 30 days from delivery."""
        local = delivered + 8 * H
        cn = (np.floor(local / D) + 1 + 7) * D - 8 * H
        return np.where(plat == AMAZON, delivered + 30 * D, cn)

    def response_sla(self, R: dict[str, np.ndarray]) -> np.ndarray:
        shipped = self.od["shipped"][R["oi"]]
        shipped_state = ~np.isnan(shipped) & (shipped <= R["req"])
        return np.where(shipped_state, RESP_SHIPPED_H[R["plat"]], RESP_UNSHIPPED_H[R["plat"]]) * H

    def lifecycle(self, R: dict[str, np.ndarray], quality: np.ndarray) -> None:
        r, n = self.rng, len(R["req"])
        req, plat, reason, us = R["req"], R["plat"], R["reason"], R["plat"] == AMAZON
        # first response; a few sellers never answer, and CN platforms then auto-agree at the
        # deadline (超时自动同意) — a response exactly at the due time, which is on time
        resp = req + np.maximum(60, self.logn(2 * H, 1.0, n))
        never = r.random(n) < 0.03
        auto = never & ~us & (r.random(n) < 0.6)
        resp[never] = np.nan
        eligible = self.od["nrr"][R["oi"]] & ((self.stage < 2) | (req < self.close))
        decision = np.where(
            reason == 0,
            np.where(eligible, self.choice([0.03, 0.97], n),
                     self.choice([0.05, 0.4, 0.55], n)),
            self.choice([0.07, 0.8, 0.13], n),
        ).astype(np.int8)  # fmt: skip
        decision[(reason == 5) & (self.stage == 1)] = 1
        dec = resp + np.where(r.random(n) < 0.6, 0.0, self.logn(6 * H, 1.0, n))
        dec[decision == 0] = np.nan
        decision[never] = 0
        dec[auto] = req[auto] + self.resp_sla[auto]
        decision[auto] = 1
        agreed = decision == 1
        ret = agreed & (R["kind"] == 1)
        bship = np.where(ret & (r.random(n) > 0.07), dec + self.logn(1.2 * D, 0.6, n), np.nan)
        ret_days = np.array([4.0, 2.5, 3.0, 4.0])[plat] * D
        srecv = bship + ret_days * np.exp(r.normal(0, 0.35, n))
        srecv[r.random(n) < 0.04] = np.nan
        after_recv = np.where(
            us, np.minimum(self.logn(10 * H, 0.8, n), 47 * H), self.logn(18 * H, 1.0, n)
        )
        refd = np.where(
            R["kind"] == 1, srecv + after_recv,
            dec + np.maximum(30, self.logn(0.3 * H, 1.0, n)),
        )  # fmt: skip
        refd[~agreed | (r.random(n) < 0.02)] = np.nan
        # escalation: mostly refusals and sellers who never answered
        unanswered = never & ~auto
        stuck = ret & np.isnan(refd)
        p_esc = np.select([decision == 2, unanswered, stuck], [0.3, 0.5, 0.15], 0.01)
        esc_base = np.select(
            [decision == 2, unanswered],
            [dec + self.logn(20 * H, 0.8, n), req + self.resp_sla + self.logn(6 * H, 0.8, n)],
            _fmax(req, dec, srecv) + self.logn(2 * D, 0.5, n),
        )
        esc = np.where(r.random(n) < p_esc, esc_base, np.nan)
        escr = esc + np.maximum(300, self.logn(5 * H, 1.0, n))
        escr[r.random(n) < 0.03] = np.nan
        ruled = np.where(r.random(n) < 0.85, esc + self.logn(2 * D, 0.4, n), np.nan)
        p_seller = np.select([decision == 2, unanswered], [0.45, 0.85], 0.5)
        ruling = np.where(np.isnan(ruled), 0, np.where(r.random(n) < p_seller, 1, 2))
        forced = (ruling == 1) & np.isnan(refd)
        refd[forced] = ruled[forced] + r.uniform(600, 6 * H, forced.sum())
        R["rcents"] = np.where(np.isnan(refd), -1, R["cents"])
        R["evidence"] = np.where(
            quality, r.random(n) >= 0.12, np.where(r.random(n) < 0.9, 2, 0)
        ).astype(np.int8)
        R.update(resp=resp, dec=dec, bship=bship, srecv=srecv, refd=refd, esc=esc, escr=escr,
                 ruled=ruled, decision=decision, ruling=ruling.astype(np.int8))  # fmt: skip
        # the address the seller sent: the shop's current entry (its old one before a move)
        shop = R["shop"]
        current = np.where(r.random(n) < 0.8, self.role["e1"][shop], self.role["e2"][shop])
        addr = np.where(dec < self.e1_from[shop], self.role["e3"][shop], current)
        R["addr"] = np.where(ret, addr, -1)

    def shift(self, idx: np.ndarray, since: np.ndarray, delta: np.ndarray) -> None:
        """Move every later event of refunds ``idx`` (at or after ``since``) by ``delta``."""
        for f in _LATER:
            v = self.R[f][idx]
            self.R[f][idx] = np.where(v >= since, v + delta, v)

    def clear(self, idx: np.ndarray, *fields: str) -> None:
        for f in fields:
            self.R[f][idx] = np.nan
        if "refd" in fields:
            self.R["rcents"][idx] = -1
        if "dec" in fields:
            self.R["decision"][idx] = 0
            self.R["addr"][idx] = -1
        if "ruled" in fields:
            self.R["ruling"][idx] = 0

    # ------------------------------------------------------------------ refunds: planted cases
    def plant_refunds(self) -> None:
        R, od, A, r = self.R, self.od, self.A, self.rng
        n = len(R["req"])
        req, plat, shop = R["req"], R["plat"], R["shop"]
        in_win = (req >= A - self.W) & (req < A)
        self.n_scope = int(in_win.sum())
        self.claimed = np.zeros(n, dtype=bool)
        delivered = self.delivered_r
        has_del = ~np.isnan(delivered)
        quality = self.R_quality
        cn = plat != AMAZON
        no_esc = np.isnan(R["esc"])

        # DA001 (contestable): tmall_global quality claim raised > 24 h after delivery
        new_req = delivered + 24 * H + r.uniform(3 * H, 3 * D, n)
        ok = (new_req >= A - self.W) & (new_req <= A - 2 * H)
        idx = self.plant(in_win & (plat == 0) & quality & (self.stage == 2) & ok, 0.005)
        self.shift(idx, req[idx], new_req[idx] - req[idx])
        req[idx] = new_req[idx]
        # DA002 (contestable): tmall_global quality claim without evidence
        idx = self.plant(in_win & (plat == 0) & quality, 0.005)
        R["evidence"][idx] = 0

        # SD001: an eligible 7-day no-reason return refused
        r0 = np.where(np.isnan(R["resp"]), req + r.uniform(H, 10 * H, n), R["resp"])
        sd_pop = in_win & od["nrr"][R["oi"]] & (R["reason"] == 0) & (self.stage == 2)
        sd_pop &= req < self.close
        idx = self.plant(sd_pop & (R["decision"] != 2) & no_esc & (r0 <= A - 2 * H), 0.004)
        R["resp"][idx] = r0[idx]
        self.clear(idx, "dec", "bship", "srecv", "refd")
        R["dec"][idx] = r0[idx] + r.uniform(0, H, len(idx))
        R["decision"][idx] = 2
        # SD002: the same population, free shipping, refunded short (return postage deducted)
        fee = np.where(plat == AMAZON, r.choice([599, 799], n), r.choice([800, 1000, 1200], n))
        cand = sd_pop & od["fs"][R["oi"]] & (R["rcents"] > 2 * fee) & (R["refd"] <= A)
        idx = self.plant(cand & (R["decision"] == 1), 0.004)
        R["rcents"][idx] -= fee[idx]

        # RT003 at_risk (CN, 168 h): returned parcel signed for 6-7 days ago, not refunded
        agreed_ret = (R["decision"] == 1) & (R["kind"] == 1)
        new_recv = A - 168 * H + r.uniform(2 * H, 22 * H, n)
        cand = in_win & cn & agreed_ret & (R["bship"] <= new_recv - 12 * H) & no_esc
        idx = self.plant(cand, 0.002)
        R["srecv"][idx] = new_recv[idx]
        self.clear(idx, "refd")
        # RT003 violation: refunded well after the refund-after-receipt deadline
        late = np.where(
            plat == AMAZON, 6 * D + r.uniform(0, D, n), 168 * H + r.uniform(4 * H, 2 * D, n)
        )
        idx = self.plant(in_win & (R["srecv"] <= A - 9 * D) & no_esc, 0.005)
        R["refd"][idx] = R["srecv"][idx] + late[idx]
        R["rcents"][idx] = R["cents"][idx]

        # RT001 at_risk: a request on a delivered order, unanswered, due within the next 24 h
        sla_shipped = RESP_SHIPPED_H[plat] * H
        new_req = A - sla_shipped + r.uniform(2 * H, 22 * H, n)
        cand = in_win & has_del & (delivered <= new_req - 12 * H) & no_esc
        idx = self.plant(cand, 0.003)
        req[idx] = new_req[idx]
        self.clear(idx, *_LATER)
        self.resp_sla[idx] = sla_shipped[idx]
        # RT001 violation: first response (and all that followed) after the deadline
        first = np.fmin(R["resp"], R["dec"])
        idx = self.plant(in_win & ~np.isnan(first) & (req <= A - 8 * D) & no_esc, 0.008)
        new_first = req[idx] + self.resp_sla[idx] + r.uniform(2 * H, 40 * H, len(idx))
        self.shift(idx, first[idx], new_first - first[idx])

        # RT002 violation: the seller answered the platform intervention late
        esc_h = ESC_H[plat] * H
        open_or_refused = (R["decision"] == 0) | ((R["decision"] == 2) & (R["dec"] <= A - 8 * D))
        idx = self.plant(in_win & (req <= A - 10 * D) & no_esc & open_or_refused, 0.004)
        R["esc"][idx] = _fmax(req[idx], R["dec"][idx]) + r.uniform(6 * H, 30 * H, len(idx))
        R["escr"][idx] = R["esc"][idx] + esc_h[idx] + r.uniform(2 * H, 40 * H, len(idx))
        ruled = (R["decision"][idx] == 2) & (r.random(len(idx)) < 0.5)
        R["ruled"][idx] = np.where(
            ruled, R["escr"][idx] + r.uniform(12 * H, 2 * D, len(idx)), np.nan
        )
        R["ruling"][idx] = np.where(ruled, 2, 0)
        # RT002 at_risk: escalated just now, no response yet
        open_or_refused = (R["decision"] == 0) | ((R["decision"] == 2) & (R["dec"] <= A - 3 * D))
        idx = self.plant(in_win & (req <= A - 4 * D) & no_esc & open_or_refused, 0.002)
        R["esc"][idx] = A - esc_h[idx] + r.uniform(2 * H, 22 * H, len(idx))
        self.clear(idx, "escr", "ruled")

        # DA003: a refusal the platform overturned (ruling seller_liable)
        cand = in_win & (req <= A - 12 * D) & no_esc & (R["reason"] != 0) & (R["dec"] <= A - 9 * D)
        idx = self.plant(cand, 0.004)
        k = len(idx)
        self.clear(idx, "bship", "srecv", "refd")
        R["addr"][idx] = -1
        R["decision"][idx] = 2
        R["esc"][idx] = R["dec"][idx] + r.uniform(3 * H, 30 * H, k)
        R["escr"][idx] = R["esc"][idx] + r.uniform(H, 0.8 * esc_h[idx], k)
        R["ruled"][idx] = R["esc"][idx] + r.uniform(D, 3 * D, k)
        R["ruling"][idx] = 1
        R["refd"][idx] = R["ruled"][idx] + r.uniform(600, 3 * H, k)
        R["rcents"][idx] = R["cents"][idx]

        # RA001–RA006: the address sent with an agreed return
        ra_pop = in_win & (R["decision"] == 1) & (R["kind"] == 1) & (R["dec"] <= A - H)
        idx = self.plant(ra_pop, 0.004)  # RA001: none sent
        self.clear(idx, "bship", "srecv", "refd")
        R["addr"][idx] = -1
        idx = self.plant(ra_pop, 0.004)  # RA002: unknown id / another shop's entry
        other = self.role["e1"][(shop[idx] + 1) % len(self.shop_ids)]
        R["addr"][idx] = np.where(np.arange(len(idx)) % 2 == 0, self.unknown_addr[shop[idx]], other)
        idx = self.plant(ra_pop & (R["dec"] >= self.e3_to[shop]), 0.004)  # RA003: retired entry
        R["addr"][idx] = self.role["e3"][shop[idx]]
        idx = self.plant(ra_pop, 0.004)  # RA004: incomplete / invalid entry
        R["addr"][idx] = self.role["e4"][shop[idx]]
        region = od["region"][R["oi"]]
        needs_cn = np.isin(plat, (0, 2)) & np.isin(region, (0, 3))
        needs_us = (plat == AMAZON) & np.isin(region, (2, 3))
        idx = self.plant(ra_pop & (needs_cn | needs_us), 0.004)  # RA005: wrong country
        R["addr"][idx] = np.where(
            plat[idx] == AMAZON, self.role["e5"][shop[idx]], self.role["e6"][shop[idx]]
        )
        idx = self.plant(ra_pop & cn, 0.004)  # RA006: CN divisions that do not nest
        R["addr"][idx] = self.role["e5"][shop[idx]]

        # PC001: escalated with no seller message before the escalation
        escalated = in_win & (R["esc"] <= A)
        pick = np.flatnonzero(escalated & ~R["silent"])
        k = min(len(pick), max(2, round(0.003 * self.n_scope)))
        R["silent"][r.choice(pick, size=k, replace=False)] = True
        R["silent"] |= np.isnan(R["resp"]) & np.isnan(R["dec"])

        # events after as_of: a decision dated after it, and requests opened after it
        k_future = max(2, round(0.002 * self.n_scope))
        idx = self.plant(in_win & (req >= A - 40 * H) & (req <= A - 3 * H) & no_esc, 0, k_future)
        self.clear(idx, *_LATER)
        R["dec"][idx] = A + r.uniform(2 * H, 30 * H, len(idx))
        R["decision"][idx] = 1
        R["addr"][idx] = np.where(R["kind"][idx] == 1, self.role["e1"][shop[idx]], -1)
        R["cutoff"][idx] = A + 3 * D
        self.future_decisions = idx
        idx = self.plant((req >= A - 3 * D) & (req < A) & no_esc, 0, k_future)
        delta = A + r.uniform(H, 30 * H, len(idx)) - req[idx]
        self.shift(idx, req[idx], delta)
        req[idx] += delta
        R["cutoff"][idx] = A + 3 * D

    def censor(self, R: dict[str, np.ndarray], cutoff: np.ndarray) -> dict[str, np.ndarray]:
        """The row as a pull at ``cutoff`` would have seen it: later events are not there yet."""
        R = dict(R)
        for f in _TIME_FIELDS:
            R[f] = np.where(R[f] > cutoff, np.nan, np.floor(R[f]))
        gone_dec = np.isnan(R["dec"])
        R["decision"] = np.where(gone_dec, 0, R["decision"]).astype(np.int8)
        R["addr"] = np.where(gone_dec, -1, R["addr"])
        R["ruling"] = np.where(np.isnan(R["ruled"]), 0, R["ruling"]).astype(np.int8)
        R["rcents"] = np.where(np.isnan(R["refd"]), -1, R["rcents"])
        latest = _fmax(*(R[f] for f in _TIME_FIELDS))
        R["upd"] = np.floor(np.minimum(latest + R["jitter"], np.fmax(latest, cutoff)))
        return R

    def finish_refunds(self) -> None:
        """Censor at the pull time, add older versions (resends) and exact copies."""
        R = self.censor(self.R, self.R["cutoff"])
        self.R_final = R
        r, n = self.rng, len(R["req"])
        gap = R["dec"] - R["req"]
        resend = np.flatnonzero((gap > 120) & (r.random(n) < 0.03) & ~self.claimed)
        resend = np.union1d(resend, self.future_decisions)
        frac = r.uniform(0.2, 0.9, len(resend))
        t_old = np.floor(R["req"][resend] + frac * np.fmin(gap[resend], self.A - R["req"][resend]))
        old = self.censor(_take(R, resend), t_old)
        old["style"] = self.styles(len(resend))
        old["upd_empty"][:] = False
        R["upd_empty"][resend] = False
        self.R_versions = old
        self.R_dups = np.sort(r.choice(n, size=min(n, max(2, round(0.003 * n))), replace=False))

    # ------------------------------------------------------------------ messages
    def build_messages(self) -> None:
        R, od, A, r = self.R_final, self.od, self.A, self.rng
        n_ref = len(R["req"])
        has_thread = r.random(n_ref) < 0.88
        # a seller message on a request is a response: none before first_response_at / decided_at
        # as they happened (uncensored), so a reply after the pull is cut with it
        floor = np.fmin(self.R["resp"], self.R["dec"])
        floor = np.where(np.isnan(floor), np.inf, floor)
        ti = np.flatnonzero(has_thread)
        threads = {
            "oi": R["oi"][ti], "ri": ti, "start": np.where(
                r.random(len(ti)) < 0.7, R["req"][ti] + r.uniform(60, 30 * 60, len(ti)),
                R["req"][ti] - r.uniform(600, 3 * H, len(ti)),
            ),
            "turns": self.choice([0.65, 0.27, 0.08], len(ti), [1, 2, 3]),
            "silent": R["silent"][ti], "floor": floor[ti],
            "cutoff": R["cutoff"][ti], "reason": R["reason"][ti],
        }  # fmt: skip
        msgs = [self.thread_messages(threads, refund=True)]
        # the platform's own notices on escalations and rulings
        esc = np.flatnonzero(~np.isnan(R["esc"]))
        ruled = np.flatnonzero(~np.isnan(R["ruled"]))
        for rows, when, key in (
            (esc, R["esc"][esc] + r.uniform(60, 1200, len(esc)), "platform_escalation"),
            (ruled, R["ruled"][ruled], "platform_ruling"),
        ):
            msgs.append(self.message_rows(R["oi"][rows], rows, 2, when, key, R["cutoff"][rows]))
        made = sum(len(m["oi"]) for m in msgs)
        has_ref = np.zeros(self.n, dtype=bool)
        has_ref[R["oi"]] = True
        free = np.flatnonzero(~has_ref)
        n_q = int(min(len(free), max(0, (0.7 * self.n - made) / 2.2)))
        qo = np.sort(r.choice(free, size=n_q, replace=False))
        questions = {
            "oi": qo, "ri": np.full(n_q, -1), "start": od["paid"][qo] + r.uniform(600, 3 * D, n_q),
            "turns": self.choice([0.8, 0.2], n_q, [1, 2]), "silent": np.zeros(n_q, dtype=bool),
            "floor": np.full(n_q, -np.inf), "cutoff": np.full(n_q, A),
            "reason": np.full(n_q, -1),
        }  # fmt: skip
        msgs.append(self.thread_messages(questions, refund=False))
        self.M = _cat(*msgs)
        self.has_msg = np.zeros(self.n, dtype=bool)
        self.has_msg[self.M["oi"]] = True
        self.has_ref = has_ref

    def message_rows(self, oi, ri, sender, when, key, cutoff) -> dict[str, np.ndarray]:
        k = len(oi)
        lang = (self.od["plat"][np.asarray(oi, dtype=np.int64)] == AMAZON).astype(np.int64)
        cat = lang * len(_TEXT_KEYS) + (_T[key] if isinstance(key, str) else key)
        text = _TEXT_OFF[cat] + np.floor(self.rng.random(k) * _TEXT_LEN[cat]).astype(np.int64)
        return {
            "oi": np.asarray(oi, dtype=np.int64), "ri": np.asarray(ri, dtype=np.int64),
            "sender": np.full(k, sender, dtype=np.int8), "t": np.asarray(when, dtype=float),
            "text": text, "cutoff": np.asarray(cutoff, dtype=float),
        }  # fmt: skip

    def thread_messages(self, th: dict[str, np.ndarray], *, refund: bool) -> dict[str, np.ndarray]:
        """Buyer/seller turns: a buyer opens, the seller replies (after his first response)."""
        r = self.rng
        parts = []
        b = th["start"].copy()
        for j in range(3):
            live = np.flatnonzero(th["turns"] > j)
            if not len(live):
                break
            m = len(live)
            oi, cut = th["oi"][live], th["cutoff"][live]
            ri = np.where(r.random(m) < 0.88, th["ri"][live], -1) if refund else th["ri"][live]
            if j == 0:
                key = np.where(th["reason"][live] >= 0, th["reason"][live], _T["question"])
                if refund:
                    key = np.array([_T[f"open_{REASONS[x]}"] for x in range(7)])[key]
            else:
                key = np.full(m, _T["later"])
            parts.append(self.message_rows(oi, ri, 0, b[live], key, cut))
            delay = np.maximum(120, self.logn(1.5 * H, 1.1, m))
            reply = np.fmax(b[live] + delay, th["floor"][live])
            last = th["turns"][live] == j + 1
            no_reply = th["silent"][live] | (last & (r.random(m) < 0.02)) | ~np.isfinite(reply)
            follow = r.random(m) < 0.15
            f_at = np.where(no_reply, b[live] + r.uniform(120, 3 * H, m),
                            b[live] + (reply - b[live]) * r.uniform(0.1, 0.8, m))  # fmt: skip
            fi = np.flatnonzero(follow)
            parts.append(self.message_rows(oi[fi], ri[fi], 0, f_at[fi], "followup", cut[fi]))
            si = np.flatnonzero(~no_reply)
            seller_key = np.where(
                r.random(len(si)) < 0.02, _T["seller_lookalike"],
                _T["seller_refund" if refund else "seller_question"],
            )  # fmt: skip
            parts.append(self.message_rows(oi[si], ri[si], 1, reply[si], seller_key, cut[si]))
            b[live] = np.where(no_reply, b[live] + r.uniform(6 * H, 30 * H, m),
                               reply + r.uniform(0.5 * H, 30 * H, m))  # fmt: skip
        out = _cat(*parts) if parts else self.message_rows([], [], 0, [], "later", [])
        keep = out["t"] <= out["cutoff"]
        return _take(out, np.flatnonzero(keep))

    def plant_messages(self) -> None:
        """RT004 (late and at-risk buyer turns) on quiet orders, PC002 hostile seller texts."""
        od, A, r = self.od, self.A, self.rng
        quiet = ~self.has_msg & ~self.has_ref & (od["paid"] >= A - self.W)
        n_buyer = int(((self.M["sender"] == 0) & (self.M["t"] >= A - self.W)).sum())
        k = max(2, round(0.004 * n_buyer))
        late_o = r.permutation(np.flatnonzero(quiet & (od["paid"] <= A - 6 * D)))[:k]
        start = od["paid"][late_o] + r.uniform(H, 2 * D, len(late_o))
        reply = start + MSG_H * H + r.uniform(3 * H, 48 * H, len(late_o))
        quiet[late_o] = False
        risk_o = r.permutation(np.flatnonzero(quiet & (od["paid"] <= A - D)))[: max(2, k // 2)]
        risk_at = A - r.uniform(2 * H, 20 * H, len(risk_o))
        none = np.full(len(late_o), -1)
        parts = [
            self.M,
            self.message_rows(late_o, none, 0, start, "question", np.full(len(late_o), A)),
            self.message_rows(late_o, none, 1, reply, "seller_question", np.full(len(late_o), A)),
            self.message_rows(risk_o, np.full(len(risk_o), -1), 0, risk_at, "question",
                              np.full(len(risk_o), A)),
        ]  # fmt: skip
        M = _cat(*parts)
        seller = np.flatnonzero((M["sender"] == 1) & (M["t"] >= A - self.W) & (M["t"] < A))
        k = min(len(seller), max(2, round(0.002 * len(seller))))
        hostile = r.choice(seller, size=k, replace=False)
        lang = (od["plat"][M["oi"][hostile]] == AMAZON).astype(np.int64)
        cat = lang * len(_TEXT_KEYS) + _T["hostile"]
        M["text"][hostile] = _TEXT_OFF[cat] + np.floor(r.random(k) * _TEXT_LEN[cat]).astype(
            np.int64
        )
        image_only = (M["sender"] == 0) & (r.random(len(M["t"])) < 0.01)
        M["text"][image_only] = len(_TEXT_POOL) - 1
        M["t"] = np.floor(M["t"])
        n = len(M["t"])
        M["num"] = np.arange(n, dtype=np.int64)
        M["style"] = self.styles(n)
        self.M = M
        self.M_dups = np.sort(r.choice(n, size=min(n, max(2, round(0.002 * n))), replace=False))
        self.has_msg[M["oi"]] = True

    # ------------------------------------------------------------------ dirty rows
    def add_dirty(
        self,
    ) -> dict[str, tuple[dict[str, np.ndarray], list[tuple[int, str, str | None]]]]:
        """A few rows of every quarantine kind, as new rows next to good ones."""
        return {
            "orders": self.dirty_orders(),
            "refunds": self.dirty_refunds(),
            "return_addresses": ({}, self.dirty_addresses()),
            "messages": self.dirty_messages(),
        }

    def per_variant(self, rows: int) -> int:
        return max(1, round(rows * 0.0001))

    def dirty_orders(self) -> tuple[dict[str, np.ndarray], list[tuple[int, str, str | None]]]:
        od, r, n = self.od, self.rng, self.n
        # templates: shipped orders nothing references, so no good row is dragged along
        lonely = np.flatnonzero(~self.has_ref & ~self.has_msg & ~np.isnan(od["shipped"]))
        if len(lonely) < 2:
            lonely = np.arange(n)
        k = self.per_variant(n)
        variants: list[tuple[str, str, str | None]] = [
            *[("missing", c, None) for c in ("paid_at", "shop_id", "amount", "currency",
                                            "free_shipping", "platform")],
            ("wrong_type", "amount", "abc"), ("wrong_type", "paid_at", "yesterday"),
            ("wrong_type", "no_reason_return", "maybe"),
            ("wrong_type", "delivered_at", "2026-13-45 25:61:00"),
            ("platform", "", None), ("platform", "", None), ("negative", "", None),
            ("negative", "", None), ("shipped_before_paid", "", None),
            ("shipped_before_paid", "", None), ("delivered_before_shipped", "", None),
            ("delivered_before_shipped", "", None),
        ]  # fmt: skip
        plan = [v for v in variants for _ in range(k)]
        rows = _take(od, r.choice(lonely, size=len(plan)))
        rows["num"] = n + np.arange(len(plan))
        over: list[tuple[int, str, str | None]] = []
        for i, (what, col, value) in enumerate(plan):
            if what == "shipped_before_paid":
                rows["shipped"][i] = rows["paid"][i] - r.uniform(H, 2 * D)
                rows["delivered"][i] = np.nan
            elif what == "delivered_before_shipped":
                rows["delivered"][i] = rows["shipped"][i] - r.uniform(H, D)
            elif what == "negative":
                c = int(rows["cents"][i])
                over.append((i, "amount", f"-{c // 100}.{c % 100:02d}"))
            elif what == "platform":
                over += [(i, "platform", "shopee_sg"), (i, "shop_id", "shp-shop-01"),
                         (i, "currency", "SGD"), (i, "buyer_region", "SG")]  # fmt: skip
            else:
                over.append((i, col, value))
        self.dirty_O = rows
        # orders whose only fault is their own: what "references a quarantined order" points at
        self.quarantined_orders = n + np.flatnonzero(
            [p[0] in ("negative", "platform") for p in plan]
        )
        # two different orders with one order_id (of an order nothing else references)
        twins = _take(od, r.choice(lonely, size=min(len(lonely), 2 * k), replace=False))
        twins["cents"] = twins["cents"] + 1000
        return _cat(rows, twins), over

    def dirty_refunds(self) -> tuple[dict[str, np.ndarray], list[tuple[int, str, str | None]]]:
        R, od, r = self.R_final, self.od, self.rng
        n = len(R["req"])
        fine = ~self.claimed & ~np.isnan(R["upd"]) & ~R["upd_empty"]
        base = np.flatnonzero(fine) if fine.any() else np.arange(n)

        def pool(mask: np.ndarray) -> np.ndarray:
            p = np.flatnonzero(fine & mask)
            return p if len(p) else base

        agreed = pool(R["decision"] == 1)
        resent = pool((R["decision"] == 1) & (R["dec"] - R["req"] > 600))
        returned = pool(~np.isnan(R["bship"]))
        refunded = pool(R["rcents"] > 0)
        rows: list[dict[str, np.ndarray]] = []
        over: list[tuple[int, str, str | int | None]] = []
        next_num = n + len(self.R_versions["req"])

        def new(src: np.ndarray, same_num: int | None = None) -> dict[str, np.ndarray]:
            nonlocal next_num
            row = _take(R, r.choice(src, size=1))
            if same_num is None:
                row["num"] = np.array([next_num])
                next_num += 1
            else:
                row["num"] = np.array([same_num])
            return row

        def push(row: dict[str, np.ndarray], *overrides: tuple[str, str | int | None]) -> None:
            at = sum(len(x["req"]) for x in rows)
            rows.append(row)
            over.extend((at, c, v) for c, v in overrides)

        def copy(row: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            return {f: v.copy() for f, v in row.items()}

        for _ in range(self.per_variant(n)):
            for col in ("requested_at", "kind", "reason", "decision", "ruling", "amount",
                        "order_id", "refund_id"):  # fmt: skip
                push(new(base), (col, None))
            for col, value in (("amount", "abc"), ("requested_at", "yesterday"),
                               ("evidence_provided", "maybe"), ("refunded_amount", "12,50"),
                               ("first_response_at", "2026-02-30T10:00:00+08:00")):  # fmt: skip
                push(new(base), (col, value))
            push(new(base), ("kind", "exchange"))
            push(new(agreed), ("decision", "Agreed "))
            push(new(base), ("reason", "Quality"))
            push(new(base), ("ruling", "pending"))
            push(new(agreed), ("decision", "approved"))
            # one refund_id, one updated_at (or none at all), different content
            for empty_upd in (False, True):
                a = new(base)
                if empty_upd:
                    a["upd_empty"][:] = True
                b = copy(a)
                b["cents"] = np.maximum(1, b["cents"] // 2)
                b["reason"] = (b["reason"] + 1) % 7
                push(a)
                push(b)
            # references: an order that does not exist, an order that is quarantined
            row = new(base)
            row["oi"][:] = -1
            push(row, ("order_id", self.n + 10**6 + next_num))
            q = int(r.choice(self.quarantined_orders))
            qo = _take(self.dirty_O, np.array([q - self.n]))
            row = new(base)
            for f in _LATER:
                row[f][:] = np.nan
            row["oi"][:], row["plat"][:] = q, qo["plat"]
            row["req"][:] = qo["paid"] + 2 * D
            row["upd"][:] = row["req"] + 60
            row["cents"][:] = np.minimum(row["cents"], qo["cents"])
            row["decision"][:], row["ruling"][:], row["addr"][:], row["rcents"][:] = 0, 0, -1, -1
            push(row)
            # amounts
            push(new(base), ("amount", "-12.00"))
            push(new(refunded), ("refunded_amount", "-3.50"))
            row = new(base)
            row["cents"] = od["cents"][row["oi"]] + 1000
            push(row)
            # impossible timestamps, one fault per row
            for src, field, moved in (
                (base, "req", lambda x: od["paid"][x["oi"]] - D),
                (base, "resp", lambda x: x["req"] - H),
                (agreed, "dec", lambda x: x["req"] - 2 * H),
                (base, "esc", lambda x: x["req"] - 3 * H),
                (base, "escr", lambda x: x["req"] - H),
                (base, "refd", lambda x: x["req"] - 1800),
                (returned, "srecv", lambda x: x["bship"] - D),
            ):
                row = new(src)
                row[field] = np.floor(moved(row))
                if field == "refd":
                    row["rcents"] = row["cents"].copy()
                push(row)
            row = new(agreed)  # decided_at with decision pending
            row["decision"][:] = 0
            push(row)
            row = new(agreed)  # agreed without decided_at
            row["dec"][:] = np.nan
            push(row)
            row = new(base)  # ruled_at with ruling none
            row["ruling"][:], row["ruled"] = 0, row["req"] + 3 * D
            push(row)
            row = new(base)  # a ruling without escalated_at
            row["ruling"][:], row["esc"][:], row["escr"][:] = 1, np.nan, np.nan
            row["ruled"] = row["req"] + 3 * D
            push(row)
            row = new(base)  # ruled before escalated
            row["esc"], row["escr"] = row["req"] + 2 * D, row["req"] + 2 * D + 2 * H
            row["ruling"][:], row["ruled"] = 2, row["req"] + D
            push(row)
            # a resend whose newest version is itself bad: the older one stays superseded
            newest = new(resent)
            old = self.censor(
                newest, np.floor(newest["req"] + 0.5 * (newest["dec"] - newest["req"]))
            )
            push(newest, ("decision", "Agreed "))
            push(old)
        out = _cat(*rows)
        fixed: list[tuple[int, str, str | None]] = []
        for at, col, value in over:
            if isinstance(value, int):  # a made-up order id, shaped like the platform's
                value = _order_ids(np.array([value]), out["plat"][at : at + 1])[0].as_py()
            fixed.append((at, col, value))
        return out, fixed

    def dirty_addresses(self) -> list[dict]:
        extra: list[dict] = []
        for i, (col, value) in enumerate(
            (("valid_from", None), ("shop_id", None), ("valid_from", "soon"), ("address_id", None))
        ):
            shop = i % len(self.shop_ids)
            row = dict(self.book[self.role["e2"][shop]])
            row["address_id"] = f"{self.shop_ids[shop]}-ra8{i}"
            row["override"] = {col: value}
            extra.append(row)
        for street in ("仓储路1号", "仓储路2号"):  # two entries, one address_id
            row = dict(self.book[self.role["e1"][0]])
            row["address_id"] = f"{self.shop_ids[0]}-ra90"
            row["street"] = street
            extra.append(row)
        return extra

    def dirty_messages(self) -> tuple[dict[str, np.ndarray], list[tuple[int, str, str | None]]]:
        M, r = self.M, self.rng
        n = len(M["t"])
        k = self.per_variant(n)
        plan = [v for v in (("order_id", "ghost"), ("order_id", "quarantined"),
                            ("sender", "Seller"), ("sender", "bot"), ("sent_at", None),
                            ("sender", None), ("order_id", None), ("message_id", None),
                            ("sent_at", "yesterday"), ("dup", "a"), ("dup", "b"))
                for _ in range(k)]  # fmt: skip
        rows = _take(M, r.choice(n, size=len(plan)))
        rows["num"] = n + np.arange(len(plan))
        over: list[tuple[int, str, str | None]] = []
        first_a = plan.index(("dup", "a"))
        for i, (col, value) in enumerate(plan):
            if value == "ghost":
                ghost = _order_ids(
                    np.array([self.n + 2 * 10**6 + i]), self.od["plat"][rows["oi"][i : i + 1]]
                )
                rows["oi"][i], rows["ri"][i] = -1, -1
                over.append((i, "order_id", ghost[0].as_py()))
            elif value == "quarantined":
                q = int(r.choice(self.quarantined_orders))
                rows["oi"][i], rows["ri"][i] = q, -1
                rows["t"][i] = self.dirty_O["paid"][q - self.n] + D
            elif value == "b":  # same message_id as its "a", other text
                a = first_a + (i - first_a - k)
                for f in rows:
                    rows[f][i] = rows[f][a]
                rows["text"][i] = (rows["text"][a] + 1) % (len(_TEXT_POOL) - 1)
            elif value != "a":
                over.append((i, col, value))
        return rows, over

    # ------------------------------------------------------------------ formatting
    @staticmethod
    def apply(cols: dict[str, pa.Array], over, rows_at: np.ndarray) -> dict[str, pa.Array]:
        """Write the string-level faults ``over`` = [(row, column, value)] into ``cols``."""
        by_col: dict[str, tuple[list[int], list[str | None]]] = {}
        for at, col, value in over:
            rows, values = by_col.setdefault(col, ([], []))
            rows.append(int(rows_at[at]))
            values.append(value)
        for col, (rows, values) in by_col.items():
            cols[col] = _replace(cols[col], rows, values)
        return cols

    def order_ids_of(self, oi: np.ndarray) -> pa.Array:
        at = np.maximum(oi, 0)
        ids = _order_ids(self.od_all["num"][at], self.od_all["plat"][at])
        return _null_where(ids, oi < 0)

    def format_orders(self, extra: dict[str, np.ndarray], over) -> pd.DataFrame:
        self.od_all = _cat(self.od, extra) if extra else self.od
        n_all = len(self.od_all["paid"])
        n = self.n
        dups = np.sort(self.rng.choice(n, size=min(n, max(2, round(0.001 * n))), replace=False))
        order, pos = _layout(self.od_all["paid"], n_all, dups)
        od = _take(self.od_all, order)
        zone = (od["plat"] == AMAZON).astype(np.int8)
        never = np.zeros(len(order), dtype=bool)
        cols = {
            "order_id": _order_ids(od["num"], od["plat"]),
            "platform": _pick(list(PLATFORMS), od["plat"]),
            "shop_id": _pick(self.shop_ids, od["shop"]),
            "buyer_region": _pick(list(REGIONS), od["region"]),
            "paid_at": _fmt_ts(od["paid"], zone, od["style"]),
            "shipped_at": _fmt_ts(od["shipped"], zone, od["style"]),
            "delivered_at": _fmt_ts(od["delivered"], zone, od["style"]),
            "amount": _money(od["cents"]),
            "currency": _pick(["CNY", "USD"], zone),
            "free_shipping": _bools(od["fs"], never, od["spell"]),
            "no_reason_return": _bools(od["nrr"], never, od["spell"]),
        }
        return _frame(self.apply(cols, over, pos[n:]), COLUMNS["orders"])

    def format_refunds(self, extra: dict[str, np.ndarray], over) -> pd.DataFrame:
        keys = list(self.R_versions)
        R = _cat(*({k: p[k] for k in keys} for p in (self.R_final, self.R_versions)))
        n_base = len(R["req"])
        if extra:
            R = _cat(R, {k: extra[k] for k in keys})
        key = np.where(np.isnan(R["upd"]), R["req"], R["upd"])
        order, pos = _layout(np.nan_to_num(key), len(key), self.R_dups)
        R = _take(R, order)
        zone = (R["plat"] == AMAZON).astype(np.int8)
        ts = {c: _fmt_ts(R[f], zone, R["style"]) for c, f in (
            ("requested_at", "req"), ("first_response_at", "resp"), ("decided_at", "dec"),
            ("buyer_shipped_at", "bship"), ("seller_received_at", "srecv"),
            ("refunded_at", "refd"), ("escalated_at", "esc"), ("escalation_response_at", "escr"),
            ("ruled_at", "ruled"), ("updated_at", "upd"),
        )}  # fmt: skip
        ts["updated_at"] = _null_where(ts["updated_at"], R["upd_empty"])
        addr = np.where(R["addr"] < 0, len(self.addr_pool), R["addr"])
        cols = {
            "refund_id": _refund_ids(R["num"], R["plat"]),
            "order_id": self.order_ids_of(R["oi"]),
            "kind": _pick(list(KINDS), R["kind"]),
            "reason": _pick(list(REASONS), R["reason"]),
            "amount": _money(R["cents"]),
            "decision": _pick(list(DECISIONS), R["decision"]),
            "return_address_id": _pick([*self.addr_pool, None], addr),
            "refunded_amount": _money(R["rcents"]),
            "evidence_provided": _bools(R["evidence"] == 1, R["evidence"] == 2, R["spell"]),
            "ruling": _pick(list(RULINGS), R["ruling"]),
            **ts,
        }
        return _frame(self.apply(cols, over, pos[n_base:]), COLUMNS["refunds"])

    def format_addresses(self, extra: list[dict]) -> pd.DataFrame:
        rows = self.book + extra + [self.book[self.role["e2"][1]]]  # one exact copy
        shop = np.array([row["shop"] for row in rows])
        zone = (self.shop_plat[shop] == AMAZON).astype(np.int8)
        style = np.zeros(len(rows), dtype=np.int8)
        style[1::4] = 2  # some naive local times, in the shop's platform zone
        cols: dict[str, pa.Array] = {
            "valid_from": _fmt_ts(np.array([row["valid_from"] for row in rows]), zone, style),
            "valid_to": _fmt_ts(np.array([row["valid_to"] for row in rows]), zone, style),
            "shop_id": pa.array([self.shop_ids[s] for s in shop], type=pa.large_string()),
        }
        for c in ("address_id", "recipient", "phone", "country", "province", "city",
                  "district", "street", "postcode"):  # fmt: skip
            cols[c] = pa.array([row[c] for row in rows], type=pa.large_string())
        over = [
            (i, col, value)
            for i, row in enumerate(rows)
            for col, value in row.get("override", {}).items()
        ]
        cols = self.apply(cols, over, np.arange(len(rows)))
        return _frame(cols, COLUMNS["return_addresses"])

    def format_messages(self, extra: dict[str, np.ndarray], over) -> pd.DataFrame:
        keys = ["oi", "ri", "sender", "t", "text", "num", "style"]
        M = {k: self.M[k] for k in keys}
        n_base = len(M["t"])
        if extra:
            M = _cat(M, {k: extra[k] for k in keys})
        order, pos = _layout(np.nan_to_num(M["t"]), len(M["t"]), self.M_dups)
        M = _take(M, order)
        oi, ri = M["oi"], M["ri"]
        zone = (self.od_all["plat"][np.maximum(oi, 0)] == AMAZON).astype(np.int8)
        at = np.maximum(ri, 0)
        refund_ids = _refund_ids(self.R_final["num"][at], self.R_final["plat"][at])
        cols = {
            "message_id": _message_ids(M["num"]),
            "order_id": self.order_ids_of(oi),
            "refund_id": _null_where(refund_ids, ri < 0),
            "sender": _pick(list(SENDERS), M["sender"]),
            "sent_at": _fmt_ts(M["t"], zone, M["style"]),
            "text": _pick(_TEXT_POOL, M["text"]),
        }
        return _frame(self.apply(cols, over, pos[n_base:]), COLUMNS["messages"])
