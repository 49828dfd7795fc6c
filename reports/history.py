"""The run-history store: every audit's findings, KPIs and counts, for trends and diffs.

One SQL store (SQLAlchemy Core): an SQLite file ``<out_root>/history.sqlite`` by default, or
any SQLAlchemy URL (``postgresql+psycopg://…``). Runs are keyed by ``run_id`` and by the
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from checks.result import FINDING_COLUMNS, AuditResult
from reports.outputs import findings_frame

STORE_FILE = "history.sqlite"
FINDING_KEY = ["rule_id", "platform", "shop_id", "order_id", "refund_id", "message_id"]
COUNT_COLUMNS = ["read", "valid", "quarantined", "superseded"]
KPI_FIELDS = ["platform", "shop_id", "metric", "value", "threshold", "status"]

meta = sa.MetaData()
runs = sa.Table(
    "history_runs", meta,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("audit_key", sa.String(64), nullable=False, index=True),
    sa.Column("as_of", sa.String(40), nullable=False),  # UTC ISO 8601, as in run.json
    sa.Column("recorded_at", sa.String(40), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    # What was read (source, schema, mapping; reports.identity.source_key); NULL in runs
    # recorded before it existed, which are then matched by ``source``.
    sa.Column("source_key", sa.String(64), nullable=True, index=True),
    sa.Column("window_days", sa.Integer, nullable=False),
    sa.Column("selection", sa.Text, nullable=False),  # JSON {"platforms": [...], "shops": [...]}
    sa.Column("n_findings", sa.Integer, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("superseded_by", sa.String(64), nullable=True),
    sa.Column("run_json", sa.Text, nullable=False),
)
run_ids = sa.Table(
    "history_run_ids", meta,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("audit_key", sa.String(64), nullable=False),
    sa.Column("recorded_at", sa.String(40), nullable=False),
    # The run whose rows stand for this one (same audit, identical content); NULL: its own.
    sa.Column("replaced_by", sa.String(64), nullable=True, index=True),
)
finding_sets = sa.Table(
    "history_finding_sets", meta,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("n_rows", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),  # Parquet, FINDING_COLUMNS as text
)
kpis = sa.Table(
    "history_kpis", meta,
    sa.Column("run_id", sa.String(64), nullable=False, index=True),
    sa.Column("audit_key", sa.String(64), nullable=False),
    sa.Column("platform", sa.Text, nullable=False),
    sa.Column("shop_id", sa.Text, nullable=False),
    sa.Column("metric", sa.Text, nullable=False),
    sa.Column("value", sa.Float, nullable=True),  # NULL: zero denominator
    sa.Column("threshold", sa.Float, nullable=True),
    sa.Column("status", sa.Text, nullable=False),
)
counts = sa.Table(
    "history_counts", meta,
    sa.Column("run_id", sa.String(64), nullable=False, index=True),
    sa.Column("audit_key", sa.String(64), nullable=False),
    sa.Column("table_name", sa.Text, nullable=False),
    *[sa.Column(c, sa.Integer, nullable=False) for c in COUNT_COLUMNS],
)
_BY_RUN = (finding_sets, kpis, counts)
_OLD_FINDINGS = "history_findings"  # findings as rows, before finding_sets


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


def _sqlite_file(url: str) -> Path | None:
    u = sa.engine.make_url(url)
    return Path(u.database) if u.get_backend_name() == "sqlite" and u.database else None


def exists(store: str | Path) -> bool:
    """False for an SQLite store whose file was never written (reading does not create it)."""
    path = _sqlite_file(store_url(store))
    return path is None or path.exists()


@contextmanager
def _engine(store: str | Path, create: bool) -> Iterator[sa.Engine]:
    url = store_url(store)
    path = _sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    # A nightly run and a manual trigger may append at the same moment: wait for the lock.
    engine = sa.create_engine(url, connect_args={"timeout": 60} if path else {})
    try:
        if create:
            _prepare(engine)
        yield engine
    finally:
        engine.dispose()


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


def append_run(store: str | Path, result: AuditResult) -> dict:
    """Record one run; return ``{"run_id", "audit_key", "replaced": [...], "kept": [...]}``.

    Earlier runs of the same ``audit_key`` are replaced (their rows deleted, their ids kept
    resolvable, pointing at this run) when their content is the same, and kept as superseded
    versions when it differs (see the module docstring).
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
    with _engine(store, create=True) as engine, engine.begin() as db:
        earlier = db.execute(sa.select(runs.c.run_id, runs.c.digest).where(
            runs.c.audit_key == key, runs.c.run_id != run_id)).all()
        replaced = [r.run_id for r in earlier if r.digest == content]
        kept = [r.run_id for r in earlier if r.digest != content]
        _delete_runs(db, [*replaced, run_id])
        if kept:
            db.execute(runs.update().where(runs.c.run_id.in_(kept),
                                           runs.c.superseded_by.is_(None))
                       .values(superseded_by=run_id))
        db.execute(runs.insert().values(
            **tag, as_of=run["as_of"], recorded_at=now, source=run["source"],
            source_key=run.get("source_key"), window_days=int(run["window_days"]),
            selection=_selection(run), n_findings=len(f), digest=content,
            run_json=json.dumps(run, sort_keys=True, ensure_ascii=False, default=str)))
        db.execute(finding_sets.insert().values(run_id=run_id, n_rows=len(f), data=blob))
        if len(k):
            db.execute(kpis.insert(), _records(k, tag))
        if c_rows:
            db.execute(counts.insert(), [{**tag, **r} for r in c_rows])
        # Ids stay resolvable: the replaced runs (and the ids they stood for) now point here.
        if replaced:
            db.execute(run_ids.update().where(run_ids.c.replaced_by.in_(replaced))
                       .values(replaced_by=run_id))
            db.execute(run_ids.update().where(run_ids.c.run_id.in_(replaced))
                       .values(replaced_by=run_id))
        db.execute(run_ids.delete().where(run_ids.c.run_id == run_id))
        db.execute(run_ids.insert().values(run_id=run_id, audit_key=key, recorded_at=now,
                                           replaced_by=None))
    return {**tag, "replaced": replaced, "kept": kept}


def _delete_runs(db: sa.Connection, ids: list[str]) -> None:
    for table in (*_BY_RUN, runs):
        db.execute(table.delete().where(table.c.run_id.in_(ids)))


# --------------------------------------------------------------------------- reading


def list_runs(store: str | Path, *, include_superseded: bool = True) -> pd.DataFrame:
    """The runs in the store, newest ``as_of`` first (run.json text left out)."""
    cols = [c for c in runs.c if c.name != "run_json"]
    if not exists(store):
        return pd.DataFrame(columns=[c.name for c in cols])
    q = sa.select(*cols)
    if not include_superseded:
        q = q.where(runs.c.superseded_by.is_(None))
    with _engine(store, create=True) as engine, engine.connect() as db:
        df = pd.DataFrame(db.execute(q).mappings().all(), columns=[c.name for c in cols])
    df["_t"] = pd.to_datetime(df["as_of"], utc=True, format="ISO8601")
    return df.sort_values(["_t", "recorded_at"], ascending=False, kind="stable") \
        .drop(columns="_t").reset_index(drop=True)


def list_replaced(store: str | Path) -> pd.DataFrame:
    """Run ids whose rows were replaced by a re-run of the same audit with identical content:
    ``run_id, audit_key, recorded_at, replaced_by`` (the run that now holds the rows)."""
    cols = ["run_id", "audit_key", "recorded_at", "replaced_by"]
    if not exists(store):
        return pd.DataFrame(columns=cols)
    with _engine(store, create=True) as engine, engine.connect() as db:
        rows = db.execute(sa.select(*[run_ids.c[c] for c in cols])
                          .where(run_ids.c.replaced_by.is_not(None))).all()
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
    """One run's findings as written to findings.csv (text columns)."""
    with _engine(store, create=True) as engine, engine.connect() as db:
        blob = db.execute(sa.select(finding_sets.c.data)
                          .where(finding_sets.c.run_id == run_id)).scalar()
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
    with _engine(store, create=True) as engine, engine.connect() as db:
        q = (sa.select(kpis.c.run_id, runs.c.as_of, runs.c.recorded_at, kpis.c.platform,
                       kpis.c.shop_id, kpis.c.metric, kpis.c.value)
             .join(runs, runs.c.run_id == kpis.c.run_id)
             .where(same_source(run),
                    runs.c.window_days == int(run["window_days"]),
                    runs.c.superseded_by.is_(None),
                    runs.c.audit_key != run["audit_key"],
                    runs.c.as_of < run["as_of"]))
        df = pd.DataFrame(db.execute(q).mappings().all(),
                          columns=["run_id", "as_of", "recorded_at", "platform", "shop_id",
                                   "metric", "value"])
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


def same_source(run: dict) -> sa.ColumnElement[bool]:
    """Runs that read the same data as ``run``: by source_key, or (runs recorded without
    one) by the shown source text."""
    legacy = sa.and_(runs.c.source_key.is_(None), runs.c.source == run["source"])
    if run.get("source_key"):
        return sa.or_(runs.c.source_key == run["source_key"], legacy)
    return runs.c.source == run["source"]


def local_time(iso: str | None, zone: str) -> str:
    """A stored UTC time as a person reads it: ``2026-11-20 02:00:00+08:00`` in ``zone``."""
    if not iso:
        return ""
    return pd.Timestamp(iso).tz_convert(zone).isoformat(sep=" ")


# --------------------------------------------------------------------------- old stores


def _prepare(engine: sa.Engine) -> None:
    """Create the tables of a new store; upgrade one written by an earlier version. A
    current store costs one catalog query (no write, so readers take no lock)."""
    names = set(sa.inspect(engine).get_table_names())
    if names >= set(meta.tables) and _OLD_FINDINGS not in names:
        return
    meta.create_all(engine)
    if runs.name in names:
        _upgrade(engine, names)


def _upgrade(engine: sa.Engine, names: set[str]) -> None:
    """Bring a store written by an earlier version up to this one: the ``source_key``
    column, findings from rows into Parquet sets, every run id in ``history_run_ids``."""
    insp = sa.inspect(engine)
    with engine.begin() as db:
        if "source_key" not in {c["name"] for c in insp.get_columns("history_runs")}:
            db.execute(sa.text("ALTER TABLE history_runs ADD COLUMN source_key VARCHAR(64)"))
        if _OLD_FINDINGS in names:
            old = sa.Table(_OLD_FINDINGS, sa.MetaData(), autoload_with=db)
            for (rid,) in db.execute(sa.select(runs.c.run_id)).all():
                rows = db.execute(sa.select(*[old.c[c] for c in FINDING_COLUMNS])
                                  .where(old.c.run_id == rid)).all()
                f = pd.DataFrame(rows, columns=FINDING_COLUMNS, dtype="object")
                db.execute(finding_sets.delete().where(finding_sets.c.run_id == rid))
                db.execute(finding_sets.insert().values(run_id=rid, n_rows=len(f),
                                                        data=_parquet(f)))
            old.drop(db)
        known = sa.select(run_ids.c.run_id)
        db.execute(run_ids.insert().from_select(
            ["run_id", "audit_key", "recorded_at"],
            sa.select(runs.c.run_id, runs.c.audit_key, runs.c.recorded_at)
            .where(runs.c.run_id.not_in(known))))
