"""The morning mail: recipients file, message structure, and delivery through a real SMTP
server (aiosmtpd on loopback) with the outbox, the retry and the idempotency key."""

from __future__ import annotations

import csv
import io
import json
import logging
import re
import socket
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from reports.email import (
    KEY_HEADER,
    Recipients,
    SmtpConfig,
    build_mails,
    build_messages,
    deliver,
    load_mails,
    load_recipients,
    read_recipients,
    recipient_warnings,
    save_mails,
)
from reports.outputs import findings_frame

EXAMPLE = Path(__file__).resolve().parents[2] / "reports" / "recipients.example.yaml"
RECIPIENTS = {
    "tg-flagship": ["tg-team@example.com", "tg-boss@example.com"],
    "amazon_us:amz-east": ["us@example.com"],
    "default": ["lead@example.com"],
}


# --------------------------------------------------------------------------- recipients


def test_example_recipients_file_loads():
    recipients = load_recipients(EXAMPLE)
    assert recipients["default"] == ["compliance-lead@example.com", "agency-ops@example.com"]
    assert recipients["tm-store"] == ["tm-service@example.com"]
    assert recipients["amazon_us:amz-east"] == ["us-returns@example.com"]


def test_toml_recipients_file_loads(tmp_path):
    path = tmp_path / "recipients.toml"
    path.write_text('default = ["a@example.com"]\n"tg-flagship" = "b@example.com"\n', "utf-8")
    assert load_recipients(path) == {"default": ["a@example.com"], "tg-flagship": ["b@example.com"]}


@pytest.mark.parametrize(
    "content",
    ["- just\n- a list\n", "shop: {a: b}\n", "shop: [a@b.c, 3]\n", "shop: [a@b.c\n"],
)
def test_bad_recipients_files_are_rejected_with_the_file_named(tmp_path, content):
    path = tmp_path / "recipients.yaml"
    path.write_text(content, "utf-8")
    with pytest.raises(ValueError, match="recipients.yaml"):
        load_recipients(path)


def test_an_invalid_address_is_left_out_and_named(tmp_path):
    path = tmp_path / "recipients.yaml"
    path.write_text("tg-flagship: [ok@example.com, not-an-address, 'a@@example.com']\n",
                    "utf-8")
    recipients = read_recipients(path)
    assert recipients.by_key == {"tg-flagship": ["ok@example.com"]}
    assert len(recipients.problems) == 2
    assert "'not-an-address' is not a valid e-mail address" in recipients.problems[0]
    assert "'a@@example.com' is not a valid e-mail address" in recipients.problems[1]


def test_recipient_warnings_name_unknown_keys_and_shops_nobody_hears_from(result):
    recipients = Recipients(
        {"default": ["lead@example.com"], "tg-flagshp": ["x@example.com"],
         "tmall:tm-store": ["tm@example.com"], "nothing-like-it": ["y@example.com"]},
        problems=["recipients file r.yaml: tm-store: 'bad' is not a valid e-mail address"])
    warnings = recipient_warnings(recipients, result)
    assert warnings == [
        "recipients file r.yaml: tm-store: 'bad' is not a valid e-mail address",
        "recipients file: 'tg-flagshp' is not a shop of this source, so nobody gets mail "
        "through it; did you mean 'tg-flagship'?",
        "recipients file: 'nothing-like-it' is not a shop of this source, so nobody gets mail "
        "through it",
        # the tiny result (conftest): 9 findings for tg-flagship, 3 for tm-store (mapped
        # here), 2 for amz-east; jd-quiet has none, so no warning for it
        "shop amazon_us/amz-east: 2 finding(s) but no recipients in the recipients file: its "
        "report was not mailed",
        "shop tmall_global/tg-flagship: 9 finding(s) but no recipients in the recipients "
        "file: its report was not mailed",
    ]


# --------------------------------------------------------------------------- messages


def test_one_message_per_shop_with_recipients_plus_the_overview(result, tmp_path):
    messages = build_messages(result, tmp_path, RECIPIENTS, lang="en")
    keys = [m[KEY_HEADER].rsplit(":", 1) for m in messages]
    assert [k for k, _ in keys] == [
        "k-demo-2026-11-20-30d:amazon_us:amz-east",
        "k-demo-2026-11-20-30d:tmall_global:tg-flagship",
        "k-demo-2026-11-20-30d:all",
    ]
    assert all(re.fullmatch("[0-9a-f]{12}", digest) for _, digest in keys)
    tg = messages[1]
    assert tg["To"] == "tg-team@example.com, tg-boss@example.com"
    assert tg["Subject"] == "[Refund audit] tg-flagship (tmall_global) 2026-11-20 · Action needed"
    assert tg["Date"] and tg["Message-ID"].endswith("@refund-audit>")
    assert tg.get_content_type() == "multipart/mixed"
    alternative = next(p for p in tg.walk() if p.get_content_type() == "multipart/alternative")
    assert [p.get_content_type() for p in alternative.iter_parts()] == ["text/plain", "text/html"]
    html = tg.get_body(("html",)).get_content()
    assert "<style" in html and 'style="' in html  # inlined, media rules kept
    assert 'href="../report.html"' not in html  # no links to files the reader lacks
    text = tg.get_body(("plain",)).get_content()
    # the body is the mail body builder's (reports.mail_body); here: the at-risk item first,
    # in the shop's zone, with its next action, and a KPI with its value
    assert "- 2026-11-20 12:30 (UTC+08:00)" in text
    assert "Respond to the platform intervention with evidence · RT002" in text
    assert "Late response rate: 12.50%" in text


def test_the_message_id_is_stable_across_builds(result, tmp_path):
    first = build_messages(result, tmp_path, RECIPIENTS, lang="en")
    again = build_messages(result, tmp_path, RECIPIENTS, lang="en")
    assert [m["Message-ID"] for m in first] == [m["Message-ID"] for m in again]


def test_the_key_falls_back_to_the_run_id(build, tmp_path):
    result = build.result(run={"run_id": "run-9", "as_of": build.as_of.isoformat()})
    (msg,) = build_messages(result, tmp_path, {"tm-store": ["a@example.com"]}, lang="en")
    assert msg[KEY_HEADER].startswith("run-9:tmall:tm-store:")


def test_attachment_is_the_shops_findings_csv(result, tmp_path):
    messages = build_messages(result, tmp_path, RECIPIENTS, lang="zh")
    (attachment,) = list(messages[1].iter_attachments())
    assert attachment.get_filename() == "findings-tg-flagship.csv"
    rows = parse_csv(attachment.get_content())
    expected = findings_frame(result.findings[result.findings["shop_id"] == "tg-flagship"])
    assert rows == expected.astype(str).to_dict("records")
    assert list(rows[0]) == list(expected.columns)


def parse_csv(content: str | bytes) -> list[dict[str, str]]:
    if isinstance(content, bytes):
        content = content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(content.lstrip("\ufeff"))))


# --------------------------------------------------------------------------- delivery


class Inbox:
    """aiosmtpd handler keeping what arrived."""

    def __init__(self) -> None:
        self.envelopes: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # the name aiosmtpd calls
        self.envelopes.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    """Start (and stop) an SMTP server on loopback; returns a function taking the port."""
    started = []

    def start(port: int, **kwargs) -> Inbox:
        inbox = Inbox()
        controller = Controller(inbox, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        started.append(controller)
        return inbox

    yield start
    for controller in started:
        controller.stop()


def config(port: int, **kwargs) -> SmtpConfig:
    return SmtpConfig(
        host="127.0.0.1",
        port=port,
        security="none",
        sender="audit@example.com",
        timeout=5,
        retry_delays=(0.05,),
        **kwargs,
    )


@pytest.mark.service
def test_deliver_sends_each_message_once(result, tmp_path, smtp_server):
    port = free_port()
    inbox = smtp_server(port)
    outbox, sent_log = tmp_path / "outbox", tmp_path / "sent.json"
    messages = build_messages(result, tmp_path, RECIPIENTS, lang="en")

    report = deliver(messages, config(port), outbox, sent_log)
    assert report.ok and len(report.sent) == 3 and not report.pending
    assert sorted(rcpts for rcpts, _ in inbox.envelopes) == [
        ["lead@example.com"],
        ["tg-team@example.com", "tg-boss@example.com"],
        ["us@example.com"],
    ]
    received = {
        m[KEY_HEADER].strip(): m
        for m in (message_from_bytes(raw, policy=policy.default) for _, raw in inbox.envelopes)
    }
    (tg,) = [m for k, m in received.items()
             if k.startswith("k-demo-2026-11-20-30d:tmall_global:tg-flagship:")]
    assert tg["From"] == "audit@example.com"
    assert tg["Subject"].startswith("[Refund audit] tg-flagship (tmall_global)")
    html = tg.get_body(("html",)).get_content()
    for at_risk in ("R-2002", "R-2001", "M-3001", "Respond to the platform intervention"):
        assert at_risk in html
    assert html.index("R-2002") < html.index("R-2001") < html.index("M-3001")
    assert tg.get_body(("plain",)) is not None
    (attachment,) = list(tg.iter_attachments())
    rows = parse_csv(attachment.get_content())
    assert sorted(r["refund_id"] or r["message_id"] for r in rows) == sorted(
        ["R-2001", "R-2002", "M-3001", "R-2004", "R-2005", "R-2006", "R-2007", "R-2008", "R-2009"]
    )
    assert {r["shop_id"] for r in rows} == {"tg-flagship"}
    assert list(outbox.glob("*.eml")) == []
    assert set(json.loads(sent_log.read_text())["sent"]) == set(received)

    # the same audit again (a re-run): nothing is sent twice
    again = deliver(build_messages(result, tmp_path, RECIPIENTS, lang="en"), config(port),
                    outbox, sent_log)  # fmt: skip
    assert again.sent == [] and len(again.already_sent) == 3
    assert len(inbox.envelopes) == 3
    assert list(outbox.glob("*.eml")) == []


@pytest.mark.service
def test_server_down_keeps_messages_in_the_outbox_until_the_next_run(result, tmp_path, smtp_server):
    port = free_port()  # nothing listens here yet
    outbox, sent_log = tmp_path / "outbox", tmp_path / "sent.json"
    messages = build_messages(result, tmp_path, RECIPIENTS, lang="en")

    down = deliver(messages, config(port), outbox, sent_log)
    assert down.sent == [] and len(down.pending) == 3 and not down.ok
    assert "ConnectionRefusedError" in down.error
    assert len(list(outbox.glob("*.eml"))) == 3
    assert not sent_log.exists() or json.loads(sent_log.read_text())["sent"] == {}

    # the server is back; the next run has nothing new to send, the outbox goes first
    inbox = smtp_server(port)
    retry = deliver([], config(port), outbox, sent_log)
    assert len(retry.sent) == 3 and retry.ok
    assert len(inbox.envelopes) == 3
    assert list(outbox.glob("*.eml")) == []

    # a re-run of the same audit later: still exactly once
    rerun = deliver(messages, config(port), outbox, sent_log)
    assert rerun.sent == [] and len(inbox.envelopes) == 3


@pytest.mark.service
def test_a_rerun_while_the_server_is_down_queues_one_copy(result, tmp_path, smtp_server):
    port = free_port()
    outbox, sent_log = tmp_path / "outbox", tmp_path / "sent.json"
    for _ in range(2):
        deliver(build_messages(result, tmp_path, RECIPIENTS, lang="en"), config(port),
                outbox, sent_log)  # fmt: skip
    assert len(list(outbox.glob("*.eml"))) == 3
    inbox = smtp_server(port)
    deliver([], config(port), outbox, sent_log)
    assert len(inbox.envelopes) == 3


@pytest.mark.service
def test_login_password_is_used_and_never_written_or_logged(result, tmp_path, smtp_server, caplog):
    secret = "pa55-Wörd-never-logged"
    seen = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == secret.encode()
        seen.append(ok)
        return AuthResult(success=ok, handled=False)

    port = free_port()
    inbox = smtp_server(port, authenticator=authenticator, auth_require_tls=False)
    outbox, sent_log = tmp_path / "outbox", tmp_path / "sent.json"
    messages = build_messages(result, tmp_path, RECIPIENTS, lang="en")
    caplog.set_level(logging.DEBUG)

    wrong = deliver(messages, config(port, username="audit", password="wrong"), outbox, sent_log)
    assert wrong.sent == [] and "SMTPAuthenticationError" in wrong.error
    good = deliver([], config(port, username="audit", password=secret), outbox, sent_log)
    assert len(good.sent) == 3 and seen[-1] is True and len(inbox.envelopes) == 3

    assert secret not in repr(config(port, username="audit", password=secret))
    assert secret not in caplog.text and "wrong" not in caplog.text
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


class Picky(Inbox):
    """Rejects some recipients: 550 for good, 450 for now."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("gone@"):
            return "550 5.1.1 no such user"
        if address.startswith("busy@"):
            return "450 4.2.1 try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.mark.service
def test_rejected_messages_are_kept_apart_and_temporary_failures_retried(result, tmp_path):
    port = free_port()
    inbox = Picky()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        recipients = {"tg-flagship": ["gone@example.com"], "tm-store": ["busy@example.com"],
                      "amz-east": ["ok@example.com", "gone@example.com"]}  # fmt: skip
        outbox, sent_log = tmp_path / "outbox", tmp_path / "sent.json"
        messages = build_messages(result, tmp_path, recipients, lang="en")
        report = deliver(messages, config(port), outbox, sent_log)
    finally:
        controller.stop()
    key = {m["X-Refund-Audit-Shop"]: m[KEY_HEADER].strip() for m in messages}
    assert report.sent == [key["amazon_us:amz-east"]]  # one of two recipients took it
    assert list(report.failed) == [key["tmall_global:tg-flagship"]]
    assert "550" in report.failed[key["tmall_global:tg-flagship"]]
    assert report.pending == [key["tmall:tm-store"]]
    assert len(list((outbox / "failed").glob("*.eml"))) == 1
    assert len(list(outbox.glob("*.eml"))) == 1  # the 450 one, for the next run
    sent = json.loads(sent_log.read_text())["sent"][key["amazon_us:amz-east"]]
    assert sent["recipients"] == ["ok@example.com"] and sent["refused"] == ["gone@example.com"]
    assert [rcpts for rcpts, _ in inbox.envelopes] == [["ok@example.com"]]


# --------------------------------------------------------------------------- ledger


class LedgerBreaker(Inbox):
    """Accepts every message; after the first, the sent ledger cannot be written (a
    directory where its temporary file goes: even root cannot write a file there)."""

    def __init__(self, sent_log: Path) -> None:
        super().__init__()
        self.blocker = sent_log.with_name(f".{sent_log.name}.tmp")

    async def handle_DATA(self, server, session, envelope):
        self.blocker.mkdir(exist_ok=True)
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.service
def test_a_ledger_that_cannot_be_written_stops_sending_and_nothing_goes_twice(result, tmp_path):
    outbox, sent_log = tmp_path / "outbox", tmp_path / "sent.json"
    inbox, port = LedgerBreaker(sent_log), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        messages = build_messages(result, tmp_path, RECIPIENTS, lang="en")
        first = deliver(messages, config(port), outbox, sent_log)
        assert len(inbox.envelopes) == 1  # stopped right after the first acceptance
        assert first.sent == [] and len(first.unrecorded) == 1 and first.ledger_error
        assert len(first.pending) == 2 and not first.ok
        assert len(list(outbox.glob("*.accepted"))) == 1
        assert "sending stopped so that no report goes out twice" in first.warnings()[0]

        # still broken: nothing is sent at all (the ledger is tried before sending)
        again = deliver(messages, config(port), outbox, sent_log)
        assert len(inbox.envelopes) == 1 and again.ledger_error and again.sent == []

        inbox.blocker.rmdir()  # fixed; the next call records the accepted one, sends the rest
        inbox.blocker = tmp_path / "unused"
        fixed = deliver(messages, config(port), outbox, sent_log)
        assert fixed.ok and len(fixed.sent) == 2 and len(fixed.already_sent) == 1
    finally:
        controller.stop()
    keys = sorted(m[KEY_HEADER].strip() for m in (
        message_from_bytes(raw, policy=policy.default) for _, raw in inbox.envelopes))
    assert len(keys) == 3 and len(set(keys)) == 3  # each report exactly once
    assert set(json.loads(sent_log.read_text())["sent"]) == set(keys)
    assert list(outbox.glob("*.accepted")) == [] and list(outbox.glob("*.eml")) == []


@pytest.mark.service
def test_changed_findings_are_sent_again_and_unchanged_ones_not(build, result, tmp_path,
                                                                 smtp_server):
    port = free_port()
    inbox = smtp_server(port)
    outbox, sent_log = tmp_path / "outbox", tmp_path / "sent.json"
    deliver(build_messages(result, tmp_path, RECIPIENTS, lang="en"), config(port), outbox,
            sent_log)
    assert len(inbox.envelopes) == 3
    # A corrected re-run of the same audit (same key and as_of): one amz-east finding gone.
    f = result.findings
    drop = f.index[(f["shop_id"] == "amz-east")][:1]
    corrected = build.result(f.drop(index=drop))
    report = deliver(build_messages(corrected, tmp_path, RECIPIENTS, lang="en"), config(port),
                     outbox, sent_log)
    # amz-east's report changed, and so did the overview (it lists every shop's findings);
    # tg-flagship's did not
    assert len(report.sent) == 2 and len(report.already_sent) == 1
    assert report.already_sent[0].startswith("k-demo-2026-11-20-30d:tmall_global:tg-flagship:")
    assert sorted(rcpts for rcpts, _ in inbox.envelopes[3:]) == [["lead@example.com"],
                                                                 ["us@example.com"]]


@pytest.mark.service
def test_resend_sends_again_with_a_new_message_id(result, tmp_path, smtp_server):
    port = free_port()
    inbox = smtp_server(port)
    outbox, sent_log = tmp_path / "outbox", tmp_path / "sent.json"
    messages = build_messages(result, tmp_path, {"tm-store": ["tm@example.com"]}, lang="en")
    deliver(messages, config(port), outbox, sent_log)
    assert deliver(messages, config(port), outbox, sent_log).sent == []
    again = deliver(messages, config(port), outbox, sent_log, resend=True)
    assert len(again.sent) == 1
    ids = [message_from_bytes(raw, policy=policy.default)["Message-ID"]
           for _, raw in inbox.envelopes]
    assert len(ids) == 2 and ids[0] != ids[1]
    (entry,) = json.loads(sent_log.read_text())["sent"].values()
    assert len(entry["resent"]) == 1


class Flaky(Inbox):
    """Answers 451 (try later) to the first DATA, then accepts."""

    def __init__(self) -> None:
        super().__init__()
        self.refusals = 0

    async def handle_DATA(self, server, session, envelope):
        if self.refusals == 0:
            self.refusals += 1
            return "451 4.3.0 try again later"
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.service
def test_a_temporary_refusal_is_retried_for_that_message_only(result, tmp_path):
    inbox, port = Flaky(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    waits = []
    try:
        messages = build_messages(result, tmp_path, {"tm-store": ["tm@example.com"]},
                                  lang="en")
        report = deliver(messages, config(port), tmp_path / "outbox", tmp_path / "sent.json",
                         sleep=waits.append)
    finally:
        controller.stop()
    assert report.ok and len(report.sent) == 1 and len(inbox.envelopes) == 1
    assert waits == [0.05]  # one backoff, from config(): retry_delays=(0.05,)


def test_kept_mails_round_trip_for_a_later_send(result, tmp_path):
    mails = build_mails(result, tmp_path, lang="en")
    save_mails(mails, tmp_path)
    back = load_mails(tmp_path)
    assert [(m.key, m.platform, m.shop_id, m.subject) for m in back] == [
        (m.key, m.platform, m.shop_id, m.subject) for m in mails]
    assert [m.attachments for m in back] == [m.attachments for m in mails]
    assert [m.shop_id for m in load_mails(tmp_path, ["tmall:tm-store", "all"])] == [
        "tm-store", None]


@pytest.mark.service
def test_planted_personal_data_never_reaches_a_received_part(build, tmp_path, smtp_server):
    planted = ("call (415) 555-0123 or 13812345678, mail li.lei@example.org, "
               "身份证 11010519491231002X, 卡 5555 5555 5555 4444")
    f = build.finding
    findings = build.frame([
        f("PC002", "violation", "tmall", "tm-store", message_id="M-1",
          detail="Seller message contains “滚”. " + planted,
          evidence={"text": "滚 " + planted, "sent_at": "2026-11-19T10:00:00Z"}),
    ])
    result = build.result(findings)
    port = free_port()
    inbox = smtp_server(port)
    deliver(build_messages(result, tmp_path, {"tm-store": ["tm@example.com"],
                                              "default": ["lead@example.com"]}, lang="en"),
            config(port), tmp_path / "outbox", tmp_path / "sent.json")
    assert len(inbox.envelopes) == 2
    seen = []
    for _, raw in inbox.envelopes:
        msg = message_from_bytes(raw, policy=policy.default)
        for part in msg.walk():
            if not part.is_multipart():
                content = part.get_content()
                seen.append(content.decode("utf-8") if isinstance(content, bytes) else content)
    text = "\n".join(seen)
    for raw in ("(415) 555-0123", "4155550123", "13812345678", "li.lei@example.org",
                "11010519491231002X", "5555 5555 5555 4444", "5555555555554444"):
        assert raw not in text, raw
    # masked by hand: 10 digits keep 2 + 2, 11 keep 3 + 4; the ID 3 + 4; the card its last 4
    for masked in ("41******23", "138****5678", "l***@***.org", "110***********002X",
                   "************4444"):
        assert masked in text, masked


def test_the_full_page_on_disk_is_attached_when_it_exists(result, tmp_path):
    from reports.render import write_reports

    write_reports(result, tmp_path, lang="en")
    messages = {m["X-Refund-Audit-Shop"]: m for m in build_messages(
        result, tmp_path, {"tg-flagship": ["a@example.com"], "default": ["b@example.com"]},
        lang="en")}
    tg = {a.get_filename(): a for a in messages["tmall_global:tg-flagship"].iter_attachments()}
    assert list(tg) == ["findings-tg-flagship.csv", "tg-flagship.html"]
    page = (tmp_path / "shops" / "tg-flagship.html").read_text(encoding="utf-8")
    assert tg["tg-flagship.html"].get_content() == page
    # no findings.csv in tmp_path: the overview's CSV is built from the result
    assert [a.get_filename() for a in messages["all"].iter_attachments()] == [
        "findings.csv", "report.html"]
    # the kept mails do not copy the pages (shops in platform order); addressing attaches them
    save_mails(build_mails(result, tmp_path, lang="en"), tmp_path)
    kept = load_mails(tmp_path)
    assert [n for m in kept for n, _ in m.attachments] == [
        "findings-amz-east.csv", "findings-jd-quiet.csv", "findings-tm-store.csv",
        "findings-tg-flagship.csv", "findings.csv"]
    assert [m.page for m in kept] == ["shops/amz-east.html", "shops/jd-quiet.html",
                                      "shops/tm-store.html", "shops/tg-flagship.html",
                                      "report.html"]


def test_the_ledger_keeps_60_days():
    from datetime import UTC, datetime

    from reports.email import _prune

    now = datetime(2026, 12, 1, tzinfo=UTC)
    sent = {"old": {"sent_at": "2026-10-01T00:00:00+00:00"},  # 61 days before
            "edge": {"sent_at": "2026-10-02T00:00:00+00:00"},  # 60 days before
            "late": {"recorded_at": "2026-11-30T00:00:00+00:00", "recorded_late": True},
            "odd": {"sent_at": "not a time"}}
    assert sorted(_prune(sent, now)) == ["edge", "late", "odd"]
