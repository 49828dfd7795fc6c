"""The morning mail: each shop's report to that shop's team, never lost, never twice, and
never silently missing.

Three steps, each usable on its own:

1. ``build_mails`` turns an ``AuditResult`` into one ``Mail`` per audited shop plus the
   all-shops overview: subject, HTML body, plain-text alternative, the shop's findings as a
   CSV for people (UTF-8 with BOM, formula cells neutralised, personal data masked). Every
   mail carries a *ledger key*: the audit, the shop and a digest of the shop's findings, so
   a corrected re-run of the same audit (different data) is a new mail and an unchanged
   re-run is not. ``save_mails`` keeps them in the output folder (``mail/``) without
   recipients, so ``refund-audit send`` can deliver a past run later, to the recipients file
   as it is then.
2. ``read_recipients`` / ``recipient_warnings``: the recipients file and everything wrong
   with it (an unknown key, with the closest shop id; an invalid address; a shop with
   findings and nobody to tell). These are warnings of the run, known before the overview
   is written.
3. ``deliver`` sends through an outbox folder. Each message is written there first; after
   the server accepted it, it is recorded in the sent ledger (an atomic file write) before
   the next one goes, then removed from the outbox. A key already in the ledger is not sent
   again (``resend=True`` sends it anyway, with a new Message-ID). A message is retried on
   its own a few times with a short backoff when the failure is temporary (connection lost,
   4xx); a permanent refusal (5xx) is not retried and the message is set apart in
   ``outbox/failed/``. If the ledger cannot be written after the server accepted a message,
   sending stops: the outbox file is renamed ``*.accepted`` so the next call records it
   instead of sending it again.

The messages are built with the standard library (``multipart/alternative`` inside
``multipart/mixed``, ``Date``, a ``Message-ID`` derived from the ledger key, so a copy sent
again after a crash can be folded by the reader's client). The SMTP password lives only in
``SmtpConfig.password`` (a ``SecretStr``) and is never written to a file, a log line or an
error message.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import difflib
import fcntl
import hashlib
import json
import logging
import os
import re
import smtplib
import ssl
import time
import tomllib
from collections.abc import Iterable, Iterator, Mapping
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
from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, SecretStr

from checks.result import FINDING_COLUMNS, AuditResult
from reports.mail_body import MailBuilder
from reports.outputs import csv_for_people, findings_frame, mask_details
from reports.shared import NOT_GIVEN, group_findings, shop_keys, shop_page_names

log = logging.getLogger(__name__)

KEY_HEADER = "X-Refund-Audit-Key"
SHOP_HEADER = "X-Refund-Audit-Shop"
#: The all-shops report is attached the full findings.csv only below this size.
MAX_ATTACHMENT_BYTES = 5_000_000
MAIL_DIR = "mail"
#: Ledger entries older than this are dropped when the ledger is read: the ledger is
#: rewritten after every message, so it must stay small; re-running an audit this old mails
#: it again.
LEDGER_KEEP_DAYS = 60


class SmtpConfig(BaseModel):
    """Where and how to send. Built by the flow from its settings (env prefix, secrets)."""

    host: str = "localhost"
    port: int = 587
    security: Literal["none", "starttls", "ssl"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    sender: str
    timeout: float = 30.0
    #: tries per message for a temporary failure, and the waits between them (seconds)
    attempts: int = 3
    retry_delays: tuple[float, ...] = (2.0, 8.0)


@dataclass
class DeliveryReport:
    """What one ``deliver`` call did, by ledger key."""

    sent: list[str] = field(default_factory=list)
    already_sent: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # still in the outbox, retried next time
    failed: dict[str, str] = field(default_factory=dict)  # rejected for good: outbox/failed/
    error: str | None = None  # why the pending ones could not be sent (server down, auth)
    #: the ledger could not be written (after a message was accepted, or before sending)
    ledger_error: str | None = None
    unrecorded: list[str] = field(default_factory=list)  # accepted, kept as outbox/*.accepted

    @property
    def ok(self) -> bool:
        return not self.pending and not self.failed and not self.ledger_error

    def warnings(self, outbox: Path | None = None) -> list[str]:
        """One sentence per problem, for run.json, the overview and the CLI."""
        where = f" in {outbox}" if outbox else ""
        out = []
        if self.ledger_error:
            out.append(f"email: the sent ledger could not be written ({self.ledger_error}); "
                       "sending stopped so that no report goes out twice"
                       + (f" ({len(self.unrecorded)} accepted message(s) kept as *.accepted "
                          "and recorded next time)" if self.unrecorded else ""))
        if self.pending:
            out.append(f"email: {len(self.pending)} message(s) not sent and kept in the "
                       f"outbox{where} for the next run or `refund-audit send`"
                       + (f" ({self.error})" if self.error else ""))
        for key, why in self.failed.items():
            out.append(f"email: the server refused the message {key} for good ({why}); it "
                       "is kept in outbox/failed")
        return out

    def summary(self) -> dict[str, Any]:
        return {"sent": len(self.sent), "already_sent": len(self.already_sent),
                "pending": len(self.pending), "failed": len(self.failed),
                "unrecorded": len(self.unrecorded)}


# --------------------------------------------------------------------------- recipients


@dataclass
class Recipients:
    """A recipients file as read: the usable addresses per key, and what was wrong."""

    by_key: dict[str, list[str]]
    problems: list[str] = field(default_factory=list)

    def for_shop(self, platform: str, shop_id: str) -> list[str]:
        return list(self.by_key.get(f"{platform}:{shop_id}") or self.by_key.get(shop_id) or [])

    def for_overview(self) -> list[str]:
        return list(self.by_key.get("default") or [])


def read_recipients(path: Path) -> Recipients:
    """Read a recipients file (YAML, or TOML by the ``.toml`` suffix).

    A flat mapping: ``default`` → addresses that get the all-shops report; ``<shop_id>`` →
    addresses for that shop's report; ``<platform>:<shop_id>`` for a shop id that exists on
    more than one platform (it wins over the bare shop id). A single address may be given
    as a string. See ``reports/recipients.example.yaml``.

    A file that is not such a mapping is an error (``ValueError`` naming the file); an
    address that is not valid (``email-validator``'s syntax check, no DNS lookup) is left
    out and reported in ``problems``, so one typo does not stop everyone else's mail.
    """
    path = Path(path)
    try:
        raw_text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the recipients file ({exc})") from exc
    try:
        data = tomllib.loads(raw_text) if path.suffix == ".toml" else yaml.safe_load(raw_text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(
            f"{path}: not valid {'TOML' if path.suffix == '.toml' else 'YAML'}: {exc}"
        ) from exc
    if data is None:
        return Recipients({})
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: expected a mapping of shop id → list of addresses")
    out: dict[str, list[str]] = {}
    problems: list[str] = []
    for key, value in data.items():
        addresses = [value] if isinstance(value, str) else value
        if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
            raise ValueError(f"{path}: {key!r}: expected a list of e-mail addresses")
        good = []
        for address in addresses:
            try:
                good.append(validate_email(address.strip(), check_deliverability=False)
                            .normalized)
            except EmailNotValidError as exc:
                problems.append(f"recipients file {path.name}: {key}: {address!r} is not a "
                                f"valid e-mail address ({exc}); it gets no mail")
        out[str(key)] = list(dict.fromkeys(good))
    return Recipients(out, problems)


def load_recipients(path: Path) -> dict[str, list[str]]:
    """The usable addresses of a recipients file (see ``read_recipients``)."""
    return read_recipients(path).by_key


def recipient_warnings(
    recipients: Recipients,
    result: AuditResult,
    known_shops: Iterable[tuple[str, str]] | None = None,
) -> list[str]:
    """Everything that would keep a report from the people who should read it.

    - an address that is not valid (from ``read_recipients``);
    - a key that is neither ``default`` nor a shop of the source (``known_shops``, default:
      the audited shops), with the closest shop id as a suggestion;
    - an audited shop with findings and no recipients (its team would not hear of them).
    """
    counts = (result.findings.groupby(["platform", "shop_id"]).size()
              if len(result.findings) else pd.Series(dtype="int64"))
    return shop_recipient_warnings(
        recipients, list(shop_keys(result)),
        {(str(p), str(s)): int(n) for (p, s), n in counts.items()}, known_shops)


def shop_recipient_warnings(
    recipients: Recipients,
    shops: Iterable[tuple[str, str]],
    findings_per_shop: Mapping[tuple[str, str], int],
    known_shops: Iterable[tuple[str, str]] | None = None,
) -> list[str]:
    """``recipient_warnings`` from the shops and their finding counts (``refund-audit send``
    has no ``AuditResult``, only a run's files)."""
    warnings = list(recipients.problems)
    shops = list(shops)
    known = list(dict.fromkeys([*(known_shops or []), *shops]))
    names = {s for _, s in known} | {f"{p}:{s}" for p, s in known}
    for key in recipients.by_key:
        if key == "default" or key in names:
            continue
        close = difflib.get_close_matches(key, sorted(names), n=1, cutoff=0.6)
        warnings.append(f"recipients file: {key!r} is not a shop of this source, so nobody "
                        "gets mail through it"
                        + (f"; did you mean {close[0]!r}?" if close else ""))
    for platform, shop_id in sorted(findings_per_shop):
        n = findings_per_shop[(platform, shop_id)]
        if n and (platform, shop_id) in set(shops) and not recipients.for_shop(platform, shop_id):
            warnings.append(f"shop {platform}/{shop_id}: {n} finding(s) but no recipients "
                            "in the recipients file: its report was not mailed")
    return warnings


# --------------------------------------------------------------------------- building


@dataclass
class Mail:
    """One report mail before it is addressed: ``platform``/``shop_id`` None for the
    all-shops overview. ``key`` is the ledger key (audit, shop, findings digest)."""

    key: str
    platform: str | None
    shop_id: str | None
    subject: str
    text: str
    html: str
    attachments: list[tuple[str, bytes]] = field(default_factory=list)
    #: the full page in the output folder (``shops/<name>.html``, ``report.html``), attached
    #: when the message is addressed, so the kept mails do not copy the pages
    page: str | None = None

    @property
    def shop(self) -> str:
        return "all" if self.shop_id is None else f"{self.platform}:{self.shop_id}"


def audit_key(result: AuditResult) -> str:
    """The audit's identity for idempotency: ``run["audit_key"]`` (source, as_of, window),
    else the run id, so a re-run of the same audit maps to the same keys."""
    return str(result.run.get("audit_key") or result.run.get("run_id") or "")


def content_digest(data: bytes) -> str:
    """12 hex digits of SHA-256: the findings a mail reports, as part of its ledger key."""
    return hashlib.sha256(data).hexdigest()[:12]


def message_key(base: str, platform: str | None, shop_id: str | None, digest: str = "") -> str:
    """``<audit key>:<platform>:<shop_id>:<digest>`` (``<audit key>:all:<digest>`` for the
    overview); a key that is not a short plain header value is replaced by its SHA-256."""
    key = f"{base}:all" if shop_id is None else f"{base}:{platform}:{shop_id}"
    if digest:
        key += f":{digest}"
    if len(key) <= 200 and re.fullmatch(r"[A-Za-z0-9:._@/+=-]+", key):
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def _bodies(result: AuditResult, *, history: pd.DataFrame | None, diff: Any,
            lang: str, report_tz: str | None) -> MailBuilder:
    """The mail bodies (subject, HTML within the size budget, plain text)."""
    return MailBuilder(result, history=history, diff=diff, lang=lang, report_tz=report_tz)


def build_mails(
    result: AuditResult,
    out_dir: Path,
    *,
    lang: str = "zh",
    history: pd.DataFrame | None = None,
    shops: Iterable[tuple[str, str]] | None = None,
    overview: bool = True,
    report_tz: str | None = None,
    diff: Any = NOT_GIVEN,
) -> list[Mail]:
    """One mail per audited shop (or per shop of ``shops``), then the overview.

    Attachments: the shop's findings as a CSV for people (findings.csv's columns), and the
    full page written in ``out_dir`` (``shops/<name>.html``; the overview: ``report.html``
    and all findings) when it exists and is small enough for mail; otherwise the text part
    names the file.
    """
    out_dir = Path(out_dir)
    result = _with_masked_details(result)
    bodies = _bodies(result, history=history, diff=diff, lang=lang, report_tz=report_tz)
    keys = shop_keys(result)
    names = shop_page_names(keys)
    base = audit_key(result)
    by_shop = group_findings(result.findings)
    empty = result.findings.iloc[0:0]
    wanted = set(shops) if shops is not None else None
    mails = []
    for key in keys:
        if wanted is not None and key not in wanted:
            continue
        name = names[key]
        body = bodies.build(key, page_name=name)
        csv = csv_for_people(findings_frame(by_shop.get(key, empty), masked=True),
                             FINDING_COLUMNS)
        mails.append(Mail(
            key=message_key(base, key[0], key[1], content_digest(csv)),
            platform=key[0], shop_id=key[1], subject=body.subject, text=body.text,
            html=body.html, attachments=[(f"findings-{name}.csv", csv)],
            page=f"shops/{name}.html",
        ))
    if overview:
        body = bodies.build(None)
        csv_path = out_dir / "findings.csv"
        if csv_path.exists() and csv_path.stat().st_size <= MAX_ATTACHMENT_BYTES:
            # findings.csv is a data file; the attachment is for people (BOM, neutralised)
            everything = csv_for_people(pd.read_csv(csv_path, dtype=str, keep_default_na=False))
        elif not csv_path.exists() and len(result.findings) <= 20_000:
            everything = csv_for_people(findings_frame(result.findings, masked=True),
                                        FINDING_COLUMNS)
        else:
            everything = None  # too big for mail; the text names where it is
        digest_of = everything if everything is not None else (
            csv_path.read_bytes() if csv_path.exists() else b"")
        text = body.text
        attachments = []
        if everything is None:
            text += f"\nfindings.csv: {csv_path}\n"
        else:
            attachments.append(("findings.csv", everything))
        mails.append(Mail(
            key=message_key(base, None, None, content_digest(digest_of)),
            platform=None, shop_id=None, subject=body.subject, text=text, html=body.html,
            attachments=attachments, page="report.html",
        ))
    return mails


def _with_masked_details(result: AuditResult) -> AuditResult:
    findings = mask_details(result.findings)
    return result if findings is result.findings else dataclasses.replace(result,
                                                                          findings=findings)


def address(mails: Iterable[Mail], recipients: Recipients | Mapping[str, list[str]],
            *, sender: str | None = None, out_dir: Path | None = None) -> list[EmailMessage]:
    """The messages for the mails that have recipients (the others are warned about by
    ``recipient_warnings``); ``out_dir``: where the pages to attach are."""
    if not isinstance(recipients, Recipients):
        recipients = Recipients(dict(recipients))
    out = []
    for mail in mails:
        to = (recipients.for_overview() if mail.shop_id is None
              else recipients.for_shop(mail.platform or "", mail.shop_id))
        if to:
            out.append(to_message(mail, to, sender=sender, out_dir=out_dir))
    return out


def build_messages(
    result: AuditResult,
    out_dir: Path,
    recipients: Recipients | Mapping[str, list[str]],
    *,
    lang: str = "zh",
    history: pd.DataFrame | None = None,
    sender: str | None = None,
) -> list[EmailMessage]:
    """``build_mails`` + ``address``: one message per shop with recipients, plus the
    all-shops report for ``default``."""
    return address(build_mails(result, out_dir, lang=lang, history=history), recipients,
                   sender=sender, out_dir=out_dir)


def to_message(mail: Mail, to: list[str], *, sender: str | None = None,
               out_dir: Path | None = None) -> EmailMessage:
    """The message for ``mail`` to ``to``; with ``out_dir``, the full page attached when it
    fits in a mail (else the text part names the file)."""
    attachments, text = list(mail.attachments), mail.text
    if out_dir is not None and mail.page:
        path = Path(out_dir) / mail.page
        if path.is_file() and path.stat().st_size <= MAX_ATTACHMENT_BYTES:
            attachments.append((path.name, path.read_bytes()))
        elif path.is_file():
            text += f"\n{path.name}: {path}\n"
    msg = EmailMessage(policy=policy.SMTP)
    msg["Subject"] = _header_text(mail.subject)
    if sender:
        msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = message_id(mail.key)
    msg[KEY_HEADER] = mail.key
    msg[SHOP_HEADER] = _header_text(mail.shop)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies
    msg.set_content(text)
    msg.add_alternative(mail.html, subtype="html")
    for name, data in attachments:
        subtype = "html" if name.endswith(".html") else "csv"
        msg.add_attachment(
            data, maintype="text", subtype=subtype, filename=name, params={"charset": "utf-8"}
        )
    return msg


def message_id(key: str) -> str:
    """Deterministic: a message re-sent after a crash carries the same Message-ID, so the
    recipient's client can fold the copies."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:32]}@refund-audit>"


def _header_text(text: str) -> str:
    """A header value from data: control characters (a CR/LF would inject headers) → space."""
    return re.sub(r"[\x00-\x1f\x7f]+", " ", text).strip()


# --------------------------------------------------------------------------- stored mails


def save_mails(mails: Iterable[Mail], out_dir: Path) -> Path:
    """Keep the run's mails in ``out_dir/mail/`` (one unaddressed ``.eml`` per mail and an
    ``index.json``), for ``refund-audit send``. Replaces what an earlier write left there."""
    folder = Path(out_dir) / MAIL_DIR
    folder.mkdir(parents=True, exist_ok=True)
    index = []
    for mail in mails:
        name = f"{hashlib.sha256(mail.shop.encode()).hexdigest()[:16]}.eml"
        _write_atomic(folder / name, to_message(mail, []).as_bytes(policy=policy.SMTP))
        index.append({"key": mail.key, "platform": mail.platform, "shop_id": mail.shop_id,
                      "file": name, "page": mail.page})
    keep = {e["file"] for e in index}
    for old in folder.glob("*.eml"):
        if old.name not in keep:
            old.unlink()
    _write_atomic(folder / "index.json",
                  json.dumps({"mails": index}, ensure_ascii=False, indent=1).encode())
    return folder


def load_index(out_dir: Path, shops: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The entries of the kept mails' index; ``shops``: only these (a shop id,
    ``platform:shop_id``, or ``all`` for the overview). Raises ``FileNotFoundError`` when
    the run kept none."""
    folder = Path(out_dir) / MAIL_DIR
    index = json.loads((folder / "index.json").read_text(encoding="utf-8"))["mails"]
    wanted = set(shops) if shops else None
    out = []
    for e in index:
        names = ({"all", "default"} if e["shop_id"] is None
                 else {e["shop_id"], f"{e['platform']}:{e['shop_id']}"})
        if wanted is None or names & wanted:
            out.append(e)
    return out


def load_mails(out_dir: Path, shops: Iterable[str] | None = None) -> list[Mail]:
    """The mails ``save_mails`` kept for a run (``shops`` as for ``load_index``)."""
    folder = Path(out_dir) / MAIL_DIR
    out = []
    for e in load_index(out_dir, shops):
        with (folder / e["file"]).open("rb") as fh:
            msg = BytesParser(policy=policy.default).parse(fh)
        html = msg.get_body(("html",))
        text = msg.get_body(("plain",))
        out.append(Mail(
            key=e["key"], platform=e["platform"], shop_id=e["shop_id"],
            subject=str(msg["Subject"]),
            text=text.get_content() if text is not None else "",
            html=html.get_content() if html is not None else "",
            attachments=[(a.get_filename() or "attachment.csv", _bytes(a.get_content()))
                         for a in msg.iter_attachments()],
            page=e.get("page"),
        ))
    return out


def _bytes(content: str | bytes) -> bytes:
    # text/csv comes back decoded (the BOM included); encode it as it was sent
    return content if isinstance(content, bytes) else content.encode("utf-8")


# --------------------------------------------------------------------------- delivery


RESEND_HEADER = "X-Refund-Audit-Resend"


def deliver(
    messages: list[EmailMessage],
    smtp: SmtpConfig,
    outbox: Path,
    sent_log: Path,
    *,
    resend: bool = False,
    sleep=time.sleep,
) -> DeliveryReport:
    """Send through the outbox; see the module docstring for the guarantees.

    ``resend``: send messages whose key is already in the ledger again, each with a new
    Message-ID (a mail client would hide a copy with the one it already has)."""
    outbox, sent_log = Path(outbox), Path(sent_log)
    report = DeliveryReport()
    keys = [_key_of(m) for m in messages]
    for msg, key in zip(messages, keys, strict=True):
        if not key:
            raise ValueError(f"message {msg['Subject']!r} has no {KEY_HEADER} header")
    try:
        outbox.mkdir(parents=True, exist_ok=True)
        sent_log.parent.mkdir(parents=True, exist_ok=True)
        with _locked(sent_log):
            _deliver_locked(messages, smtp, outbox, sent_log, resend, sleep, report)
    except OSError as exc:  # the outbox or the lock beside the ledger cannot be written
        report.ledger_error = report.ledger_error or _describe(exc)
        done = set(report.sent) | set(report.already_sent) | set(report.failed)
        report.pending = list(dict.fromkeys(
            [*report.pending, *(k for k in keys if k not in done)]))
    for warning in report.warnings(outbox):
        log.warning("%s", warning)
    return report


def _deliver_locked(messages, smtp, outbox, sent_log, resend, sleep, report) -> None:
    try:
        sent = _prune(_read_log(sent_log))
    except (ValueError, OSError) as exc:
        report.ledger_error = f"cannot read {sent_log.name}: {_describe(exc)}"
        report.pending = [_key_of(m) for m in messages]
        return
    # Messages a previous call got accepted but could not record: record them now.
    accepted = sorted(outbox.glob("*.accepted"))
    for path in accepted:
        sent.setdefault(_peek_key(path), {"recorded_late": True,
                                          "recorded_at": _now()})
    try:
        # Written before anything is sent: a ledger that cannot be written stops the
        # batch here, not after the first message went out.
        _write_log(sent_log, sent)
    except OSError as exc:
        report.ledger_error = _describe(exc)
        for msg in messages:  # kept for the next run, not lost
            key = _key_of(msg)
            if key not in sent or resend:
                _queue(msg, key, smtp, outbox, sent, resend)
                report.pending.append(key)
        return
    for path in accepted:
        path.unlink()

    for msg in messages:
        key = _key_of(msg)
        if key in sent and not resend:
            report.already_sent.append(key)
            continue
        _queue(msg, key, smtp, outbox, sent, resend)

    queue = sorted(outbox.glob("*.eml"), key=lambda p: (p.stat().st_mtime_ns, p.name))
    session = _Session(smtp, sleep)
    try:
        for i, path in enumerate(queue):
            with path.open("rb") as fh:
                msg = BytesParser(policy=policy.default).parse(fh)
            key = _key_of(msg)
            again = msg.get(RESEND_HEADER)
            if key in sent and not again:
                # sent by an earlier call that stopped before removing the file
                path.unlink()
                report.already_sent.append(key)
                continue
            outcome, detail = session.send(msg)
            if outcome == "failed":
                _move_failed(outbox, path)
                report.failed[key] = detail
                continue
            if outcome == "deferred":  # this message only: a temporary refusal
                report.pending.append(key)
                report.error = detail
                continue
            if outcome == "down":  # the server: everything left waits for the next run
                report.error = detail
                report.pending.extend(_peek_key(p) for p in queue[i:] if p.exists())
                break
            entry = {"message_id": str(msg.get("Message-ID", "")), "sent_at": _now(),
                     "recipients": sorted(set(_addresses(msg)) - set(detail)),
                     "refused": sorted(detail)}
            if again and key in sent:
                sent[key] = {**sent[key], "resent": [*sent[key].get("resent", []), entry]}
            else:
                sent[key] = entry
            try:
                _write_log(sent_log, sent)  # recorded before the next message goes
            except OSError as exc:
                report.ledger_error = _describe(exc)
                report.unrecorded.append(key)
                with contextlib.suppress(OSError):
                    os.replace(path, path.with_suffix(".accepted"))
                report.pending.extend(_peek_key(p) for p in queue[i + 1:] if p.exists())
                break
            path.unlink()
            report.sent.append(key)
    finally:
        session.close()


def _queue(msg: EmailMessage, key: str, smtp: SmtpConfig, outbox: Path,
           sent: Mapping[str, Any], resend: bool) -> None:
    if not msg.get("From"):
        msg["From"] = smtp.sender
    name = key
    if resend and key in sent:
        n = len(sent[key].get("resent", [])) + 1
        del msg["Message-ID"]
        msg["Message-ID"] = message_id(f"{key}:resend:{n}")
        del msg[RESEND_HEADER]
        msg[RESEND_HEADER] = str(n)
        name = f"{key}:resend"
    _write_atomic(_outbox_path(outbox, name), msg.as_bytes(policy=policy.SMTP))


class _Session:
    """One SMTP connection for a batch, with a few tries per message for temporary
    failures (the only retry layer: the flow's task is not retried as a whole)."""

    def __init__(self, cfg: SmtpConfig, sleep) -> None:
        self.cfg, self.sleep, self.conn = cfg, sleep, None

    def send(self, msg: EmailMessage) -> tuple[str, Any]:
        """("sent", refused addresses) | ("failed", why) | ("deferred", why) |
        ("down", why)."""
        last: BaseException | None = None
        deferred = False
        for attempt in range(max(self.cfg.attempts, 1)):
            if attempt:
                delays = self.cfg.retry_delays or (0.0,)
                self.sleep(delays[min(attempt - 1, len(delays) - 1)])
            try:
                if self.conn is None:
                    self.conn = _connect(self.cfg)
                return "sent", self.conn.send_message(msg)
            except smtplib.SMTPAuthenticationError as exc:
                self.close()
                return "down", _describe(exc)  # wrong credentials: retrying will not help
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused,
                    smtplib.SMTPDataError) as exc:
                if _permanent(exc):
                    return "failed", _describe(exc)
                last, deferred = exc, True
            except (OSError, smtplib.SMTPException) as exc:
                # server down, connection lost, TLS failure: reconnect on the next try
                last, deferred = exc, False
                self.close()
        return ("deferred" if deferred else "down"), _describe(last) if last else "unknown"

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self.conn.quit()
            self.conn = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


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
        return _key_of(BytesParser(policy=policy.default).parse(fh, headersonly=True))


def _key_of(msg) -> str:
    # a long key is folded onto a continuation line; unfolding leaves a leading space
    return str(msg.get(KEY_HEADER) or "").strip()


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


def _prune(sent: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """The entries of the last ``LEDGER_KEEP_DAYS`` days (an entry without a readable time
    is kept)."""
    now = now or datetime.now(UTC)
    keep = {}
    for key, entry in sent.items():
        when = str(entry.get("sent_at") or entry.get("recorded_at") or "")
        try:
            age = (now - datetime.fromisoformat(when)).days
        except (ValueError, TypeError):
            age = 0
        if age <= LEDGER_KEEP_DAYS:
            keep[key] = entry
    return keep


def _write_log(path: Path, sent: Mapping[str, Any]) -> None:
    body = {"version": 2, "sent": dict(sent)}
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
