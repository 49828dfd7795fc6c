"""The output folder is written as a unit: a reader sees the previous complete audit or the
new complete one, never a mix, whatever happens while writing (kill -9, full disk, a folder
that cannot be written), and a shop gone from the audit leaves no page behind.

Real conditions, no mocks: the command is killed with SIGKILL mid-write; the full and the
read-only disks are tmpfs mounts (the test machine runs as root; see the fixture).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reports.outputs import StagedFolder
from sources.generate import generate_tables
from sources.writers import write_csv_folder

AS_OF = "2026-11-20T02:00:00+08:00"
FILES = ("findings.csv", "kpis.csv", "quarantine.csv", "run.json", "report.html")


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def _complete(folder: Path) -> dict:
    """The folder holds a whole audit: every file, and pages for exactly run.json's shops."""
    for name in FILES:
        assert (folder / name).is_file(), name
    run = json.loads((folder / "run.json").read_text())
    lines = (folder / "findings.csv").read_text().splitlines()
    assert len(lines) - 1 == sum(sum(v.values()) for v in run["findings"].values())
    return run


# --------------------------------------------------------------------------- the mechanics


def test_commit_replaces_the_whole_folder(tmp_path):
    final = tmp_path / "latest"
    first = StagedFolder(final)
    (first.open() / "shops").mkdir()
    (first.tmp / "shops" / "gone-shop.html").write_text("old page")
    (first.tmp / "run.json").write_text('{"run_id": "old"}')
    first.commit()
    assert (final / "shops" / "gone-shop.html").read_text() == "old page"

    second = StagedFolder(final)
    tmp = second.open()
    (tmp / "shops").mkdir()
    (tmp / "shops" / "kept-shop.html").write_text("new page")
    (tmp / "run.json").write_text('{"run_id": "new"}')
    assert (final / "run.json").read_text() == '{"run_id": "old"}'  # untouched until commit
    assert second.path(tmp / "shops" / "kept-shop.html") == final / "shops" / "kept-shop.html"
    second.commit()
    assert sorted(p.name for p in (final / "shops").iterdir()) == ["kept-shop.html"]
    assert (final / "run.json").read_text() == '{"run_id": "new"}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest"]  # nothing left over


def test_leftovers_of_a_killed_run_are_cleaned_up_or_put_back(tmp_path):
    final = tmp_path / "latest"
    dead = _dead_pid()
    half = tmp_path / f".latest.writing-{dead}-abcd1234"
    half.mkdir()
    (half / "findings.csv").write_text("half")
    # Killed between the two renames: the old folder is aside and there is no "latest".
    aside = tmp_path / f".latest.old-{dead}-abcd1234"
    aside.mkdir()
    (aside / "run.json").write_text('{"run_id": "old"}')
    staged = StagedFolder(final)
    staged.open()
    assert not half.exists() and not aside.exists()
    assert (final / "run.json").read_text() == '{"run_id": "old"}'
    staged.discard()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest"]
    # A staging folder of a process that still runs (this one) is left alone.
    busy = tmp_path / f".latest.writing-{os.getpid()}-busy0000"
    busy.mkdir()
    StagedFolder(final).recover()
    assert busy.exists()


# --------------------------------------------------------------------------- the command


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sources")
    return {
        "five": write_csv_folder(generate_tables(2000, as_of=AS_OF, shops=5), root / "five"),
        "big": write_csv_folder(generate_tables(40000, as_of=AS_OF, shops=120), root / "big"),
    }


def run_cli(cli, source: Path, out: Path, **popen) -> subprocess.CompletedProcess | subprocess.Popen:
    args = [*cli, "run", "--source", str(source), "--out", str(out), "--as-of", AS_OF]
    if popen:
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True, **popen)
    return subprocess.run(args, capture_output=True, text=True, timeout=300)


@pytest.fixture
def tmpfs(tmp_path):
    """Mount a small tmpfs; yields ``mount(size_kb, readonly=False) -> Path``."""
    mounted: list[Path] = []

    def mount(size_kb: int, readonly: bool = False) -> Path:
        at = tmp_path / f"disk{len(mounted)}"
        at.mkdir()
        opts = f"size={size_kb}k" + (",ro" if readonly else "")
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(at)],
                             capture_output=True, text=True)
        if res.returncode:
            pytest.fail(f"cannot mount a tmpfs for the disk tests (needs root): {res.stderr}")
        mounted.append(at)
        return at

    yield mount
    for at in mounted:
        subprocess.run(["umount", "-l", str(at)], check=False)


def _one_paragraph_error(res: subprocess.CompletedProcess) -> str:
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    errors = [ln for ln in res.stderr.splitlines() if "refund-audit: error:" in ln]
    assert len(errors) == 1, res.stderr
    return errors[0]


@pytest.mark.prefect
@pytest.mark.slow  # three runs of the command, one of 40k orders: about a minute
def test_kill_9_while_writing_leaves_the_old_audit_or_nothing(cli, sources, tmp_path):
    out = tmp_path / "out" / "latest"
    # A first run killed while writing: no folder at all (not a half of one).
    _kill_while_writing(cli, sources["big"], out)
    assert not out.exists(), sorted(p.name for p in out.iterdir())
    res = run_cli(cli, sources["five"], out)
    assert res.returncode == 0, res.stderr
    before = _complete(out)
    before_bytes = {n: (out / n).read_bytes() for n in FILES}
    # A re-run killed while writing: the earlier audit, byte for byte.
    _kill_while_writing(cli, sources["big"], out)
    assert {n: (out / n).read_bytes() for n in FILES} == before_bytes
    assert _complete(out)["run_id"] == before["run_id"]
    # The next run cleans up after the killed one.
    res = run_cli(cli, sources["five"], out)
    assert res.returncode == 0, res.stderr
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".latest.")]


def _kill_while_writing(cli, source: Path, out: Path) -> None:
    proc = run_cli(cli, source, out, env=os.environ.copy())
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline:
            staging = list(out.parent.glob(".latest.writing-*")) if out.parent.exists() \
                else []
            if staging and any(staging[0].iterdir()):  # files are being written
                # killed at once: writing the whole folder takes well under a second now
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(30)
                return
            if proc.poll() is not None:
                pytest.fail("the run ended before it could be killed while writing: "
                            + proc.stderr.read().decode()[-2000:])
            time.sleep(0.002)
        pytest.fail("the run never started writing")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)


def _write(result, out: Path):
    """The pipeline's write step (no Prefect run needed); the history store beside ``out``."""
    from flows.options import options
    from flows.pipeline import write

    result.run.setdefault("timings", {})
    result.run.setdefault("started_at", "2026-11-20T02:00:05+08:00")
    return write(result, options(source="test-source", out=out, as_of=AS_OF))


def test_a_full_disk_keeps_the_earlier_audit_and_says_so(tables, make_result, tmpfs,
                                                          tmp_path):
    from schemas.errors import InputError

    first, second = make_result(tables, run_id="run-first"), make_result(tables)
    _write(first, tmp_path / "probe")
    size = sum(p.stat().st_size for p in (tmp_path / "probe").rglob("*") if p.is_file())
    disk = tmpfs(int(size * 1.5 / 1024))  # room for one audit, not for a second beside it
    out = disk / "latest"
    _write(first, out)
    before_bytes = {n: (out / n).read_bytes() for n in FILES}
    with pytest.raises(InputError) as failed:
        _write(second, out)
    message = str(failed.value)
    assert message.startswith(f"Could not write the outputs to {out}: the disk is full")
    assert "still holds the earlier complete audit (run run-first" in message
    assert {n: (out / n).read_bytes() for n in FILES} == before_bytes
    assert sorted(p.name for p in disk.iterdir()) == ["latest"]  # no half-written sibling


@pytest.mark.prefect
def test_an_unwritable_out_exits_2_with_one_paragraph(cli, sources, tmpfs):
    disk = tmpfs(1024, readonly=True)
    err = _one_paragraph_error(run_cli(cli, sources["five"], disk / "latest"))
    assert f"Could not write the outputs to {disk / 'latest'}" in err
    assert "Read-only file system" in err and "No output folder was created" in err


def test_a_shop_gone_from_the_audit_leaves_no_page(make_result, tmp_path):
    five = generate_tables(2000, as_of=AS_OF, shops=5)
    four = generate_tables(2000, as_of=AS_OF, shops=4)
    out = tmp_path / "latest"
    _write(make_result(five), out)
    pages_five = {p.name for p in (out / "shops").iterdir()}
    assert any("tmg-shop-05" in name for name in pages_five)
    _write(make_result(four), out)
    pages_four = {p.name for p in (out / "shops").iterdir()}
    assert pages_four < pages_five and not any("tmg-shop-05" in name for name in pages_four)
    assert "tmg-shop-05" not in (out / "report.html").read_text()
