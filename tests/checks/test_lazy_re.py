"""Patterns compiled on first use (checks.lazy_re): the same matches as re, and a pickle
that holds the source only."""

from __future__ import annotations

import pickle
import re

from checks.lazy_re import LazyPattern


def test_a_lazy_pattern_compiles_on_first_use_and_pickles_as_its_source():
    p = LazyPattern(r"(\d+)-(\d+)", re.ASCII)
    assert p._compiled is None  # nothing compiled until used
    assert p.sub(r"\2-\1", "12-345 and 6-7") == "345-12 and 7-6"
    assert p._compiled is not None
    assert p.fullmatch("٣-٤") is None  # the flags kept: ASCII digits only
    q = pickle.loads(pickle.dumps(p))
    assert q._compiled is None and (q.pattern, q.flags) == (r"(\d+)-(\d+)", re.ASCII)
    assert q.search("call 7-8 now").group(0) == "7-8"
    assert [m.span() for m in q.finditer("1-2 3-4")] == [(0, 3), (4, 7)]
    r = LazyPattern("a+")
    assert r.compiled() is r.compiled() and r.compiled().match("aab").group(0) == "aa"
