"""What every start of the command line is spared: no scan of the installed distributions'
metadata for pydantic or typeguard plugins (flows/__init__.py), which the tool does not
use. Run in a fresh interpreter: the test process has imported these libraries already."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import importlib.metadata as metadata
scanned = []
real = metadata.entry_points
def entry_points(**selection):
    scanned.append(selection.get("group"))
    return real(**selection)
metadata.entry_points = entry_points  # before pydantic and typeguard bind it
import flows.cli  # noqa: F401  (flows/__init__ first, then pydantic-settings)
from flows.settings import Settings
import schemas.tables  # pandera, which imports typeguard
from checks.profiles import load_profiles
Settings()
load_profiles()  # the profiles' pydantic models (the cache is off here)
print(sorted(g for g in scanned if g in ("pydantic", "typeguard.checker_lookup")))
"""


def test_a_start_scans_no_distribution_for_plugins():
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYDANTIC_DISABLE_PLUGINS", "TYPEGUARD_DISABLE_PLUGIN_AUTOLOAD")}
    env.update(PYTHONPATH=str(ROOT), REFUND_AUDIT_CACHE_DIR="off")
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                         text=True, cwd=ROOT, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


def test_the_prefect_api_is_found_in_prefect_toml_or_the_active_profile(tmp_path, monkeypatch):
    from flows.cli import prefect_api_url

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("PREFECT_PROFILE", raising=False)
    here, home = tmp_path / "here", tmp_path / "home"
    here.mkdir()
    home.mkdir()
    monkeypatch.chdir(here)
    monkeypatch.setenv("PREFECT_HOME", str(home))
    assert prefect_api_url() is None  # neither file
    (home / "profiles.toml").write_text(
        'active = "local"\n[profiles.local]\nPREFECT_API_URL = "http://127.0.0.1:4300/api"\n'
        '[profiles.other]\nPREFECT_API_URL = "http://127.0.0.1:4400/api"\n')
    assert prefect_api_url() == "http://127.0.0.1:4300/api"
    monkeypatch.setenv("PREFECT_PROFILE", "other")
    assert prefect_api_url() == "http://127.0.0.1:4400/api"
    (here / "prefect.toml").write_text('[api]\nurl = "http://127.0.0.1:4200/api"\n')
    assert prefect_api_url() == "http://127.0.0.1:4200/api"  # the folder's file first
    (here / "prefect.toml").write_text("[api\nurl = \n")  # not TOML: the profile decides
    assert prefect_api_url() == "http://127.0.0.1:4400/api"
    (home / "profiles.toml").write_text("active = \n")
    assert prefect_api_url() is None
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4500/api")
    assert prefect_api_url() == "http://127.0.0.1:4500/api"  # the environment wins
