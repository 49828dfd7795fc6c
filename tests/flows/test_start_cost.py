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
