"""Session-wide real services for the tests.

A Prefect server is started once per test session on loopback (``prefect server start``)
and every flow run — in-process or in a CLI subprocess — talks to it through
``PREFECT_API_URL``. Measured: the harness (``prefect_test_harness``) builds a fresh database
per session (~20 s) and each CLI subprocess would otherwise boot its own ephemeral server
(12–25 s); one shared server costs ~10–25 s once. When ``PREFECT_API_URL`` is already set
(a developer's running server), it is used as is. Only sessions that select a test
marked ``prefect`` start it. A test that needs it fails if it cannot start.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))

_server: subprocess.Popen | None = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_prefect_server(home: Path) -> str:
    global _server
    port = _free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "DO_NOT_TRACK": "1", "PREFECT_API_URL": ""}
    env.pop("PREFECT_API_URL")
    log = (home / "server.log").open("w")
    _server = subprocess.Popen(
        [str(Path(sys.executable).parent / "prefect"), "server", "start", "--host", "127.0.0.1",
         "--port", str(port), "--no-ui", "--analytics-off"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.time() + 120
    while time.time() < deadline:
        if _server.poll() is not None:
            raise RuntimeError(f"prefect server exited; see {home / 'server.log'}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return url
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"prefect server did not become healthy in 120 s; see {home}/server.log")


def pytest_collection_modifyitems(config, items):
    """Start the server only when a selected test is marked ``prefect``."""
    if os.environ.get("PREFECT_API_URL"):
        return
    if not any(item.get_closest_marker("prefect") for item in items):
        return
    home = ROOT / ".prefect-test"
    home.mkdir(exist_ok=True)
    os.environ["PREFECT_HOME"] = str(home)
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["DO_NOT_TRACK"] = "1"
    os.environ["PREFECT_API_URL"] = _start_prefect_server(home)


def pytest_unconfigure(config):
    if _server is not None:
        _server.terminate()
        try:
            _server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            _server.kill()


@pytest.fixture(scope="session")
def prefect_api_url() -> str:
    return os.environ["PREFECT_API_URL"]


@pytest.fixture(scope="session")
def project_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def cli() -> list[str]:
    """The installed console script, run as a subprocess like a user would."""
    return [str(Path(sys.executable).parent / "refund-audit")]


@pytest.fixture
def break_shop_page(monkeypatch):
    """``break_shop_page((platform, shop_id), message)``: building that shop's report page
    raises ``ValueError(message)``; every other page is built as usual (the per-shop
    isolation of the report step is what the caller tests)."""
    import reports.render

    real = reports.render.shop_context

    def breaker(key: tuple[str, str], message: str) -> None:
        def shop_context(shared, platform, shop_id, *args, **kwargs):
            if (platform, shop_id) == key:
                raise ValueError(message)
            return real(shared, platform, shop_id, *args, **kwargs)

        monkeypatch.setattr(reports.render, "shop_context", shop_context)

    return breaker
