"""A per-machine cache for what every process would otherwise rebuild from shipped files
(PC002's compiled lexicon, the report templates' compiled code).

Why: a small on-demand audit of a few dozen rows spent about as much time building these
as auditing. Each entry is keyed by a hash of everything it is built from (the files, the
code that builds it, the library versions), so an edited phrase file or a new library
simply misses and is rebuilt; nothing is ever invalidated by hand. A cache that cannot be
read or written is skipped, never an error: the audit is the same with or without it.

Where: ``REFUND_AUDIT_CACHE_DIR``; else ``$XDG_CACHE_HOME/refund-audit``; else
``~/.cache/refund-audit``. ``REFUND_AUDIT_CACHE_DIR=off`` turns it off. The entries are
pickles written by this tool for this user, trusted like Python's own ``__pycache__``.
"""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["cache_dir", "key_of", "load", "store"]

KEEP = 8


def cache_dir() -> Path | None:
    """The cache folder (not created here), or None when the cache is off."""
    given = os.environ.get("REFUND_AUDIT_CACHE_DIR")
    if given is not None:
        return None if given.strip().lower() in ("", "off", "0", "false") else Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path("~/.cache").expanduser())
    return Path(base) / "refund-audit"


def key_of(*parts: bytes | str) -> str:
    """A hash of what an entry is built from (the interpreter's version included)."""
    digest = hashlib.sha256(sys.version.encode())
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()[:32]


def _path(name: str, key: str) -> Path | None:
    folder = cache_dir()
    return None if folder is None else folder / f"{name}-{key}.pickle"


def load(name: str, key: str) -> Any | None:
    """The entry ``name`` built from ``key``, or None (absent, unreadable, off)."""
    path = _path(name, key)
    if path is None:
        return None
    # Unpickling a large graph of new objects triggers the cyclic collector again and
    # again (twice the time of the load itself); nothing is garbage yet.
    paused = gc.isenabled()
    gc.disable()
    try:
        with path.open("rb") as fh:
            return pickle.load(fh)
    except Exception:  # absent, truncated, from an incompatible version: rebuild
        return None
    finally:
        if paused:
            gc.enable()


def store(name: str, key: str, value: Any) -> None:
    """Keep ``value`` as the entry ``name`` for ``key``, with at most ``KEEP`` entries of
    ``name`` (the newest: several checkouts or versions may share one cache). Written to a
    temporary file and renamed, so a concurrent reader sees all or nothing."""
    path = _path(name, key)
    if path is None:
        return
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{name}-")
        with os.fdopen(fd, "wb") as fh:
            pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        tmp = None
        others = sorted((p for p in path.parent.glob(f"{name}-*.pickle") if p != path),
                        key=lambda p: p.stat().st_mtime_ns, reverse=True)
        for old in others[KEEP - 1:]:
            old.unlink(missing_ok=True)
    except Exception:  # read-only home, full disk, a race with another process: no cache
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
