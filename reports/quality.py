"""Data quality in the team's words: rows that could not be audited, and run warnings.

The overview shows the whole source's reconciliation (every row read is audited, set aside
for a data problem, or an older version of a record) and the reasons rows were set aside. A
shop's page shows only its own set-aside rows (the validation tells whose row it is) and the
warnings that name it; it never lists another shop's rows or ids.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from reports.format import text, truncate
from reports.i18n import N_
from reports.mask import mask_field
from reports.shared import Shared

TABLE_ORDER = ["orders", "refunds", "return_addresses", "messages"]
TABLE_NAMES = {
    "orders": N_("Orders"),
    "refunds": N_("Refund requests"),
    "return_addresses": N_("Return address book"),
    "messages": N_("Buyer messages"),
}
EXAMPLES = 3


def table_name(shared: Shared, table: str) -> str:
    name = TABLE_NAMES.get(table)
    return f"{shared.tr(name)} ({table})" if name else table


def reconciliation(shared: Shared) -> list[dict[str, Any]]:
    """Per table: read, audited, set aside, older versions, and whether they add up."""
    order = {t: i for i, t in enumerate(TABLE_ORDER)}
    rows = []
    counts = shared.result.counts
    for table in sorted(counts, key=lambda t: (order.get(t, len(order)), t)):
        c = counts[table]
        read, valid = int(c.get("read", 0)), int(c.get("valid", 0))
        quarantined, superseded = int(c.get("quarantined", 0)), int(c.get("superseded", 0))
        rows.append({"table": table_name(shared, text(table)), "read": read, "valid": valid,
                     "quarantined": quarantined, "superseded": superseded,
                     "balanced": read == valid + quarantined + superseded})
    return rows


def set_aside(shared: Shared, quarantine: pd.DataFrame, cap: int) -> dict[str, Any]:
    """Reasons rows were set aside, most frequent first, with a few examples each."""
    reasons: list[dict[str, Any]] = []
    if not len(quarantine):
        return {"reasons": [], "rows": 0, "more": 0}
    keys = ["table", "column", "check"]
    q = quarantine.fillna({k: "" for k in keys})
    sizes = q.groupby(keys, sort=False).size().reset_index(name="n")
    sizes = sizes.sort_values(["n", *keys], ascending=[False, True, True, True], kind="stable")
    top = sizes.head(cap)
    examples = q.assign(_i=q.groupby(keys, sort=False).cumcount())
    examples = examples[examples["_i"] < EXAMPLES]
    by_key: dict[tuple, list[dict[str, str]]] = {}
    for rec in examples.to_dict("records"):
        by_key.setdefault(tuple(rec[k] for k in keys), []).append(_example(rec))
    for rec in top.to_dict("records"):
        k = tuple(rec[c] for c in keys)
        reasons.append({"table": table_name(shared, text(k[0])), "column": text(k[1]),
                        "check": text(k[2]), "count": int(rec["n"]),
                        "examples": by_key.get(k, [])})
    return {"reasons": reasons, "rows": len(q), "more": max(len(sizes) - cap, 0)}


def _example(rec: Mapping[str, Any]) -> dict[str, str]:
    """One set-aside row as shown: its key, its value (masked) and why."""
    return {
        "row_key": truncate(text(rec.get("row_key")), 80),
        "value": truncate(text(mask_field(text(rec.get("column")), rec.get("value"))), 80),
        "message": truncate(text(rec.get("message")), 160),
    }


def shop_quality(shared: Shared, key: tuple[str, str], cap: int) -> dict[str, Any]:
    """A shop's own set-aside rows; a statement (no other shop's ids) when whose rows they
    are cannot be told."""
    tr = shared.tr
    if shared.quarantine_has_owners():
        every = _per_shop(shared).get(key) or {"reasons": [], "rows": 0}
        mine = {"reasons": every["reasons"][:cap], "rows": every["rows"],
                "more": max(len(every["reasons"]) - cap, 0)}
        note = tr("Rows of this shop that could not be audited because of a data problem. "
                  "The whole source's counts are on the all-shops overview.") \
            if mine["rows"] else ""
    else:
        mine = {"reasons": [], "rows": 0, "more": 0}
        note = tr("This run does not say which shop a set-aside row belongs to; see the "
                  "all-shops overview.") if len(shared.result.quarantine) else ""
    return {"tables": [], **mine, "note": note}


def _per_shop(shared: Shared) -> dict[tuple[str, str], dict[str, Any]]:
    """Every shop's set-aside reasons, most rows first, in one grouping of the quarantine
    (cached; each view cuts the list to its own length)."""
    cached = shared.cache.get("quality")
    if cached is not None:
        return cached
    out: dict[tuple[str, str], dict[str, Any]] = {}
    shared.cache["quality"] = out
    q = shared.result.quarantine
    q = q[q["platform"].notna() & q["shop_id"].notna()] if len(q) else q
    if not len(q):
        return out
    keys = ["platform", "shop_id", "table", "column", "check"]
    q = q.assign(platform=q["platform"].astype(str), shop_id=q["shop_id"].astype(str)
                 ).fillna({k: "" for k in keys[2:]})
    sizes = q.groupby(keys, sort=False).size().reset_index(name="n")
    sizes = sizes.sort_values(["platform", "shop_id", "n", *keys[2:]],
                              ascending=[True, True, False, True, True, True], kind="stable")
    examples = q[q.groupby(keys, sort=False).cumcount() < EXAMPLES]
    by_key: dict[tuple, list[dict[str, str]]] = {}
    for rec in examples.to_dict("records"):
        by_key.setdefault(tuple(rec[k] for k in keys), []).append(_example(rec))
    names: dict[str, str] = {}
    for rec in sizes.to_dict("records"):
        shop = out.setdefault((rec["platform"], rec["shop_id"]), {"reasons": [], "rows": 0})
        shop["rows"] += int(rec["n"])
        table = text(rec["table"])
        if table not in names:
            names[table] = table_name(shared, table)
        k = tuple(rec[c] for c in keys)
        shop["reasons"].append({"table": names[table], "column": text(rec["column"]),
                                "check": text(rec["check"]), "count": int(rec["n"]),
                                "examples": by_key.get(k, [])})
    return out


def address_book_notes(shared: Shared, shop_id: str, cap: int) -> dict[str, Any]:
    """The shop's return-address entries written with a former division name (renamed or
    merged since) or as a development zone: not findings, but the current name is suggested
    so the book can be brought up to date. The shop's own warehouse addresses, not buyers'."""
    notes = shared.result.address_notes
    if notes is None or not len(notes):
        return {"rows": [], "more": 0}
    mine = notes[notes["shop_id"].astype(str) == shop_id]
    rows = []
    for rec in mine.head(cap).to_dict("records"):
        kind = text(rec.get("kind"))
        written = " / ".join(text(rec.get(c)) for c in ("province", "city", "district")
                             if text(rec.get(c)))
        rows.append({
            "address_id": truncate(text(rec.get("address_id")), 60),
            "written": truncate(written, 80),
            "kind": shared.tr(N_("Former name (renamed or merged)")) if kind == "former_name"
            else shared.tr(N_("Development or functional zone")),
            "suggestion": truncate(text(rec.get("suggestion")), 80) if kind == "former_name"
            else "",
        })
    return {"rows": rows, "more": max(len(mine) - cap, 0)}


def overview_quality(shared: Shared, cap: int) -> dict[str, Any]:
    return {"tables": reconciliation(shared), **set_aside(shared, shared.result.quarantine, cap),
            "note": ""}


def _names(value: str) -> re.Pattern[str]:
    """``value`` as a whole name in a sentence: ``tmall/s1`` matches in "shop tmall/s1: …"
    but not inside ``tmall/s10`` or ``tmall/s1-b``."""
    return re.compile(r"(?<![\w./-])" + re.escape(value) + r"(?![\w-]|[./]\w)")


def shop_warnings(shared: Shared, platform: str, shop_id: str) -> list[str]:
    """The run's warnings that concern one shop: those naming ``platform/shop_id``, those
    about its whole platform when ``run["failures"]`` has a platform-wide entry for it, and
    a line for each structured failure of the shop that no warning already tells."""
    if not shared.warnings and not shared.failures:
        return []
    mine: list[Mapping[str, Any]] = [
        f for f in shared.failures
        if text(f.get("platform")) == platform and text(f.get("shop_id")) in ("", shop_id)
    ]
    shop_name = _names(f"{platform}/{shop_id}")
    platform_name = _names(f"platform {platform}")
    platform_wide = any(not text(f.get("shop_id")) for f in mine)
    out = [w for w in shared.warnings
           if shop_name.search(w) or (platform_wide and platform_name.search(w))]
    for f in mine:
        error = text(f.get("error"))
        if not any(error and error in w for w in out):
            out.append(f"{text(f.get('stage'))}: {error}")
    return out
