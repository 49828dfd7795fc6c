"""The four input tables as pandera models: the one place their columns, types, enums and
meanings are written (docs/spec.md describes them for users).

Each field's ``metadata["kind"]`` tells the quarantine engine how to read the raw text
(``text``, ``timestamp``, ``decimal``, ``bool``, ``enum``, ``country``, ``currency``); the
models themselves validate the typed, already-quarantined frames that the rules consume.
"""

from __future__ import annotations

from typing import Annotated

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from schemas.names import OPTIONAL_TABLES, REQUIRED_TABLES, TABLES  # noqa: F401

Ts = Annotated[pd.DatetimeTZDtype, "us", "UTC"]

KINDS = ("refund_only", "return_refund")
REASONS = (
    "no_reason",
    "quality",
    "not_as_described",
    "damaged",
    "wrong_item",
    "not_received",
    "other",
)
QUALITY_REASONS = ("quality", "not_as_described", "damaged")
DECISIONS = ("pending", "agreed", "refused")
RULINGS = ("none", "seller_liable", "buyer_liable")
SENDERS = ("buyer", "seller", "platform")


def _f(description: str, kind: str, *, nullable: bool, enum: tuple[str, ...] | None = None,
       open_end: bool = False, **kw) -> object:
    meta = {"kind": kind}
    if open_end:  # a timestamp after the accepted years means "no end" (schemas.timestamps)
        meta["open_end"] = True
    if enum is not None:
        meta["enum"] = enum
        kw["isin"] = list(enum)
    return pa.Field(nullable=nullable, description=description, metadata=meta, **kw)


class Orders(pa.DataFrameModel):
    """One row per paid order."""

    order_id: Series[str] = _f("Order id, unique.", "text", nullable=False, unique=True)
    platform: Series[str] = _f(
        "Platform profile key: tmall_global, tmall, jd_worldwide, amazon_us, ...",
        "text", nullable=False)
    shop_id: Series[str] = _f("The seller's shop on that platform.", "text", nullable=False)
    buyer_region: Series[str] = _f(
        "ISO 3166 alpha-2 of the delivery address (CN, HK, US, ...).", "country", nullable=True)
    paid_at: Series[Ts] = _f("When the buyer paid.", "timestamp", nullable=False)
    shipped_at: Series[Ts] = _f("When the seller shipped.", "timestamp", nullable=True)
    delivered_at: Series[Ts] = _f("Buyer signed for the parcel (签收).", "timestamp",
                                  nullable=True)
    amount: Series[float] = _f("Paid amount, >= 0.", "decimal", nullable=False, ge=0)
    currency: Series[str] = _f("ISO 4217 currency code.", "currency", nullable=False)
    free_shipping: Series[bool] = _f("Free shipping (包邮).", "bool", nullable=False)
    no_reason_return: Series[bool] = _f(
        "The item carries the platform's no-reason return promise (7天无理由退货).",
        "bool", nullable=False)

    class Config:
        name = "orders"
        strict = "filter"


class Refunds(pa.DataFrameModel):
    """One row per refund or return request (售后单); a later pull may resend a refund."""

    refund_id: Series[str] = _f("Refund request id (versions share it).", "text",
                                nullable=False)
    order_id: Series[str] = _f("The order; must exist in orders.", "text", nullable=False)
    requested_at: Series[Ts] = _f("Buyer opened the request.", "timestamp", nullable=False)
    kind: Series[str] = _f("refund_only or return_refund.", "enum", nullable=False,
                           enum=KINDS)
    reason: Series[str] = _f("The buyer's reason.", "enum", nullable=False, enum=REASONS)
    amount: Series[float] = _f("Requested amount, <= the order's amount.", "decimal",
                               nullable=False, ge=0)
    first_response_at: Series[Ts] = _f("Seller's first action or message on this request.",
                                       "timestamp", nullable=True)
    decision: Series[str] = _f("pending, agreed or refused.", "enum", nullable=False,
                               enum=DECISIONS)
    decided_at: Series[Ts] = _f("Set exactly when decision is not pending.", "timestamp",
                                nullable=True)
    return_address_id: Series[str] = _f(
        "Address-book entry sent to the buyer when a return was agreed.", "text",
        nullable=True)
    buyer_shipped_at: Series[Ts] = _f("Buyer shipped the return.", "timestamp", nullable=True)
    seller_received_at: Series[Ts] = _f("Seller signed for the returned parcel.", "timestamp",
                                        nullable=True)
    refunded_at: Series[Ts] = _f("Money went back to the buyer.", "timestamp", nullable=True)
    refunded_amount: Series[float] = _f("What was refunded.", "decimal", nullable=True, ge=0)
    escalated_at: Series[Ts] = _f("Platform intervention requested (客服介入 / A-to-z).",
                                  "timestamp", nullable=True)
    escalation_response_at: Series[Ts] = _f(
        "Seller's first response or evidence to the platform after escalation.", "timestamp",
        nullable=True)
    evidence_provided: Series[pd.BooleanDtype] = _f(
        "The buyer gave evidence with a quality-type claim.", "bool", nullable=True)
    ruling: Series[str] = _f("none, seller_liable or buyer_liable.", "enum", nullable=False,
                             enum=RULINGS)
    ruled_at: Series[Ts] = _f("When the platform ruled; set exactly when ruling is not none.",
                              "timestamp", nullable=True)
    updated_at: Series[Ts] = _f("Version of this row; the newest version wins.", "timestamp",
                                nullable=True)

    class Config:
        name = "refunds"
        strict = "filter"


class ReturnAddresses(pa.DataFrameModel):
    """The shops' return address book."""

    address_id: Series[str] = _f("Address-book entry id, unique.", "text", nullable=False,
                                 unique=True)
    shop_id: Series[str] = _f("Owning shop.", "text", nullable=False)
    recipient: Series[str] = _f("Recipient name as registered.", "text", nullable=True)
    phone: Series[str] = _f("Recipient phone as registered.", "text", nullable=True)
    country: Series[str] = _f("ISO 3166 alpha-2.", "country", nullable=True)
    province: Series[str] = _f("Province / state.", "text", nullable=True)
    city: Series[str] = _f("City.", "text", nullable=True)
    district: Series[str] = _f("District / county.", "text", nullable=True)
    street: Series[str] = _f("Street address.", "text", nullable=True)
    postcode: Series[str] = _f("Postal code.", "text", nullable=True)
    valid_from: Series[Ts] = _f("Entry usable from.", "timestamp", nullable=False)
    valid_to: Series[Ts] = _f(
        "Entry retired at (empty, or a far-future marker such as 9999-12-31: still in use).",
        "timestamp", nullable=True, open_end=True)

    class Config:
        name = "return_addresses"
        strict = "filter"


class Messages(pa.DataFrameModel):
    """Buyer/seller conversation (optional table)."""

    message_id: Series[str] = _f("Message id, unique.", "text", nullable=False, unique=True)
    order_id: Series[str] = _f("The order; must exist in orders.", "text", nullable=False)
    refund_id: Series[str] = _f("The refund request the message is about, if any.", "text",
                                nullable=True)
    sender: Series[str] = _f("buyer, seller or platform.", "enum", nullable=False,
                             enum=SENDERS)
    sent_at: Series[Ts] = _f("When it was sent.", "timestamp", nullable=False)
    text: Series[str] = _f("Message text.", "text", nullable=True)

    class Config:
        name = "messages"
        strict = "filter"


MODELS: dict[str, type[pa.DataFrameModel]] = {
    "orders": Orders,
    "refunds": Refunds,
    "return_addresses": ReturnAddresses,
    "messages": Messages,
}
KEYS = {"orders": "order_id", "refunds": "refund_id", "return_addresses": "address_id",
        "messages": "message_id"}
assert tuple(MODELS) == TABLES


def columns(table: str) -> dict[str, dict]:
    """Column name → {kind, nullable, enum, open_end, description} for a table, in the
    documented order."""
    schema = MODELS[table].to_schema()
    out = {}
    for name, col in schema.columns.items():
        meta = (col.metadata or {})
        out[name] = {
            "kind": meta["kind"],
            "enum": meta.get("enum"),
            "open_end": meta.get("open_end", False),
            "nullable": col.nullable,
            "description": col.description,
        }
    return out
