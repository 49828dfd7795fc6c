"""The nightly job's email, end to end, through the CLI and the Prefect flow, against a real
SMTP server (aiosmtpd on loopback) and the session's real Prefect server.

- every mapped shop gets its report once; a re-run of the same audit sends nothing twice;
- personal data planted in the buyers' and sellers' messages never reaches a received part
  (HTML, plain text, attachments, decoded) nor the pages and CSVs on disk;
- a shop with findings and no recipients, a mistyped key, and the SMTP server being down
  each end the run with exit 3, a Failed flow run, warnings in run.json and on the overview,
  the outputs written; fixing the cause and sending again delivers each report exactly once;
- ``refund-audit send RUN --shop S --resend`` sends that report again.
"""

from __future__ import annotations

import email
import json
import os
import socket
import subprocess
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from sources.generate import generate_tables
from sources.writers import write_csv_folder

pytestmark = [pytest.mark.prefect, pytest.mark.service]
AS_OF = "2026-11-20T02:00:00+08:00"

# Planted in every message. The raw forms (and their digits alone) must never be received.
PLANTED = ("联系我 13812345678 或 138-1234-5678 / call (415) 555-0123 / UK +44 20 7946 0958 / "
           "深圳 0755-12345678 / 香港 +852 9123 4567 / mail zhang.san@example.com / "
           "身份证 11010519491231002X / 卡号 4111 1111 1111 1111")
NEVER = ["13812345678", "138-1234-5678", "(415) 555-0123", "4155550123", "555-0123",
         "+44 20 7946 0958", "2079460958", "0755-12345678", "075512345678", "9123 4567",
         "91234567", "zhang.san@example.com", "zhang.san", "11010519491231002X",
         "4111 1111 1111 1111", "4111111111111111"]
# What the masked text shows instead (worked out by hand from the masking rules): the test
# is not passing only because the messages were left out.
MASKED = ["138****5678", "z***@***.com", "110***********002X", "************1111"]


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


@pytest.fixture(scope="module")
def planted_source(tmp_path_factory) -> Path:
    tables = generate_tables(1500, as_of=AS_OF)
    m = tables["messages"]
    tables["messages"] = m.assign(text=m["text"].fillna("") + " " + PLANTED)
    return write_csv_folder(tables, tmp_path_factory.mktemp("planted") / "csv")


def _env(tmp_path: Path, port: int, recipients: Path) -> dict[str, str]:
    return {**os.environ, "REFUND_AUDIT_RECIPIENTS_FILE": str(recipients),
            "REFUND_AUDIT_OUT_ROOT": str(tmp_path / "out"),
            "REFUND_AUDIT_SMTP__HOST": "127.0.0.1", "REFUND_AUDIT_SMTP__PORT": str(port),
            "REFUND_AUDIT_SMTP__SECURITY": "none",
            "REFUND_AUDIT_SMTP__SENDER": "audit@example.com",
            "REFUND_AUDIT_SMTP__RETRY_DELAYS": "[0.1]"}


def _run(cli, source, out: Path, env) -> subprocess.CompletedProcess:
    return subprocess.run([*cli, "run", "--source", str(source), "--as-of", AS_OF,
                           "--out", str(out), "--email"],
                          capture_output=True, text=True, env=env, timeout=300)


def _latest_flow_state():
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        (flow_run,) = client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=1)
    return flow_run.state


def _decoded_parts(raw: bytes) -> list[str]:
    msg = email.message_from_bytes(raw, policy=policy.default)
    out = [str(v) for v in msg.values()]
    for part in msg.walk():
        if part.is_multipart():
            continue
        content = part.get_content()
        out.append(content.decode("utf-8-sig") if isinstance(content, bytes) else content)
    return out


def _to(raw: bytes) -> str:
    return str(email.message_from_bytes(raw, policy=policy.default)["To"])


@pytest.mark.slow  # ~60 s: three audits and three sends through the CLI
def test_unmapped_and_mistyped_shops_warn_exit_3_and_send_delivers_each_once(
        cli, tmp_path, planted_source):
    recipients = tmp_path / "recipients.yaml"
    # amz-shop-4: a typo for amz-shop-04; jdw-shop-03 and tm-shop-02 have findings, no entry
    recipients.write_text("default: [lead@example.com]\ntmg-shop-01: [tmg@example.com]\n"
                          "amz-shop-4: [amz@example.com]\n", encoding="utf-8")
    inbox, port = Inbox(), _port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    env = _env(tmp_path, port, recipients)
    out = tmp_path / "out" / "run"
    try:
        p = _run(cli, planted_source, out, env)
        assert p.returncode == 3, p.stdout + p.stderr
        state = _latest_flow_state()
        assert state.is_failed() and state.name == "DeliveryIncomplete"
        run = json.loads((out / "run.json").read_text(encoding="utf-8"))
        expected = [
            "recipients file: 'amz-shop-4' is not a shop of this source, so nobody gets mail "
            "through it; did you mean 'amz-shop-04'?",
        ]
        for w in expected:
            assert w in run["warnings"]
        no_recipients = [w for w in run["warnings"] if "but no recipients" in w]
        assert sorted(w.split(":")[0] for w in no_recipients) == [
            "shop amazon_us/amz-shop-04", "shop jd_worldwide/jdw-shop-03",
            "shop tmall/tm-shop-02"]
        overview = (out / "report.html").read_text(encoding="utf-8")
        assert "did you mean &#39;amz-shop-04&#39;?" in overview or \
            "did you mean 'amz-shop-04'?" in overview
        assert "jd_worldwide/jdw-shop-03" in overview
        for name in ("findings.csv", "kpis.csv", "quarantine.csv", "report.html"):
            assert (out / name).exists()  # the audit itself is written
        assert sorted(_to(raw) for _, raw in inbox.messages) == [
            "lead@example.com", "tmg@example.com"]

        # Nothing personal in anything received or written for people.
        parts = [t for _, raw in inbox.messages for t in _decoded_parts(raw)]
        pages = [p.read_text(encoding="utf-8") for p in out.rglob("*.html")]
        csvs = [(out / n).read_text(encoding="utf-8") for n in ("findings.csv", "quarantine.csv")]
        for text in parts + pages + csvs:
            for raw in NEVER:
                assert raw not in text, raw
        shown = "\n".join(parts)
        for masked in MASKED:
            assert masked in shown, masked

        # The team fixes the file; `send` delivers the missing reports, each exactly once.
        recipients.write_text(
            "default: [lead@example.com]\ntmg-shop-01: [tmg@example.com]\n"
            "amz-shop-04: [amz@example.com]\njdw-shop-03: [jdw@example.com]\n"
            "tm-shop-02: [tm@example.com]\n", encoding="utf-8")
        p = subprocess.run([*cli, "send", str(out)], capture_output=True, text=True, env=env,
                           timeout=300)
        assert p.returncode == 0, p.stdout + p.stderr
        assert sorted(_to(raw) for _, raw in inbox.messages) == [
            "amz@example.com", "jdw@example.com", "lead@example.com", "tm@example.com",
            "tmg@example.com"]
        assert "3 sent, 2 already sent earlier" in p.stdout

        # Same audit again, same data: nothing is sent twice, exit 0.
        p = _run(cli, planted_source, out, env)
        assert p.returncode == 0, p.stdout + p.stderr
        assert len(inbox.messages) == 5
        assert "5 already sent earlier" in p.stdout
        assert _latest_flow_state().is_completed()

        # --resend: that shop's report once more, with a new Message-ID.
        run_id = json.loads((out / "run.json").read_text(encoding="utf-8"))["run_id"]
        p = subprocess.run([*cli, "send", run_id, "--shop", "tmg-shop-01", "--resend"],
                           capture_output=True, text=True, env=env, timeout=300)
        assert p.returncode == 0, p.stdout + p.stderr
        tmg = [email.message_from_bytes(raw, policy=policy.default)
               for rcpt, raw in inbox.messages if rcpt == ["tmg@example.com"]]
        assert len(tmg) == 2 and tmg[0]["Message-ID"] != tmg[1]["Message-ID"]
        assert len(inbox.messages) == 6
        # without --resend, send is idempotent
        p = subprocess.run([*cli, "send", str(out)], capture_output=True, text=True, env=env,
                           timeout=300)
        assert p.returncode == 0 and len(inbox.messages) == 6, p.stdout + p.stderr
    finally:
        controller.stop()


# ~60 s, kept in the default run: it is the one end-to-end check that delivery is not silent.
def test_smtp_down_exit_3_outbox_kept_and_the_next_run_delivers_exactly_once(cli, tmp_path):
    db = tmp_path / "demo.sqlite"
    subprocess.run([*cli, "generate", "--orders", "800", "--out", f"sqlite:///{db}"],
                   check=True, capture_output=True)
    recipients = tmp_path / "recipients.yaml"
    recipients.write_text("default: [lead@example.com]\ntmg-shop-01: [tmg@example.com]\n"
                          "amz-shop-04: [amz@example.com]\njdw-shop-03: [jdw@example.com]\n"
                          "tm-shop-02: [tm@example.com]\n", encoding="utf-8")
    port = _port()  # nothing listens there yet
    env = _env(tmp_path, port, recipients)
    out = tmp_path / "out" / "run"
    p = _run(cli, f"sqlite:///{db}", out, env)
    assert p.returncode == 3, p.stdout + p.stderr
    state = _latest_flow_state()
    assert state.is_failed() and state.name == "DeliveryIncomplete"
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    (down,) = [w for w in run["warnings"] if "kept in the outbox" in w]
    assert down.startswith("email: 5 message(s) not sent") and "ConnectionRefusedError" in down
    overview = (out / "report.html").read_text(encoding="utf-8")
    assert "<!--delivery-warnings-->" in overview and "5 message(s) not sent" in overview
    assert len(list((tmp_path / "out" / "outbox").glob("*.eml"))) == 5
    assert (out / "findings.csv").exists()

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        p = _run(cli, f"sqlite:///{db}", out, env)  # the next night's re-run of the audit
        assert p.returncode == 0, p.stdout + p.stderr
        assert sorted(_to(raw) for _, raw in inbox.messages) == [
            "amz@example.com", "jdw@example.com", "lead@example.com", "tm@example.com",
            "tmg@example.com"]
        assert list((tmp_path / "out" / "outbox").glob("*.eml")) == []
        # The mails carry the same "changes since the last run" block as the pages (the
        # block is left out of a mail built without the write step's diff).
        for _, raw in inbox.messages:
            html_part = email.message_from_bytes(raw, policy=policy.default).get_body(
                ("html",)).get_content()
            assert "Changes since the last run" in html_part
        p = _run(cli, f"sqlite:///{db}", out, env)
        assert p.returncode == 0 and len(inbox.messages) == 5
    finally:
        controller.stop()


def test_in_process_run_without_prefect_exits_3_too(cli, tmp_path):
    db = tmp_path / "demo.sqlite"
    subprocess.run([*cli, "generate", "--orders", "400", "--out", f"sqlite:///{db}"],
                   check=True, capture_output=True)
    recipients = tmp_path / "recipients.yaml"
    recipients.write_text("default: [lead@example.com]\n", encoding="utf-8")
    env = _env(tmp_path, _port(), recipients)  # nothing listens: the server is down
    out = tmp_path / "out" / "run"
    p = subprocess.run([*cli, "run", "--source", f"sqlite:///{db}", "--as-of", AS_OF,
                        "--out", str(out), "--email", "--no-prefect"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 3, p.stdout + p.stderr
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert any(w.startswith("email: 1 message(s) not sent") for w in run["warnings"])
    assert any("but no recipients" in w for w in run["warnings"])
    assert "<!--delivery-warnings-->" in (out / "report.html").read_text(encoding="utf-8")
