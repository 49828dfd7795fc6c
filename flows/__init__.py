"""Prefect lives only here: the audit flow, its tasks, deployments, schedules and the CLI.

Importing this package first makes Prefect offline-safe: no telemetry (offline it both logs
errors and races SQLite), a project-local home, and a start-up timeout that 2 cores can meet.
"""

import os
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PREFECT_HOME", str(_ROOT / ".prefect"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
os.environ.setdefault("PREFECT_LOGGING_LOG_PRINTS", "true")

# pydantic (on its first model) and typeguard (imported by pandera) each scan the metadata of
# every installed distribution for plugins (~17 ms of CPU per process, ~300 distributions in
# our environment); the tool uses no plugin of either. Set to an empty value
# (PYDANTIC_DISABLE_PLUGINS=) to have pydantic's plugins loaded after all.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
os.environ.setdefault("TYPEGUARD_DISABLE_PLUGIN_AUTOLOAD", "1")

# pandera builds every schema after asking which dataframe libraries are installed, and that
# imports dask.dataframe (~0.5 s of CPU) because Dask is installed for the optional Dask
# runner. No schema here validates a Dask frame, so tell pandera's Dask typing "not
# installed" unless something imported it already. The Dask executor (flows/partitioned.py)
# moves pandas frames and is unaffected.
if "pandera.typing.dask" not in __import__("sys").modules:
    import sys as _sys
    import types as _types

    _stub = _types.ModuleType("pandera.typing.dask")
    _stub.DASK_INSTALLED = False
    _sys.modules["pandera.typing.dask"] = _stub

# pandera asks whether a column's dtype is a geopandas one by importing geopandas, for every
# column of every schema it builds or validates: without geopandas installed, each try is a
# failed search of the whole import path (~40 per run, ~15 ms). Record its absence once.
if "geopandas" not in __import__("sys").modules:
    import importlib.util as _util
    import sys as _sys

    if _util.find_spec("geopandas") is None:
        _sys.modules["geopandas"] = None
