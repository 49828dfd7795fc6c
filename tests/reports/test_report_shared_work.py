"""The pages and the mail bodies of one audit choose and format their rows once.

The per-audit work (rows chosen for every shop, KPI cards, set-aside reasons) is kept with the
findings frame it was computed from, so the mail step, which builds its own ``Shared``,
reuses what the pages computed; a result with other findings (or another language) starts
afresh and never shows rows of the first.
"""

from __future__ import annotations

import dataclasses

from reports.mail_body import MailBuilder
from reports.render import write_reports
from reports.shared import Shared


def test_the_mail_bodies_reuse_the_rows_the_pages_formatted(result, history, tmp_path):
    write_reports(result, tmp_path, history=history, diff=None)
    page_shared = Shared.of(result, history=history, diff=None)
    builder = MailBuilder(result, history=history, diff=None)
    assert builder.shared.cache is page_shared.cache
    selections = [k for k in page_shared.cache if isinstance(k, tuple) and k[0] == "selection"]
    assert len(selections) == 1  # one choice of rows for the page and the mail alike
    builder.build(("tmall_global", "tg-flagship"))
    assert [k for k in builder.shared.cache
            if isinstance(k, tuple) and k[0] == "selection"] == selections


def test_other_findings_or_another_language_start_afresh(result, build, history):
    first = Shared.of(result, history=history, diff=None)
    first.cache["marker"] = True
    assert "marker" not in Shared.of(result, history=history, diff=None, lang="en").cache
    assert "marker" not in Shared.of(result, history=None, diff=None).cache
    only_one = build.frame([build.finding("RA001", "violation", "tmall", "tm-store",
                                          order_id="O-NEW-1", detail="new finding")])
    other = dataclasses.replace(result, findings=only_one)
    fresh = MailBuilder(other, history=history, diff=None)
    assert "marker" not in fresh.shared.cache
    body = fresh.build(("tmall", "tm-store"))
    assert "O-NEW-1" in body.html
    # the first result's rows are not in the second result's mail
    first_ids = set(result.findings["order_id"]) - {"", "O-NEW-1"}
    assert not any(i in body.html for i in first_ids if i)


def test_the_run_header_is_read_afresh_each_time(result, history):
    first = Shared.of(result, history=history, diff=None)
    result.run["warnings"] = ["shop tmall/tm-store: a late warning"]
    again = Shared.of(result, history=history, diff=None)
    assert again.cache is first.cache
    assert again.warnings == ["shop tmall/tm-store: a late warning"]
    assert first.warnings == []
