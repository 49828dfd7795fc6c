"""7-day no-reason return rules (SD001–SD002, 7天无理由退货).

Refusing an eligible no-reason return, or refunding it short on a free-shipping item, is a
direct breach of the platform's consumer promise and is ruled against the seller on appeal.
"""

from __future__ import annotations

import pandas as pd

from checks.clock import no_reason_window_close
from checks.context import AuditData
from checks.findings import Rule, empty_findings, fmt_ts, make_findings, rule
from schemas.timestamps import UTC_DTYPE


def eligible(data: AuditData) -> pd.DataFrame:
    """Refunds in scope that the no-reason promise covers: item carries the promise, reason
    ``no_reason``, requested before the window closed (an undelivered order's window has not
    even started, so it has not closed)."""
    if "sd_eligible" in data.cache:
        return data.cache["sd_eligible"]
    r = data.refunds
    p = r[r["no_reason_return"].fillna(False).astype(bool) & (r["reason"] == "no_reason")]
    close = pd.Series(pd.NaT, index=p.index, dtype=UTC_DTYPE)
    for _platform, prof, ver, mask in data.version_groups(p, "requested_at"):
        s = ver.settings.get("no_reason_return_window") or {}
        if s.get("days") is None:
            continue
        close[mask] = no_reason_window_close(p.loc[mask, "delivered_at"], int(s["days"]),
                                             prof.timezone, s.get("anchor", "next_midnight"))
    in_window = p["delivered_at"].isna() | (p["requested_at"] < close).fillna(False)
    out = p[in_window].assign(window_closes_at=close[in_window])
    data.cache["sd_eligible"] = out
    return out


@rule("SD001", family="seven_day", severity="critical",
      title="7-day no-reason return refused",
      action="Accept the no-reason return and refund the buyer",
      policy="An item with the no-reason return promise must be taken back when the buyer "
             "asks within the window (7 days from 00:00 of the day after delivery on the "
             "Chinese platforms; 30 days from delivery on Amazon US).",
      source="淘宝网七天无理由退货规范; Amazon.com return policy")
def sd001(data: AuditData, rule: Rule) -> pd.DataFrame:
    """A refused eligible no-reason return: the buyer escalates and the platform rules for them."""
    p = eligible(data)
    p = p[p["decision"] == "refused"]
    if p.empty:
        return empty_findings()
    detail = ("No-reason return requested at " + fmt_ts(p["requested_at"])
              + " (window closes " + fmt_ts(p["window_closes_at"]) + ") was refused at "
              + fmt_ts(p["decided_at"]) + ".")
    return make_findings(rule, p, status="violation", detail=detail,
                         evidence=["requested_at", "delivered_at", "window_closes_at",
                                   "decided_at", "decision"])


@rule("SD002", family="seven_day", severity="major",
      title="No-reason return on a free-shipping item refunded short",
      action="Refund the shipping cost that was deducted",
      policy="On a free-shipping (包邮) item an eligible no-reason return is refunded in full; "
             "the seller may not deduct the outbound shipping.",
      source="淘宝网七天无理由退货规范 (包邮商品不得扣除运费)")
def sd002(data: AuditData, rule: Rule) -> pd.DataFrame:
    """Deducting shipping from a 包邮 no-reason refund is a rule breach and a common complaint."""
    p = eligible(data)
    p = p[p["free_shipping"].fillna(False).astype(bool) & p["refunded_at"].notna()
          & (p["refunded_amount"] < p["amount"]).fillna(False)]
    if p.empty:
        return empty_findings()
    detail = ("Refunded " + p["refunded_amount"].map("{:.2f}".format) + " of "
              + p["amount"].map("{:.2f}".format) + " " + p["currency"].fillna("")
              + " requested on a free-shipping no-reason return.")
    return make_findings(rule, p, status="violation", detail=detail,
                         evidence=["amount", "refunded_amount", "currency", "refunded_at"])
