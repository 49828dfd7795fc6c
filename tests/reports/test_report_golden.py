"""Golden snapshots of the rendered report from the frozen tiny result.

A change to a template, the CSS or the context shows up here as a diff. When the change is
intended, rewrite the snapshots and review them like code:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/reports/test_golden.py
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from reports.render import Renderer, build_context, write_reports

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
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
    ],
)
def test_report_matches_snapshot(result, history, tmp_path, page, golden):
    write_reports(result, tmp_path, history=history, lang="zh")
    check_golden(golden, (tmp_path / page).read_text(encoding="utf-8"))


def test_english_shop_page_matches_snapshot(result, history, tmp_path):
    write_reports(result, tmp_path, history=history, lang="en")
    check_golden("shop-amz-east.en.html", (tmp_path / "shops/amz-east.html").read_text("utf-8"))


def test_mail_text_matches_snapshot(result, history):
    ctx = build_context(result, shop=("tmall_global", "tg-flagship"), history=history)
    check_golden("mail-tg-flagship.txt", Renderer().text(ctx))


def test_rendering_twice_gives_the_same_bytes(result, history, tmp_path):
    first = write_reports(result, tmp_path / "a", history=history)
    second = write_reports(result, tmp_path / "b", history=history)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
