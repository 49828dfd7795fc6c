"""The morning mail: each shop's page to that shop's team, never lost and never twice.

``build_messages`` turns an ``AuditResult`` into ``EmailMessage`` objects (HTML body with
inlined CSS, a plain-text alternative, the shop's findings as CSV). ``deliver`` sends them
through an outbox folder: every message is written there first, removed only after the SMTP
server accepted it and its idempotency key was recorded in the sent log; anything left over
(server down, a crash) is retried first by the next ``deliver`` call. A key already in the
sent log is never sent again, so re-running the same audit does not mail the same report
twice.

The messages are built with the standard library (``multipart/alternative`` inside
``multipart/mixed``, ``Date``, ``Message-ID``); prefect-email's task gets this wrong (see
PREFECT-NOTES). The SMTP password lives only in ``SmtpConfig.password`` (a ``SecretStr``)
and is never written to a file, a log line or an error message.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import io
import json
import logging
import os
import re
import smtplib
import ssl
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, SecretStr

from checks.result import FINDING_COLUMNS, AuditResult
from reports.outputs import findings_frame
from reports.render import (
    Renderer,
    group_findings,
    group_history,
    overview_context,
    shared_for,
    shop_context,
)

log = logging.getLogger(__name__)

KEY_HEADER = "X-Refund-Audit-Key"
#: The all-shops report is attached the full findings.csv only below this size.
MAX_ATTACHMENT_BYTES = 5_000_000
_ADDRESS = re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+")


class SmtpConfig(BaseModel):
    """Where and how to send. Built by the flow from its settings (env prefix, secrets)."""

    host: str = "localhost"
    port: int = 587
    security: Literal["none", "starttls", "ssl"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    sender: str
    timeout: float = 30.0


@dataclass
class DeliveryReport:
    """What one ``deliver`` call did, by idempotency key."""

    sent: list[str] = field(default_factory=list)
    already_sent: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # still in the outbox, retried next time
    failed: dict[str, str] = field(default_factory=dict)  # rejected for good: outbox/failed/
    error: str | None = None  # why the pending ones could not be sent (server down, auth)

    @property
    def ok(self) -> bool:
        return not self.pending and not self.failed


# --------------------------------------------------------------------------- recipients


def load_recipients(path: Path) -> dict[str, list[str]]:
    """Read a recipients file (YAML, or TOML by the ``.toml`` suffix).

    A flat mapping: ``default`` → addresses that get the all-shops report; ``<shop_id>`` →
    addresses for that shop's page; ``<platform>:<shop_id>`` for a shop id that exists on
    more than one platform (it wins over the bare shop id). A single address may be given
    as a string. See ``reports/recipients.example.yaml``.
    """
    path = Path(path)
    raw_text = path.read_text(encoding="utf-8")
    try:
        data = tomllib.loads(raw_text) if path.suffix == ".toml" else yaml.safe_load(raw_text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(
            f"{path}: not valid {'TOML' if path.suffix == '.toml' else 'YAML'}: {exc}"
        ) from exc
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: expected a mapping of shop id → list of addresses")
    out: dict[str, list[str]] = {}
    for key, value in data.items():
        addresses = [value] if isinstance(value, str) else value
        if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
            raise ValueError(f"{path}: {key!r}: expected a list of e-mail addresses")
        for address in addresses:
            if not _ADDRESS.fullmatch(address.strip()):
                raise ValueError(f"{path}: {key!r}: {address!r} is not an e-mail address")
        out[str(key)] = list(dict.fromkeys(a.strip() for a in addresses))
    return out


def _recipients_for(recipients: Mapping[str, list[str]], platform: str, shop_id: str) -> list[str]:
    return list(recipients.get(f"{platform}:{shop_id}") or recipients.get(shop_id) or [])


# --------------------------------------------------------------------------- building


def audit_key(result: AuditResult) -> str:
    """The audit's identity for idempotency: ``run["audit_key"]`` (source, as_of, window),
    else the run id, so a re-run of the same audit maps to the same keys."""
    return str(result.run.get("audit_key") or result.run.get("run_id") or "")


def message_key(base: str, platform: str | None, shop_id: str | None) -> str:
    """``<audit key>:<platform>:<shop_id>`` (``<audit key>:all`` for the overview); a key
    that is not a short plain header value is replaced by its SHA-256."""
    key = f"{base}:all" if shop_id is None else f"{base}:{platform}:{shop_id}"
    if len(key) <= 200 and re.fullmatch(r"[A-Za-z0-9:._@/+=-]+", key):
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def build_messages(
    result: AuditResult,
    out_dir: Path,
    recipients: Mapping[str, list[str]],
    *,
    lang: str = "zh",
    history: pd.DataFrame | None = None,
    sender: str | None = None,
) -> list[EmailMessage]:
    """One message per shop that has recipients, plus the all-shops report for ``default``.

    The HTML is rendered for mail (no links to files the reader does not have);
    ``history`` gives the KPI trends as on the page. A shop's CSV has findings.csv's columns
    and formatting (``reports.outputs.findings_frame``); the all-shops mail attaches
    ``out_dir/findings.csv`` itself when it is small enough for mail.
    """
    out_dir = Path(out_dir)
    shared = shared_for(result, lang=lang)
    renderer = Renderer()
    base = audit_key(result)
    by_shop = group_findings(result.findings)
    hist_by_shop = group_history(history)
    empty = result.findings.iloc[0:0]
    messages = []
    for platform, shop_id in shared.shop_keys:
        to = _recipients_for(recipients, platform, shop_id)
        if not to:
            continue
        ctx = shop_context(
            shared,
            platform,
            shop_id,
            by_shop.get((platform, shop_id), empty),
            hist_by_shop.get((platform, shop_id)),
            links=False,
        )
        subject = (
            f"[{shared.L['report_title']}] {shop_id} ({platform}) "
            f"{ctx['head']['as_of_date']} · {ctx['head']['overall']['label']}"
        )
        mine = findings_frame(by_shop.get((platform, shop_id), empty))
        attachment = (f"findings-{shared.page_names[(platform, shop_id)]}.csv", _csv_bytes(mine))
        messages.append(
            _message(
                key=message_key(base, platform, shop_id),
                to=to,
                subject=subject,
                text=renderer.text(ctx),
                html=renderer.page(ctx),
                attachment=attachment,
                sender=sender,
            )
        )
    default = list(recipients.get("default") or [])
    if default:
        ctx = overview_context(shared, links=False)
        csv_path = out_dir / "findings.csv"
        if csv_path.exists() and csv_path.stat().st_size <= MAX_ATTACHMENT_BYTES:
            attachment = ("findings.csv", csv_path.read_bytes())
        elif not csv_path.exists() and len(result.findings) <= 20_000:
            attachment = ("findings.csv", _csv_bytes(findings_frame(result.findings)))
        else:
            attachment = None  # too big for mail; the text names where it is
        text = renderer.text(ctx)
        if attachment is None:
            text += f"\nfindings.csv: {csv_path}\n"
        messages.append(
            _message(
                key=message_key(base, None, None),
                to=default,
                subject=f"[{shared.L['report_title']}] {shared.L['overview_title']} "
                f"{shared.run['as_of_utc'][:10]}",
                text=text,
                html=renderer.page(ctx),
                attachment=attachment,
                sender=sender,
            )
        )
    return messages


def _message(
    *,
    key: str,
    to: list[str],
    subject: str,
    text: str,
    html: str,
    attachment: tuple[str, bytes] | None,
    sender: str | None,
) -> EmailMessage:
    msg = EmailMessage(policy=policy.SMTP)
    msg["Subject"] = _header_text(subject)
    if sender:
        msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(usegmt=True)
    # Deterministic: a message re-sent after a crash carries the same Message-ID, so the
    # recipient's client can fold the copies.
    msg["Message-ID"] = f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@refund-audit>"
    msg[KEY_HEADER] = key
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    if attachment is not None:
        name, data = attachment
        msg.add_attachment(
            data, maintype="text", subtype="csv", filename=name, params={"charset": "utf-8"}
        )
    return msg


def _header_text(text: str) -> str:
    """A header value from data: control characters (a CR/LF would inject headers) → space."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", text).strip()


def _csv_bytes(frame: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    frame.to_csv(buf, index=False, columns=FINDING_COLUMNS, lineterminator="\r\n")
    # BOM: Excel, which most seller teams open CSV attachments with, needs it for Chinese.
    return buf.getvalue().encode("utf-8-sig")


# --------------------------------------------------------------------------- delivery


def deliver(
    messages: list[EmailMessage], smtp: SmtpConfig, outbox: Path, sent_log: Path
) -> DeliveryReport:
    """Send through the outbox; see the module docstring for the guarantees."""
    outbox, sent_log = Path(outbox), Path(sent_log)
    outbox.mkdir(parents=True, exist_ok=True)
    sent_log.parent.mkdir(parents=True, exist_ok=True)
    report = DeliveryReport()
    with _locked(sent_log):
        sent = _read_log(sent_log)
        for msg in messages:
            key = msg.get(KEY_HEADER)
            if not key:
                raise ValueError(f"message {msg['Subject']!r} has no {KEY_HEADER} header")
            if key in sent:
                report.already_sent.append(key)
                continue
            if not msg.get("From"):
                msg["From"] = smtp.sender
            _write_atomic(_outbox_path(outbox, key), msg.as_bytes(policy=policy.SMTP))

        queue = sorted(outbox.glob("*.eml"), key=lambda p: (p.stat().st_mtime_ns, p.name))
        conn: smtplib.SMTP | None = None
        try:
            for i, path in enumerate(queue):
                with path.open("rb") as fh:
                    msg = BytesParser(policy=policy.default).parse(fh)
                key = str(msg.get(KEY_HEADER, ""))
                if key in sent:
                    # sent by an earlier call that stopped before removing the file
                    path.unlink()
                    report.already_sent.append(key)
                    continue
                try:
                    if conn is None:
                        conn = _connect(smtp)
                    refused = conn.send_message(msg)
                except (
                    smtplib.SMTPRecipientsRefused,
                    smtplib.SMTPSenderRefused,
                    smtplib.SMTPDataError,
                ) as exc:
                    if _permanent(exc):
                        _move_failed(outbox, path)
                        report.failed[key] = _describe(exc)
                    else:
                        report.pending.append(key)
                        report.error = _describe(exc)
                    continue
                except (OSError, smtplib.SMTPException) as exc:
                    # server down, connection lost, TLS or login failure: keep the rest
                    report.error = _describe(exc)
                    report.pending.extend(str(_peek_key(p)) for p in queue[i:] if p.exists())
                    break
                sent[key] = {
                    "message_id": str(msg.get("Message-ID", "")),
                    "sent_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "recipients": sorted(set(_addresses(msg)) - set(refused)),
                    "refused": sorted(refused),
                }
                _write_log(sent_log, sent)  # recorded before the file leaves the outbox
                path.unlink()
                report.sent.append(key)
        finally:
            if conn is not None:
                with contextlib.suppress(OSError, smtplib.SMTPException):
                    conn.quit()
    if report.error:
        log.warning(
            "mail delivery incomplete: %s (%d left in %s)",
            report.error,
            len(report.pending),
            outbox,
        )
    return report


def _connect(cfg: SmtpConfig) -> smtplib.SMTP:
    context = ssl.create_default_context()
    if cfg.security == "ssl":
        conn: smtplib.SMTP = smtplib.SMTP_SSL(
            cfg.host, cfg.port, timeout=cfg.timeout, context=context
        )
    else:
        conn = smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
    try:
        if cfg.security == "starttls":
            conn.starttls(context=context)
        if cfg.username:
            _login(conn, cfg.username, cfg.password.get_secret_value() if cfg.password else "")
    except BaseException:
        with contextlib.suppress(OSError, smtplib.SMTPException):
            conn.close()
        raise
    return conn


def _login(conn: smtplib.SMTP, username: str, password: str) -> None:
    if (username + password).isascii():
        conn.login(username, password)
        return
    # smtplib encodes credentials as ASCII (and its error would quote the password's
    # characters); RFC 4954 AUTH PLAIN carries UTF-8, so send it ourselves.
    conn.ehlo_or_helo_if_needed()
    token = base64.b64encode(f"\0{username}\0{password}".encode()).decode("ascii")
    code, reply = conn.docmd("AUTH", f"PLAIN {token}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


def _permanent(exc: smtplib.SMTPException) -> bool:
    """A 5xx reply: retrying the same message will not help."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return getattr(exc, "smtp_code", 0) >= 500


def _describe(exc: BaseException) -> str:
    # The class and the server's reply; smtplib never puts the password in either.
    return f"{type(exc).__name__}: {exc}"


def _addresses(msg: EmailMessage) -> list[str]:
    out = []
    for header in ("To", "Cc", "Bcc"):
        for addr in msg.get_all(header, []):
            out.extend(a.addr_spec for a in getattr(addr, "addresses", ()))
    return out


def _outbox_path(outbox: Path, key: str) -> Path:
    # One file per key: a re-run that queues the same report again replaces it.
    return outbox / f"{hashlib.sha256(key.encode('utf-8')).hexdigest()[:32]}.eml"


def _peek_key(path: Path) -> str:
    with path.open("rb") as fh:
        return str(
            BytesParser(policy=policy.default).parse(fh, headersonly=True).get(KEY_HEADER, "")
        )


def _move_failed(outbox: Path, path: Path) -> None:
    failed = outbox / "failed"
    failed.mkdir(exist_ok=True)
    os.replace(path, failed / path.name)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _read_log(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return dict(data.get("sent", {}))


def _write_log(path: Path, sent: Mapping[str, Any]) -> None:
    body = {"version": 1, "sent": dict(sent)}
    _write_atomic(path, json.dumps(body, ensure_ascii=False, indent=1, sort_keys=True).encode())


@contextlib.contextmanager
def _locked(sent_log: Path) -> Iterator[None]:
    """One deliver at a time per sent log (two overlapping runs must not both send)."""
    lock = sent_log.with_name(sent_log.name + ".lock")
    with lock.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
