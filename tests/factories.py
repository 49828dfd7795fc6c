"""Factories for minimal valid rows: a case names only the columns it is about.

Rows are dicts of strings as they would sit in a CSV file; ``tables(...)`` turns lists of
partial rows into the four raw frames the validation step reads.
"""

from __future__ import annotations

import itertools

import pandas as pd

from sources.base import contract_columns

_ids = itertools.count(1)


def order(**kw) -> dict:
    row = {
        "order_id": "O1", "platform": "tmall_global", "shop_id": "S1", "buyer_region": "CN",
        "paid_at": "2026-11-01T10:00:00+08:00", "shipped_at": "2026-11-02T10:00:00+08:00",
        "delivered_at": "2026-11-04T10:00:00+08:00", "amount": "100.00", "currency": "CNY",
        "free_shipping": "true", "no_reason_return": "true",
    }
    row.update(kw)
    return row


def refund(**kw) -> dict:
    row = {
        "refund_id": "R1", "order_id": "O1", "requested_at": "2026-11-05T10:00:00+08:00",
        "kind": "refund_only", "reason": "other", "amount": "50.00",
        "first_response_at": "2026-11-05T11:00:00+08:00", "decision": "agreed",
        "decided_at": "2026-11-05T11:00:00+08:00", "return_address_id": None,
        "buyer_shipped_at": None, "seller_received_at": None,
        "refunded_at": "2026-11-05T12:00:00+08:00", "refunded_amount": "50.00",
        "escalated_at": None, "escalation_response_at": None, "evidence_provided": None,
        "ruling": "none", "ruled_at": None, "updated_at": "2026-11-05T12:00:00+08:00",
    }
    row.update(kw)
    return row


def address(**kw) -> dict:
    row = {
        "address_id": "A1", "shop_id": "S1", "recipient": "张伟", "phone": "13812345678",
        "country": "CN", "province": "上海市", "city": "上海市", "district": "浦东新区",
        "street": "世纪大道100号", "postcode": "200120",
        "valid_from": "2025-01-01T00:00:00+08:00", "valid_to": None,
    }
    row.update(kw)
    return row


def message(**kw) -> dict:
    row = {
        "message_id": f"M{next(_ids)}", "order_id": "O1", "refund_id": None, "sender": "buyer",
        "sent_at": "2026-11-05T10:00:00+08:00", "text": "你好",
    }
    row.update(kw)
    return row


def frame(table: str, rows: list[dict]) -> pd.DataFrame:
    cols = contract_columns(table)
    df = pd.DataFrame([{c: r.get(c) for c in cols} for r in rows], columns=cols)
    return df.astype("str").where(df.notna(), None) if len(df) else df.astype("str")


def tables(orders=None, refunds=None, addresses=None, messages=None,
           with_messages: bool = True) -> dict[str, pd.DataFrame | None]:
    return {
        "orders": frame("orders", orders if orders is not None else [order()]),
        "refunds": frame("refunds", refunds if refunds is not None else []),
        "return_addresses": frame("return_addresses",
                                  addresses if addresses is not None else [address()]),
        "messages": frame("messages", messages or []) if with_messages else None,
    }
