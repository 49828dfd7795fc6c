"""The nightly job's email, end to end: `refund-audit run --email` through the Prefect flow
delivers every shop's page to a real SMTP server (aiosmtpd on loopback), and a re-run of the
same audit sends nothing twice."""

from __future__ import annotations

import email
import os
import socket
import subprocess
from email import policy

import pytest
from aiosmtpd.controller import Controller

pytestmark = [pytest.mark.prefect, pytest.mark.service]
AS_OF = "2026-11-20T02:00:00+08:00"


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd calls this by name
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_run_with_email_delivers_each_shop_once(cli, tmp_path):
    db = tmp_path / "demo.sqlite"
    subprocess.run([*cli, "generate", "--orders", "1500", "--out", f"sqlite:///{db}"],
                   check=True, capture_output=True)
    recipients = tmp_path / "recipients.yaml"
    recipients.write_text("default: [lead@example.com]\n"
                          "tmg-shop-01: [tmg@example.com]\n"
                          "amz-shop-04: [amz@example.com]\n", encoding="utf-8")
    inbox = Inbox()
    port = _port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    env = {**os.environ, "REFUND_AUDIT_RECIPIENTS_FILE": str(recipients),
           "REFUND_AUDIT_OUT_ROOT": str(tmp_path / "out"),
           "REFUND_AUDIT_SMTP__HOST": "127.0.0.1", "REFUND_AUDIT_SMTP__PORT": str(port),
           "REFUND_AUDIT_SMTP__SECURITY": "none",
           "REFUND_AUDIT_SMTP__SENDER": "audit@example.com"}
    args = [*cli, "run", "--source", f"sqlite:///{db}", "--as-of", AS_OF,
            "--out", str(tmp_path / "out" / "run"), "--email"]
    try:
        p = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
        assert p.returncode == 0, p.stdout + p.stderr
        got = {tuple(r) for r, _ in inbox.messages}
        assert got == {("lead@example.com",), ("tmg@example.com",), ("amz@example.com",)}
        for rcpt, raw in inbox.messages:
            msg = email.message_from_bytes(raw, policy=policy.default)
            assert msg["Subject"] and msg["Message-ID"] and msg["Date"]
            assert msg.get_body(("html",)) is not None and msg.get_body(("plain",)) is not None
            if rcpt == ["tmg@example.com"]:
                assert "tmg-shop-01" in msg["Subject"]
                names = [a.get_filename() for a in msg.iter_attachments()]
                assert names == ["findings-tmg-shop-01.csv"]
        # Same audit again: nothing is sent twice.
        p = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
        assert p.returncode == 0, p.stdout + p.stderr
        assert len(inbox.messages) == 3
        assert "already sent" in p.stdout
    finally:
        controller.stop()
