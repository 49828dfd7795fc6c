"""Conduct rules (PC001–PC002): talking to the buyer before they escalate, and how.

Buyers who hear nothing from the seller escalate; a hostile or flat-refusal reply is itself
evidence against the seller in the platform's ruling.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from checks.context import AuditData
from checks.findings import Rule, empty_findings, fmt_ts, make_findings, rule
from checks.tone import judge


@rule("PC001", family="conduct", severity="major",
      title="No contact with the buyer before escalation",
      action="Contact the buyer and follow up on the request",
      policy="Before a refund is escalated, the seller messages the buyer at least once "
             "between the request and the escalation.",
      source="淘宝/天猫 纠纷处理: 主动协商", needs_messages=True)
def pc001(data: AuditData, rule: Rule) -> pd.DataFrame:
    """A seller who never contacted the buyer before escalation has no negotiation to show."""
    r = data.refunds
    e = r[r["escalated_at"].notna()]
    if e.empty:
        return empty_findings()
    m = data.messages
    seller = m.loc[m["sender"] == "seller", ["order_id", "sent_at"]]
    j = e[["refund_id", "order_id", "requested_at", "escalated_at"]].merge(
        seller, on="order_id", how="inner")
    contacted = j[(j["sent_at"] >= j["requested_at"]) & (j["sent_at"] < j["escalated_at"])]
    e = e[~e["refund_id"].isin(contacted["refund_id"])]
    if e.empty:
        return empty_findings()
    detail = ("Escalated at " + fmt_ts(e["escalated_at"]) + " with no seller message since "
              "the request at " + fmt_ts(e["requested_at"]) + ".")
    return make_findings(rule, e, status="violation", detail=detail,
                         evidence=["requested_at", "escalated_at"])


@rule("PC002", family="conduct", severity="minor",
      title="Hostile or flat-refusal seller message",
      action="Review the message with the agent; apologise to the buyer if needed",
      policy="Seller messages stay civil: no dismissal, insult, indifference, taunt, sarcasm "
             "or blame, and no flat refusal (a refusal with no reason and no way forward), "
             "such as 爱买不买, 滚, \"not my problem\" (judged by phrase and by a wording "
             "model trained on labelled seller messages, never by a character inside a word).",
      source="淘宝 辱骂/不文明用语 rules; Amazon Communication Guidelines",
      needs_messages=True)
def pc002(data: AuditData, rule: Rule) -> pd.DataFrame:
    """Hostile wording is quoted by the buyer in the dispute and read by the platform.

    The evidence names the family of hostility and the words that fired (as normalised:
    simplified, lower case) next to the message as the seller wrote it.
    """
    m = data.messages
    m = m[(m["sender"] == "seller") & (m["sent_at"] >= data.start) & (m["sent_at"] < data.as_of)
          & m["text"].notna() & m["platform"].notna()]
    if m.empty:
        return empty_findings()
    verdict = judge(m["text"])
    hit = verdict["hostile"].to_numpy()
    m = m[hit].assign(family=verdict.loc[hit, "family"].to_numpy(),
                      phrase=verdict.loc[hit, "phrase"].to_numpy(),
                      score=verdict.loc[hit, "score"].to_numpy())
    if m.empty:
        return empty_findings()
    family = m["family"].astype(str).str.replace("_", " ", regex=False).to_numpy(dtype=object)
    phrase = m["phrase"].astype(str).to_numpy(dtype=object)
    score = m["score"].to_numpy(dtype=float)
    # A phrase names itself; the wording model says how sure it is and which words weighed.
    by_phrase = " contains \u201c" + phrase + "\u201d (" + family + ")."
    by_model = (" reads as " + family + " (wording model, "
                + np.array([f"{p:.2f}" for p in score], dtype=object) + "): \u201c"
                + phrase + "\u201d.")
    detail = ("Seller message at " + fmt_ts(m["sent_at"])
              + np.where(np.isnan(score), by_phrase, by_model))
    return make_findings(rule, m, status="violation", detail=detail,
                         evidence=["sent_at", "text", "family", "phrase"],
                         message_id=m["message_id"])
