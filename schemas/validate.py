"""Validation, quarantine and the "nothing lost" reconciliation (docs/spec.md, "Inputs").

Every row read ends in exactly one of: valid, quarantined (with every reason), superseded.
Superseded comes first: exact copies collapse to the first, and older versions of a refund
(same refund_id, older updated_at) lose to the newest whatever their content. Reasons are
built from our own boolean masks keyed by row position; pandera then checks that the valid
frames have the documented types (a postcondition, not the quarantine mechanism, because
pandera's failure cases and drop_invalid_rows do not scale to millions of bad rows).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pycountry

from schemas import timestamps
from schemas.errors import InputError
from schemas.tables import (
    DECISIONS,
    KEYS,
    MODELS,
    REQUIRED_TABLES,
    RULINGS,
    columns,
)
from schemas.timestamps import MAX_YEAR, MIN_YEAR, UTC_DTYPE, Parsed, parse_columns

QUARANTINE_COLUMNS = ["table", "row_key", "column", "check", "value", "message"]
#: Extra quarantine columns (not in quarantine.csv): the shop a quarantined row belongs to,
#: so a shop's report shows only its own rows. Empty when it cannot be told (no order).
OWNER_COLUMNS = ["platform", "shop_id"]
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}
# ISO 4217 as maintained in Debian's iso-codes (through pycountry): the codes in use today.
CURRENCIES = sorted(c.alpha_3 for c in pycountry.currencies)
#: A source where at least this share of the refunds (or of the messages) has no valid order
#: gets a warning: an orders export that is partial or broken, not a clean night.
ORPHAN_WARN_SHARE = 0.5


@dataclass
class Validated:
    """Valid typed tables, the quarantine (one row per reason) and the per-table counts."""

    tables: dict[str, pd.DataFrame]
    quarantine: pd.DataFrame
    counts: dict[str, dict[str, int]]
    warnings: list[str] = field(default_factory=list)
    #: Set when nothing can be audited although the source has rows (no valid order): the
    #: one-paragraph reason. The run then stops with exit status 2 and writes nothing.
    unusable: str | None = None
    #: One partition's share of the whole-source usability checks (see ``_usability``).
    usability: dict | None = None


class _Reasons:
    """Collects quarantine reasons for one table as (position, column, check, value, message)."""

    def __init__(self, n: int):
        self.n = n
        # Per reason: (positions, column, check, values, message), one frame built at the
        # end: a DataFrame per reason cost ~0.5 ms each, ~0.05 s of a small audit.
        self.parts: list[tuple] = []

    def add(self, mask: pd.Series | np.ndarray, column: str, check: str,
            value: pd.Series | str, message: str | pd.Series) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        pos = np.flatnonzero(mask)
        # Take the flagged rows first: converting a whole Arrow column to objects costs
        # ~0.1 s per million rows, per reason.
        val = value.iloc[pos].to_numpy() if isinstance(value, pd.Series) else value
        if isinstance(val, np.ndarray) and val.dtype != object:
            # Numbers, times (a driver's own types): as text now, as they are; text columns
            # (objects) are converted in `frame`, all reasons at once, value by value alike.
            val = pd.Series(val, dtype="object").astype("str").fillna("").to_numpy()
        msg = message.iloc[pos].to_numpy() if isinstance(message, pd.Series) else message
        self.parts.append((pos, column, check, val, msg))

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame(columns=["_pos", "column", "check", "value", "message"])

        def joined(k: int) -> np.ndarray:
            out = np.empty(sum(len(p[0]) for p in self.parts), dtype=object)
            at = 0
            for p in self.parts:
                out[at:at + len(p[0])] = p[k]
                at += len(p[0])
            return out

        # Values as text (missing as ""), converted once for all reasons.
        value = pd.Series(joined(3), dtype="object").astype("str").fillna("").to_numpy()
        return pd.DataFrame({"_pos": np.concatenate([p[0] for p in self.parts]),
                             "column": joined(1), "check": joined(2), "value": value,
                             "message": joined(4)})

    def any_mask(self) -> np.ndarray:
        out = np.zeros(self.n, dtype=bool)
        for p in self.parts:
            out[p[0]] = True
        return out


def _text(s: pd.Series) -> pd.Series:
    """Raw column → str with NA for empty / whitespace-only values."""
    s = _as_str(s)
    if _arrow_text(s):
        # pandas' own kernels for .str.strip() and != "", without its where(): half the time.
        # A column that needs neither (the usual case) is returned as is, not copied: the
        # raw and the checked tables then share their strings (memory at 10M rows).
        raw = pa.array(s, from_pandas=True)
        t = pc.utf8_trim_whitespace(raw)
        empty = pc.equal(t, "")
        if not pc.any(empty).as_py() and pc.all(pc.equal(t, raw)).as_py() in (True, None):
            return s
        t = pc.if_else(empty, pa.scalar(None, t.type), t)
        return _str_series(t, s.index, s.name)
    s = s.str.strip()
    return s.where(s != "", None)


def _as_str(s: pd.Series) -> pd.Series:
    # object columns may hold ints, floats or datetimes (a driver's own types): as text too
    if s.dtype == object or not pd.api.types.is_string_dtype(s.dtype):
        s = s.astype("str")
    return s


def _arrow_text(s: pd.Series) -> bool:
    dtype = s.dtype
    return isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow" and \
        dtype.na_value is np.nan


def _texts(cols: dict[str, pd.Series]) -> dict[str, pd.Series]:
    """``_text`` of several columns of one table (same length), with the same values.

    On a small table the Arrow text columns are read as one: their values one after another,
    trimmed and emptied with one call of each kernel, and cut back into columns (each of
    ``_text``'s five kernel calls cost ~0.2 ms per column on a few dozen rows). A column
    with nothing to trim and no empty value is returned as it is, as ``_text`` does. Other
    columns, and every column of a large table (no concatenated copy of all its text), go
    through ``_text`` one by one."""
    cols = {c: _as_str(s) for c, s in cols.items()}
    batch = [c for c, s in cols.items() if _arrow_text(s)]
    # the same bound of a small table as the timestamps' (read here, so a change to it counts)
    if len(batch) < 2 or sum(len(cols[c]) for c in batch) > timestamps.BATCH_VALUES:
        return {c: _text(s) for c, s in cols.items()}
    arrays = [pa.array(cols[c], from_pandas=True) for c in batch]
    chunks = [ch for a in arrays for ch in (a.chunks if isinstance(a, pa.ChunkedArray) else [a])]
    if not chunks or len({ch.type for ch in chunks}) > 1:  # string and large_string mixed
        return {c: _text(s) for c, s in cols.items()}
    raw = pa.chunked_array(chunks, type=chunks[0].type)
    t = pc.utf8_trim_whitespace(raw)
    empty = pc.equal(t, "")
    odd = pc.or_(empty, pc.not_equal(t, raw)).fill_null(False)
    odd = odd.to_numpy(zero_copy_only=False).astype(bool, copy=False)
    cleaned = pc.if_else(empty, pa.scalar(None, t.type), t)
    out = {c: _text(s) for c, s in cols.items() if c not in batch}
    at = 0
    for c in batch:
        s, n = cols[c], len(cols[c])
        out[c] = _str_series(cleaned.slice(at, n), s.index, s.name) \
            if odd[at:at + n].any() else s
        at += n
    return {c: out[c] for c in cols}


def _str_series(arr: pa.Array | pa.ChunkedArray, index: pd.Index, name=None) -> pd.Series:
    """An Arrow string array as a ``str`` Series without a round trip through Python."""
    dtype = pd.StringDtype("pyarrow", na_value=np.nan)
    return pd.Series(arr.to_pandas(types_mapper={arr.type: dtype}.get).array, index=index,
                     name=name)


def _check_columns(table: str, df: pd.DataFrame, warnings: list[str]) -> pd.DataFrame:
    cols = columns(table)
    seen = [c for c in df.columns]
    dup = {c for c in seen if seen.count(c) > 1}
    if dup:
        raise InputError(
            f"Table '{table}' has the column(s) {sorted(dup)} more than once; each audited "
            "column must appear exactly once. Rename or drop the extra copies and run again.")
    missing_required = [c for c, m in cols.items() if not m["nullable"] and c not in df.columns]
    if missing_required:
        raise InputError(
            f"Table '{table}' is missing the required column '{missing_required[0]}'"
            + (f" (and {missing_required[1:]})" if len(missing_required) > 1 else "")
            + f". The audit requires these columns in '{table}': "
            + ", ".join(c for c, m in cols.items() if not m["nullable"])
            + ". Nothing was audited.")
    # One frame from all the columns at once: an insert per column cost ~0.3 ms each.
    out: dict[str, pd.Series | None] = {}
    text: dict[str, pd.Series] = {}
    for c, m in cols.items():
        if c in df.columns:
            col = df[c].reset_index(drop=True)
            # typed datetimes stay typed only where a timestamp belongs (Parquet)
            typed = isinstance(col.dtype, pd.DatetimeTZDtype) or \
                pd.api.types.is_datetime64_dtype(col.dtype)
            if typed and m["kind"] == "timestamp":
                out[c] = col
            else:
                out[c], text[c] = None, col  # its place kept, read with the others below
        else:
            warnings.append(f"{table}.{c} is absent from the source; read as empty.")
            out[c] = pd.Series([None] * len(df), dtype="str")
    out.update(_texts(text))
    return pd.DataFrame(out, index=pd.RangeIndex(len(df)), copy=False)


def _owners(frames: dict[str, pd.DataFrame], table: str,
            pos: np.ndarray, order_pos: np.ndarray | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
    """(platform, shop_id) of the quarantined rows at ``pos``: an order's own columns; a
    refund's or message's through its ``order_id``; an address book entry's ``shop_id``
    (platform through the shop's orders). Only the quarantined rows are looked up.

    ``order_pos``: each row's first order row (``positions`` of its ``order_id`` among the
    orders), when validation has it already: the owners are then taken by position instead
    of through an index of every order id (~0.5 s per 250k orders)."""
    raw = frames[table]
    none = np.full(len(pos), None, dtype=object)
    orders = frames.get("orders")
    if table == "orders" or orders is None:
        cols = raw if table == "orders" else None
        if cols is None or not {"platform", "shop_id"} <= set(cols.columns):
            return none, none.copy()
        return (cols["platform"].iloc[pos].to_numpy(dtype=object),
                cols["shop_id"].iloc[pos].to_numpy(dtype=object))
    if not {"platform", "shop_id"} <= set(orders.columns):
        return none, none.copy()
    if order_pos is not None and "order_id" in raw.columns and "order_id" in orders.columns:
        # A row without an order_id belongs to no shop (an order row with an empty id is
        # no evidence of whose it is): no owner, so only the overview shows it.
        at = np.where(raw["order_id"].iloc[pos].isna().to_numpy(), -1, order_pos[pos])
        return (_take(orders["platform"], at, pd.RangeIndex(len(at))).to_numpy(dtype=object),
                _take(orders["shop_id"], at, pd.RangeIndex(len(at))).to_numpy(dtype=object))
    if "order_id" in raw.columns and "order_id" in orders.columns:
        owner = orders.drop_duplicates("order_id").set_index("order_id")[["platform", "shop_id"]]
        owner = owner[owner.index.notna()]  # an empty order_id has no owner (see above)
        hit = owner.reindex(raw["order_id"].iloc[pos].to_numpy())
        return hit["platform"].to_numpy(dtype=object), hit["shop_id"].to_numpy(dtype=object)
    if "shop_id" in raw.columns:
        platform = orders.drop_duplicates("shop_id").set_index("shop_id")["platform"]
        shop = raw["shop_id"].iloc[pos].to_numpy(dtype=object)
        return platform.reindex(shop).to_numpy(dtype=object), shop
    return none, none.copy()


def _row_keys(table: str, df: pd.DataFrame, pos: np.ndarray, repeated: np.ndarray,
              number: np.ndarray | None = None) -> np.ndarray:
    """The id of the rows at ``pos``; ``row N`` (1-based data row) when empty; ``id (row N)``
    when several rows share the id, so every quarantined row is identifiable and the counts
    can be checked. Built for the quarantined rows only, not for every row read.
    ``repeated``: which rows of ``df`` share their id with another row (``_repeated``, which
    validation has already)."""
    key = df[KEYS[table]].iloc[pos].reset_index(drop=True)
    # ``number``: each row's position in the whole table when ``df`` is one partition of it
    rows = pd.Series((pos if number is None else number[pos]) + 1).astype("str")
    present = key.notna()
    out = key.astype("str").where(present, "row " + rows)
    shared = present.to_numpy() & repeated[pos]
    return out.where(~shared, out + " (row " + rows + ")").to_numpy()


def _repeated(df: pd.DataFrame, key: str) -> np.ndarray:
    """Rows whose ``key`` occurs more than once (empty keys count as one value). Only these
    can be copies, duplicate keys or older versions: the checks for those look at them alone
    (each full-column pass costs ~1.3 s at ten million rows)."""
    return df[key].duplicated(keep=False).to_numpy()


def _exact_copies(df: pd.DataFrame, key: str, repeated: np.ndarray | None = None
                  ) -> np.ndarray:
    """Rows that repeat an earlier row exactly. Copies share their ``key``, so only the rows
    whose key repeats are compared whole (hashing every row cost ~3 s per million)."""
    out = np.zeros(len(df), dtype=bool)
    if len(df) == 0:
        return out
    maybe = _repeated(df, key) if repeated is None else repeated
    if maybe.any():
        h = pd.util.hash_pandas_object(df[maybe].astype("str"), index=False)
        out[maybe] = h.duplicated(keep="first").to_numpy()
    return out


def _timestamps(table: str, raw: pd.DataFrame, zones: pd.Series) -> dict[str, Parsed]:
    """The table's timestamp columns parsed (together when the table is small)."""
    cols = {c: m for c, m in columns(table).items() if m["kind"] == "timestamp"}
    return parse_columns({c: raw[c] for c in cols}, zones, clean=True,
                         open_end={c for c, m in cols.items() if m["open_end"]})


def _typed_columns(table: str, raw: pd.DataFrame, zones: pd.Series, reasons: _Reasons,
                   considered: np.ndarray, parsed: dict[str, Parsed] | None = None
                   ) -> pd.DataFrame:
    """Parse each column per its kind; add missing/type/enum/format/negative reasons.
    ``parsed``: the timestamp columns, when the caller has parsed them already."""
    parsed = _timestamps(table, raw, zones) if parsed is None else parsed
    typed: dict[str, pd.Series] = {}
    for c, meta in columns(table).items():
        s = raw[c]
        kind = meta["kind"]
        if kind == "timestamp":
            present = s.notna()
            p = parsed[c]
            reasons.add(p.malformed.to_numpy() & considered, c, "type", s,
                        f"{c} is not an ISO 8601 timestamp of an accepted form "
                        "(see docs/spec.md)")
            reasons.add(p.out_of_range.to_numpy() & considered, c, "out_of_range", s,
                        f"{c} is outside the accepted years {MIN_YEAR}–{MAX_YEAR}")
            typed[c] = p.values
        elif kind == "decimal":
            num = pd.to_numeric(s, errors="coerce").astype("float64")
            num = num.where(np.isfinite(num))
            present = s.notna()
            bad = present & num.isna()
            reasons.add(bad.to_numpy() & considered, c, "type", s, f"{c} is not a number")
            reasons.add((num < 0).fillna(False).to_numpy() & considered, c, "negative", s,
                        f"{c} is negative")
            typed[c] = num
        elif kind == "bool":
            low = s.str.lower()
            val = pd.Series(pd.NA, index=s.index, dtype="boolean")
            val[low.isin(_TRUE).fillna(False)] = True
            val[low.isin(_FALSE).fillna(False)] = False
            present = s.notna()
            bad = present & val.isna()
            reasons.add(bad.to_numpy() & considered, c, "type", s,
                        f"{c} is not a boolean (true/false, 1/0, yes/no)")
            typed[c] = val
        elif kind == "enum":
            present = s.notna()
            bad = present & ~s.isin(meta["enum"]).fillna(False)
            reasons.add(bad.to_numpy() & considered, c, "enum", s,
                        f"{c} must be one of: " + ", ".join(meta["enum"]))
            typed[c] = s
        elif kind == "country":
            up = s.str.upper()
            present = s.notna()
            bad = present & ~up.str.fullmatch("[A-Z]{2}").fillna(False)
            reasons.add(bad.to_numpy() & considered, c, "format", s,
                        f"{c} is not an ISO 3166 alpha-2 code")
            typed[c] = up
        elif kind == "currency":
            up = s.str.upper()
            present = s.notna()
            # Few distinct codes: the membership test runs on them, not on every row.
            codes, uniques = pd.factorize(up)
            known = np.append(np.isin(np.asarray(uniques, dtype=object), CURRENCIES), False)
            bad = present.to_numpy() & ~known[codes]
            reasons.add(bad & considered, c, "format", s,
                        f"{c} is not an ISO 4217 currency code in use")
            typed[c] = up
        else:
            present = s.notna()
            typed[c] = s
        if not meta["nullable"]:
            reasons.add((~present).to_numpy() & considered, c, "missing", "",
                        f"{c} is required")
    return pd.DataFrame(typed, index=raw.index, copy=False)


def _before(typed: pd.DataFrame, later: str, earlier: pd.Series, earlier_name: str,
            reasons: _Reasons, considered: np.ndarray, raw: pd.DataFrame) -> None:
    mask = (typed[later] < earlier).fillna(False).to_numpy() & considered
    reasons.add(mask, later, "timestamp_order", raw[later],
                f"{later} is before {earlier_name}")


def _zones_for_orders(orders_raw: pd.DataFrame, timezones: dict[str, str]) -> pd.Series:
    """The profile zone of each order's platform, UTC when it has none: per distinct platform
    (a dict ``map`` over ten million rows costs ~4 s)."""
    codes, names = pd.factorize(orders_raw["platform"])
    zones = pa.array([timezones.get(p, "UTC") for p in names] + ["UTC"], pa.large_string())
    arr = zones.take(pa.array(np.where(codes < 0, len(names), codes)))
    return _str_series(arr, orders_raw.index, "platform")


def warm() -> None:
    """Set up now what a process's first validation sets up whatever the rows: the tables'
    schemas and pandera's pandas backends (registered, with the modules they import, on
    the first ``validate`` of a process). For a process about to fork workers
    (``flows.partitioned``): they then share it."""
    import pandera.pandas as pandera

    for model in MODELS.values():
        model.to_schema()
    pandera.DataFrameSchema({}).validate(pd.DataFrame())


def validate_tables(raw: dict[str, pd.DataFrame | None], timezones: dict[str, str],
                    *, check_types: bool = True,
                    row_numbers: dict[str, np.ndarray] | None = None,
                    keep_pos: bool = False) -> Validated:
    """Validate the four raw tables (``messages`` may be None) per docs/spec.md.

    ``timezones`` maps every platform that has a profile to its IANA zone; a platform not in
    it has no profile. Raises InputError for a missing required table or column.

    For one partition of a larger source (``flows.partitioned``): ``row_numbers`` gives each
    raw row's 0-based position in its whole table, so quarantine row keys and the quarantine
    order are the whole table's; ``keep_pos`` keeps that position as a ``_pos`` column of the
    quarantine, for merging partitions in the whole run's order. The checks about the whole
    source (no valid order at all, too many orphans) are then left to the merge
    (``usable_over_partitions``), which gets this partition's counts in ``usability``.
    """
    warnings: list[str] = []
    for t in REQUIRED_TABLES:
        if raw.get(t) is None:
            raise InputError(
                f"The source has no table '{t}'. The audit needs the tables "
                f"{', '.join(REQUIRED_TABLES)} (and optionally messages) with the columns "
                "of docs/spec.md. Nothing was audited.")
    frames = {t: _check_columns(t, raw[t], warnings) for t in MODELS if raw.get(t) is not None}

    results: dict[str, tuple[pd.DataFrame, _Reasons, np.ndarray]] = {}

    # orders -----------------------------------------------------------------------------
    o = frames["orders"]
    o_zone = _zones_for_orders(o, timezones)
    o_rep = _repeated(o, "order_id")
    o_sup = _exact_copies(o, "order_id", o_rep)
    r = _Reasons(len(o))
    o_cons = ~o_sup
    ot = _typed_columns("orders", o, o_zone, r, o_cons)
    _dup_keys(o, "order_id", o_cons, r, repeated=o_rep)
    r.add(o["platform"].notna().to_numpy() & ~o["platform"].isin(list(timezones)).to_numpy()
          & o_cons, "platform", "unknown_platform", o["platform"],
          "platform has no profile (known: " + ", ".join(sorted(timezones)) + ")")
    _before(ot, "shipped_at", ot["paid_at"], "paid_at", r, o_cons, o)
    _before(ot, "delivered_at", ot["shipped_at"], "shipped_at", r, o_cons, o)
    results["orders"] = (ot, r, o_sup)
    o_bad = r.any_mask() | o_sup
    valid_ids = o["order_id"][~o_bad]
    # What refunds are checked against (not a copy of every column: memory at 10M rows).
    vo = ot.loc[~o_bad, ["amount", "paid_at"]]
    # Position of each refund's and message's order: the first row with that id (its zone,
    # as a groupby-first would give) and the valid order (amount, paid_at). Refunds and
    # messages in one lookup per set: hashing ten million order ids is the cost (~2.5 s).
    f = frames["refunds"]
    kids = [f["order_id"]] + ([frames["messages"]["order_id"]] if "messages" in frames else [])
    first = positions(kids, o["order_id"])
    valid = _valid_positions(kids, first, ~o_bad, o_rep, valid_ids)
    f_first, f_valid = first[: len(f)], valid[: len(f)]

    # refunds ----------------------------------------------------------------------------
    f_zone = _take(o_zone, f_first, f.index).fillna("UTC").astype("str")
    f_rep = _repeated(f, "refund_id")
    f_copy = _exact_copies(f, "refund_id", f_rep)
    # Every timestamp column at once, updated_at included (the versions need it first).
    f_times = _timestamps("refunds", f, f_zone)
    f_sup = f_copy | _older_versions(f["refund_id"], f_times["updated_at"].values,
                                     ~f_copy & f_rep)
    f_cons = ~f_sup
    r = _Reasons(len(f))
    ft = _typed_columns("refunds", f, f_zone, r, f_cons, f_times)
    _dup_keys(f, "refund_id", f_cons, r, versions=True, repeated=f_rep)
    _references(f, r, f_cons, f_first >= 0, f_valid >= 0)
    order_amount = _take(vo["amount"], f_valid, f.index).astype("float64")
    r.add((ft["amount"] > order_amount).fillna(False).to_numpy() & f_cons, "amount",
          "amount_exceeds_order", f["amount"], "refund amount is more than the order's amount")
    paid = _take(vo["paid_at"], f_valid, f.index)
    _before(ft, "requested_at", paid.astype(UTC_DTYPE), "the order's paid_at", r, f_cons, f)
    for c in ("first_response_at", "decided_at", "escalated_at", "escalation_response_at",
              "refunded_at"):
        _before(ft, c, ft["requested_at"], "requested_at", r, f_cons, f)
    _before(ft, "seller_received_at", ft["buyer_shipped_at"], "buyer_shipped_at", r, f_cons, f)
    dec_ok = ft["decision"].isin(DECISIONS)
    pend = (ft["decision"] == "pending").fillna(False)
    r.add((pend & ft["decided_at"].notna()).to_numpy() & f_cons, "decided_at",
          "decision_consistency", f["decided_at"], "decided_at is set but decision is pending")
    r.add((dec_ok & ~pend & ft["decided_at"].isna() & f["decided_at"].isna()).to_numpy()
          & f_cons, "decided_at", "decision_consistency", f["decision"],
          "decision is not pending but decided_at is empty")
    rul_ok = ft["ruling"].isin(RULINGS)
    none = (ft["ruling"] == "none").fillna(False)
    r.add((none & ft["ruled_at"].notna()).to_numpy() & f_cons, "ruled_at",
          "ruling_consistency", f["ruled_at"], "ruled_at is set but ruling is none")
    r.add((rul_ok & ~none & f["ruled_at"].isna()).to_numpy() & f_cons, "ruled_at",
          "ruling_consistency", f["ruling"], "ruling is set but ruled_at is empty")
    r.add((rul_ok & ~none & f["escalated_at"].isna()).to_numpy() & f_cons, "escalated_at",
          "ruling_consistency", f["ruling"], "a ruling without escalated_at")
    _before(ft, "ruled_at", ft["escalated_at"], "escalated_at", r, f_cons, f)
    results["refunds"] = (ft, r, f_sup)

    # return addresses -------------------------------------------------------------------
    a = frames["return_addresses"]
    # The zone of the shop's first order row.
    a_zone = _take(o_zone, positions(a["shop_id"], o["shop_id"]), a.index).fillna("UTC") \
        .astype("str")
    a_rep = _repeated(a, "address_id")
    a_sup = _exact_copies(a, "address_id", a_rep)
    r = _Reasons(len(a))
    at = _typed_columns("return_addresses", a, a_zone, r, ~a_sup)
    _dup_keys(a, "address_id", ~a_sup, r, repeated=a_rep)
    results["return_addresses"] = (at, r, a_sup)

    # messages ---------------------------------------------------------------------------
    if "messages" in frames:
        m = frames["messages"]
        m_first, m_valid = first[len(f):], valid[len(f):]
        m_zone = _take(o_zone, m_first, m.index).fillna("UTC").astype("str")
        m_rep = _repeated(m, "message_id")
        m_sup = _exact_copies(m, "message_id", m_rep)
        r = _Reasons(len(m))
        mt = _typed_columns("messages", m, m_zone, r, ~m_sup)
        _dup_keys(m, "message_id", ~m_sup, r, repeated=m_rep)
        _references(m, r, ~m_sup, m_first >= 0, m_valid >= 0)
        results["messages"] = (mt, r, m_sup)
    else:
        warnings.append("The source has no messages table: RT004, PC001 and PC002 are not "
                        "evaluated.")

    orphans = {"refunds": (f_cons, f_valid)}
    if "messages" in frames:
        orphans["messages"] = (~results["messages"][2], valid[len(f):])
    order_pos = {"refunds": f_first}
    repeated = {"orders": o_rep, "refunds": f_rep, "return_addresses": a_rep}
    if "messages" in frames:
        order_pos["messages"] = first[len(f):]
        repeated["messages"] = m_rep
    if row_numbers is not None:  # one partition: the whole-source checks are the merge's
        out = _assemble(frames, results, repeated, warnings, check_types, row_numbers,
                        keep_pos, order_pos)
        out.usability = _usability(frames, results["orders"], ~o_bad, orphans, row_numbers)
        return out
    unusable = _check_orders_usable(frames, results["orders"], ~o_bad, orphans, warnings)
    out = _assemble(frames, results, repeated, warnings, check_types, None, keep_pos,
                    order_pos)
    out.unusable = unusable
    return out


def _usability(frames, orders: tuple, valid_orders: np.ndarray, orphans: dict,
               row_numbers: dict[str, np.ndarray]) -> dict:
    """What ``_check_orders_usable`` needs, from one partition, to be summed over all of
    them (``usable_over_partitions``)."""
    _, reasons, sup = orders
    out = {"n_orders": int((~sup).sum()), "valid_orders": int(valid_orders.sum()),
           "rows": {}, "lost": {}, "reasons": []}
    for t, (cons, valid_pos) in orphans.items():
        oid = frames[t]["order_id"].notna().to_numpy()
        out["rows"][t] = int(cons.sum())
        out["lost"][t] = int((cons & oid & (valid_pos < 0)).sum())
    rf = reasons.frame()
    if len(rf):
        number = row_numbers.get("orders")
        grouped = rf.groupby(["column", "check"], sort=False)["_pos"]
        for (column, check), pos in grouped:
            first = int(pos.iloc[0]) if number is None else int(pos.min())
            value = frames["orders"][column].iloc[first]
            shown = "empty" if pd.isna(value) else repr(str(value)[:40])
            where = first if number is None else int(number[first])
            out["reasons"].append((column, check, int(len(pos)), where, shown))
    return out


def usable_over_partitions(parts: list[dict], warnings: list[str]) -> str | None:
    """``_check_orders_usable`` over a source validated in partitions: the counts summed;
    the orphan warnings appended to ``warnings``; the reason examples the lowest rows."""
    n_orders = sum(p["n_orders"] for p in parts)
    valid = sum(p["valid_orders"] for p in parts)
    rows: dict[str, int] = {}
    lost: dict[str, int] = {}
    for p in parts:
        for t, n in p["rows"].items():
            rows[t] = rows.get(t, 0) + n
            lost[t] = lost.get(t, 0) + p["lost"][t]
    if not valid and (n_orders or any(rows.values())):
        others = " and ".join(f"{n} {t}" for t, n in rows.items() if n)
        if not n_orders:
            return _no_orders(others)
        stats: dict[tuple[str, str], list] = {}
        for p in parts:
            for column, check, count, where, shown in p["reasons"]:
                s = stats.setdefault((column, check), [0, where, shown])
                s[0] += count
                if where < s[1]:
                    s[1], s[2] = where, shown
        ranked = sorted(stats.items(), key=lambda kv: -kv[1][0])[:3]
        why = "; ".join(f"{c} {k} in {n} row(s), e.g. row {w + 1}: {shown}"
                        for (c, k), (n, w, shown) in ranked) or "none recorded"
        return (f"Every order was quarantined ({n_orders} row(s)), so nothing could be "
                "audited" + (f" and the {others} have no valid order" if others else "")
                + f". Most common reasons: {why}. Fix the orders table and run again.")
    for t, n in rows.items():
        if n and lost[t] / n >= ORPHAN_WARN_SHARE:
            warnings.append(
                f"{lost[t]} of {n} {t} ({lost[t] / n:.0%}) have no valid order (missing_order "
                "or order_quarantined in quarantine.csv) and were not audited: the orders "
                "export looks incomplete or broken.")
    return None




def _check_orders_usable(frames: dict[str, pd.DataFrame], orders: tuple, valid_orders:
                         np.ndarray, orphans: dict[str, tuple[np.ndarray, np.ndarray]],
                         warnings: list[str]) -> str | None:
    """A failed orders export must not look like a clean night (docs/spec.md, "When the
    orders do not match"). Returns why nothing can be audited, or None.

    - No valid order while the source has orders, refunds or messages: nothing can be
      audited (every refund and message would be orphaned). The run stops with exit
      status 2, the returned paragraph as its error, and writes nothing.
    - At least ``ORPHAN_WARN_SHARE`` of the refunds, or of the messages, without a valid
      order: a warning (run.json, the report, the console); the rest is audited.
    """
    _, reasons, sup = orders
    rows = {t: int(cons.sum()) for t, (cons, _) in orphans.items()}
    n_orders = int((~sup).sum())
    if not valid_orders.any() and (n_orders or any(rows.values())):
        others = " and ".join(f"{n} {t}" for t, n in rows.items() if n)
        if not n_orders:
            return _no_orders(others)
        why = _top_reasons(frames["orders"], reasons)
        return (f"Every order was quarantined ({n_orders} row(s)), so nothing could be "
                "audited" + (f" and the {others} have no valid order" if others else "")
                + f". Most common reasons: {why}. Fix the orders table and run again.")
    for t, (cons, valid_pos) in orphans.items():
        n = int(cons.sum())
        oid = frames[t]["order_id"].notna().to_numpy()
        lost = int((cons & oid & (valid_pos < 0)).sum())
        if n and lost / n >= ORPHAN_WARN_SHARE:
            warnings.append(
                f"{lost} of {n} {t} ({lost / n:.0%}) have no valid order (missing_order or "
                "order_quarantined in quarantine.csv) and were not audited: the orders "
                "export looks incomplete or broken.")
    return None


def _top_reasons(df: pd.DataFrame, reasons: _Reasons, top: int = 3) -> str:
    """The commonest quarantine reasons of a table, each with one example, for a message."""
    rf = reasons.frame()
    if not len(rf):
        return "none recorded"
    parts = []
    grouped = rf.groupby(["column", "check"], sort=False)["_pos"]
    sizes = grouped.size().sort_values(ascending=False, kind="stable")
    for (column, check), count in sizes.head(top).items():
        first = int(rf.loc[(rf["column"] == column) & (rf["check"] == check), "_pos"].iloc[0])
        value = df[column].iloc[first]
        shown = "empty" if pd.isna(value) else repr(str(value)[:40])
        parts.append(f"{column} {check} in {count} row(s), e.g. row {first + 1}: {shown}")
    return "; ".join(parts)


def shop_zones(shops: pd.DataFrame, timezones: dict[str, str]) -> pd.DataFrame:
    """``shop_id``, ``platform`` and ``zone`` of each shop's first order row (``shops``: raw shop_id and
    platform of those rows, in order): what the address book's timestamps are read in."""
    s = pd.DataFrame({c: _text(shops[c].reset_index(drop=True))
                      for c in ("shop_id", "platform")})
    return pd.DataFrame({"shop_id": s["shop_id"], "platform": s["platform"],
                         "zone": _zones_for_orders(s, timezones).to_numpy()})


def validate_address_book(raw_book: pd.DataFrame, zones: pd.DataFrame,
                          *, check_types: bool = True, keep_pos: bool = False) -> Validated:
    """The address book validated on its own, exactly as ``validate_tables`` validates it:
    a partitioned audit validates the book once, not once per partition. ``zones``: from
    ``shop_zones`` over the whole orders table (the first order row of each shop)."""
    warnings: list[str] = []
    a = _check_columns("return_addresses", raw_book, warnings)
    pos = positions(a["shop_id"], zones["shop_id"]) if len(zones) else \
        np.full(len(a), -1, dtype=np.int64)
    a_zone = _take(zones["zone"], pos, a.index).fillna("UTC").astype("str")
    a_rep = _repeated(a, "address_id")
    a_sup = _exact_copies(a, "address_id", a_rep)
    r = _Reasons(len(a))
    at = _typed_columns("return_addresses", a, a_zone, r, ~a_sup)
    _dup_keys(a, "address_id", ~a_sup, r, repeated=a_rep)
    # the entries' owners (quarantine rows) through each shop's first order row, as
    # validate_tables finds them through the orders table
    owners = pd.DataFrame({"shop_id": zones["shop_id"], "platform": zones["platform"]})
    return _assemble({"return_addresses": a, "orders": owners},
                     {"return_addresses": (at, r, a_sup)}, {"return_addresses": a_rep},
                     warnings, check_types, None, keep_pos)


def _dup_keys(df: pd.DataFrame, key: str, considered: np.ndarray, r: _Reasons,
              versions: bool = False, repeated: np.ndarray | None = None) -> None:
    among = considered & (_repeated(df, key) if repeated is None else repeated)
    k = df[key][among]
    dup = np.zeros(len(df), dtype=bool)
    dup[np.flatnonzero(among)] = (k.notna() & k.duplicated(keep=False)).to_numpy()
    msg = ("refund_id repeated with the same updated_at (or none): no way to tell which "
           "version is newest") if versions else f"{key} is not unique"
    r.add(dup, key, "duplicate_key", df[key], msg)


def _older_versions(ids: pd.Series, updated: pd.Series, considered: np.ndarray) -> np.ndarray:
    """Rows that a newer version of the same refund_id supersedes (empty updated_at = oldest)."""
    ids = ids.where(considered)
    ok = ids.notna()
    if not ok.any():
        return np.zeros(len(ids), dtype=bool)
    # Missing versions sort first: a row that carries a version stamp is a later pull's.
    key = updated.astype("int64").where(updated.notna(), np.iinfo("int64").min) \
        if len(updated) else updated
    newest = key[ok].groupby(ids[ok]).transform("max")
    older = pd.Series(False, index=ids.index)
    older[ok] = key[ok] < newest
    return older.to_numpy()


def positions(keys: pd.Series | list[pd.Series], values: pd.Series) -> np.ndarray:
    """Position in ``values`` of the first occurrence of each key; -1 when absent or empty.
    ``keys`` may be several columns, looked up together (their results one after another).

    The lookup of ids (order_id, shop_id) at scale: Arrow's hash kernel, ~0.1 s per million.
    pandas' ``map``/``isin``/``join`` on Arrow strings go through Python objects or build
    their own hash tables each time (``isin`` with a million values: ~15 s). The cost is in
    hashing ``values``: for a few keys among many values the lookup is turned around.
    """
    keys = keys if isinstance(keys, list) else [keys]
    n = sum(len(k) for k in keys)
    if not len(values) or not n:
        return np.full(n, -1, dtype=np.int64)
    if n * 64 < len(values):
        return _first_rows(pd.concat(keys, ignore_index=True), values)
    arr = pa.chunked_array([c for k in keys for c in _arrow(k).chunks], type=pa.large_string())
    pos = pc.index_in(arr, value_set=_arrow(values), skip_nulls=True).fill_null(-1)
    return pos.to_numpy(zero_copy_only=False).astype(np.int64)


def _arrow(s: pd.Series) -> pa.ChunkedArray:
    arr = pa.array(s.astype("str"), from_pandas=True)
    arr = arr if isinstance(arr, pa.ChunkedArray) else pa.chunked_array([arr])
    return arr.cast(pa.large_string())


def _first_rows(keys: pd.Series, values: pd.Series) -> np.ndarray:
    """``positions`` for few keys among many values: each value row is looked up among the
    keys (a small hash), then the first row per key is kept."""
    hit = pc.index_in(_arrow(values), value_set=_arrow(keys), skip_nulls=True).fill_null(-1)
    hit = pd.Series(hit.to_numpy(zero_copy_only=False).astype(np.int64))
    first = hit[hit >= 0].drop_duplicates(keep="first")
    row_of = np.full(len(keys), -1, dtype=np.int64)
    row_of[first.to_numpy()] = first.index.to_numpy()
    # A key repeated among the keys was found as its first copy.
    same = pc.index_in(_arrow(keys), value_set=_arrow(keys), skip_nulls=True).fill_null(-1)
    same = same.to_numpy(zero_copy_only=False).astype(np.int64)
    return np.where(same >= 0, row_of[np.maximum(same, 0)], -1)


def _valid_positions(keys: list[pd.Series], first: np.ndarray, valid: np.ndarray,
                     repeated: np.ndarray, valid_ids: pd.Series) -> np.ndarray:
    """``positions(keys, valid_ids)`` from ``first`` (``positions(keys, order ids)``)
    without hashing the order ids a second time (~0.2 s per 250k orders).

    ``valid``: which order rows are valid (``valid_ids`` are their ids, in order);
    ``repeated``: which order rows share their id with another row. A key whose first order
    row has an id of its own is at that row's rank among the valid rows when the row is
    valid, and nowhere otherwise; a key whose id repeats among the orders (copies, duplicate
    keys: a few rows) is looked up among the valid ids as before."""
    if not len(valid):  # no orders: no key has an order
        return np.full(len(first), -1, dtype=np.int64)
    rank = np.cumsum(valid) - 1
    at = np.maximum(first, 0)
    out = np.where((first >= 0) & valid[at], rank[at], -1)
    redo = np.flatnonzero((first >= 0) & repeated[at])
    if len(redo):
        flat = pd.concat(keys, ignore_index=True) if len(keys) > 1 else \
            keys[0].reset_index(drop=True)
        out[redo] = positions(flat.iloc[redo], valid_ids)
    return out.astype(np.int64)


def _take(col: pd.Series, pos: np.ndarray, index: pd.Index) -> pd.Series:
    """``col`` at positions ``pos`` (-1: missing value), indexed by ``index``."""
    return pd.Series(col.array.take(pos, allow_fill=True), index=index)


def _references(df: pd.DataFrame, r: _Reasons, considered: np.ndarray,
                in_known: np.ndarray, in_valid: np.ndarray) -> None:
    oid = df["order_id"]
    present = oid.notna()
    missing = present & ~in_known
    quarantined = present & in_known & ~in_valid
    r.add(missing.to_numpy() & considered, "order_id", "missing_order", oid,
          "order_id not found in orders")
    r.add(quarantined.to_numpy() & considered, "order_id", "order_quarantined", oid,
          "the order is itself quarantined")


def _assemble(frames, results, repeated: dict[str, np.ndarray], warnings, check_types,
              row_numbers=None, keep_pos=False, order_pos: dict[str, np.ndarray] | None = None
              ) -> Validated:
    """The outcome of each table: counts, quarantine rows (with their keys and owners) and
    the valid rows typed. ``repeated``: per table, which rows share their id with another
    row (``_repeated``)."""
    tables: dict[str, pd.DataFrame] = {}
    q_parts = []
    counts: dict[str, dict[str, int]] = {}
    for t, (typed, reasons, sup) in results.items():
        raw = frames[t]
        bad = reasons.any_mask() & ~sup
        valid = ~bad & ~sup
        counts[t] = {"read": int(len(raw)), "valid": int(valid.sum()),
                     "quarantined": int(bad.sum()), "superseded": int(sup.sum())}
        rf = reasons.frame()
        if len(rf):
            rf = rf[~sup[rf["_pos"].to_numpy()]]
            number = (row_numbers or {}).get(t)
            rf.insert(0, "row_key", _row_keys(t, raw, rf["_pos"].to_numpy(), repeated[t],
                                              number))
            rf.insert(0, "table", t)
            rf["platform"], rf["shop_id"] = _owners(frames, t, rf["_pos"].to_numpy(),
                                                    (order_pos or {}).get(t))
            if number is not None:  # a partition: positions in the whole table
                rf["_pos"] = number[rf["_pos"].to_numpy()]
            q_parts.append(rf)
        out = typed[valid].reset_index(drop=True)
        out = _final_dtypes(t, out)
        if not len(out):
            out = _with_a_chunk(out)
        if check_types:
            MODELS[t].validate(out, lazy=True)
        tables[t] = out
    quarantine = (pd.concat(q_parts, ignore_index=True) if q_parts
                  else pd.DataFrame(columns=["table", "row_key", "_pos", "column", "check",
                                             "value", "message", *OWNER_COLUMNS]))
    quarantine = quarantine.sort_values(["table", "_pos", "column", "check"], kind="stable")
    quarantine = quarantine[[*QUARANTINE_COLUMNS, *OWNER_COLUMNS,
                             *(["_pos"] if keep_pos else [])]].reset_index(drop=True)
    return Validated(tables=tables, quarantine=quarantine, counts=counts, warnings=warnings)


def _with_a_chunk(df: pd.DataFrame) -> pd.DataFrame:
    """An empty table whose text columns hold one empty Arrow chunk instead of none.

    Filtering a text column down to no rows leaves an Arrow array of zero chunks, and pandas
    cannot join or merge two of those ("cannot construct ChunkedArray from empty vector"):
    an empty address book met by no agreed return crashed the check. The rules filter
    freely, so the tables they start from are made safe here.
    """
    for c in df.columns:
        if isinstance(df[c].dtype, pd.StringDtype) and df[c].dtype.storage == "pyarrow":
            df[c] = pd.Series(pd.array([], dtype=df[c].dtype), name=c, dtype=df[c].dtype)
    return df


_STR = pd.api.types.pandas_dtype("str")


def _final_dtypes(table: str, df: pd.DataFrame) -> pd.DataFrame:
    """The documented dtype of each column; a column that has it already is kept as it is
    (most are: an astype and an insert per column cost ~0.5 ms each on a tiny table)."""
    out: dict[str, pd.Series] = {}
    for c, meta in columns(table).items():
        if meta["kind"] == "bool":
            want = np.dtype("bool") if not meta["nullable"] else pd.BooleanDtype()
        elif meta["kind"] == "timestamp":
            want = UTC_DTYPE
        elif meta["kind"] == "decimal":
            want = np.dtype("float64")
        else:
            want = _STR
        col = df[c]
        out[c] = col if col.dtype == want else col.astype(want)
    return pd.DataFrame(out, index=df.index, copy=False)


def _no_orders(others: str) -> str:
    """The stop message when the orders table is empty but other tables are not."""
    return ("The orders table has no rows, but the source has " + others + ": every one of "
            "them would be quarantined as missing_order. This looks like a failed orders "
            "export; nothing was audited. Check the export and run again.")
