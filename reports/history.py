"""The run-history store: every audit's findings, KPIs and counts, for trends and diffs.

One SQL store: an SQLite file ``<out_root>/history.sqlite`` by default (through the standard
library's sqlite3), or any SQLAlchemy URL (``postgresql+psycopg://…``); the same portable SQL
for both. Runs are keyed by ``run_id`` and by the
audit's identity ``audit_key`` (see ``reports.identity``).

Re-running the same audit replaces its rows, so a retried or repeated nightly run never
counts twice in a trend. The one exception is kept on purpose: when the re-run's content
differs (late data arrived for a closed period), the earlier version stays in the store,
marked ``superseded_by`` the new run, so ``refund-audit diff`` can show what changed. Trends
and "the run of this audit" only ever read the current (not superseded) version.

Every run id ever recorded stays resolvable: a report shows its run id, and a reader may
ask for it after the audit was re-run. ``history_run_ids`` keeps each id with the run that
now holds its (identical) rows, so ``diff <old id>`` answers with that run and says so.

Storage, chosen for speed (appending a run of 1M orders is one of the nightly steps):

- findings: one row per run holding the run's findings.csv content as a zstd-compressed
  Parquet blob. A run's findings are only ever read whole (a diff, the report's "what
  changed"), so per-finding rows would cost an insert of every finding and an index on
  every write, and a delete of every finding on a re-run, for no reader. The per-finding
  data stays in each run's findings.csv. A 50k-finding run is about 1 MB here.
- KPIs and counts: rows (a few per shop), read by the report's trends with SQL.

Appending is one transaction; re-running deletes by primary key. Stores written by earlier
versions (findings as rows) are converted on first use.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from checks.result import FINDING_COLUMNS, AuditResult
from reports.outputs import findings_frame

STORE_FILE = "history.sqlite"
FINDING_KEY = ["rule_id", "platform", "shop_id", "order_id", "refund_id", "message_id"]
COUNT_COLUMNS = ["read", "valid", "quarantined", "superseded"]
KPI_FIELDS = ["platform", "shop_id", "metric", "value", "threshold", "status"]

# The tables, as (column, SQL type, NOT NULL) and the indexed columns. BLOB is BYTEA on
# PostgreSQL. The same layout SQLAlchemy's metadata created in earlier versions (index
# names included), so stores written by either read alike.
_TABLES: dict[str, tuple[list[tuple[str, str, bool]], list[str], list[str]]] = {
    "history_runs": ([
        ("run_id", "VARCHAR(64)", True),
        ("audit_key", "VARCHAR(64)", True),
        ("as_of", "VARCHAR(40)", True),  # UTC ISO 8601, as in run.json
        ("recorded_at", "VARCHAR(40)", True),
        ("source", "TEXT", True),
        # What was read (source, schema, mapping; reports.identity.source_key); NULL in runs
        # recorded before it existed, which are then matched by ``source``.
        ("source_key", "VARCHAR(64)", False),
        ("window_days", "INTEGER", True),
        ("selection", "TEXT", True),  # JSON {"platforms": [...], "shops": [...]}
        ("n_findings", "INTEGER", True),
        ("digest", "VARCHAR(64)", True),
        ("superseded_by", "VARCHAR(64)", False),
        ("run_json", "TEXT", True),
    ], ["run_id"], ["audit_key", "source_key"]),
    "history_run_ids": ([
        ("run_id", "VARCHAR(64)", True),
        ("audit_key", "VARCHAR(64)", True),
        ("recorded_at", "VARCHAR(40)", True),
        # The run whose rows stand for this one (same audit, identical content); NULL: its own.
        ("replaced_by", "VARCHAR(64)", False),
    ], ["run_id"], ["replaced_by"]),
    "history_finding_sets": ([
        ("run_id", "VARCHAR(64)", True),
        ("n_rows", "INTEGER", True),
        ("data", "BLOB", True),  # Parquet, FINDING_COLUMNS as text
    ], ["run_id"], []),
    "history_kpis": ([
        ("run_id", "VARCHAR(64)", True),
        ("audit_key", "VARCHAR(64)", True),
        ("platform", "TEXT", True),
        ("shop_id", "TEXT", True),
        ("metric", "TEXT", True),
        ("value", "FLOAT", False),  # NULL: zero denominator
        ("threshold", "FLOAT", False),
        ("status", "TEXT", True),
    ], [], ["run_id"]),
    "history_counts": ([
        ("run_id", "VARCHAR(64)", True),
        ("audit_key", "VARCHAR(64)", True),
        ("table_name", "TEXT", True),
        *[(c, "INTEGER", True) for c in COUNT_COLUMNS],
    ], [], ["run_id"]),
}
_BY_RUN = ("history_finding_sets", "history_kpis", "history_counts")
_OLD_FINDINGS = "history_findings"  # findings as rows, before finding_sets
_RUN_COLUMNS = [c for c, _, _ in _TABLES["history_runs"][0]]


def store_url(store: str | Path) -> str:
    """A SQLAlchemy URL for ``store``: a URL as is, a ``.sqlite``/``.db`` file, or a folder
    (the output root) holding ``history.sqlite``."""
    text = str(store)
    if "://" in text:
        return text
    path = Path(store)
    if path.suffix not in (".sqlite", ".db"):
        path = path / STORE_FILE
    return f"sqlite:///{path.resolve()}"


_SQLITE_URL = re.compile(r"sqlite(?:\+\w+)?:///(?P<path>[^?]*)")


def _sqlite_file(url: str) -> Path | None:
    m = _SQLITE_URL.fullmatch(url.split("?", 1)[0])
    return Path(m["path"]) if m and m["path"] else None


def exists(store: str | Path) -> bool:
    """False for an SQLite store whose file was never written (reading does not create it)."""
    path = _sqlite_file(store_url(store))
    return path is None or path.exists()


class _Db:
    """One connection to the store. An SQLite file goes through the standard library's
    sqlite3 (importing SQLAlchemy cost a small audit ~0.15 s, a tenth of its run); any
    other URL (PostgreSQL) through a SQLAlchemy engine. The statements are the same
    portable SQL for both, written with ``?`` placeholders."""

    def __init__(self, url: str) -> None:
        path = _sqlite_file(url)
        self._engine = None
        if path is not None or url.split("?", 1)[0].split("://", 1)[0].startswith("sqlite"):
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            # A nightly run and a manual trigger may append at the same moment: wait for
            # the lock. Autocommit; `transaction` opens the write transactions.
            self._con: Any = sqlite3.connect(str(path) if path else ":memory:", timeout=60,
                                             isolation_level=None)
            self.dialect = "sqlite"
        else:
            import sqlalchemy as sa

            self._engine = sa.create_engine(url)
            self._con = self._engine.connect()
            self.dialect = self._engine.dialect.name
        self._in_transaction = False

    def close(self) -> None:
        self._con.close()
        if self._engine is not None:
            self._engine.dispose()

    def _run(self, sql: str, params: Sequence | None = None, many: bool = False) -> list:
        if self._engine is None:
            cur = (self._con.executemany(sql, params) if many
                   else self._con.execute(sql, params or ()))
            return cur.fetchall() if cur.description else []
        sql = sql.replace("?", "%s")
        res = self._con.exec_driver_sql(sql, list(params) if many else
                                        (tuple(params) if params else None))
        rows = res.fetchall() if res.returns_rows else []
        if not self._in_transaction:
            self._con.commit()  # end the transaction SQLAlchemy began for this statement
        return rows

    def rows(self, sql: str, params: Sequence = ()) -> list[tuple]:
        return self._run(sql, params)

    def run(self, sql: str, params: Sequence = ()) -> None:
        self._run(sql, params)

    def many(self, sql: str, rows: list[tuple]) -> None:
        if rows:
            self._run(sql, rows, many=True)

    @contextmanager
    def transaction(self) -> Iterator[_Db]:
        """All or nothing; on SQLite the write lock is taken at the start (a concurrent
        writer waits for it rather than failing half-way)."""
        if self._engine is None:
            self._con.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            self._con.execute("COMMIT")
            return
        self._in_transaction = True
        try:
            with self._con.begin():
                yield self
        finally:
            self._in_transaction = False

    def tables(self) -> set[str]:
        if self.dialect == "sqlite":
            got = self.rows("SELECT name FROM sqlite_master WHERE type = 'table'")
        else:
            got = self.rows("SELECT table_name FROM information_schema.tables "
                            "WHERE table_schema = current_schema()")
        return {r[0] for r in got}

    def columns(self, table: str) -> set[str]:
        if self.dialect == "sqlite":
            return {r[1] for r in self.rows(f"PRAGMA table_info({table})")}
        return {r[0] for r in self.rows(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ?", (table,))}


@contextmanager
def _connect(store: str | Path, create: bool) -> Iterator[_Db]:
    db = _Db(store_url(store))
    try:
        if create:
            _prepare(db)
        yield db
    finally:
        db.close()


def _marks(values: Sequence) -> str:
    """``?, ?, ?`` for an IN list (never empty: ``IN ()`` is not SQL)."""
    return ", ".join("?" * len(values)) if len(values) else "NULL"


# --------------------------------------------------------------------------- writing


def _selection(run: dict) -> str:
    sel = run.get("selection") or {}
    return json.dumps({"platforms": sorted(sel.get("platforms") or []),
                       "shops": sorted(sel.get("shops") or [])}, sort_keys=True)


def _kpi_frame(result: AuditResult) -> pd.DataFrame:
    k = result.kpis[KPI_FIELDS].copy()
    for c in ("platform", "shop_id", "metric"):
        k[c] = k[c].astype("str")
    k["status"] = k["status"].astype("object").where(k["status"].notna(), "").astype("str")
    for c in ("value", "threshold"):
        k[c] = pd.to_numeric(k[c], errors="coerce").astype("float64")
    return k


def _records(frame: pd.DataFrame, tag: dict) -> list[dict]:
    """Rows for an executemany: plain Python values, NaN as None (SQL NULL)."""
    obj = frame.astype("object").where(frame.notna(), None)
    return [{**tag, **r} for r in obj.to_dict("records")]


def _parquet(frame: pd.DataFrame) -> bytes:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", write_statistics=False)
    return buf.getvalue()


def _content_digest(f: pd.DataFrame, k: pd.DataFrame, c_rows: list[dict]) -> str:
    """What a run says (findings, KPIs, counts), as a hash: equal for identical content."""
    digest = hashlib.sha256()
    for frame in (f, k):
        digest.update(json.dumps(list(frame.columns)).encode())
        digest.update(str(len(frame)).encode())
        if len(frame):
            digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    digest.update(json.dumps(c_rows, sort_keys=True).encode())
    return digest.hexdigest()


class FindingsPruned(KeyError):
    """A run whose findings the store no longer holds (``prune_findings``)."""


def append_run(store: str | Path, result: AuditResult, *, keep_days: int | None = None
               ) -> dict:
    """Record one run; return ``{"run_id", "audit_key", "replaced": [...], "kept": [...],
    "pruned": [...]}``.

    Earlier runs of the same ``audit_key`` are replaced (their rows deleted, their ids kept
    resolvable, pointing at this run) when their content is the same, and kept as superseded
    versions when it differs (see the module docstring). With ``keep_days``, the findings of
    runs whose as-of is more than that many days before this run's are dropped in the same
    transaction (``prune_findings``).
    """
    run = result.run
    run_id, key = run["run_id"], run["audit_key"]
    f = findings_frame(result.findings).reset_index(drop=True)
    k = _kpi_frame(result)
    c_rows = [{"table_name": t, **{c: int(v[c]) for c in COUNT_COLUMNS}}
              for t, v in sorted(result.counts.items())]
    content = _content_digest(f, k, c_rows)
    blob = _parquet(f)
    now = pd.Timestamp.now(tz="UTC").isoformat()

    tag = {"run_id": run_id, "audit_key": key}
    with _connect(store, create=True) as store_db, store_db.transaction() as db:
        earlier = db.rows("SELECT run_id, digest FROM history_runs "
                          "WHERE audit_key = ? AND run_id != ?", (key, run_id))
        replaced = [rid for rid, digest in earlier if digest == content]
        kept = [rid for rid, digest in earlier if digest != content]
        _delete_runs(db, [*replaced, run_id])
        if kept:
            db.run(f"UPDATE history_runs SET superseded_by = ? WHERE run_id IN ({_marks(kept)})"
                   " AND superseded_by IS NULL", (run_id, *kept))
        row = {**tag, "as_of": run["as_of"], "recorded_at": now, "source": run["source"],
               "source_key": run.get("source_key"), "window_days": int(run["window_days"]),
               "selection": _selection(run), "n_findings": len(f), "digest": content,
               "superseded_by": None,
               "run_json": json.dumps(run, sort_keys=True, ensure_ascii=False, default=str)}
        db.run(_insert("history_runs", _RUN_COLUMNS), [row[c] for c in _RUN_COLUMNS])
        db.run(_insert("history_finding_sets", ["run_id", "n_rows", "data"]),
               (run_id, len(f), blob))
        kpi_cols = ["run_id", "audit_key", *KPI_FIELDS]
        db.many(_insert("history_kpis", kpi_cols),
                [tuple(r[c] for c in kpi_cols) for r in _records(k, tag)] if len(k) else [])
        count_cols = ["run_id", "audit_key", "table_name", *COUNT_COLUMNS]
        db.many(_insert("history_counts", count_cols),
                [tuple({**tag, **r}[c] for c in count_cols) for r in c_rows])
        # Ids stay resolvable: the replaced runs (and the ids they stood for) now point here.
        if replaced:
            for column in ("replaced_by", "run_id"):
                db.run(f"UPDATE history_run_ids SET replaced_by = ? "
                       f"WHERE {column} IN ({_marks(replaced)})", (run_id, *replaced))
        db.run("DELETE FROM history_run_ids WHERE run_id = ?", (run_id,))
        db.run(_insert("history_run_ids", ["run_id", "audit_key", "recorded_at", "replaced_by"]),
               (run_id, key, now, None))
        pruned = _prune(db, pd.Timestamp(run["as_of"]), keep_days) if keep_days else []
    return {**tag, "replaced": replaced, "kept": kept, "pruned": pruned}


def _prune(db: _Db, as_of: pd.Timestamp, keep_days: int) -> list[str]:
    """Drop the finding sets of runs with an as-of over ``keep_days`` before ``as_of``.

    Only the findings go: they are the store's bulk (a blob per run, ~1 MB for 50k
    findings) and only a diff reads them. A run's row, its KPIs and counts stay, so trends
    and ``refund-audit runs`` keep the whole history; a diff against a pruned run says so.
    """
    rows = db.rows("SELECT r.run_id, r.as_of FROM history_runs r "
                   "JOIN history_finding_sets f ON f.run_id = r.run_id")
    if not rows:
        return []
    t = pd.to_datetime(pd.Series([a for _, a in rows]), utc=True, format="ISO8601")
    cutoff = as_of.tz_convert("UTC") - pd.Timedelta(days=int(keep_days))
    ids = [rid for (rid, _), old in zip(rows, (t < cutoff).tolist(), strict=True) if old]
    if ids:
        db.run(f"DELETE FROM history_finding_sets WHERE run_id IN ({_marks(ids)})", ids)
    return sorted(ids)


def prune_findings(store: str | Path, as_of: pd.Timestamp, keep_days: int) -> list[str]:
    """``_prune`` on its own (one transaction); returns the run ids whose findings went."""
    if not exists(store):
        return []
    with _connect(store, create=True) as store_db, store_db.transaction() as db:
        return _prune(db, as_of, keep_days)


def _insert(table: str, columns: list[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({_marks(columns)})"


def _delete_runs(db: _Db, ids: list[str]) -> None:
    for table in (*_BY_RUN, "history_runs"):
        db.run(f"DELETE FROM {table} WHERE run_id IN ({_marks(ids)})", ids)


# --------------------------------------------------------------------------- reading


def list_runs(store: str | Path, *, include_superseded: bool = True) -> pd.DataFrame:
    """The runs in the store, newest ``as_of`` first (run.json text left out)."""
    cols = [c for c in _RUN_COLUMNS if c != "run_json"]
    if not exists(store):
        return pd.DataFrame(columns=cols)
    q = f"SELECT {', '.join(cols)} FROM history_runs"
    if not include_superseded:
        q += " WHERE superseded_by IS NULL"
    with _connect(store, create=True) as db:
        df = pd.DataFrame(db.rows(q), columns=cols)
    df["_t"] = pd.to_datetime(df["as_of"], utc=True, format="ISO8601")
    return df.sort_values(["_t", "recorded_at"], ascending=False, kind="stable") \
        .drop(columns="_t").reset_index(drop=True)


def list_replaced(store: str | Path) -> pd.DataFrame:
    """Run ids whose rows were replaced by a re-run of the same audit with identical content:
    ``run_id, audit_key, recorded_at, replaced_by`` (the run that now holds the rows)."""
    cols = ["run_id", "audit_key", "recorded_at", "replaced_by"]
    if not exists(store):
        return pd.DataFrame(columns=cols)
    with _connect(store, create=True) as db:
        rows = db.rows(f"SELECT {', '.join(cols)} FROM history_run_ids "
                       "WHERE replaced_by IS NOT NULL")
    return pd.DataFrame(rows, columns=cols)


def resolve_run(store: str | Path, ref: str) -> dict:
    """The run named by ``ref``: a run_id, a unique run_id prefix, or an audit_key (its
    current version). Raises KeyError with a one-line reason otherwise.

    A run id whose rows were replaced by a re-run (identical content) resolves to that
    re-run; the result then carries ``asked``: the id given, and ``replaced_by`` is set.
    """
    listed = list_runs(store)
    hit = listed[listed["run_id"] == ref]
    if hit.empty:
        hit = listed[(listed["audit_key"] == ref) & listed["superseded_by"].isna()]
    asked = None
    if hit.empty:
        gone = list_replaced(store)
        old = gone[gone["run_id"] == ref]
        if old.empty and len(ref) >= 4:
            old = gone[gone["run_id"].str.startswith(ref)]
            if len(old) and len(listed[listed["run_id"].str.startswith(ref)]):
                old = old.iloc[0:0]  # ambiguous with a current run: the prefix rule below
        if len(old) == 1:
            asked = old.iloc[0]["run_id"]
            hit = listed[listed["run_id"] == old.iloc[0]["replaced_by"]]
    if hit.empty and len(ref) >= 4:
        hit = listed[listed["run_id"].str.startswith(ref)]
    if len(hit) != 1:
        why = "no run" if hit.empty else f"{len(hit)} runs"
        raise KeyError(f"{why} in the history store matches {ref!r}")
    out = {k: (None if pd.isna(v) else v) for k, v in hit.iloc[0].to_dict().items()}
    if asked is not None:
        out["asked"] = asked
        out["replaced_by"] = out["run_id"]
    return out


def read_findings(store: str | Path, run_id: str) -> pd.DataFrame:
    """One run's findings as written to findings.csv (text columns). Raises
    ``FindingsPruned`` when the run is in the store but its findings were pruned."""
    with _connect(store, create=True) as db:
        got = db.rows("SELECT data FROM history_finding_sets WHERE run_id = ?", (run_id,))
        if not got and db.rows("SELECT as_of FROM history_runs WHERE run_id = ?", (run_id,)):
            raise FindingsPruned(
                f"the findings of run {run_id} are no longer in the history store (runs "
                "older than history_keep_days keep their KPIs and counts only); its output "
                "folder's findings.csv has them if it was kept")
    blob = got[0][0] if got else None
    if blob is None:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in FINDING_COLUMNS})
    df = pq.read_table(io.BytesIO(blob)).to_pandas()
    return df[FINDING_COLUMNS].astype("object")


def load_history(store: str | Path, result: AuditResult, max_runs: int = 30
                 ) -> pd.DataFrame | None:
    """KPIs of earlier audits comparable with ``result`` (same source and window, current
    versions, ``as_of`` before this one), for the report's trends.

    Columns ``run_id, as_of`` (UTC Timestamp) ``, platform, shop_id, metric, value``; only the
    shops of ``result``; one value per shop, metric and ``as_of`` (the latest recorded, when
    audits with different shop selections overlap); the last ``max_runs`` dates. None when
    there is nothing earlier.
    """
    if not exists(store):
        return None
    run = result.run
    source, source_params = same_source(run)
    with _connect(store, create=True) as db:
        rows = db.rows(
            "SELECT k.run_id, r.as_of, r.recorded_at, k.platform, k.shop_id, k.metric, "
            "k.value FROM history_kpis k JOIN history_runs r ON r.run_id = k.run_id "
            f"WHERE {source} AND r.window_days = ? AND r.superseded_by IS NULL "
            "AND r.audit_key != ? AND r.as_of < ?",
            (*source_params, int(run["window_days"]), run["audit_key"], run["as_of"]))
        df = pd.DataFrame(rows, columns=["run_id", "as_of", "recorded_at", "platform",
                                         "shop_id", "metric", "value"])
    if df.empty:
        return None
    df["as_of"] = pd.to_datetime(df["as_of"], utc=True, format="ISO8601")
    df = df[df["as_of"] < pd.Timestamp(run["as_of"])]
    shops = result.kpis[["platform", "shop_id"]].drop_duplicates().astype("str")
    df = df.merge(shops, on=["platform", "shop_id"])
    if df.empty:
        return None
    df = df.sort_values(["as_of", "recorded_at"], kind="stable") \
        .drop_duplicates(["as_of", "platform", "shop_id", "metric"], keep="last")
    keep = df["as_of"].drop_duplicates().nlargest(max_runs)
    df = df[df["as_of"].isin(keep)]
    df["value"] = df["value"].astype("float64")
    return df[["run_id", "as_of", "platform", "shop_id", "metric", "value"]] \
        .reset_index(drop=True)


def same_source(run: dict) -> tuple[str, tuple]:
    """Runs (``r``, history_runs) that read the same data as ``run``: by source_key, or
    (runs recorded without one) by the shown source text. A condition and its values."""
    if run.get("source_key"):
        return ("(r.source_key = ? OR (r.source_key IS NULL AND r.source = ?))",
                (run["source_key"], run["source"]))
    return "r.source = ?", (run["source"],)


def local_time(iso: str | None, zone: str) -> str:
    """A stored UTC time as a person reads it: ``2026-11-20 02:00:00+08:00`` in ``zone``."""
    if not iso:
        return ""
    return pd.Timestamp(iso).tz_convert(zone).isoformat(sep=" ")


# --------------------------------------------------------------------------- old stores


def _prepare(db: _Db) -> None:
    """Create the tables of a new store; upgrade one written by an earlier version. A
    current store costs one catalog query (no write, so readers take no lock)."""
    names = db.tables()
    if names >= set(_TABLES) and _OLD_FINDINGS not in names:
        return
    with db.transaction():
        names = db.tables()  # again under the write lock: another process may have begun
        for table, (columns, key, indexed) in _TABLES.items():
            if table in names:
                continue
            blob = "BYTEA" if db.dialect == "postgresql" else "BLOB"
            body = [f"{c} {blob if t == 'BLOB' else t}{' NOT NULL' if required else ''}"
                    for c, t, required in columns]
            if key:
                body.append(f"PRIMARY KEY ({', '.join(key)})")
            db.run(f"CREATE TABLE {table} ({', '.join(body)})")
            for c in indexed:
                db.run(f"CREATE INDEX ix_{table}_{c} ON {table} ({c})")
        if "history_runs" in names:
            _upgrade(db, names)


def _upgrade(db: _Db, names: set[str]) -> None:
    """Bring a store written by an earlier version up to this one: the ``source_key``
    column, findings from rows into Parquet sets, every run id in ``history_run_ids``."""
    if "source_key" not in db.columns("history_runs"):
        db.run("ALTER TABLE history_runs ADD COLUMN source_key VARCHAR(64)")
    if _OLD_FINDINGS in names:
        for (rid,) in db.rows("SELECT run_id FROM history_runs"):
            rows = db.rows(f"SELECT {', '.join(FINDING_COLUMNS)} FROM {_OLD_FINDINGS} "
                           "WHERE run_id = ?", (rid,))
            f = pd.DataFrame(rows, columns=FINDING_COLUMNS, dtype="object")
            db.run("DELETE FROM history_finding_sets WHERE run_id = ?", (rid,))
            db.run(_insert("history_finding_sets", ["run_id", "n_rows", "data"]),
                   (rid, len(f), _parquet(f)))
        db.run(f"DROP TABLE {_OLD_FINDINGS}")
    db.run("INSERT INTO history_run_ids (run_id, audit_key, recorded_at) "
           "SELECT run_id, audit_key, recorded_at FROM history_runs "
           "WHERE run_id NOT IN (SELECT run_id FROM history_run_ids)")
