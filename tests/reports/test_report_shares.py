"""An audit's shop pages written in shares (by two processes at once) are the same files.

``write_shop_pages`` writes some shops' pages from those shops' rows only, and
``write_reports(shops=...)`` the overview, rules.html and the other shops' pages; together
they must be byte for byte what one ``write_reports`` of the whole audit writes. The run
does this with a forked process (``flows.partition.write_reports_parallel``), checked here
with a real forked process, including its fallback when a page fails.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
from pathlib import Path

import pandas as pd
import pytest

import reports.render
from flows import partition
from reports.diff import diff_findings
from reports.outputs import findings_frame
from reports.render import write_reports, write_shop_pages
from reports.shared import shop_keys, shop_page_names


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _audit(synthetic, n_shops: int = 48, n_findings: int = 1_500):
    """48 shops (enough for the run to split its pages), with what makes a page depend on
    more than its own rows: a shop id on two platforms (its file name says the platform), a
    shop without findings, set-aside rows with owners, and a diff against an earlier run
    with new, gone and changed findings."""
    result, history = synthetic(n_shops, n_findings, seed=5, history_runs=3)
    f = result.findings
    twin = f[f["shop_id"] == "shop-001"].head(7).copy()
    assert (twin["platform"] != "amazon_us").all()
    twin["platform"] = "amazon_us"  # shop-001 on a second platform
    findings = pd.concat([f, twin], ignore_index=True)
    shops = pd.concat([result.shops, pd.DataFrame([("amazon_us", "shop-001"),
                                                   ("tmall", "no-findings")],
                                                  columns=["platform", "shop_id"])],
                      ignore_index=True)
    result = dataclasses.replace(result, findings=findings, shops=shops)
    before = findings_frame(findings).iloc[40:].copy()  # the first 40 rows are new
    before.loc[before.index[:25], "status"] = "at_risk"  # some changed status
    gone = before.head(3).assign(order_id=["GONE-1", "GONE-2", "GONE-3"])
    diff = diff_findings(pd.concat([before, gone]), findings_frame(findings))
    assert diff["counts"]["appeared"] and diff["counts"]["disappeared"] \
        and diff["counts"]["changed"]
    return result, history, diff


def test_pages_written_in_two_shares_are_the_whole_audits_pages(synthetic, tmp_path):
    result, history, diff = _audit(synthetic)
    keys = shop_keys(result)
    assert len(keys) == 50 and ("amazon_us", "shop-001") in keys
    names = shop_page_names(keys)
    assert names[("amazon_us", "shop-001")] == "shop-001--amazon_us"
    whole, shares = tmp_path / "whole", tmp_path / "shares"
    paths = write_reports(result, whole, history=history, diff=diff)
    theirs = list(dict.fromkeys([*keys[1::3], ("tmall", "no-findings"),
                                 ("amazon_us", "shop-001")]))
    ours = [k for k in keys if k not in set(theirs)]
    mine = write_reports(result, shares, history=history, diff=diff, shops=ours)
    other = write_shop_pages(result, shares, theirs, page_names=names, history=history,
                             diff=diff)
    expected = _files(whole)
    assert len(expected) == 52  # overview, 50 shop pages, rules
    assert _files(shares) == expected
    assert len(mine) == len(ours) + 2 and len(other) == len(theirs)
    assert sorted(str(p.relative_to(shares)) for p in [*mine, *other]) == sorted(
        str(p.relative_to(whole)) for p in paths) == sorted(expected)
    # the diff shows: rows marked new and changed on the pages of both shares
    for share in (ours, theirs):
        marked = b"".join((shares / "shops" / f"{names[k]}.html").read_bytes() for k in share)
        assert b'class="new"' in marked and b'class="changed"' in marked


def test_the_run_splits_its_pages_with_a_forked_process(synthetic, tmp_path, monkeypatch):
    result, history, diff = _audit(synthetic)
    monkeypatch.setattr("flows.partitioned.usable_cores", lambda: 2)
    monkeypatch.setenv("REFUND_AUDIT_PARALLEL", "true")
    assert partition.pages_in_parallel(len(shop_keys(result)))
    writers = tmp_path / "writers"
    writers.mkdir()
    real = reports.render.write_shop_pages

    def noting_who_writes(*args, **kwargs):
        shops = kwargs["shops"] if "shops" in kwargs else args[2]
        (writers / str(os.getpid())).write_text(str(len(shops)))
        return real(*args, **kwargs)

    monkeypatch.setattr(reports.render, "write_shop_pages", noting_who_writes)
    serial = tmp_path / "serial"
    pages, failures = partition.write_reports_isolated(result, serial, history=history,
                                                       lang="zh", diff=diff)
    assert not failures
    split = tmp_path / "split"
    (got, failed), csvs = partition.write_reports_parallel(
        result, split, history=history, lang="zh", diff=diff,
        meanwhile=lambda: "the CSV files")
    assert csvs == "the CSV files" and not failed
    assert got == [split / p.relative_to(serial) for p in pages]  # same order
    assert _files(split) == _files(serial)
    pids = {int(p.name): int(p.read_text()) for p in writers.iterdir()}
    assert set(pids) - {os.getpid()}, "no other process wrote pages"
    assert sum(pids.values()) == 50  # every shop page written once, by one of the two
    assert not multiprocessing.active_children()


@pytest.mark.parametrize("which", [0, 1], ids=["in-this-process", "in-the-forked-one"])
def test_a_failing_page_fails_as_it_does_in_one_process(synthetic, tmp_path, monkeypatch,
                                                         break_shop_page, which):
    # 10 shops (the per-shop retry writes every shop's pages on its own: keep it small)
    result, history, diff = _audit(synthetic, 8, 400)
    monkeypatch.setattr(partition, "PARALLEL_MIN_SHOPS", 4)
    monkeypatch.setattr("flows.partitioned.usable_cores", lambda: 2)
    monkeypatch.setenv("REFUND_AUDIT_PARALLEL", "true")
    # the first shop stays with the run's process, the second goes to the forked one
    assert 0.5 <= partition.CHILD_SHARE < 1
    broken = shop_keys(result)[which]
    break_shop_page(broken, "a value no test foresaw")
    serial, split = tmp_path / "serial", tmp_path / "split"
    pages, failures = partition.write_reports_isolated(result, serial, history=history,
                                                       lang="zh", diff=diff)
    assert [(f["platform"], f["shop_id"]) for f in failures] == [broken]
    (got, failed), _ = partition.write_reports_parallel(result, split, history=history,
                                                        lang="zh", diff=diff)
    assert failed == failures
    assert got == [split / p.relative_to(serial) for p in pages]
    assert _files(split) == _files(serial)
    name = shop_page_names(shop_keys(result))[broken]
    assert not (split / "shops" / f"{name}.html").exists()
    assert len(list((split / "shops").iterdir())) == len(shop_keys(result)) - 1
    assert not multiprocessing.active_children()


def test_a_failure_of_the_csv_files_stops_the_forked_writer(synthetic, tmp_path, monkeypatch):
    result, history, diff = _audit(synthetic)
    monkeypatch.setattr("flows.partitioned.usable_cores", lambda: 2)
    monkeypatch.setenv("REFUND_AUDIT_PARALLEL", "true")

    def disk_full():
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        partition.write_reports_parallel(result, tmp_path / "out", history=history,
                                         lang="zh", diff=diff, meanwhile=disk_full)
    assert not multiprocessing.active_children()


def test_few_shops_or_parallel_off_stay_in_one_process(result, tmp_path, monkeypatch):
    monkeypatch.setattr("flows.partitioned.usable_cores", lambda: 2)
    monkeypatch.setenv("REFUND_AUDIT_PARALLEL", "true")
    assert not partition.pages_in_parallel(partition.PARALLEL_MIN_SHOPS - 1)
    assert partition.pages_in_parallel(partition.PARALLEL_MIN_SHOPS)
    monkeypatch.setenv("REFUND_AUDIT_PARALLEL", "false")
    assert not partition.pages_in_parallel(500)
    monkeypatch.setenv("REFUND_AUDIT_PARALLEL", "true")
    monkeypatch.setattr("flows.partitioned.usable_cores", lambda: 1)
    assert not partition.pages_in_parallel(500)
