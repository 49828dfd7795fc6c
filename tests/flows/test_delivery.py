"""The flow side of delivery without a flow: the overview's delivery block, finding a past
run for `refund-audit send`, and the recipients check's warnings."""

from __future__ import annotations

import json

import pytest

from flows.delivery import find_run, mark_overview, recipient_check
from flows.settings import Settings
from tests.reports.conftest import make_result

PAGE = ('<!DOCTYPE html>\n<html><body>\n<div class="page">\n<h1>Overview</h1>\n'
        "</div>\n</body></html>\n")


def test_the_delivery_block_is_put_on_top_replaced_and_removed(tmp_path):
    (tmp_path / "report.html").write_text(PAGE, encoding="utf-8")
    mark_overview(tmp_path, ["email: 2 message(s) not sent <b>"], "en")
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert page.index("<!--delivery-warnings-->") < page.index("<h1>Overview</h1>")
    assert "email: 2 message(s) not sent &lt;b&gt;" in page  # escaped
    mark_overview(tmp_path, ["email: 1 message(s) not sent"], "zh")
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert page.count("<!--delivery-warnings-->") == 1 and "2 message(s)" not in page
    assert "邮件未全部送达 · Email delivery incomplete" in page
    mark_overview(tmp_path, [], "en")
    assert (tmp_path / "report.html").read_text(encoding="utf-8") == PAGE


def test_a_run_is_found_by_folder_id_or_prefix(tmp_path):
    for name, run_id in (("a", "3f6c2a1e-0000-4000-8000-000000000001"),
                         ("b", "3f6c2a1e-0000-4000-8000-000000000002"),
                         ("c", "9d0e1f2a-0000-4000-8000-000000000003")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "run.json").write_text(json.dumps({"run_id": run_id}), "utf-8")
    s = Settings(out_root=tmp_path)
    assert find_run(str(tmp_path / "a"), s) == tmp_path / "a"
    assert find_run("9d0e1f2a-0000-4000-8000-000000000003", s) == tmp_path / "c"
    assert find_run("9d0e1f2a", s) == tmp_path / "c"
    with pytest.raises(LookupError, match="matches 2 runs"):
        find_run("3f6c2a1e", s)
    with pytest.raises(LookupError, match="no output folder and no run"):
        find_run("0badc0de", s)


def test_no_or_a_broken_recipients_file_is_a_warning(tmp_path):
    result = make_result()
    recipients, warnings = recipient_check(result, settings=Settings(recipients_file=None))
    assert recipients is None and warnings == [
        "email: no recipients file is set (REFUND_AUDIT_RECIPIENTS_FILE), so no report was "
        "mailed"]
    broken = tmp_path / "r.yaml"
    broken.write_text("- a list\n", encoding="utf-8")
    recipients, warnings = recipient_check(result, settings=Settings(recipients_file=broken))
    assert recipients is None and len(warnings) == 1
    assert warnings[0].startswith(f"email: {broken}: expected a mapping")


def test_masking_is_on_unless_turned_off(monkeypatch):
    assert Settings().mask_personal_data is True
    monkeypatch.setenv("REFUND_AUDIT_MASK_PERSONAL_DATA", "false")
    assert Settings().mask_personal_data is False
