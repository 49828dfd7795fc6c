"""What makes two runs "the same audit": the audit key, and the source's identity.

The history store replaces a run's rows when the same audit runs again, and the report's
trends compare runs of the same source; both depend on telling sources apart correctly:

- the same SQLite file or folder named by a relative and by an absolute path is one source
  (paths are resolved, symlinks included);
- two PostgreSQL schemas of one database are two sources, and so are two column mappings of
  one folder of exports (they read different data);
- a password never takes part (it is not part of what is read, and must not be stored).

Kept free of Prefect so that the store, the tests and the flow share one definition.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from checks.registry import CATALOG_VERSION

_DEFAULT_SCHEMA = "public"


def _resolved(path: str) -> str:
    return str(Path(path).expanduser().resolve())


def normalise_source(source: str, schema: str | None = None) -> str:
    """The source as one canonical text: resolved paths, no credentials.

    ``sqlite:///rel.db`` and ``sqlite:////abs/rel.db`` give the same text, as do ``data/csv``
    and ``/abs/data/csv``. For a database URL the password (also ``?password=``) and the
    driver name are dropped; the user, host, port, database, query options (a search_path)
    and schema are kept. The
    PostgreSQL schema counts only when it is not the default ``public``.
    """
    text = str(source)
    if "://" not in text:
        return _resolved(text)
    from sqlalchemy.engine import make_url

    try:
        url = make_url(text)
    except Exception:  # not an SQLAlchemy URL: keep its scheme and location, never a login
        scheme, rest = text.split("://", 1)
        return f"{scheme}://{rest.rsplit('@', 1)[-1]}"
    backend = url.get_backend_name()
    if backend == "sqlite":
        db = url.database
        return f"sqlite:///{_resolved(db)}" if db and db != ":memory:" else "sqlite://"
    user = f"{url.username}@" if url.username else ""
    out = f"{backend}://{user}{url.host or ''}:{url.port or ''}/{url.database or ''}"
    # Options such as ?options=-csearch_path=… choose what is read; passwords do not.
    query = {k: v for k, v in url.query.items() if "password" not in k.lower()}
    if query:
        out += "?" + json.dumps(query, sort_keys=True)
    if backend.startswith("postgres") and schema and schema != _DEFAULT_SCHEMA:
        out += f"#schema={schema}"
    return out


def normalise_mapping(mapping: str | None) -> str | None:
    """A mapping file as its resolved path; a shipped mapping by its name; None: no mapping."""
    if not mapping:
        return None
    path = Path(mapping).expanduser()
    return _resolved(mapping) if path.suffix or path.exists() else mapping


def source_key(source: str, schema: str | None = None, mapping: str | None = None) -> str:
    """16 hex digits naming what is read: the source, its schema and its column mapping."""
    ident = {"source": normalise_source(source, schema)}
    if normalise_mapping(mapping):
        ident["mapping"] = normalise_mapping(mapping)
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]


def audit_key(source: str, as_of: pd.Timestamp, window_days: int, profile_versions: dict,
              shops: list[str] | None = None, *, platforms: list[str] | None = None,
              at_risk_hours: float | None = None, schema: str | None = None,
              mapping: str | None = None) -> str:
    """The audit's identity: the same key means the same audit (idempotent re-runs).

    What was read (source, schema, column mapping), as of when, over which window, with which
    rule and profile versions, for which shops.
    """
    ident = {"source": normalise_source(source, schema), "as_of": as_of.isoformat(),
             "window_days": window_days, "profiles": profile_versions,
             "catalog": CATALOG_VERSION, "shops": sorted(shops or [])}
    # Only when set, so that keys of earlier unfiltered audits stay what they were.
    if platforms:
        ident["platforms"] = sorted(platforms)
    if at_risk_hours is not None:
        ident["at_risk_hours"] = float(at_risk_hours)
    if normalise_mapping(mapping):
        ident["mapping"] = normalise_mapping(mapping)
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]
