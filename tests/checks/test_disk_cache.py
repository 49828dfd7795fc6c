"""The per-machine cache of compiled set-up (checks.disk_cache): an entry comes back only
for the same key, a broken or unwritable cache is skipped, and it can be turned off."""

from __future__ import annotations

from checks import disk_cache


def test_an_entry_comes_back_for_its_key_only(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("REFUND_AUDIT_CACHE_DIR", str(tmp_path / "c"))
    key = disk_cache.key_of(b"phrases v1", "code v1")
    assert disk_cache.load("thing", key) is None
    disk_cache.store("thing", key, {"a": (1, 2)})
    assert disk_cache.load("thing", key) == {"a": (1, 2)}
    assert disk_cache.load("thing", disk_cache.key_of(b"phrases v2", "code v1")) is None
    # the parts are length-prefixed: moving a byte between parts is another key
    assert disk_cache.key_of(b"ab", "c") != disk_cache.key_of(b"a", "bc")


def test_a_broken_entry_is_rebuilt_not_an_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("REFUND_AUDIT_CACHE_DIR", str(tmp_path))
    key = disk_cache.key_of("x")
    (tmp_path / f"thing-{key}.pickle").write_bytes(b"\x80\x05 truncated")
    assert disk_cache.load("thing", key) is None


def test_unwritable_or_off_means_no_cache(tmp_path, monkeypatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("REFUND_AUDIT_CACHE_DIR", str(blocker / "sub"))
    disk_cache.store("thing", "k", 1)  # no exception
    assert disk_cache.load("thing", "k") is None
    monkeypatch.setenv("REFUND_AUDIT_CACHE_DIR", "off")
    assert disk_cache.cache_dir() is None
    disk_cache.store("thing", "k", 1)
    assert disk_cache.load("thing", "k") is None


def test_old_entries_are_pruned(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("REFUND_AUDIT_CACHE_DIR", str(tmp_path))
    for i in range(disk_cache.KEEP + 3):
        disk_cache.store("thing", f"k{i}", i)
    assert len(list(tmp_path.glob("thing-*.pickle"))) == disk_cache.KEEP
    assert disk_cache.load("thing", f"k{disk_cache.KEEP + 2}") == disk_cache.KEEP + 2
    assert not list(tmp_path.glob(".thing-*"))  # no temporary file left
