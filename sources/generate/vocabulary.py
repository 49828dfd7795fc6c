"""What the generated data speaks: the platforms and their shop-id prefixes and zones, the
enum values and columns (taken from ``schemas.tables``, where the contract's columns are
written), the quarantine kinds it plants, and the profile deadlines it plants cases around."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# The enum values, re-exported for the generator's modules (its random codes index them).
from schemas.tables import DECISIONS as DECISIONS
from schemas.tables import KINDS as KINDS
from schemas.tables import REASONS as REASONS
from schemas.tables import RULINGS as RULINGS
from schemas.tables import SENDERS as SENDERS
from schemas.tables import columns

#: Columns of each table, in contract order, as ``schemas.tables`` defines them.
COLUMNS: dict[str, list[str]] = {
    t: list(columns(t)) for t in ("orders", "refunds", "return_addresses", "messages")
}

H = 3600.0
D = 86400.0


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
REGIONS = ("CN", "HK", "US", None)

# The shipped profile defaults (checks/profiles), in hours per platform code.  The generator only
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
_DIVISIONS = Path(__file__).resolve().parents[2] / "checks" / "data" / "china_divisions"


