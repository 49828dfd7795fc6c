"""Golden snapshots of the rendered report from the frozen tiny result.

A change to a template, the CSS or the context shows up here as a diff. When the change is
intended, rewrite the snapshots and review them like code:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/reports/test_report_golden.py

A rewriting run fails on purpose (a snapshot test that passes while it writes its own
expectation checks nothing); run again without UPDATE_GOLDEN after reviewing the diff.
"""

from __future__ import annotations

import difflib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reports.render import Renderer, build_context, write_reports

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        before = path.read_text(encoding="utf-8") if path.exists() else None
        path.write_text(actual, encoding="utf-8")
        pytest.fail(f"{name}: snapshot {'unchanged' if before == actual else 'rewritten'}; "
                    "review `git diff tests/reports/golden` and run again without "
                    "UPDATE_GOLDEN")
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


RENDER = """
import sys
from pathlib import Path
sys.path[:0] = [sys.argv[2]]
import conftest
from reports.render import write_reports
write_reports(conftest.make_result(), Path(sys.argv[1]), history=conftest.default_history())
"""


def test_rendering_in_two_processes_with_different_hash_seeds_gives_the_same_bytes(tmp_path):
    """Set and dict order of strings changes with PYTHONHASHSEED between processes; a page
    that depends on it would differ from night to night. Rendering twice in one process
    would not show it."""
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / f"seed-{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        p = subprocess.run([sys.executable, "-c", RENDER, str(out), str(Path(__file__).parent)],
                           capture_output=True, text=True, timeout=300, env=env)
        assert p.returncode == 0, p.stderr
        outs.append({f.relative_to(out): f.read_bytes() for f in sorted(out.rglob("*"))
                     if f.is_file()})
    assert list(outs[0]) and list(outs[0]) == list(outs[1])
    for name in outs[0]:
        assert outs[0][name] == outs[1][name], name


def test_rewriting_a_snapshot_fails(monkeypatch, tmp_path):
    me = sys.modules[__name__]

    monkeypatch.setattr(me, "GOLDEN", tmp_path)
    monkeypatch.setattr(me, "UPDATE", True)
    with pytest.raises(pytest.fail.Exception, match="rewritten"):
        me.check_golden("x.html", "<p>new</p>")
    assert (tmp_path / "x.html").read_text(encoding="utf-8") == "<p>new</p>"
    with pytest.raises(pytest.fail.Exception, match="unchanged"):
        me.check_golden("x.html", "<p>new</p>")
