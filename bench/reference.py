"""The reference for ``bench/run.py --compare``: what plain pandas needs to load the four
input tables, validate them and write the CSVs, with no rules and no report.

    python bench/reference.py SOURCE_FOLDER OUT_FOLDER

It is deliberately independent of the project's code (a reference must not share the code it
is compared with) and does the checks a careful hand-written script would: required values,
timestamps (ISO 8601, with or without offset), amounts, enums, booleans, duplicate keys and
references to orders. Rows failing a check are quarantined with the reason; it writes
``quarantine.csv`` (one row per reason) and ``counts.csv`` (read, valid, quarantined,
superseded per table). Only pandas is imported, so a tiny input shows the cost of starting Python and pandas.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

TEXT, TS, DEC, BOOL = "text", "timestamp", "decimal", "bool"
ENUMS = {
    "kind": {"refund_only", "return_refund"},
    "reason": {"no_reason", "quality", "not_as_described", "damaged", "wrong_item",
               "not_received", "other"},
    "decision": {"pending", "agreed", "refused"},
    "ruling": {"none", "seller_liable", "buyer_liable"},
    "sender": {"buyer", "seller", "platform"},
}
BOOLS = {"true", "false", "1", "0", "yes", "no"}
# table: (key, {column: (kind, required)})
TABLES = {
    "orders": ("order_id", {
        "order_id": (TEXT, True), "platform": (TEXT, True), "shop_id": (TEXT, True),
        "buyer_region": (TEXT, False), "paid_at": (TS, True), "shipped_at": (TS, False),
        "delivered_at": (TS, False), "amount": (DEC, True), "currency": (TEXT, True),
        "free_shipping": (BOOL, True), "no_reason_return": (BOOL, True)}),
    "refunds": ("refund_id", {
        "refund_id": (TEXT, True), "order_id": (TEXT, True), "requested_at": (TS, True),
        "kind": (TEXT, True), "reason": (TEXT, True), "amount": (DEC, True),
        "first_response_at": (TS, False), "decision": (TEXT, True), "decided_at": (TS, False),
        "return_address_id": (TEXT, False), "buyer_shipped_at": (TS, False),
        "seller_received_at": (TS, False), "refunded_at": (TS, False),
        "refunded_amount": (DEC, False), "escalated_at": (TS, False),
        "escalation_response_at": (TS, False), "evidence_provided": (BOOL, False),
        "ruling": (TEXT, True), "ruled_at": (TS, False), "updated_at": (TS, False)}),
    "return_addresses": ("address_id", {
        "address_id": (TEXT, True), "shop_id": (TEXT, True), "recipient": (TEXT, False),
        "phone": (TEXT, False), "country": (TEXT, False), "province": (TEXT, False),
        "city": (TEXT, False), "district": (TEXT, False), "street": (TEXT, False),
        "postcode": (TEXT, False), "valid_from": (TS, True), "valid_to": (TS, False)}),
    "messages": ("message_id", {
        "message_id": (TEXT, True), "order_id": (TEXT, True), "refund_id": (TEXT, False),
        "sender": (TEXT, True), "sent_at": (TS, True), "text": (TEXT, False)}),
}


def validate(name: str, df: pd.DataFrame, orders: pd.Series | None) -> tuple[pd.DataFrame,
                                                                              pd.DataFrame]:
    key, cols = TABLES[name]
    bad = []

    def flag(mask: pd.Series, column: str, check: str, message: str) -> None:
        if mask.any():
            hit = df.loc[mask, [key, column]] if column != key else df.loc[mask, [key]]
            bad.append(pd.DataFrame({"table": name, "row_key": hit[key], "column": column,
                                     "check": check, "value": hit[column] if column in hit
                                     else hit[key], "message": message}))

    for col, (kind, required) in cols.items():
        s = df[col]
        if required:
            flag(s.isna(), col, "missing_required", f"{col} is empty")
        present = s.notna()
        if kind == TS:
            t = pd.to_datetime(s, format="ISO8601", utc=True, errors="coerce")
            flag(present & t.isna(), col, "wrong_type", f"{col} is not an ISO 8601 time")
        elif kind == DEC:
            v = pd.to_numeric(s, errors="coerce")
            flag(present & v.isna(), col, "wrong_type", f"{col} is not a number")
            flag(v < 0, col, "negative_amount", f"{col} is negative")
        elif kind == BOOL:
            flag(present & ~s.str.lower().isin(BOOLS), col, "wrong_type", f"{col} is not "
                 "a boolean")
        if col in ENUMS:
            flag(present & ~s.isin(ENUMS[col]), col, "enum_outside_list", f"{col} is not "
                 "one of " + ", ".join(sorted(ENUMS[col])))
    flag(df[key].duplicated(keep=False) & df[key].notna(), key, "duplicate_key",
         f"{key} appears more than once")
    if orders is not None and "order_id" in cols and name != "orders":
        flag(df["order_id"].notna() & ~df["order_id"].isin(orders), "order_id",
             "missing_order", "order_id is not a valid order")
    q = pd.concat(bad, ignore_index=True) if bad else pd.DataFrame(
        columns=["table", "row_key", "column", "check", "value", "message"])
    valid = df[~df[key].isin(q["row_key"])]
    return valid, q


def main(source: str, out: str) -> int:
    src, dst = Path(source), Path(out)
    dst.mkdir(parents=True, exist_ok=True)
    quarantine, counts, orders = [], [], None
    for name in ("orders", "refunds", "return_addresses", "messages"):
        path = src / f"{name}.csv"
        if not path.exists():
            continue
        df = pd.read_csv(path, dtype="str", keep_default_na=False, na_values=[""])
        read = len(df)
        if name == "refunds":  # later pulls resend a refund: the newest version wins
            t = pd.to_datetime(df["updated_at"], format="ISO8601", utc=True, errors="coerce")
            df = df.assign(_t=t).sort_values("_t", kind="stable") \
                .drop_duplicates("refund_id", keep="last").drop(columns="_t")
        valid, q = validate(name, df, orders)
        if name == "orders":
            orders = valid["order_id"]
        quarantine.append(q)
        counts.append({"table": name, "read": read, "valid": len(valid),
                       "quarantined": len(df) - len(valid), "superseded": read - len(df)})
    pd.concat(quarantine, ignore_index=True).to_csv(dst / "quarantine.csv", index=False)
    pd.DataFrame(counts).to_csv(dst / "counts.csv", index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
