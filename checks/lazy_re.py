"""Regular expressions compiled when first used.

Why: compiling a pattern with large character classes costs up to ~3.5 ms, and a module's
patterns are otherwise all compiled when it is imported. Some are for paths that most runs
never take (a street address to mask, quoted speech in a complaint); compiled at import
they cost a small audit ~14 ms for nothing. A lazy pattern compiles on its first use and
pickles as its source (PC002's lexicon in the per-machine cache holds some).

Each use goes through one more Python call than a compiled pattern's: keep lazy patterns
off paths that run once per row of a large table.
"""

from __future__ import annotations

import re

__all__ = ["LazyPattern"]


class LazyPattern:
    """A regex that compiles on first use and pickles as its source."""

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern, self.flags, self._compiled = pattern, flags, None

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.compiled(), name)

    def compiled(self) -> re.Pattern:
        """The compiled pattern (compiled now if it was not yet)."""
        if self._compiled is None:
            self._compiled = re.compile(self.pattern, self.flags)
        return self._compiled

    def __getstate__(self) -> tuple[str, int]:
        return self.pattern, self.flags

    def __setstate__(self, state: tuple[str, int]) -> None:
        self.pattern, self.flags, self._compiled = *state, None
