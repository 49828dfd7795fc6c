"""The one retry layer: a source that is down is tried again; bad input never is.

Why one layer: with retries both in the flow's tasks and in the PostgreSQL source, a server
that is down was tried 3 × 4 times over ~15 s, and a permanent error (wrong password, a
missing file) was retried too. Now a source raises ``SourceUnavailable`` for what waiting
can fix (connection refused, timeouts), ``InputError`` for what it cannot, and the load step
of both runners (in-process and the Prefect flow) wraps the read in ``with_retries``.
Attempts and backoff: ``REFUND_AUDIT_RETRIES`` (default 2 more tries) and
``REFUND_AUDIT_RETRY_BACKOFF`` (default 2 s, doubled each time).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import TypeVar

from sources.base import SourceUnavailable

T = TypeVar("T")
TRANSIENT = (SourceUnavailable, ConnectionError, TimeoutError)
LOG = logging.getLogger("refund_audit")


def _env(name: str, default: float) -> float:
    try:
        return max(0.0, float(os.environ.get(name, default)))
    except ValueError:
        return default


def with_retries(fn: Callable[[], T], *, retries: int | None = None,
                 backoff: float | None = None, log: logging.Logger = LOG) -> T:
    """``fn()``, tried again on a transient error, ``retries`` more times, waiting
    ``backoff`` s, then twice that, and so on. The last error is raised as it is (a
    ``SourceUnavailable`` is an InputError: one paragraph, exit 2)."""
    retries = int(_env("REFUND_AUDIT_RETRIES", 2)) if retries is None else retries
    backoff = _env("REFUND_AUDIT_RETRY_BACKOFF", 2.0) if backoff is None else backoff
    waited = 0.0
    for attempt in range(retries + 1):
        try:
            return fn()
        except TRANSIENT as exc:
            if attempt == retries:
                if isinstance(exc, SourceUnavailable) and attempt:
                    raise SourceUnavailable(
                        f"{exc} (tried {attempt + 1} times over {waited:g} s)") from None
                raise
            delay = backoff * 2 ** attempt
            log.warning("      the source is unavailable (%s); trying again in %g s",
                        exc, delay)
            time.sleep(delay)
            waited += delay
    raise AssertionError("unreachable")  # pragma: no cover
