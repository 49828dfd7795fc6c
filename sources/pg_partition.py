"""PostgreSQL read one partition at a time: the partition filter pushed down as a ``WHERE``
on an MD5 hash of ``order_id``, inside the audit-window push-down of ``sources.postgres``.

Why a hash the server computes: each partition (possibly on another machine) then receives
only its rows. The partition of a row is ``(first 60 bits of md5(order_id)) + 1 mod n``;
``sources.partition.md5_key`` computes the same number in Python. Two kinds of rows cannot
use it as is, and are listed in a small override table sent with every query:

- ids that validation would trim (leading/trailing whitespace, empty): the server hashes the
  raw text, validation matches the trimmed one. A pre-pass asks the server for every id
  whose first or last character is not a letter or digit (a superset of what needs
  trimming) and maps each to the partition of its trimmed form;
- orders linked by a shared refund or message id (see ``sources.partition``), moved to
  their group's partition.

Consistency: the pre-pass exports its snapshot (``pg_export_snapshot``) and keeps its
transaction open while the partitions are read; each partition read imports it (``SET
TRANSACTION SNAPSHOT``), so all partitions see the same database state even while the
back-end keeps writing, exactly as one unpartitioned read would.

Row numbers: the pre-pass reads each table's ``ctid`` in the order of the unpartitioned
read (the same query); a partition's rows carry their ``ctid`` and get their position from
it, so quarantine keys like ``row N`` match an unpartitioned run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from sources.partition import (
    LINK_IDS,
    ROUTED,
    ROW,
    BookForEveryPartition,
    Linker,
    Plan,
    _col,
    _first_shops,
    _texts,
    md5_key,
)
from sources.postgres import PostgresSource, _quote, _select_expr

PART_EXPR = ("mod((('x' || substr(md5({c}), 1, 15))::bit(60)::bigint + 1), {n})")


def _ctid_int(values) -> np.ndarray:
    """ctid text '(page,item)' → page << 16 | item."""
    s = pd.Series(values, dtype="str").str.strip("()").str.split(",", expand=True)
    if not len(s):
        return np.zeros(0, dtype=np.int64)
    return (s[0].astype("int64").to_numpy() << 16) | s[1].astype("int64").to_numpy()


class PostgresPartitions(BookForEveryPartition):
    """``sources.postgres.PostgresSource`` partitioned (see the module docstring)."""

    def __init__(self, src: PostgresSource) -> None:
        self.src = src
        self.plan: Plan | None = None
        self.snapshot: str | None = None
        self.overrides: dict[str, int] = {}
        self.order: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.shops: pd.DataFrame | None = None
        self.rows: dict[str, int] = {}
        self._holder = None  # the pre-pass connection, open while partitions read
        self._book: pd.DataFrame | None = None  # read in the pre-pass's snapshot

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_holder"] = None
        return state

    # -- helpers ----------------------------------------------------------------------------
    def _begin(self, snapshot: str | None = None):
        conn = self.src._connect()
        conn = conn.execution_options(isolation_level="REPEATABLE READ",
                                      postgresql_readonly=True)
        trans = conn.begin()
        if snapshot:
            conn.execute(text(f"SET TRANSACTION SNAPSHOT '{snapshot}'"))
        return conn, trans

    def _layout(self, conn):
        schema = self.src._schema(conn)
        cols = self.src._columns(conn, schema)
        where, params = self.src._pushdown(cols, schema, list(ROUTED))
        return schema, cols, where, params

    def _sql(self, schema, table, select: str, where, extra: str = "") -> str:
        base = f"SELECT {select} FROM {_quote(schema)}.{_quote(table)}"
        if where.get(table):
            with_clause, branches = where[table]
            return with_clause + " " + " UNION ALL ".join(
                f"{base} WHERE ({b}){(' AND ' + extra) if extra else ''}" for b in branches)
        return base + (f" WHERE {extra}" if extra else "")

    def estimate_orders(self) -> int:
        conn = self.src._connect()
        try:
            schema = self.src._schema(conn)
            n = conn.execute(text(
                "SELECT reltuples::bigint FROM pg_class c JOIN pg_namespace s ON "
                "s.oid = c.relnamespace WHERE s.nspname = :s AND c.relname = 'orders'"),
                {"s": schema}).scalar()
            if n is None or n < 0:
                n = conn.execute(text(
                    f"SELECT count(*) FROM {_quote(schema)}.\"orders\"")).scalar_one()
            return int(n)
        except DBAPIError as exc:
            raise self.src._error("Reading failed from", exc) from None
        finally:
            conn.close()

    # -- the pre-pass -------------------------------------------------------------------------
    def prepare(self, n: int) -> Plan:
        conn, trans = self._begin()
        try:
            self.snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            schema, cols, where, params = self._layout(conn)
            linker = Linker()
            linked_raw: dict[str, list] = {}
            for t, id_col in LINK_IDS.items():
                names = [c for c, _ in cols.get(t, [])]
                i, o = _col(names, id_col), _col(names, "order_id")
                if i is None or o is None:
                    continue
                sql = self._sql(schema, t, f"CAST({_quote(i)} AS TEXT), "
                                f"CAST({_quote(o)} AS TEXT)", where)
                res = conn.execution_options(stream_results=True).execute(text(sql), params)
                raws = []
                while rows := res.fetchmany(100_000):
                    a, b = zip(*rows, strict=True)
                    oa = pa.array(b, pa.string())
                    linker.add(t, pa.array(a, pa.string()), oa, "md5")
                    raws.append(oa)
                linked_raw[t] = raws
            plan = linker.plan(n, "md5")
            # raw ids the server must not hash as they are: overridden keys, untrimmed ids
            over: dict[str, int] = {}
            if plan.overrides:
                for raws in linked_raw.values():
                    for oa in raws:
                        norm = _texts(oa)
                        for raw, t in zip(oa.to_pylist(), norm, strict=True):
                            key = md5_key(t)
                            if key in plan.overrides:
                                over[raw] = plan.part(key)
                                over[t] = plan.part(key)
            del linked_raw
            for t in ROUTED:
                names = [c for c, _ in cols.get(t, [])]
                o = _col(names, "order_id")
                if o is None:
                    continue
                q = _quote(o)
                sql = (f"SELECT DISTINCT CAST({q} AS TEXT) FROM {_quote(schema)}.{_quote(t)} "
                       f"WHERE CAST({q} AS TEXT) !~ '^[0-9A-Za-z].*[0-9A-Za-z]$' AND "
                       f"CAST({q} AS TEXT) !~ '^[0-9A-Za-z]$'")
                raws = [r[0] for r in conn.execute(text(sql)) if r[0] is not None]
                for raw, t2 in zip(raws, _texts(pa.array(raws, pa.string())), strict=True):
                    over[raw] = plan.part(md5_key(t2))
            self.overrides = over
            self.plan = plan
            # positions: each table's ctids in the order of the unpartitioned read
            for t in ROUTED:
                if t not in cols:
                    continue
                sql = self._sql(schema, t, "ctid::text", where)
                res = conn.execution_options(stream_results=True).execute(text(sql), params)
                chunks = []
                while rows := res.fetchmany(500_000):
                    chunks.append(_ctid_int([r[0] for r in rows]))
                ctids = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)
                order = np.argsort(ctids, kind="stable")
                self.order[t] = (ctids[order], order.astype(np.int64))
                self.rows[t] = len(ctids)
            # each shop's first order row (the address book's zone)
            names = [c for c, _ in cols.get("orders", [])]
            s, p = _col(names, "shop_id"), _col(names, "platform")
            shops: dict[str, str | None] = {}
            if s is not None:
                sel = f"CAST({_quote(s)} AS TEXT), " + (
                    f"CAST({_quote(p)} AS TEXT)" if p else "NULL::text")
                res = conn.execution_options(stream_results=True).execute(
                    text(self._sql(schema, "orders", sel, where)), params)
                while rows := res.fetchmany(200_000):
                    a, b = zip(*rows, strict=True)
                    _first_shops(pa.RecordBatch.from_arrays(
                        [pa.array(a, pa.string()), pa.array(b, pa.string())],
                        names=["shop_id", "platform"]), shops)
            self.shops = pd.DataFrame({"shop_id": pd.Series(list(shops), dtype="str"),
                                       "platform": pd.Series(list(shops.values()),
                                                             dtype="str")})
            if "return_addresses" in cols:
                self._book = self.src._fetch(conn, schema, "return_addresses",
                                             cols["return_addresses"], None, {})
        except DBAPIError as exc:
            trans.rollback()
            conn.close()
            raise self.src._error("Reading failed from", exc) from None
        except BaseException:
            trans.rollback()
            conn.close()
            raise
        self._holder = (conn, trans)  # keeps the exported snapshot alive
        return plan

    # -- one partition ----------------------------------------------------------------------
    def _predicate(self, column: str, k: int) -> tuple[str, dict]:
        c = f"CAST({_quote(column)} AS TEXT)"
        natural = PART_EXPR.format(c=c, n=int(self.plan.n))
        if not self.overrides:
            return (f"(CASE WHEN {c} IS NULL THEN 0 ELSE {natural} END) = :ra_part", {})
        return (f"(CASE WHEN {c} IS NULL THEN 0 WHEN {c} = ANY(:ra_ok) THEN "
                f"(:ra_op)[array_position(:ra_ok, {c})] ELSE {natural} END) = :ra_part",
                {"ra_ok": list(self.overrides), "ra_op": list(self.overrides.values())})

    def read(self, k: int) -> dict[str, pd.DataFrame | None]:
        conn, trans = self._begin(self.snapshot)
        try:
            schema, cols, where, params = self._layout(conn)
            out: dict[str, pd.DataFrame | None] = {}
            for t in ROUTED:
                if t not in cols:
                    out[t] = None
                    continue
                names = [c for c, _ in cols[t]]
                o = _col(names, "order_id")
                if o is not None:
                    pred, extra = self._predicate(o, k)
                else:
                    pred, extra = ("0 = :ra_part", {})
                select = ", ".join(_select_expr(c, d) for c, d in cols[t])
                select = (select + ", " if select else "") + "ctid::text AS \"__ctid\""
                sql = self._sql(schema, t, select, where, pred)
                res = conn.execution_options(stream_results=True).execute(
                    text(sql), {**params, **extra, "ra_part": int(k)})
                keys = [c.strip() for c, _ in cols[t]] + ["__ctid"]
                batches = []
                while rows := res.fetchmany(50_000):
                    arrays = [pa.array(col, type=pa.string()) for col in zip(*rows, strict=True)]
                    batches.append(pa.RecordBatch.from_arrays(arrays, names=keys))
                schema_a = pa.schema([(n, pa.string()) for n in keys])
                df = pa.Table.from_batches(batches, schema=schema_a).to_pandas()
                ctid = _ctid_int(df.pop("__ctid"))
                sorted_ctids, order = self.order[t]
                pos = order[np.searchsorted(sorted_ctids, ctid)] if len(ctid) else \
                    np.zeros(0, dtype=np.int64)
                df[ROW] = pos
                df = df.iloc[np.argsort(pos, kind="stable")].reset_index(drop=True)
                out[t] = df
            trans.rollback()
        except DBAPIError as exc:
            raise self.src._error("Reading failed from", exc) from None
        finally:
            conn.close()
        out["return_addresses"] = self._book_raw().iloc[:0]
        return out

    def _address_book(self) -> pd.DataFrame | None:
        return self._book  # read in the pre-pass's snapshot

    def cleanup(self) -> None:
        if self._holder is not None:
            conn, trans = self._holder
            try:
                trans.rollback()
            finally:
                conn.close()
            self._holder = None
