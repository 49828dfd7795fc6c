"""Delivery of a run's mail: the flow's ``deliver`` step and ``refund-audit send``.

Delivery is never silent. What keeps a report from its readers becomes a warning of the run
(in run.json, on the overview page, in the CLI output) and the run ends with exit status 3
("audit written, delivery incomplete") and a Failed flow run named ``DeliveryIncomplete``,
while the audit outputs stay written:

- known before anything is written (``recipient_check``): no or unreadable recipients file,
  an invalid address, an unknown key in the file, a shop with findings and no recipients;
  these go into run.json and the overview with the other warnings;
- known only after sending (``deliver_run``): mail left in the outbox, refused for good, or
  a sent ledger that could not be written. run.json is written again and the overview gets
  a delivery block at the top (``mark_overview``), replaced on the next send.

There is one retry layer, per message inside ``reports.email.deliver``: the step itself is
not retried by Prefect, which would send the messages that did go out a second time. This
module does not import Prefect; ``flows.audit`` wraps ``send_mails`` as its task.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from checks.result import AuditResult
from flows.settings import Settings
from reports.email import (
    DeliveryReport,
    Recipients,
    SmtpConfig,
    address,
    build_mails,
    deliver,
    load_index,
    load_mails,
    read_recipients,
    recipient_warnings,
    save_mails,
    shop_recipient_warnings,
)

#: The Failed state's name when the audit was written but its mail did not all go out.
DELIVERY_INCOMPLETE = "DeliveryIncomplete"
EXIT_DELIVERY_INCOMPLETE = 3

_BLOCK = re.compile(r"<!--delivery-warnings-->.*?<!--/delivery-warnings-->\n?", re.S)


def recipient_check(result: AuditResult, known_shops: Iterable[tuple[str, str]] | None = None,
                    settings: Settings | None = None) -> tuple[Recipients | None, list[str]]:
    """The recipients file and the warnings about it (see the module docstring)."""
    s = settings or Settings()
    if s.recipients_file is None:
        return None, ["email: no recipients file is set (REFUND_AUDIT_RECIPIENTS_FILE), so no "
                      "report was mailed"]
    try:
        recipients = read_recipients(Path(s.recipients_file))
    except ValueError as exc:
        return None, [f"email: {exc}; no report was mailed"]
    return recipients, recipient_warnings(recipients, result, known_shops)


def recipient_check_for_run(out_dir: Path, shops: Iterable[str] | None = None,
                            settings: Settings | None = None
                            ) -> tuple[Recipients | None, list[str]]:
    """``recipient_check`` for a past run, from its kept mails and its findings.csv;
    ``shops`` as for ``refund-audit send --shop``."""
    s = settings or Settings()
    if s.recipients_file is None:
        return None, ["email: no recipients file is set (REFUND_AUDIT_RECIPIENTS_FILE)"]
    try:
        recipients = read_recipients(Path(s.recipients_file))
    except ValueError as exc:
        return None, [f"email: {exc}"]
    def keys(entries):
        return [(str(m["platform"]), str(m["shop_id"])) for m in entries
                if m["shop_id"] is not None]

    every, chosen = keys(load_index(out_dir)), keys(load_index(out_dir, shops))
    counts: dict[tuple[str, str], int] = {}
    path = Path(out_dir) / "findings.csv"
    if path.exists():
        f = pd.read_csv(path, usecols=["platform", "shop_id"], dtype=str, keep_default_na=False)
        for (p, sh), n in f.groupby(["platform", "shop_id"]).size().items():
            counts[(str(p), str(sh))] = int(n)
    return recipients, shop_recipient_warnings(recipients, chosen, counts, every)


def smtp_config(settings: Settings | None = None) -> SmtpConfig:
    s = settings or Settings()
    return SmtpConfig(**s.smtp.model_dump())


def deliver_run(out_dir: Path, recipients: Recipients, *, shops: Iterable[str] | None = None,
                resend: bool = False, settings: Settings | None = None) -> DeliveryReport:
    """Address the mails kept in ``out_dir/mail`` and send them through the outbox and the
    sent ledger under ``out_root``."""
    s = settings or Settings()
    smtp = smtp_config(s)
    messages = address(load_mails(out_dir, shops), recipients, sender=smtp.sender,
                       out_dir=out_dir)
    return deliver(messages, smtp, outbox=Path(s.out_root) / "outbox",
                   sent_log=Path(s.out_root) / "sent.json", resend=resend)


def send_mails(result: AuditResult, out_dir: Path, lang: str, recipients: Recipients | None,
               history: pd.DataFrame | None = None) -> dict[str, Any]:
    """The deliver step: build every shop's mail (kept in ``out_dir/mail`` for
    ``refund-audit send``) and send those that have recipients. Returns the summary and the
    warnings; it raises only for a bug, never for a delivery problem. Plain (no Prefect):
    the flow wraps it as a task without retries (see the module docstring)."""
    mails = build_mails(result, out_dir, lang=lang,
                        history=history if history is not None else result.trends,
                        diff=result.diff, report_tz=Settings().report_timezone)
    save_mails(mails, out_dir)
    if recipients is None:
        return {"summary": None, "warnings": []}
    report = deliver_run(out_dir, recipients)
    return {"summary": report.summary(),
            "warnings": report.warnings(Path(Settings().out_root) / "outbox")}


def mark_overview(out_dir: Path, warnings: list[str], lang: str = "zh") -> None:
    """Put the delivery warnings at the top of the overview page (replacing an earlier
    delivery block), or remove the block when there are none. The rest of the page, rendered
    before sending, stays as it is."""
    path = Path(out_dir) / "report.html"
    if not path.exists():
        return
    page = _BLOCK.sub("", path.read_text(encoding="utf-8"))
    if warnings:
        title = "邮件未全部送达 · Email delivery incomplete" if lang == "zh" else \
            "Email delivery incomplete"
        items = "".join(f'<li style="margin:2px 0">{html.escape(w)}</li>' for w in warnings)
        block = ("<!--delivery-warnings-->"
                 '<div role="alert" style="border:2px solid #b42318;background:#fef3f2;'
                 'color:#7a271a;padding:8px 12px;margin:8px 0;border-radius:4px">'
                 f'<strong>{html.escape(title)}</strong>'
                 f'<ul style="margin:4px 0 0 18px;padding:0">{items}</ul></div>'
                 "<!--/delivery-warnings-->\n")
        m = re.search(r'<div class="page"[^>]*>\n?', page) or re.search(r"<body[^>]*>\n?", page)
        at = m.end() if m else 0
        page = page[:at] + block + page[at:]
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)


def record_delivery(out_dir: Path, summary: dict[str, Any] | None, warnings: list[str],
                    how: str) -> dict[str, Any]:
    """Append this delivery to run.json's ``delivery`` list and return the updated run."""
    path = Path(out_dir) / "run.json"
    run = json.loads(path.read_text(encoding="utf-8"))
    run.setdefault("delivery", []).append({
        "at": datetime.now(UTC).isoformat(timespec="seconds"), "by": how,
        **(summary or {}), "warnings": warnings})
    tmp = path.with_name(".run.json.tmp")
    tmp.write_text(json.dumps(run, indent=2, ensure_ascii=False, default=str) + "\n",
                   encoding="utf-8")
    tmp.replace(path)
    return run


def find_run(run: str, settings: Settings | None = None) -> Path:
    """An output folder from ``run``: a folder holding run.json, or a run id (or a unique
    prefix of one) among the folders under ``out_root``. Raises ``LookupError``."""
    path = Path(run)
    if (path / "run.json").is_file():
        return path
    root = Path((settings or Settings()).out_root)
    found = []
    for candidate in sorted(root.glob("*/run.json")) + sorted(root.glob("*/*/run.json")):
        try:
            run_id = str(json.loads(candidate.read_text(encoding="utf-8")).get("run_id", ""))
        except (OSError, ValueError):
            continue
        if run_id == run or (len(run) >= 8 and run_id.startswith(run)):
            found.append(candidate.parent)
    if len(found) == 1:
        return found[0]
    if not found:
        raise LookupError(f"no output folder and no run {run!r} under {root}")
    raise LookupError(f"{run!r} matches {len(found)} runs: "
                      + ", ".join(str(f) for f in found[:5]))
