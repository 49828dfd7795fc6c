"""Dispute rules (DA001–DA003): which buyer disputes the seller can contest, and which
refusals the platform overturned.

Tmall Global only admits a quality dispute raised within 24 h of receipt and with the buyer's
evidence (the seller article this project started from): outside that, the seller can contest.
A refusal the platform overturned (ruling seller_liable) counts straight into 纠纷退款率.
"""

from __future__ import annotations

import pandas as pd

from checks.clock import add_duration
from checks.context import AuditData
from checks.findings import Rule, empty_findings, fmt_ts, make_findings, rule
from schemas.tables import QUALITY_REASONS
from schemas.timestamps import UTC_DTYPE


def _quality(data: AuditData) -> pd.DataFrame:
    r = data.refunds
    return r[r["reason"].isin(QUALITY_REASONS)]


@rule("DA001", family="dispute", severity="info",
      title="Quality dispute raised after the platform's window (contestable)",
      action="Contest the dispute: it was raised after the platform's window",
      policy="Where the profile has a quality-dispute window (Tmall Global: 24 h after "
             "delivery), a quality-type claim raised later is inadmissible and can be contested.",
      source="Tmall Global seller article (quality disputes within 24 h "
             "of receipt)")
def da001(data: AuditData, rule: Rule) -> pd.DataFrame:
    """Tells the team which quality claims to contest instead of conceding."""
    q = _quality(data)
    q = q[q["delivered_at"].notna()]
    if q.empty:
        return empty_findings()
    limit = pd.Series(pd.NaT, index=q.index, dtype=UTC_DTYPE)
    label = pd.Series(pd.NA, index=q.index, dtype="object")
    for _platform, prof, ver, mask in data.version_groups(q, "requested_at"):
        d = ver.duration("quality_dispute_window")
        if d is None:
            continue
        limit[mask] = add_duration(q.loc[mask, "delivered_at"], d.amount, d.unit, d.clock,
                                   prof.timezone, prof.business_calendar)
        label[mask] = d.label
    late = (q["requested_at"] > limit).fillna(False)
    q = q[late].assign(dispute_window=label[late], window_ended_at=limit[late])
    hours = (q["requested_at"] - q["delivered_at"]).dt.total_seconds() / 3600
    if q.empty:
        return empty_findings()
    detail = ("Quality claim (" + q["reason"] + ") raised " + hours.round(1).astype("str")
              + " h after delivery; the platform admits it only within "
              + q["dispute_window"].astype("str") + " — contest it.")
    return make_findings(rule, q, status="contestable", detail=detail,
                         evidence=["reason", "delivered_at", "requested_at", "window_ended_at",
                                   "dispute_window"])


@rule("DA002", family="dispute", severity="info",
      title="Quality dispute without buyer evidence (contestable)",
      action="Contest the dispute: the buyer gave no evidence",
      policy="Where the profile requires it (Tmall Global), a quality-type claim needs the "
             "buyer's evidence; without it the seller can contest.",
      source="Tmall Global seller article (quality disputes need evidence)")
def da002(data: AuditData, rule: Rule) -> pd.DataFrame:
    """A claim with no photos or inspection report is contestable on Tmall Global."""
    q = _quality(data)
    keep = pd.Series(False, index=q.index)
    for _platform, _prof, ver, mask in data.version_groups(q, "requested_at"):
        if ver.value("quality_dispute_needs_evidence"):
            keep[mask] = True
    q = q[keep & (q["evidence_provided"] == False).fillna(False)]  # noqa: E712 (NA-aware)
    if q.empty:
        return empty_findings()
    detail = ("Quality claim (" + q["reason"] + ") requested at " + fmt_ts(q["requested_at"])
              + " came without buyer evidence — contest it.")
    return make_findings(rule, q, status="contestable", detail=detail,
                         evidence=["reason", "requested_at", "evidence_provided"])


@rule("DA003", family="dispute", severity="major",
      title="Refusal overturned by the platform",
      action="Refund as the platform ruled and review why the refusal failed",
      policy="A refusal the platform overturned (ruling seller_liable) is a dispute lost.",
      source="天猫 纠纷退款率 definition")
def da003(data: AuditData, rule: Rule) -> pd.DataFrame:
    """Each overturned refusal counts into 纠纷退款率 / ODR and may cost the listing."""
    r = data.refunds
    p = r[(r["decision"] == "refused") & (r["ruling"] == "seller_liable")]
    if p.empty:
        return empty_findings()
    detail = ("Refused at " + fmt_ts(p["decided_at"]) + "; the platform ruled the seller "
              "liable at " + fmt_ts(p["ruled_at"]) + ".")
    return make_findings(rule, p, status="violation", detail=detail,
                         evidence=["decided_at", "escalated_at", "ruled_at", "ruling"])
