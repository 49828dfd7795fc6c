"""Sources and results for the flow tests: a small generated dataset (four platforms, one
shop each, plus a platform without a profile) written as a user's CSV folder, and audit
results built from the plain functions, without Prefect.

Flow modules are imported inside the tests, not at collection: the session's Prefect server
is started after collection (tests/conftest.py), and Prefect reads its settings when first
imported. ``_prefect_settings`` refreshes them for tests that run flows in-process.
"""

from __future__ import annotations

import sys

import pandas as pd
import pytest

from checks.audit import run_rules
from checks.profiles import load_profiles, timezones
from checks.result import AuditResult
from flows.options import options
from flows.pipeline import assemble, run_record
from schemas.validate import validate_tables
from sources.generate import generate_tables
from sources.writers import write_csv_folder

AS_OF = "2026-11-20T02:00:00+08:00"
N_ORDERS = 400


@pytest.fixture(autouse=True)
def _prefect_settings(request):
    if request.node.get_closest_marker("prefect"):
        from prefect.context import refresh_global_settings_context

        refresh_global_settings_context()


@pytest.fixture(scope="session", autouse=True)
def _drain_prefect_logs():
    """Send the last flow logs while the session's server is still up."""
    yield
    if "prefect.logging.handlers" in sys.modules:
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=5)


@pytest.fixture(scope="session")
def tables() -> dict[str, pd.DataFrame]:
    return generate_tables(N_ORDERS, as_of=AS_OF)


@pytest.fixture(scope="session")
def csv_source(tables, tmp_path_factory) -> str:
    return str(write_csv_folder(tables, tmp_path_factory.mktemp("src") / "csv"))


@pytest.fixture(scope="session")
def make_result():
    return audit_result


def audit_result(tables: dict[str, pd.DataFrame], as_of: str = AS_OF, *,
                 run_id: str | None = None, audit_key: str = "key-1",
                 source: str = "test-source", window_days: int = 30) -> AuditResult:
    """What the flow would hand to the outputs, built from the plain functions."""
    profiles = load_profiles(None)
    v = validate_tables(tables, timezones(profiles))
    opts = options(source=source, out="unused", as_of=as_of, window_days=window_days)
    o = run_rules(v.tables, profiles, opts.as_of, window_days, 24)
    run = run_record(opts, v, o, profiles, started=opts.as_of, run_id=run_id, key=audit_key)
    return assemble(run, v, o, profiles)
