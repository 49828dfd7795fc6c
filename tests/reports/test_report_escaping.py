"""Every value from the data is inert in the report and the mail (house rule).

Puts ``<script>`` and an attribute-breaking ``" onerror="`` into every text field of every
table the report shows, renders, and parses the HTML: no script element, no event-handler
attribute, no attribute the templates did not write, and the payload still visible as text.
"""

from __future__ import annotations

from email import policy
from email.parser import BytesParser
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from checks.result import KPI_COLUMNS, QUARANTINE_COLUMNS
from reports.email import build_messages
from reports.mail_body import MailBuilder
from reports.render import write_reports

SCRIPT = "<script>alert(1)</script>"
ATTR = '" onerror="alert(1)'
SQUOTE = "' onmouseover='alert(1)"
PAYLOAD = f"{SCRIPT}{ATTR}{SQUOTE}"

# every attribute the templates (and the CSS inliner) write
ALLOWED_ATTRIBUTES = {
    "lang", "charset", "name", "content", "class", "style", "href",
    "width", "height", "viewbox", "role", "aria-label", "xmlns",
    "cellpadding", "cellspacing", "align", "bgcolor",
}  # fmt: skip


class Audit(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.extend((tag, name, value) for name, value in attrs)

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.text.append(data)


def inspect_html(html: str) -> Audit:
    audit = Audit()
    audit.feed(html)
    audit.close()
    assert "script" not in audit.tags
    for tag, name, value in audit.attributes:
        assert not name.startswith("on"), (tag, name, value)
        assert name in ALLOWED_ATTRIBUTES, (tag, name, value)
        if name == "href":
            assert value and not value.lower().startswith(("javascript:", "http:", "https:", "//"))
    return audit


def poisoned_result(build):
    """The tiny result with the payload in every text field of every table."""
    rows = []
    for status in ("at_risk", "violation", "contestable"):
        rows.append(
            build.finding(
                "RT001" if status != "contestable" else "DA001",
                status,
                "tmall_global",
                f"shop{PAYLOAD}",
                order_id=f"O{PAYLOAD}",
                refund_id=f"R{PAYLOAD}",
                message_id=f"M{PAYLOAD}",
                due_at="2026-11-20T06:00:00Z" if status != "contestable" else None,
                detail=f"detail {PAYLOAD}",
                evidence={
                    f"key{PAYLOAD}": f"value {PAYLOAD}",
                    "recipient": PAYLOAD,
                    "phone": PAYLOAD,
                    "text": f"text {PAYLOAD}",
                    "list": [PAYLOAD, PAYLOAD],
                    "nested": {PAYLOAD: PAYLOAD},
                },
            )
        )
    # a rule, severity, title and platform that come from the data only
    rows.append(
        build.finding("X" + PAYLOAD, "violation", PAYLOAD, PAYLOAD, refund_id=PAYLOAD)
        | {"severity": PAYLOAD, "title": PAYLOAD}
    )
    findings = build.frame(rows)
    kpis = pd.DataFrame(
        [
            {
                "platform": "tmall_global",
                "shop_id": f"shop{PAYLOAD}",
                "metric": PAYLOAD,
                "value": 0.5,
                "threshold": 0.1,
                "status": PAYLOAD,
                "better": PAYLOAD,
            },
            {
                "platform": PAYLOAD,
                "shop_id": PAYLOAD,
                "metric": "late_response_rate",
                "value": 0.5,
                "threshold": 0.1,
                "status": "breach",
                "better": "lower",
            },
        ],
        columns=[*KPI_COLUMNS, "better"],
    )
    quarantine = pd.DataFrame([[PAYLOAD] * len(QUARANTINE_COLUMNS)], columns=QUARANTINE_COLUMNS)
    quarantine["platform"], quarantine["shop_id"] = "tmall_global", f"shop{PAYLOAD}"
    catalog = [
        {"id": PAYLOAD, "family": PAYLOAD, "severity": PAYLOAD, "title": PAYLOAD,
         "policy": PAYLOAD, "source": PAYLOAD},
        *build.catalog,
    ]  # fmt: skip
    result = build.result(
        findings,
        kpis=kpis,
        quarantine=quarantine,
        catalog=catalog,
        shops=[("tmall_global", f"shop{PAYLOAD}"), (PAYLOAD, PAYLOAD)],
        run={
            "run_id": PAYLOAD,
            "as_of": build.as_of.isoformat(),
            "window_days": 30,
            "source": PAYLOAD,
            "audit_key": "k1",
            # shown on the overview, and on the shop page that they name
            "warnings": [f"shop tmall_global/shop{PAYLOAD}: warning {PAYLOAD}", PAYLOAD],
            "failures": [
                {"stage": PAYLOAD, "platform": "tmall_global", "shop_id": f"shop{PAYLOAD}",
                 "error": f"failure {PAYLOAD}"},
                {"stage": PAYLOAD, "platform": PAYLOAD, "shop_id": None, "error": PAYLOAD},
            ],
        },
    )
    result.counts[PAYLOAD] = {"read": 1, "valid": 0, "quarantined": 1, "superseded": 0}
    result.not_evaluated = [PAYLOAD]
    return result


def poisoned_diff() -> dict:
    """A re-audit diff (``reports.diff.report_diff``'s shape) with the payload everywhere."""
    def item(**extra):
        fields = ["rule_id", "status", "severity", "order_id", "refund_id", "message_id"]
        return {**{c: PAYLOAD for c in fields}, "platform": "tmall_global",
                "shop_id": f"shop{PAYLOAD}", "detail": f"diffdetail {PAYLOAD}", **extra}

    run = {"run_id": f"run{PAYLOAD}", "audit_key": PAYLOAD, "as_of": PAYLOAD,
           "recorded_at": PAYLOAD, "source": PAYLOAD, "window_days": PAYLOAD}
    return {
        "kind": PAYLOAD, "before": run, "after": dict(run),
        "counts": {"appeared": 2, "disappeared": 1, "changed": 1, "unchanged": PAYLOAD},
        "appeared": [item(), item(platform=PAYLOAD, shop_id=PAYLOAD)],
        "disappeared": [item()],
        "changed": [item(status_before=PAYLOAD, status_after=f"after {PAYLOAD}")],
        "truncated": True,
    }  # fmt: skip


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_payloads_are_inert_in_every_page(build, tmp_path, lang):
    result = poisoned_result(build)
    paths = write_reports(result, tmp_path, history=None, lang=lang, diff=poisoned_diff())
    assert len(paths) == 4  # overview + the two poisoned shops + the rule catalog
    for path in paths:
        assert path.parent in (tmp_path, tmp_path / "shops")  # no path traversal
        assert set(path.name) <= set(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_"
        )
        audit = inspect_html(path.read_text(encoding="utf-8"))
        text = "".join(audit.text)
        assert SCRIPT in text  # shown, as text
    shop_page = next(p for p in paths if p.parent.name == "shops" and "shop" in p.name)
    text = "".join(inspect_html(shop_page.read_text("utf-8")).text)
    for visible in (f"O{PAYLOAD}", f"detail {PAYLOAD}", f"value {PAYLOAD}", f"key{PAYLOAD}",
                    f"diffdetail {PAYLOAD}", f"after {PAYLOAD}", f"run{PAYLOAD}",
                    f"warning {PAYLOAD}", f"failure {PAYLOAD}"):  # fmt: skip
        assert visible in text
    overview = "".join(inspect_html((tmp_path / "report.html").read_text("utf-8")).text)
    assert f"warning {PAYLOAD}" in overview and f"diffdetail {PAYLOAD}" in overview
    assert "recipient: " + PAYLOAD not in text  # masked, not shown


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_payloads_are_inert_in_every_mail_body(build, lang):
    result = poisoned_result(build)
    builder = MailBuilder(result, lang=lang, diff=poisoned_diff())
    for key in [None, ("tmall_global", f"shop{PAYLOAD}"), (PAYLOAD, PAYLOAD)]:
        body = builder.build(key)
        text = "".join(inspect_html(body.html).text)
        assert SCRIPT in text
        assert "\n" not in body.subject
        assert SCRIPT in body.text  # plain text is not HTML: shown as written
    shop = builder.build(("tmall_global", f"shop{PAYLOAD}"))
    text = "".join(inspect_html(shop.html).text)
    for visible in (f"O{PAYLOAD}", f"detail {PAYLOAD}", f"warning {PAYLOAD}", f"after {PAYLOAD}"):
        assert visible in text


def test_payloads_are_inert_in_mail(build, tmp_path: Path):
    result = poisoned_result(build)
    recipients = {f"shop{PAYLOAD}": ["team@example.com"], "default": ["lead@example.com"]}
    messages = build_messages(result, tmp_path, recipients, lang="en")
    assert len(messages) == 2
    for msg in messages:
        assert "\n" not in msg["Subject"] and "\r" not in msg["Subject"]
        html = msg.get_body(("html",)).get_content()
        inspect_html(html)
        for part in msg.iter_attachments():
            assert set(part.get_filename()) <= set(
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_"
            )


def test_header_injection_through_a_shop_id_is_neutralised(build, tmp_path):
    evil = "s1\r\nBcc: attacker@example.com"
    row = build.finding("RT001", "violation", "tmall", evil, refund_id="R1")
    result = build.result(build.frame([row]), shops=[("tmall", evil)])
    (msg,) = build_messages(result, tmp_path, {evil: ["team@example.com"]}, lang="en")
    assert msg["Bcc"] is None
    assert "\n" not in msg["Subject"]
    headers = msg.as_bytes().split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    assert not any(line.lower().startswith(b"bcc:") for line in headers)
    reparsed = BytesParser(policy=policy.default).parsebytes(msg.as_bytes())
    assert reparsed["Bcc"] is None
