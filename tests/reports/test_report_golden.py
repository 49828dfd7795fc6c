"""Golden snapshots of the rendered pages and mail bodies from the frozen tiny result.

A change to a template, the CSS, the catalog or the context shows up here as a diff. When
the change is intended, rewrite the snapshots and review them like code:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/reports/test_report_golden.py   # fails: rewritten
    .venv/bin/pytest tests/reports/test_report_golden.py                  # passes

A run with ``UPDATE_GOLDEN=1`` always fails after writing, so a snapshot can never be
accepted silently (e.g. by a CI job that happens to have the variable set).
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from reports.mail_body import build_mail
from reports.render import write_reports

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
TG = ("tmall_global", "tg-flagship")


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        old = path.read_text(encoding="utf-8") if path.exists() else None
        path.write_text(actual, encoding="utf-8")
        state = "unchanged" if old == actual else "rewritten"
        pytest.fail(f"UPDATE_GOLDEN=1: {name} {state}; review it and run again without it")
    assert path.exists(), f"no golden file {path}; run with UPDATE_GOLDEN=1 to create it"
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = "\n".join(
            list(
                difflib.unified_diff(
                    expected.splitlines(), actual.splitlines(), "golden", "actual", lineterm=""
                )
            )[:60]
        )
        pytest.fail(f"{name} differs from its snapshot (UPDATE_GOLDEN=1 to accept):\n{diff}")


@pytest.mark.parametrize(
    ("page", "golden"),
    [
        ("report.html", "report.html"),
        ("shops/tg-flagship.html", "shop-tg-flagship.html"),
        ("shops/jd-quiet.html", "shop-jd-quiet.html"),
        ("rules.html", "rules.html"),
    ],
)
def test_report_matches_snapshot(result, history, tmp_path, page, golden):
    write_reports(result, tmp_path, history=history, lang="zh")
    check_golden(golden, (tmp_path / page).read_text(encoding="utf-8"))


def test_english_shop_page_matches_snapshot(result, history, tmp_path):
    write_reports(result, tmp_path, history=history, lang="en")
    check_golden("shop-amz-east.en.html", (tmp_path / "shops/amz-east.html").read_text("utf-8"))


@pytest.mark.parametrize("part", ["html", "txt"])
@pytest.mark.parametrize(("key", "name"), [(TG, "mail-tg-flagship"), (None, "mail-overview")])
def test_mail_bodies_match_snapshots(result, history, key, name, part):
    body = build_mail(result, key, history=history, diff=None)
    actual = body.html if part == "html" else f"Subject: {body.subject}\n\n{body.text}"
    check_golden(f"{name}.{part}", actual)


def test_rendering_twice_gives_the_same_bytes(result, history, tmp_path):
    first = write_reports(result, tmp_path / "a", history=history)
    second = write_reports(result, tmp_path / "b", history=history)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_update_golden_fails_instead_of_passing(tmp_path, monkeypatch):
    """The rewrite mode is never a silent pass."""
    monkeypatch.setitem(globals(), "GOLDEN", tmp_path)
    monkeypatch.setitem(globals(), "UPDATE", True)
    with pytest.raises(pytest.fail.Exception, match="rewritten"):
        check_golden("x.txt", "new")
    assert (tmp_path / "x.txt").read_text() == "new"
    with pytest.raises(pytest.fail.Exception, match="unchanged"):
        check_golden("x.txt", "new")
