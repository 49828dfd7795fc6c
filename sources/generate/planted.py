"""The planted cases: a size-proportional share of refunds shaped so that every rule fires
(violations, ``at_risk`` and ``contestable`` cases), and the refunds' final versions."""

from __future__ import annotations

import numpy as np

from sources.generate.arrays import _fmax, _take
from sources.generate.vocabulary import _LATER, _TIME_FIELDS, AMAZON, ESC_H, RESP_SHIPPED_H, D, H


class PlantedMixin:
    """Refunds reshaped into each rule's firing cases."""

    def plant_refunds(self) -> None:
        R, od, A, r = self.R, self.od, self.A, self.rng
        n = len(R["req"])
        req, plat, shop = R["req"], R["plat"], R["shop"]
        in_win = (req >= A - self.W) & (req < A)
        self.n_scope = int(in_win.sum())
        self.claimed = np.zeros(n, dtype=bool)
        delivered = self.delivered_r
        has_del = ~np.isnan(delivered)
        quality = self.R_quality
        cn = plat != AMAZON
        no_esc = np.isnan(R["esc"])

        # DA001 (contestable): tmall_global quality claim raised > 24 h after delivery
        new_req = delivered + 24 * H + r.uniform(3 * H, 3 * D, n)
        ok = (new_req >= A - self.W) & (new_req <= A - 2 * H)
        idx = self.plant(in_win & (plat == 0) & quality & (self.stage == 2) & ok, 0.005)
        self.shift(idx, req[idx], new_req[idx] - req[idx])
        req[idx] = new_req[idx]
        # DA002 (contestable): tmall_global quality claim without evidence
        idx = self.plant(in_win & (plat == 0) & quality, 0.005)
        R["evidence"][idx] = 0

        # SD001: an eligible 7-day no-reason return refused
        r0 = np.where(np.isnan(R["resp"]), req + r.uniform(H, 10 * H, n), R["resp"])
        sd_pop = in_win & od["nrr"][R["oi"]] & (R["reason"] == 0) & (self.stage == 2)
        sd_pop &= req < self.close
        idx = self.plant(sd_pop & (R["decision"] != 2) & no_esc & (r0 <= A - 2 * H), 0.004)
        R["resp"][idx] = r0[idx]
        self.clear(idx, "dec", "bship", "srecv", "refd")
        R["dec"][idx] = r0[idx] + r.uniform(0, H, len(idx))
        R["decision"][idx] = 2
        # SD002: the same population, free shipping, refunded short (return postage deducted)
        fee = np.where(plat == AMAZON, r.choice([599, 799], n), r.choice([800, 1000, 1200], n))
        cand = sd_pop & od["fs"][R["oi"]] & (R["rcents"] > 2 * fee) & (R["refd"] <= A)
        idx = self.plant(cand & (R["decision"] == 1), 0.004)
        R["rcents"][idx] -= fee[idx]

        # RT003 at_risk (CN, 168 h): returned parcel signed for 6-7 days ago, not refunded
        agreed_ret = (R["decision"] == 1) & (R["kind"] == 1)
        new_recv = A - 168 * H + r.uniform(2 * H, 22 * H, n)
        cand = in_win & cn & agreed_ret & (R["bship"] <= new_recv - 12 * H) & no_esc
        idx = self.plant(cand, 0.002)
        R["srecv"][idx] = new_recv[idx]
        self.clear(idx, "refd")
        # RT003 violation: refunded well after the refund-after-receipt deadline
        late = np.where(
            plat == AMAZON, 6 * D + r.uniform(0, D, n), 168 * H + r.uniform(4 * H, 2 * D, n)
        )
        idx = self.plant(in_win & (R["srecv"] <= A - 9 * D) & no_esc, 0.005)
        R["refd"][idx] = R["srecv"][idx] + late[idx]
        R["rcents"][idx] = R["cents"][idx]

        # RT001 at_risk: a request on a delivered order, unanswered, due within the next 24 h
        sla_shipped = RESP_SHIPPED_H[plat] * H
        new_req = A - sla_shipped + r.uniform(2 * H, 22 * H, n)
        cand = in_win & has_del & (delivered <= new_req - 12 * H) & no_esc
        idx = self.plant(cand, 0.003)
        req[idx] = new_req[idx]
        self.clear(idx, *_LATER)
        self.resp_sla[idx] = sla_shipped[idx]
        # RT001 violation: first response (and all that followed) after the deadline
        first = np.fmin(R["resp"], R["dec"])
        idx = self.plant(in_win & ~np.isnan(first) & (req <= A - 8 * D) & no_esc, 0.008)
        new_first = req[idx] + self.resp_sla[idx] + r.uniform(2 * H, 40 * H, len(idx))
        self.shift(idx, first[idx], new_first - first[idx])

        # RT002 violation: the seller answered the platform intervention late
        esc_h = ESC_H[plat] * H
        open_or_refused = (R["decision"] == 0) | ((R["decision"] == 2) & (R["dec"] <= A - 8 * D))
        idx = self.plant(in_win & (req <= A - 10 * D) & no_esc & open_or_refused, 0.004)
        R["esc"][idx] = _fmax(req[idx], R["dec"][idx]) + r.uniform(6 * H, 30 * H, len(idx))
        R["escr"][idx] = R["esc"][idx] + esc_h[idx] + r.uniform(2 * H, 40 * H, len(idx))
        ruled = (R["decision"][idx] == 2) & (r.random(len(idx)) < 0.5)
        R["ruled"][idx] = np.where(
            ruled, R["escr"][idx] + r.uniform(12 * H, 2 * D, len(idx)), np.nan
        )
        R["ruling"][idx] = np.where(ruled, 2, 0)
        # RT002 at_risk: escalated just now, no response yet
        open_or_refused = (R["decision"] == 0) | ((R["decision"] == 2) & (R["dec"] <= A - 3 * D))
        idx = self.plant(in_win & (req <= A - 4 * D) & no_esc & open_or_refused, 0.002)
        R["esc"][idx] = A - esc_h[idx] + r.uniform(2 * H, 22 * H, len(idx))
        self.clear(idx, "escr", "ruled")

        # DA003: a refusal the platform overturned (ruling seller_liable)
        cand = in_win & (req <= A - 12 * D) & no_esc & (R["reason"] != 0) & (R["dec"] <= A - 9 * D)
        idx = self.plant(cand, 0.004)
        k = len(idx)
        self.clear(idx, "bship", "srecv", "refd")
        R["addr"][idx] = -1
        R["decision"][idx] = 2
        R["esc"][idx] = R["dec"][idx] + r.uniform(3 * H, 30 * H, k)
        R["escr"][idx] = R["esc"][idx] + r.uniform(H, 0.8 * esc_h[idx], k)
        R["ruled"][idx] = R["esc"][idx] + r.uniform(D, 3 * D, k)
        R["ruling"][idx] = 1
        R["refd"][idx] = R["ruled"][idx] + r.uniform(600, 3 * H, k)
        R["rcents"][idx] = R["cents"][idx]

        # RA001–RA006: the address sent with an agreed return
        ra_pop = in_win & (R["decision"] == 1) & (R["kind"] == 1) & (R["dec"] <= A - H)
        idx = self.plant(ra_pop, 0.004)  # RA001: none sent
        self.clear(idx, "bship", "srecv", "refd")
        R["addr"][idx] = -1
        idx = self.plant(ra_pop, 0.004)  # RA002: unknown id / another shop's entry
        other = self.role["e1"][(shop[idx] + 1) % len(self.shop_ids)]
        R["addr"][idx] = np.where(np.arange(len(idx)) % 2 == 0, self.unknown_addr[shop[idx]], other)
        idx = self.plant(ra_pop & (R["dec"] >= self.e3_to[shop]), 0.004)  # RA003: retired entry
        R["addr"][idx] = self.role["e3"][shop[idx]]
        idx = self.plant(ra_pop, 0.004)  # RA004: incomplete / invalid entry
        R["addr"][idx] = self.role["e4"][shop[idx]]
        region = od["region"][R["oi"]]
        needs_cn = np.isin(plat, (0, 2)) & np.isin(region, (0, 3))
        needs_us = (plat == AMAZON) & np.isin(region, (2, 3))
        idx = self.plant(ra_pop & (needs_cn | needs_us), 0.004)  # RA005: wrong country
        R["addr"][idx] = np.where(
            plat[idx] == AMAZON, self.role["e5"][shop[idx]], self.role["e6"][shop[idx]]
        )
        idx = self.plant(ra_pop & cn, 0.004)  # RA006: CN divisions that do not nest
        R["addr"][idx] = self.role["e5"][shop[idx]]

        # PC001: escalated with no seller message before the escalation
        escalated = in_win & (R["esc"] <= A)
        pick = np.flatnonzero(escalated & ~R["silent"])
        k = min(len(pick), max(2, round(0.003 * self.n_scope)))
        R["silent"][r.choice(pick, size=k, replace=False)] = True
        R["silent"] |= np.isnan(R["resp"]) & np.isnan(R["dec"])

        # events after as_of: a decision dated after it, and requests opened after it
        k_future = max(2, round(0.002 * self.n_scope))
        idx = self.plant(in_win & (req >= A - 40 * H) & (req <= A - 3 * H) & no_esc, 0, k_future)
        self.clear(idx, *_LATER)
        R["dec"][idx] = A + r.uniform(2 * H, 30 * H, len(idx))
        R["decision"][idx] = 1
        R["addr"][idx] = np.where(R["kind"][idx] == 1, self.role["e1"][shop[idx]], -1)
        R["cutoff"][idx] = A + 3 * D
        self.future_decisions = idx
        idx = self.plant((req >= A - 3 * D) & (req < A) & no_esc, 0, k_future)
        delta = A + r.uniform(H, 30 * H, len(idx)) - req[idx]
        self.shift(idx, req[idx], delta)
        req[idx] += delta
        R["cutoff"][idx] = A + 3 * D

    def censor(self, R: dict[str, np.ndarray], cutoff: np.ndarray) -> dict[str, np.ndarray]:
        """The row as a pull at ``cutoff`` would have seen it: later events are not there yet."""
        R = dict(R)
        for f in _TIME_FIELDS:
            R[f] = np.where(R[f] > cutoff, np.nan, np.floor(R[f]))
        gone_dec = np.isnan(R["dec"])
        R["decision"] = np.where(gone_dec, 0, R["decision"]).astype(np.int8)
        R["addr"] = np.where(gone_dec, -1, R["addr"])
        R["ruling"] = np.where(np.isnan(R["ruled"]), 0, R["ruling"]).astype(np.int8)
        R["rcents"] = np.where(np.isnan(R["refd"]), -1, R["rcents"])
        latest = _fmax(*(R[f] for f in _TIME_FIELDS))
        R["upd"] = np.floor(np.minimum(latest + R["jitter"], np.fmax(latest, cutoff)))
        return R

    def finish_refunds(self) -> None:
        """Censor at the pull time, add older versions (resends) and exact copies."""
        R = self.censor(self.R, self.R["cutoff"])
        self.R_final = R
        r, n = self.rng, len(R["req"])
        gap = R["dec"] - R["req"]
        resend = np.flatnonzero((gap > 120) & (r.random(n) < 0.03) & ~self.claimed)
        resend = np.union1d(resend, self.future_decisions)
        frac = r.uniform(0.2, 0.9, len(resend))
        t_old = np.floor(R["req"][resend] + frac * np.fmin(gap[resend], self.A - R["req"][resend]))
        old = self.censor(_take(R, resend), t_old)
        old["style"] = self.styles(len(resend))
        old["upd_empty"][:] = False
        R["upd_empty"][resend] = False
        self.R_versions = old
        self.R_dups = np.sort(r.choice(n, size=min(n, max(2, round(0.003 * n))), replace=False))

