"""Platform profiles are checked on load: an unknown key (a typo) or a wrong value is an
error naming the file and the key, never a silently disabled rule."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from checks.profiles import PROFILE_DIR, load_profiles
from schemas.errors import InputError


@pytest.fixture
def profiles(tmp_path) -> Path:
    d = tmp_path / "profiles"
    shutil.copytree(PROFILE_DIR, d)
    return d


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_shipped_profiles_load():
    ps = load_profiles(None)
    assert set(ps) == {"tmall_global", "tmall", "jd_worldwide", "amazon_us", "ebay_us"}
    v = ps["tmall_global"].versions[0]
    assert v.duration("refund_response_unshipped").amount == 48
    assert v.duration("quality_dispute_window").amount == 24
    assert ps["tmall"].versions[0].duration("quality_dispute_window") is None  # hours: null
    assert ps["amazon_us"].versions[0].duration("refund_after_receipt").clock == "business"


@pytest.mark.parametrize(("old", "new", "key", "why"), [
    ("      refund_response_unshipped:\n        hours: 48",
     "      refund_response_unshipped:\n        hour: 48",
     "versions.0.settings.refund_response_unshipped.hour", "unknown key (a typo?)"),
    ("hours: 120", "hours: -120",
     "versions.0.settings.refund_response_shipped.hours", "greater than 0"),
    ("hours: 120", "hours: .nan", "versions.0.settings.refund_response_shipped.hours",
     "finite number"),
    ("hours: 120", "hours: soon", "versions.0.settings.refund_response_shipped.hours",
     "valid number"),
    ("        anchor: next_midnight", "        anchor: midnight",
     "versions.0.settings.no_reason_return_window.anchor", "'next_midnight' or 'delivery'"),
    ("timezone: Asia/Shanghai", "timezone: Asia/Beijing", "timezone",
     "unknown IANA time zone"),
    ("intervention_rate: {value: 0.01", "intervention_rat: {value: 0.01",
     "versions.0.thresholds.intervention_rat", "unknown key (a typo?)"),
    ('effective_from: "2000-01-01T00:00:00+08:00"', 'effective_from: "2000-01-01T00:00:00"',
     "versions.0.effective_from", "needs an offset"),
    ("      message_response:\n        hours: 24\n",
     "      message_response:\n        hours: 24\n        days: 1\n",
     "versions.0.settings.message_response", "exactly one of 'hours' or 'days'"),
])
def test_a_wrong_profile_is_an_error_naming_file_and_key(profiles, old, new, key, why):
    path = profiles / "tmall_global.yaml"
    edit(path, old, new)
    with pytest.raises(InputError) as exc:
        load_profiles(str(profiles))
    msg = str(exc.value)
    assert str(path) in msg and key in msg and why in msg, msg
    assert "\n" not in msg


def test_a_missing_setting_is_an_error(profiles):
    path = profiles / "jd_worldwide.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("      message_response:")
    end = text.index("      return_address_country:")
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    with pytest.raises(InputError, match=r"versions\.0\.settings\.message_response: Field "
                                         r"required"):
        load_profiles(str(profiles))


def test_two_files_for_one_platform_is_an_error(profiles):
    shutil.copy(profiles / "tmall.yaml", profiles / "tmall_copy.yaml")
    with pytest.raises(InputError, match="are both for the platform 'tmall'"):
        load_profiles(str(profiles))


def test_unreadable_yaml_is_an_error(profiles):
    (profiles / "tmall.yaml").write_text("platform: [tmall\n", encoding="utf-8")
    with pytest.raises(InputError, match="tmall.yaml cannot be read"):
        load_profiles(str(profiles))


def _read_without_parsing(monkeypatch) -> None:
    """From here on, a profile file that is parsed fails the test."""
    import checks.profile_file

    def parse(path):
        raise AssertionError(f"{path} was parsed, not taken from the cache")

    monkeypatch.setattr(checks.profile_file, "parse", parse)


def test_checked_profiles_come_from_the_cache_until_a_file_changes(profiles, tmp_path,
                                                                   monkeypatch):
    monkeypatch.setenv("REFUND_AUDIT_CACHE_DIR", str(tmp_path / "cache"))
    first = load_profiles(str(profiles))
    load_profiles.cache_clear()  # a new process, as far as the in-process memo goes
    with monkeypatch.context() as m:
        _read_without_parsing(m)
        again = load_profiles(str(profiles))
    assert again == first and again is not first
    assert again["tmall_global"].versions[0].duration("refund_response_unshipped").amount == 48
    assert again["tmall_global"].path == str(profiles / "tmall_global.yaml")

    # an edited file is read afresh: its new value, and its errors
    edit(profiles / "tmall_global.yaml", "hours: 48", "hours: 36")
    load_profiles.cache_clear()
    edited = load_profiles(str(profiles))
    assert edited["tmall_global"].versions[0].duration("refund_response_unshipped").amount == 36
    edit(profiles / "tmall_global.yaml", "hours: 36", "hour: 36")
    load_profiles.cache_clear()
    with pytest.raises(InputError, match="unknown key"):
        load_profiles(str(profiles))
    # ... and so is a folder with a file added, under the name it has there
    (profiles / "tmall_global.yaml").unlink()
    shutil.copy(PROFILE_DIR / "tmall_global.yaml", profiles / "tmg.yaml")
    load_profiles.cache_clear()
    renamed = load_profiles(str(profiles))
    assert renamed["tmall_global"].path == str(profiles / "tmg.yaml")
    load_profiles.cache_clear()


def test_profiles_without_the_cache_are_read_as_with_it(profiles, monkeypatch):
    monkeypatch.setenv("REFUND_AUDIT_CACHE_DIR", "off")
    load_profiles.cache_clear()
    ps = load_profiles(str(profiles))
    assert set(ps) == {"tmall_global", "tmall", "jd_worldwide", "amazon_us", "ebay_us"}
    load_profiles.cache_clear()


@pytest.mark.parametrize(("when", "version"), [
    ("1999-12-31T23:59:59-08:00", "2019.1"),   # before the first version: the first
    ("2000-01-01T00:00:00-08:00", "2019.1"),   # from its start
    ("2020-04-30T23:59:59-07:00", "2019.1"),
    ("2020-05-01T00:00:00-07:00", "2020.05"),  # from the second version's start
    ("2020-05-01T07:00:00Z", "2020.05"),       # the same instant written in UTC
    ("2020-05-01T06:59:59.999999Z", "2019.1"),
    ("2026-11-20T02:00:00+08:00", "2020.05"),  # after the last: the last
])
def test_the_version_in_force_at_an_instant(when, version):
    ebay = load_profiles(None)["ebay_us"]
    ts = pd.Timestamp(when)
    assert ebay.at(ts).version == version
    # the same as the per-row lookup the rules use
    rows = pd.Series([ts]).dt.tz_convert("UTC")
    assert ebay.versions[int(ebay.version_index(rows)[0])].version == version
