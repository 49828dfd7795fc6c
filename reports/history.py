"""The run-history store: every audit's findings, KPIs and counts, for trends and diffs.

One SQL store (SQLAlchemy Core): an SQLite file ``<out_root>/history.sqlite`` by default, or
any SQLAlchemy URL (``postgresql+psycopg://…``). Rows are keyed by ``run_id`` and by the
audit's identity ``audit_key`` (source, as_of, window, shop selection, profile and rule
versions; see ``flows.audit.audit_key``).

Re-running the same audit replaces its rows, so a retried or repeated nightly run never
counts twice in a trend. The one exception is kept on purpose: when the re-run's content
differs (late data arrived for a closed period), the earlier version stays in the store,
marked ``superseded_by`` the new run, so ``refund-audit diff`` can show what changed. Trends
and "the run of this audit" only ever read the current (not superseded) version.

Findings are stored as written to findings.csv (text), so a diff shows exactly what the
files showed; KPI values as numbers, for the report's sparklines.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from checks.result import FINDING_COLUMNS, AuditResult
from reports.outputs import findings_frame

STORE_FILE = "history.sqlite"
FINDING_KEY = ["rule_id", "platform", "shop_id", "order_id", "refund_id", "message_id"]
COUNT_COLUMNS = ["read", "valid", "quarantined", "superseded"]

meta = sa.MetaData()
runs = sa.Table(
    "history_runs", meta,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("audit_key", sa.String(64), nullable=False, index=True),
    sa.Column("as_of", sa.String(40), nullable=False),  # UTC ISO 8601, as in run.json
    sa.Column("recorded_at", sa.String(40), nullable=False),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("window_days", sa.Integer, nullable=False),
    sa.Column("selection", sa.Text, nullable=False),  # JSON {"platforms": [...], "shops": [...]}
    sa.Column("n_findings", sa.Integer, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("superseded_by", sa.String(64), nullable=True),
    sa.Column("run_json", sa.Text, nullable=False),
)
findings = sa.Table(
    "history_findings", meta,
    sa.Column("run_id", sa.String(64), nullable=False, index=True),
    sa.Column("audit_key", sa.String(64), nullable=False),
    *[sa.Column(c, sa.Text, nullable=False) for c in FINDING_COLUMNS],
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
_BY_RUN = (findings, kpis, counts)


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
            meta.create_all(engine)
        yield engine
    finally:
        engine.dispose()


def _selection(run: dict) -> str:
    sel = run.get("selection") or {}
    return json.dumps({"platforms": sorted(sel.get("platforms") or []),
                       "shops": sorted(sel.get("shops") or [])}, sort_keys=True)


def _kpi_rows(result: AuditResult) -> list[dict]:
    k = result.kpis
    rows = []
    for p, s, m, v, t, st in zip(k["platform"], k["shop_id"], k["metric"], k["value"],
                                 k["threshold"], k["status"], strict=True):
        rows.append({"platform": str(p), "shop_id": str(s), "metric": str(m),
                     "value": None if pd.isna(v) else float(v),
                     "threshold": None if pd.isna(t) else float(t),
                     "status": "" if pd.isna(st) else str(st)})
    return rows


def append_run(store: str | Path, result: AuditResult) -> dict:
    """Record one run; return ``{"run_id", "audit_key", "replaced": [...], "kept": [...]}``.

    Earlier runs of the same ``audit_key`` are replaced (deleted) when their content is the
    same, and kept as superseded versions when it differs (see the module docstring).
    """
    run = result.run
    run_id, key = run["run_id"], run["audit_key"]
    f = findings_frame(result.findings)
    k_rows = _kpi_rows(result)
    c_rows = [{"table_name": t, **{c: int(v[c]) for c in COUNT_COLUMNS}}
              for t, v in sorted(result.counts.items())]
    digest = hashlib.sha256()
    digest.update(f.to_csv(index=False, lineterminator="\n").encode())
    digest.update(json.dumps([k_rows, c_rows], sort_keys=True).encode())
    content = digest.hexdigest()

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
            **tag, as_of=run["as_of"], recorded_at=pd.Timestamp.now(tz="UTC").isoformat(),
            source=run["source"], window_days=int(run["window_days"]),
            selection=_selection(run), n_findings=len(f), digest=content,
            run_json=json.dumps(run, sort_keys=True, ensure_ascii=False, default=str)))
        if len(f):
            db.execute(findings.insert(), [{**tag, **r} for r in f.to_dict("records")])
        if k_rows:
            db.execute(kpis.insert(), [{**tag, **r} for r in k_rows])
        if c_rows:
            db.execute(counts.insert(), [{**tag, **r} for r in c_rows])
    return {**tag, "replaced": replaced, "kept": kept}


def _delete_runs(db: sa.Connection, run_ids: list[str]) -> None:
    for table in (*_BY_RUN, runs):
        db.execute(table.delete().where(table.c.run_id.in_(run_ids)))


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


def resolve_run(store: str | Path, ref: str) -> dict:
    """The run named by ``ref``: a run_id, a unique run_id prefix, or an audit_key (its
    current version). Raises KeyError with a one-line reason otherwise."""
    listed = list_runs(store)
    hit = listed[listed["run_id"] == ref]
    if hit.empty:
        hit = listed[(listed["audit_key"] == ref) & listed["superseded_by"].isna()]
    if hit.empty and len(ref) >= 4:
        hit = listed[listed["run_id"].str.startswith(ref)]
    if len(hit) != 1:
        why = "no run" if hit.empty else f"{len(hit)} runs"
        raise KeyError(f"{why} in the history store matches {ref!r}")
    return {k: (None if pd.isna(v) else v) for k, v in hit.iloc[0].to_dict().items()}


def read_findings(store: str | Path, run_id: str) -> pd.DataFrame:
    """One run's findings as written to findings.csv (text columns)."""
    with _engine(store, create=True) as engine, engine.connect() as db:
        rows = db.execute(sa.select(*[findings.c[c] for c in FINDING_COLUMNS])
                          .where(findings.c.run_id == run_id)).all()
    return pd.DataFrame(rows, columns=FINDING_COLUMNS, dtype="object")


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
             .where(runs.c.source == run["source"],
                    runs.c.window_days == int(run["window_days"]),
                    runs.c.superseded_by.is_(None),
                    runs.c.audit_key != run["audit_key"]))
        df = pd.DataFrame(db.execute(q).mappings().all(),
                          columns=["run_id", "as_of", "recorded_at", "platform", "shop_id",
                                   "metric", "value"])
    if df.empty:
        return None
    df["as_of"] = pd.to_datetime(df["as_of"], utc=True, format="ISO8601")
    df = df[df["as_of"] < pd.Timestamp(run["as_of"])]
    shops = result.kpis[["platform", "shop_id"]].drop_duplicates()
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
