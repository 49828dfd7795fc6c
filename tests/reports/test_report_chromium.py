"""The rendered report in a real browser: Debian's headless Chromium.

Chromium is installed by ``scripts/ensure-packages.sh`` (``make test`` and CI run it first);
a missing browser fails these tests rather than skipping them. Screenshots are kept under
``test-artifacts/reports/`` (gitignored) for a human to look at.
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from reports.mail_body import build_mail
from reports.render import write_reports

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "reports"
WIDTH, HEIGHT = 1280, 2000

pytestmark = pytest.mark.service


def chromium(*args: str, user_data: Path) -> subprocess.CompletedProcess[str]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-packages.sh (make test does)")
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",  # tests run as root
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        # nothing the page asks for may reach a network, whatever it is
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={user_data}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


class Resources(HTMLParser):
    """Every URL a tag would load, and every tag name."""

    LOADING = {"img": "src", "script": "src", "iframe": "src", "link": "href", "source": "src",
               "video": "src", "audio": "src", "embed": "src", "object": "data"}  # fmt: skip

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        attrs = dict(attrs)
        if tag in self.LOADING and attrs.get(self.LOADING[tag]):
            self.urls.append(attrs[self.LOADING[tag]])
        if tag == "a" and re.match(r"\s*(https?:)?//", attrs.get("href") or ""):
            self.urls.append(attrs["href"])
        if re.search(r"url\(", attrs.get("style") or ""):
            self.urls.append(attrs["style"])


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_pages_load_nothing_from_outside(result, history, tmp_path):
    for path in write_reports(result, tmp_path, history=history):
        html = path.read_text(encoding="utf-8")
        parser = Resources()
        parser.feed(html)
        assert parser.urls == [], (path.name, parser.urls)
        assert not {"script", "iframe", "link", "img", "object", "embed"} & set(parser.tags)
        assert "@import" not in html


def overflow(page: Path, tmp_path: Path, width: int = 375) -> tuple[int, int]:
    """(content width, viewport width) of ``page`` laid out ``width`` px wide: the page is
    loaded in an iframe of that width (headless Chromium's window is at least 500 px wide),
    measured by a script in the wrapper (the page itself has none)."""
    wrapper = tmp_path / f"measure-{page.stem}.html"
    wrapper.write_text(
        f'<html><body><iframe id="f" src="{page.resolve().as_uri()}" '
        f'style="width:{width}px;height:800px;border:0"></iframe><script>'
        'document.getElementById("f").onload=function(){var d=this.contentDocument'
        '.documentElement;document.body.setAttribute("data-ov",d.scrollWidth+"/"+'
        "this.contentWindow.innerWidth);};</script></body></html>", "utf-8")
    run = chromium("--allow-file-access-from-files", "--window-size=1280,800", "--dump-dom",
                   wrapper.as_uri(), user_data=tmp_path / "profile-measure")  # fmt: skip
    found = re.search(r'data-ov="(\d+)/(\d+)"', run.stdout)
    assert found, run.stdout[-500:]
    return int(found.group(1)), int(found.group(2))


def test_report_renders_in_chromium_with_tables_and_no_console_errors(result, history, tmp_path):
    out = tmp_path / "out"
    write_reports(result, out, history=history)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for page, shot in [("shops/tg-flagship.html", "shop-tg-flagship.png"),
                       ("report.html", "report.png")]:  # fmt: skip
        url = (out / page).resolve().as_uri()
        png = tmp_path / shot
        chromium(f"--screenshot={png}", f"--window-size={WIDTH},{HEIGHT}", url,
                 user_data=tmp_path / "profile-shot")  # fmt: skip
        assert png_size(png) == (WIDTH, HEIGHT)
        # a blank page of this size is ~10 KB; the report has text, colour and bars
        assert png.stat().st_size > 60_000, png.stat().st_size
        shutil.copy(png, ARTIFACTS / shot)

        run = chromium("--enable-logging=stderr", "--v=0", "--dump-dom", url,
                       user_data=tmp_path / "profile-dom")  # fmt: skip
        assert console_messages(run.stderr) == []
        dom = run.stdout
        assert "<svg" not in dom
        if page.startswith("shops"):
            assert 'class="grid atrisk"' in dom
            assert dom.index("R-2002") < dom.index("R-2001")  # at-risk order survives
            assert dom.count('class="trend"') == 8  # a trend per KPI card
            assert 'href="../report.html"' in dom and 'href="../rules.html"' in dom
        else:
            assert 'href="shops/tg-flagship.html"' in dom


@pytest.mark.parametrize("page", ["report.html", "shops/tg-flagship.html", "rules.html"])
def test_pages_fit_a_375_px_phone_without_horizontal_overflow(result, history, tmp_path, page):
    out = tmp_path / "out"
    write_reports(result, out, history=history)
    content, viewport = overflow(out / page, tmp_path)
    assert viewport == 375
    assert content <= viewport, (page, content)


@pytest.mark.parametrize(("key", "shot"), [(("tmall_global", "tg-flagship"), "mail-shop.png"),
                                          (None, "mail-overview.png")])  # fmt: skip
def test_mail_body_at_375_px_no_overflow_no_console_errors(result, history, tmp_path, key,
                                                            shot):
    body = build_mail(result, key, history=history, diff=None)
    page = tmp_path / "mail.html"
    page.write_text(body.html, "utf-8")
    parser = Resources()
    parser.feed(body.html)
    assert parser.urls == [] and "svg" not in parser.tags
    run = chromium("--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri(),
                   user_data=tmp_path / "profile-dom")  # fmt: skip
    assert console_messages(run.stderr) == []
    content, viewport = overflow(page, tmp_path)
    assert content <= viewport == 375, content
    png = tmp_path / shot
    chromium(f"--screenshot={png}", "--window-size=375,2400", page.as_uri(),
             user_data=tmp_path / "profile-shot")  # fmt: skip
    assert png_size(png) == (375, 2400)
    assert png.stat().st_size > 40_000, png.stat().st_size
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(png, ARTIFACTS / shot)


def test_overflow_check_catches_a_too_wide_page(tmp_path):
    """The overflow measure above is not vacuous."""
    page = tmp_path / "wide.html"
    page.write_text('<html><body><table width="900"><tr><td>x</td></tr></table></body></html>',
                    "utf-8")
    content, viewport = overflow(page, tmp_path)
    assert viewport == 375 and content > 375


def test_console_check_catches_a_broken_page(tmp_path):
    """The console check above is not vacuous: a page with an error is caught."""
    page = tmp_path / "bad.html"
    page.write_text("<html><body><script>undefinedFn();</script></body></html>", "utf-8")
    run = chromium("--enable-logging=stderr", "--v=0", "--dump-dom", page.as_uri(),
                   user_data=tmp_path / "profile")  # fmt: skip
    assert any("undefinedFn" in line for line in console_messages(run.stderr))
