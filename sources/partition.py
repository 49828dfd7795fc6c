"""Reading a source one partition at a time: every row routed by a hash of its ``order_id``.

Why: an audit of ten million orders held in one process needs ~10 GB; cut by order, each
piece of ~250k orders needs a few hundred MB, and the pieces can run one after another (flat
memory) or on Dask workers. ``flows.partitioned`` runs the audit over the pieces and merges
them into exactly what one run over everything produces; this module decides which rows go
together and reads them.

What must stay together, and how it is kept together:

- An order and every row naming it (its refunds, refund versions, messages): routed by the
  same hash of the *normalised* ``order_id`` (whitespace trimmed, empty = missing; exactly
  what validation matches on), so orphans land where their order would be and are
  quarantined there as ``missing_order``. Rows without an order id go to partition 0.
- Every row sharing a ``refund_id`` or a ``message_id`` (copies, versions, duplicate keys),
  even under different orders: a pre-pass over the id columns only finds the ids that occur
  under more than one order, links those orders into groups (union-find) and sends each
  group to one partition (``Plan.overrides``). Normally there are none or a handful.

Putting more rows together than needed is always safe (a hash collision only merges
partitions' contents); putting too few together would not be, which is why the pre-pass
works on 64-bit hashes of the ids and errs on the side of linking.

The partition of an order key is ``hash(key) mod n`` unless overridden. The hash is per
source kind, because it must be cheap where the rows are filtered: 64-bit FNV-1a of the
UTF-8 key for folders (vectorised over Arrow buffers), CRC-32 for SQLite (a Python function
registered in SQLite), the first 60 bits of MD5 for PostgreSQL (computed by the server). The outputs never depend on the hash: it only
decides where rows are checked.

Folders (CSV, Parquet) cannot filter on a computed column without reading it, so they are
read once in batches (Arrow's streaming CSV reader, Parquet row-group batches) and each
batch is split into per-partition spill files (Arrow IPC, in a scratch folder); a partition
then reads its spill files. SQLite and PostgreSQL filter in SQL (``WHERE`` on the hash).

Each row carries ``__row``, its 0-based position in its whole table, so quarantine row keys
(``row N``) and the quarantine's order are those of an unpartitioned run.
"""

from __future__ import annotations

import hashlib
import math
import sqlite3
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from schemas.errors import InputError
from sources.base import (
    CsvFolder,
    SqliteSource,
    _as_text,
    _encoding_error,
    _header,
    contract_columns,
    open_source,
)
from sources.files import missing_table

ROW = "__row"
#: Spill files are compressed: a third of the bytes to write and read back (ids and
#: timestamps compress well), for little CPU.
_SPILL_OPTIONS = ipc.IpcWriteOptions(compression="lz4")
#: Tables routed by order; the address book is small and read whole by every partition.
ROUTED = ("orders", "refunds", "messages")
#: Which id must keep its rows together, per routed child table.
LINK_IDS = {"refunds": "refund_id", "messages": "message_id"}
#: Orders per partition the automatic choice aims at (~0.4 GB peak per partition).
TARGET_ORDERS = 250_000


# --------------------------------------------------------------------------- hashing


def _norm(values: pa.Array | pa.ChunkedArray | pd.Series) -> pa.Array:
    """Normalised keys: trimmed as validation trims, empty → null (one Arrow array)."""
    if isinstance(values, pd.Series):
        values = pa.array(values.astype("str"), from_pandas=True)
    if isinstance(values, pa.ChunkedArray):
        values = pa.concat_arrays(values.chunks) if values.num_chunks else \
            pa.array([], values.type)
    if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
        # as sources.base._as_text renders non-text columns (Parquet ints, ...)
        s = pd.Series(values.to_pandas())
        values = pa.array(s.astype("str").where(s.notna(), None), from_pandas=True)
    t = pc.utf8_trim_whitespace(values)
    return pc.if_else(pc.equal(t, ""), pa.scalar(None, t.type), t)


def _texts(values) -> np.ndarray:
    """Normalised keys as an object array (None where missing)."""
    return _norm(values).to_numpy(zero_copy_only=False)


_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


def fnv_keys(values) -> np.ndarray:
    """64-bit FNV-1a of each normalised key's UTF-8 bytes, 0 where missing (1 stands in for
    a hash of 0). Vectorised over the Arrow buffers: one numpy step per byte position, on
    the keys at least that long (~0.2 s per million ids; no Python objects)."""
    arr = _norm(values).cast(pa.large_string())
    n = len(arr)
    if not n:
        return np.zeros(0, dtype=np.uint64)
    offs = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset: arr.offset + n + 1]
    buf = arr.buffers()[2]
    data = np.frombuffer(buf, dtype=np.uint8) if buf is not None else np.zeros(0, np.uint8)
    starts = offs[:-1]
    lens = offs[1:] - starts
    order = np.argsort(-lens, kind="stable")
    neg, st = -lens[order], starts[order]
    h = np.full(n, _FNV_OFFSET, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for i in range(int(-neg[0])):
            m = int(np.searchsorted(neg, -i, side="left"))  # keys longer than i bytes
            hs = h[:m]
            hs ^= data[st[:m] + i]
            hs *= _FNV_PRIME
    out = np.empty(n, dtype=np.uint64)
    out[order] = h
    out[out == 0] = 1
    if arr.null_count:
        out[pc.is_null(arr).to_numpy(zero_copy_only=False)] = 0
    return out


def fnv_key(text: str | None) -> int:
    """``fnv_keys`` for one key (tests, overrides)."""
    if text is None:
        return 0
    h = 0xCBF29CE484222325
    for b in text.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h or 1


def crc_key(text: str | None) -> int:
    """Order-key hash of folders and SQLite: CRC-32 of the UTF-8 key, + 1 (0 = no key)."""
    return 0 if text is None else zlib.crc32(text.encode("utf-8")) + 1


def md5_key(text: str | None) -> int:
    """Order-key hash of PostgreSQL: the first 60 bits of MD5, as the server computes
    ``('x' || substr(md5(k), 1, 15))::bit(60)::bigint``, + 1 (0 = no key)."""
    if text is None:
        return 0
    return int(hashlib.md5(text.encode("utf-8")).hexdigest()[:15], 16) + 1


KEY_HASHES = {"fnv": fnv_key, "crc32": crc_key, "md5": md5_key}


def order_keys(values, kind: str = "fnv") -> np.ndarray:
    """uint64 hash of each normalised order id (0 where missing)."""
    if kind == "fnv":
        return fnv_keys(values)
    f = KEY_HASHES[kind]
    texts = _texts(values)
    return np.fromiter((f(t) for t in texts), dtype=np.uint64, count=len(texts))


def id_keys(values) -> np.ndarray:
    """64-bit hash of each normalised refund/message id (0 where missing)."""
    return fnv_keys(values)


# --------------------------------------------------------------------------- the plan


@dataclass
class Plan:
    """Which partition each order key goes to: ``key mod n``, except ``overrides``
    (key → partition) for orders linked by a shared refund or message id; missing keys (0)
    go to partition 0."""

    n: int
    kind: str = "fnv"
    overrides: dict[int, int] = field(default_factory=dict)
    #: Groups of linked orders (for the record: how many orders were moved to stay together).
    linked_groups: int = 0

    def parts(self, keys: np.ndarray) -> np.ndarray:
        out = (keys % np.uint64(self.n)).astype(np.int64)
        if self.overrides:
            ks = np.fromiter(self.overrides, dtype=np.uint64, count=len(self.overrides))
            vs = np.fromiter(self.overrides.values(), dtype=np.int64, count=len(self.overrides))
            order = np.argsort(ks)
            ks, vs = ks[order], vs[order]
            i = np.minimum(np.searchsorted(ks, keys), len(ks) - 1)
            hit = ks[i] == keys
            out[hit] = vs[i[hit]]
        out[keys == 0] = 0
        return out

    def part(self, key: int) -> int:
        if key == 0:
            return 0
        return self.overrides.get(key, key % self.n)


class Linker:
    """The pre-pass: (id, order key) pairs of refunds and messages, batch by batch; then the
    groups of orders that share an id."""

    def __init__(self) -> None:
        self.pairs: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {t: [] for t in LINK_IDS}

    def add(self, table: str, ids, orders, kind: str) -> None:
        self.pairs[table].append((id_keys(ids), order_keys(orders, kind)))

    def plan(self, n: int, kind: str) -> Plan:
        parent: dict[int, int] = {}

        def find(x: int) -> int:
            while parent.setdefault(x, x) != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for chunks in self.pairs.values():
            if not chunks:
                continue
            ids = np.concatenate([c[0] for c in chunks])
            keys = np.concatenate([c[1] for c in chunks])
            keep = ids != 0
            ids, keys = ids[keep], keys[keep]
            order = np.argsort(ids, kind="stable")
            ids, keys = ids[order], keys[order]
            rep = np.zeros(len(ids), dtype=bool)
            if len(ids) > 1:
                same = ids[1:] == ids[:-1]
                rep[1:] |= same
                rep[:-1] |= same
            ids, keys = ids[rep], keys[rep]
            # an id under more than one order key links those keys
            for i in range(1, len(ids)):
                if ids[i] == ids[i - 1] and keys[i] != keys[i - 1]:
                    a, b = find(int(keys[i - 1])), find(int(keys[i]))
                    if a != b:
                        parent[max(a, b)] = min(a, b)
        groups: dict[int, list[int]] = {}
        for x in list(parent):
            groups.setdefault(find(x), []).append(x)
        overrides: dict[int, int] = {}
        base = Plan(n, kind)
        for root, members in groups.items():
            if len(members) < 2:
                continue
            target = base.part(root)  # root = the smallest key: 0 (no order id) when present
            for m in members:
                if base.part(m) != target:
                    overrides[m] = target
        return Plan(n, kind, overrides, sum(1 for m in groups.values() if len(m) > 1))


def choose_partitions(orders: int, target: int = TARGET_ORDERS) -> int:
    """Partitions for ``orders`` orders: about ``target`` orders each (1 for small data)."""
    return max(1, math.ceil(orders / target)) if orders > 1.6 * target else 1


# --------------------------------------------------------------------------- sources


def partitioned_source(uri: str, *, encoding: str = "utf-8", schema: str | None = None,
                       window=None, spill_dir: str | Path | None = None):
    """The partition reader for a source URI (None when the source cannot be partitioned:
    a folder read through a column mapping)."""
    src = open_source(uri, encoding=encoding, schema=schema, window=window)
    if isinstance(src, CsvFolder):
        if src.mapping is not None:
            return None
        return FolderPartitions(src.folder, encoding, spill_dir)
    if isinstance(src, SqliteSource):
        return SqlitePartitions(src.path)
    from sources.postgres import PostgresSource

    if isinstance(src, PostgresSource):
        from sources.pg_partition import PostgresPartitions

        return PostgresPartitions(src)
    return None


def _strip_names(df: pd.DataFrame) -> pd.DataFrame:
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _col(names: list[str], wanted: str) -> str | None:
    return next((n for n in names if n.strip() == wanted), None)


class BookForEveryPartition:
    """What every partitioned source shares: the whole (small) address book goes to each
    partition, with the first (shop_id, platform) order row of each shop (``shops``)."""

    shops: pd.DataFrame | None

    def _address_book(self) -> pd.DataFrame | None:
        """The raw return_addresses table, None when the source has none."""
        raise NotImplementedError

    def _book_raw(self) -> pd.DataFrame:
        book = self._address_book()
        if book is None:
            raise missing_table("", "return_addresses")
        return book

    def book(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The raw address book and the first (shop_id, platform) order row of each shop."""
        return self._book_raw(), self.shops


class FolderPartitions(BookForEveryPartition):
    """A folder of ``<table>.csv`` / ``<table>.parquet``, routed into spill files."""

    BATCH = 1 << 24  # CSV block size, as sources.base.read_csv

    def __init__(self, folder: Path, encoding: str = "utf-8",
                 spill_dir: str | Path | None = None) -> None:
        self.folder = Path(folder)
        self.encoding = encoding
        self.spill_root = Path(spill_dir) if spill_dir else None
        self.spill: Path | None = None
        self.plan: Plan | None = None
        self.files: dict[str, Path | None] = {}
        self.shops: pd.DataFrame | None = None
        self.columns: dict[str, list[str]] = {}
        self.rows: dict[str, int] = {}  # rows routed per table (checked against the merge)
        if not self.folder.is_dir():
            CsvFolder(self.folder).read([])  # raises the usual InputError
            raise InputError(f"The source folder {self.folder} does not exist.")
        for t in (*ROUTED, "return_addresses"):
            p, c = self.folder / f"{t}.parquet", self.folder / f"{t}.csv"
            self.files[t] = p if p.exists() else c if c.exists() else None

    # -- sizes ------------------------------------------------------------------------------
    def estimate_orders(self) -> int:
        path = self.files["orders"]
        if path is None:
            return 0
        if path.suffix == ".parquet":
            try:
                return pq.ParquetFile(path).metadata.num_rows
            except Exception:
                return 0
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(1 << 20)
        lines = max(1, head.count(b"\n"))
        return int(size / (len(head) / lines)) if head else 0

    # -- batches ----------------------------------------------------------------------------
    def _batches(self, table: str, only: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        """The table's rows in batches, with the columns the audit reads (``only``: just
        these contract columns), text exactly as ``sources.base`` reads it."""
        path = self.files[table]
        wanted = set(only or contract_columns(table))
        if path.suffix == ".parquet":
            try:
                f = pq.ParquetFile(path)
            except Exception as exc:
                raise InputError(f"{path} is not a readable Parquet file: {exc}") from None
            cols = [n for n in f.schema_arrow.names if n.strip() in wanted]
            if not cols:
                cols = f.schema_arrow.names[:1]
            yield from f.iter_batches(batch_size=200_000, columns=cols)
            return
        header = _header(path, self.encoding)
        names = [h.strip() for h in header]
        dups = sorted({n for n in names if n in wanted and names.count(n) > 1})
        if dups:
            raise InputError(f"{path} has the column {dups[0]!r} more than once; each "
                             "contract column must appear exactly once.")
        keep = [h for h, n in zip(header, names, strict=True) if n in wanted]
        enc = None if self.encoding.lower().replace("_", "-") in ("utf-8", "utf8") \
            else self.encoding
        ragged: list = []

        def on_ragged(row) -> str:
            ragged.append(row)
            return "error"

        try:
            reader = pacsv.open_csv(
                path,
                read_options=pacsv.ReadOptions(encoding=enc or "utf8", block_size=self.BATCH),
                parse_options=pacsv.ParseOptions(newlines_in_values=True,
                                                 invalid_row_handler=on_ragged),
                convert_options=pacsv.ConvertOptions(
                    column_types={h: pa.string() for h in header},
                    include_columns=keep or header[:1],
                    strings_can_be_null=False, quoted_strings_can_be_null=False))
            yield from reader
        except UnicodeDecodeError:
            raise _encoding_error(path, self.encoding, path.read_bytes()[: 1 << 20]) from None
        except (pa.ArrowInvalid, pa.ArrowKeyError) as exc:
            msg = str(exc)
            if "UTF8" in msg or "utf8" in msg.lower():
                raise _encoding_error(path, self.encoding,
                                      path.read_bytes()[: 1 << 20]) from None
            if ragged:
                r = ragged[0]
                raise InputError(
                    f"{path}: a row has {r.actual_columns} field(s) where the header has "
                    f"{r.expected_columns} (the row begins {(r.text or '')[:60]!r}); a value "
                    "containing a comma, quote or line break may be missing its quotes. "
                    "Nothing was audited.") from None
            raise InputError(f"{path} could not be read as CSV: "
                             f"{msg.splitlines()[0][:200]}") from None

    # -- the pre-pass and the routing -------------------------------------------------------
    def prepare(self, n: int) -> Plan:
        """One pass over each table: every batch split by the natural partition of its order
        keys into spill files, the (id, order key) pairs of refunds and messages collected
        on the way. Then the groups of orders linked by a shared id (usually none): the few
        spill files holding a moved order's rows are split again (``_move``).

        The tables are routed at the same time on Dask's threaded scheduler (orders, the
        largest, on one thread; refunds and messages on the other): parsing, hashing,
        sorting and writing are Arrow and numpy kernels that release the GIL, so this pass,
        which runs before any partition can start, uses two cores instead of one."""
        import tempfile

        from dask.threaded import get

        root = self.spill_root
        if root is not None:
            root.mkdir(parents=True, exist_ok=True)
        self.spill = Path(tempfile.mkdtemp(prefix="refund-audit-spill-", dir=root))
        natural = Plan(n, "fnv")
        linker = Linker()
        groups = [[t] for t in ROUTED if t == "orders" and self.files.get(t) is not None]
        rest = [t for t in ROUTED if t != "orders" and self.files.get(t) is not None]
        if rest:
            groups.append(rest)
        # (Containers in a Dask task's arguments are copied, so each task returns its shops.)
        graph = {("route", i): (self._route, ts, natural, linker)
                 for i, ts in enumerate(groups)}
        shops: dict[str, str | None] = {}
        for found in get(graph, list(graph), num_workers=max(1, len(groups))):
            shops.update(found)
        self.shops = pd.DataFrame({"shop_id": pd.Series(list(shops), dtype="str"),
                                   "platform": pd.Series(list(shops.values()), dtype="str")})
        self.plan = plan = linker.plan(n, "fnv")
        del linker
        if plan.overrides:
            self._move(plan)
        return plan

    def _route(self, tables: list[str], natural: Plan, linker: Linker
               ) -> dict[str, str | None]:
        """``prepare``'s pass over ``tables``, one after another (each table's own entries
        of ``linker``, ``columns`` and ``rows``). Returns the shops of the orders."""
        n = natural.n
        shops: dict[str, str | None] = {}
        for t in tables:
            writers: dict[int, ipc.RecordBatchStreamWriter] = {}
            offset = 0
            try:
                for b in self._batches(t):
                    names = b.schema.names
                    self.columns.setdefault(t, names)
                    o = _col(names, "order_id")
                    rows = pa.array(np.arange(offset, offset + b.num_rows, dtype=np.int64))
                    offset += b.num_rows
                    b = pa.RecordBatch.from_arrays([*b.columns, rows], names=[*names, ROW])
                    if o is None:
                        part = np.zeros(b.num_rows, dtype=np.int64)
                    else:
                        keys = order_keys(b.column(o), "fnv")
                        part = natural.parts(keys)
                        i = _col(names, LINK_IDS.get(t, "-"))
                        if i is not None:
                            linker.pairs[t].append((id_keys(b.column(i)), keys))
                    if t == "orders":
                        _first_shops(b, shops)
                    self._split(b, part, n, writers, t, "")
            finally:
                for w in writers.values():
                    w.close()
            self.rows[t] = offset
        return shops

    def _split(self, b: pa.RecordBatch, part: np.ndarray, n: int, writers: dict, t: str,
               suffix: str) -> None:
        # A stable sort of small integers: numpy's radix sort (~5x a 64-bit sort).
        small = part.astype(np.int16 if n < 2**15 else np.int64, copy=False)
        order = np.argsort(small, kind="stable")
        sorted_b = b.take(pa.array(order))
        bounds = np.searchsorted(part[order], np.arange(n + 1))
        for k in range(n):
            lo, hi = int(bounds[k]), int(bounds[k + 1])
            if hi == lo:
                continue
            w = writers.get(k)
            if w is None:
                w = writers[k] = ipc.new_stream(self.spill / f"{t}.{k}{suffix}.arrow",
                                                sorted_b.schema, options=_SPILL_OPTIONS)
            w.write_batch(sorted_b.slice(lo, hi - lo))

    def _move(self, plan: Plan) -> None:
        """Rows of overridden order keys out of their natural partition's spill file into
        ``<table>.<target>.from<p>.arrow``; the partition read puts them back in order."""
        natural = {int(k % np.uint64(plan.n)) for k in
                   np.fromiter(plan.overrides, dtype=np.uint64)}
        for t in ROUTED:
            for p in sorted(natural):
                path = self.spill / f"{t}.{p}.arrow"
                if not path.exists():
                    continue
                with pa.memory_map(str(path)) as src:
                    tbl = ipc.open_stream(src).read_all()
                o = _col(tbl.schema.names, "order_id")
                if o is None:
                    continue
                part = plan.parts(order_keys(tbl.column(o), plan.kind))
                if (part == p).all():
                    continue
                writers: dict[int, ipc.RecordBatchStreamWriter] = {}
                try:
                    at = 0
                    for b in tbl.to_batches():
                        self._split(b, part[at: at + b.num_rows], plan.n, writers, t,
                                    f".from{p}")
                        at += b.num_rows
                finally:
                    for w in writers.values():
                        w.close()
                del tbl
                path.unlink()
                stay = self.spill / f"{t}.{p}.from{p}.arrow"
                if stay.exists():
                    stay.rename(path)

    def read(self, k: int) -> dict[str, pd.DataFrame | None]:
        """Partition ``k``'s raw tables (with ``__row``); the address book empty."""
        out: dict[str, pd.DataFrame | None] = {}
        for t in ROUTED:
            if self.files.get(t) is None:
                out[t] = None
                continue
            paths = [p for p in [self.spill / f"{t}.{k}.arrow",
                                 *sorted(self.spill.glob(f"{t}.{k}.from*.arrow"))]
                     if p.exists()]
            if paths:
                tables = []
                for path in paths:
                    with pa.memory_map(str(path)) as src:
                        tables.append(ipc.open_stream(src).read_all())
                tbl = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
                if len(tables) > 1:  # rows moved in from other partitions: whole-table order
                    tbl = tbl.take(pc.sort_indices(tbl.column(ROW)))
                df = tbl.to_pandas()
            else:
                df = _empty(self.columns.get(t) or [], t)
            out[t] = _as_text(_strip_names(df)) if len(df.columns) else df
        out["return_addresses"] = self._book_raw().iloc[:0]
        return out

    def _address_book(self) -> pd.DataFrame | None:
        if self.files.get("return_addresses") is None:
            return None
        return CsvFolder(self.folder, self.encoding).read(["return_addresses"])[
            "return_addresses"]

    def cleanup(self) -> None:
        import shutil

        if self.spill is not None:
            shutil.rmtree(self.spill, ignore_errors=True)
            self.spill = None

    def __getstate__(self):  # shipped to Dask workers: the spill folder, not open handles
        return self.__dict__.copy()


def _empty(names: list[str], table: str) -> pd.DataFrame:
    cols = [n for n in names if n != ROW] or contract_columns(table)
    df = pd.DataFrame({c: pd.Series([], dtype="str") for c in cols})
    df[ROW] = pd.Series([], dtype="int64")
    return df


def _first_shops(batch: pa.RecordBatch, shops: dict[str, str | None]) -> None:
    """Record the platform of each shop's first order row (the address book's zone and its
    entries' owners)."""
    names = batch.schema.names
    s, p = _col(names, "shop_id"), _col(names, "platform")
    if s is None:
        return
    ids = _norm(batch.column(s))
    # Each distinct shop id (in order of first appearance) and the row where it first
    # appears, in Arrow: a few hundred shops among a batch of rows. Rows without a shop id
    # count as one "shop" too: validation attributes an address-book entry without a shop
    # to the first such order row's platform.
    uniq = pc.unique(ids)
    first = pc.index_in(uniq, value_set=ids, skip_nulls=False)
    sids = uniq.to_pylist()
    plats = batch.column(p).take(first).to_pylist() if p is not None else \
        [None] * len(sids)
    for sid, plat in zip(sids, plats, strict=True):
        if sid not in shops:
            shops[sid] = plat


# --------------------------------------------------------------------------- SQLite


def _sqlite_part(n: int, overrides: dict[int, int]):
    def part(value) -> int:
        if value is None:
            return 0
        text = value.strip() if isinstance(value, str) else str(value).strip()
        if not text:
            return 0
        key = zlib.crc32(text.encode("utf-8")) + 1
        return overrides.get(key, key % n)
    return part


class SqlitePartitions(BookForEveryPartition):
    """An SQLite file: each partition is a ``WHERE ra_part(order_id) = k`` on each table
    (``ra_part``: the plan's partition function, registered in the connection). Row
    numbers come from the rowid order of a full read (``SELECT`` without ``ORDER BY`` reads
    a table in rowid order)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.plan: Plan | None = None
        self.rowids: dict[str, np.ndarray] = {}
        self.rows: dict[str, int] = {}
        if not self.path.is_file():
            SqliteSource(self.path).read([])

    def _connect(self) -> sqlite3.Connection:
        try:
            return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            raise InputError(f"Cannot open the SQLite database {self.path}: {exc}") from None

    def _tables(self, con) -> dict[str, list[str]]:
        have = {r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        out = {}
        for t in (*ROUTED, "return_addresses"):
            if t in have:
                cols = [r[1] for r in con.execute(f'PRAGMA table_info("{t}")')]
                out[t] = [c for c in cols if c.strip() in set(contract_columns(t))]
        return out

    def estimate_orders(self) -> int:
        con = self._connect()
        try:
            if "orders" not in self._tables(con):
                return 0
            return int(con.execute('SELECT count(*) FROM "orders"').fetchone()[0])
        finally:
            con.close()

    def prepare(self, n: int) -> Plan:
        con = self._connect()
        try:
            tables = self._tables(con)
            linker = Linker()
            for t, id_col in LINK_IDS.items():
                cols = tables.get(t, [])
                i, o = _col(cols, id_col), _col(cols, "order_id")
                if i is None or o is None:
                    continue
                cur = con.execute(f'SELECT CAST("{i}" AS TEXT), CAST("{o}" AS TEXT) '
                                  f'FROM "{t}"')
                while rows := cur.fetchmany(200_000):
                    a, b = zip(*rows, strict=True)
                    linker.add(t, pa.array(a, pa.string()), pa.array(b, pa.string()),
                               "crc32")
            self.plan = linker.plan(n, "crc32")
            for t in ROUTED:
                if t in tables:
                    self.rowids[t] = np.fromiter(
                        (r[0] for r in con.execute(f'SELECT rowid FROM "{t}" ORDER BY rowid')),
                        dtype=np.int64)
                    self.rows[t] = len(self.rowids[t])
            shops: dict[str, str | None] = {}
            cols = tables.get("orders", [])
            s, p = _col(cols, "shop_id"), _col(cols, "platform")
            if s is not None:
                sel = f'CAST("{s}" AS TEXT), ' + (f'CAST("{p}" AS TEXT)' if p else "NULL")
                cur = con.execute(f'SELECT {sel} FROM "orders"')
                while rows := cur.fetchmany(200_000):
                    a, b = zip(*rows, strict=True)
                    batch = pa.RecordBatch.from_arrays(
                        [pa.array(a, pa.string()), pa.array(b, pa.string())],
                        names=["shop_id", "platform"])
                    _first_shops(batch, shops)
            self.shops = pd.DataFrame({"shop_id": pd.Series(list(shops), dtype="str"),
                                       "platform": pd.Series(list(shops.values()),
                                                             dtype="str")})
            return self.plan
        except sqlite3.DatabaseError as exc:
            raise InputError(f"Cannot read the SQLite database {self.path}: {exc}") from None
        finally:
            con.close()

    def read(self, k: int) -> dict[str, pd.DataFrame | None]:
        con = self._connect()
        con.create_function("ra_part", 1, _sqlite_part(self.plan.n, self.plan.overrides),
                            deterministic=True)
        try:
            tables = self._tables(con)
            out: dict[str, pd.DataFrame | None] = {}
            for t in ROUTED:
                if t not in tables:
                    out[t] = None
                    continue
                keep = tables[t]
                o = _col(keep, "order_id")
                sel = ", ".join(f'CAST("{c}" AS TEXT) AS "{c.strip()}"' for c in keep) or "1"
                where = f'WHERE ra_part("{o}") = ?' if o else ("WHERE ? = 0")
                rows = con.execute(f'SELECT rowid, {sel} FROM "{t}" {where} ORDER BY rowid',
                                   (k,)).fetchall()
                df = pd.DataFrame.from_records(
                    rows, columns=["__rowid", *[c.strip() for c in keep]] if keep else
                    ["__rowid", "_"])
                if not keep:
                    df = df[["__rowid"]]
                rid = df.pop("__rowid").to_numpy(dtype=np.int64)
                df = _as_text(df)
                df[ROW] = np.searchsorted(self.rowids[t], rid).astype(np.int64)
                out[t] = df
            out["return_addresses"] = self._book_raw().iloc[:0]
            return out
        finally:
            con.close()

    def _address_book(self) -> pd.DataFrame | None:
        return SqliteSource(self.path).read(["return_addresses"])["return_addresses"]

    def cleanup(self) -> None:
        pass


def split_rows(raw: dict[str, pd.DataFrame | None]
               ) -> tuple[dict[str, pd.DataFrame | None], dict[str, np.ndarray]]:
    """A partition's raw tables without ``__row``, and the row numbers by table."""
    tables, numbers = {}, {}
    for t, df in raw.items():
        if df is not None and ROW in df.columns:
            numbers[t] = df[ROW].to_numpy(dtype=np.int64)
            df = df.drop(columns=ROW)
        tables[t] = df
    return tables, numbers

