"""Refund requests: the bulk follows a realistic after-sales lifecycle (responses, decisions,
returns, escalations, rulings) within the platforms' deadlines."""

from __future__ import annotations

import numpy as np

from sources.generate.arrays import _fmax
from sources.generate.vocabulary import (
    _LATER,
    _TIME_FIELDS,
    AMAZON,
    RESP_SHIPPED_H,
    RESP_UNSHIPPED_H,
    D,
    H,
)


class RefundsMixin:
    """The bulk of the refunds and their lifecycle."""

    def build_refunds(self) -> None:
        od, A, r = self.od, self.A, self.rng
        target = round(0.22 * self.n)
        m = int(target * 1.6) + 20
        oi = r.integers(0, self.n, m)
        paid, shipped, delivered = od["paid"][oi], od["shipped"][oi], od["delivered"][oi]
        has_ship, has_del = ~np.isnan(shipped), ~np.isnan(delivered)
        u = r.random(m)
        stage = np.where(
            has_del, np.where(u < 0.8, 2, np.where(u < 0.92, 1, 0)),
            np.where(has_ship & (u < 0.6), 1, 0),
        )  # fmt: skip
        reason = np.select(
            [stage == 0, stage == 1],
            [self.choice([0.75, 0.25], m, [0, 6]), self.choice([0.45, 0.35, 0.2], m, [5, 0, 6])],
            self.choice([0.35, 0.2, 0.13, 0.09, 0.06, 0.03, 0.14], m),
        )
        quality = np.isin(reason, (1, 2, 3))
        p_return = np.array([0.85, 0.7, 0.75, 0.35, 0.8, 0.0, 0.4])[reason]
        kind = np.where(stage == 2, r.random(m) < p_return, (stage == 1) & (r.random(m) < 0.1))
        pre_gap = np.fmin(np.where(has_ship, shipped - paid, 3 * D), 3 * D)
        transit_end = np.where(has_del, delivered, np.fmin(shipped + 7 * D, A))
        after = np.select(
            [quality, reason == 0],
            [np.where(r.random(m) < 0.85, r.uniform(0.5 * H, 22 * H, m),
                      24 * H + r.exponential(2 * D, m)),
             r.exponential(2.2 * D, m)],
            r.exponential(3 * D, m),
        )  # fmt: skip
        req = np.select(
            [stage == 0, stage == 1],
            [paid + r.uniform(0.02, 0.95, m) * pre_gap,
             shipped + r.uniform(0.05, 0.95, m) * (transit_end - shipped)],
            delivered + after,
        )  # fmt: skip
        keep = np.flatnonzero(req < A - 60)[:target]
        oi, stage, reason, kind, req = oi[keep], stage[keep], reason[keep], kind[keep], req[keep]
        n = len(keep)
        quality = np.isin(reason, (1, 2, 3))
        plat = od["plat"][oi]
        cents_o = od["cents"][oi]
        partial = (stage == 2) & (r.random(n) < 0.25)
        cents = np.where(partial, np.maximum(1, (cents_o * r.uniform(0.1, 0.9, n))), cents_o)
        self.R = R = {
            "oi": oi.astype(np.int64), "plat": plat, "shop": od["shop"][oi],
            "kind": kind.astype(np.int8), "reason": reason.astype(np.int8),
            "cents": cents.astype(np.int64), "rcents": np.full(n, -1, dtype=np.int64),
            "decision": np.zeros(n, dtype=np.int8), "ruling": np.zeros(n, dtype=np.int8),
            "addr": np.full(n, -1, dtype=np.int64), "evidence": np.full(n, 2, dtype=np.int8),
            "num": np.arange(n, dtype=np.int64), "style": self.styles(n),
            "spell": self.spellings(n), "jitter": r.uniform(5, 300, n),
            "upd_empty": r.random(n) < 0.01, "silent": np.zeros(n, dtype=bool),
            "cutoff": np.full(n, A), **{f: np.full(n, np.nan) for f in _TIME_FIELDS},
        }  # fmt: skip
        R["req"] = req
        self.stage = stage
        self.delivered_r = od["delivered"][oi]
        self.close = self.no_reason_close(self.delivered_r, plat)
        self.resp_sla = self.response_sla(R)
        self.lifecycle(R, quality)
        self.R_quality = quality

    @staticmethod
    def no_reason_close(delivered: np.ndarray, plat: np.ndarray) -> np.ndarray:
        """CN: 7 days from 00:00 of the day after delivery; amazon_us: 30 days from delivery."""
        local = delivered + 8 * H
        cn = (np.floor(local / D) + 1 + 7) * D - 8 * H
        return np.where(plat == AMAZON, delivered + 30 * D, cn)

    def response_sla(self, R: dict[str, np.ndarray]) -> np.ndarray:
        shipped = self.od["shipped"][R["oi"]]
        shipped_state = ~np.isnan(shipped) & (shipped <= R["req"])
        return np.where(shipped_state, RESP_SHIPPED_H[R["plat"]], RESP_UNSHIPPED_H[R["plat"]]) * H

    def lifecycle(self, R: dict[str, np.ndarray], quality: np.ndarray) -> None:
        r, n = self.rng, len(R["req"])
        req, plat, reason, us = R["req"], R["plat"], R["reason"], R["plat"] == AMAZON
        # first response; a few sellers never answer, and CN platforms then auto-agree at the
        # deadline (超时自动同意) — a response exactly at the due time, which is on time
        resp = req + np.maximum(60, self.logn(2 * H, 1.0, n))
        never = r.random(n) < 0.03
        auto = never & ~us & (r.random(n) < 0.6)
        resp[never] = np.nan
        eligible = self.od["nrr"][R["oi"]] & ((self.stage < 2) | (req < self.close))
        decision = np.where(
            reason == 0,
            np.where(eligible, self.choice([0.03, 0.97], n),
                     self.choice([0.05, 0.4, 0.55], n)),
            self.choice([0.07, 0.8, 0.13], n),
        ).astype(np.int8)  # fmt: skip
        decision[(reason == 5) & (self.stage == 1)] = 1
        dec = resp + np.where(r.random(n) < 0.6, 0.0, self.logn(6 * H, 1.0, n))
        dec[decision == 0] = np.nan
        decision[never] = 0
        dec[auto] = req[auto] + self.resp_sla[auto]
        decision[auto] = 1
        agreed = decision == 1
        ret = agreed & (R["kind"] == 1)
        bship = np.where(ret & (r.random(n) > 0.07), dec + self.logn(1.2 * D, 0.6, n), np.nan)
        ret_days = np.array([4.0, 2.5, 3.0, 4.0])[plat] * D
        srecv = bship + ret_days * np.exp(r.normal(0, 0.35, n))
        srecv[r.random(n) < 0.04] = np.nan
        after_recv = np.where(
            us, np.minimum(self.logn(10 * H, 0.8, n), 47 * H), self.logn(18 * H, 1.0, n)
        )
        refd = np.where(
            R["kind"] == 1, srecv + after_recv,
            dec + np.maximum(30, self.logn(0.3 * H, 1.0, n)),
        )  # fmt: skip
        refd[~agreed | (r.random(n) < 0.02)] = np.nan
        # escalation: mostly refusals and sellers who never answered
        unanswered = never & ~auto
        stuck = ret & np.isnan(refd)
        p_esc = np.select([decision == 2, unanswered, stuck], [0.3, 0.5, 0.15], 0.01)
        esc_base = np.select(
            [decision == 2, unanswered],
            [dec + self.logn(20 * H, 0.8, n), req + self.resp_sla + self.logn(6 * H, 0.8, n)],
            _fmax(req, dec, srecv) + self.logn(2 * D, 0.5, n),
        )
        esc = np.where(r.random(n) < p_esc, esc_base, np.nan)
        escr = esc + np.maximum(300, self.logn(5 * H, 1.0, n))
        escr[r.random(n) < 0.03] = np.nan
        ruled = np.where(r.random(n) < 0.85, esc + self.logn(2 * D, 0.4, n), np.nan)
        p_seller = np.select([decision == 2, unanswered], [0.45, 0.85], 0.5)
        ruling = np.where(np.isnan(ruled), 0, np.where(r.random(n) < p_seller, 1, 2))
        forced = (ruling == 1) & np.isnan(refd)
        refd[forced] = ruled[forced] + r.uniform(600, 6 * H, forced.sum())
        R["rcents"] = np.where(np.isnan(refd), -1, R["cents"])
        R["evidence"] = np.where(
            quality, r.random(n) >= 0.12, np.where(r.random(n) < 0.9, 2, 0)
        ).astype(np.int8)
        R.update(resp=resp, dec=dec, bship=bship, srecv=srecv, refd=refd, esc=esc, escr=escr,
                 ruled=ruled, decision=decision, ruling=ruling.astype(np.int8))  # fmt: skip
        # the address the seller sent: the shop's current entry (its old one before a move)
        shop = R["shop"]
        current = np.where(r.random(n) < 0.8, self.role["e1"][shop], self.role["e2"][shop])
        addr = np.where(dec < self.e1_from[shop], self.role["e3"][shop], current)
        R["addr"] = np.where(ret, addr, -1)

    def shift(self, idx: np.ndarray, since: np.ndarray, delta: np.ndarray) -> None:
        """Move every later event of refunds ``idx`` (at or after ``since``) by ``delta``."""
        for f in _LATER:
            v = self.R[f][idx]
            self.R[f][idx] = np.where(v >= since, v + delta, v)

    def clear(self, idx: np.ndarray, *fields: str) -> None:
        for f in fields:
            self.R[f][idx] = np.nan
        if "refd" in fields:
            self.R["rcents"][idx] = -1
        if "dec" in fields:
            self.R["decision"][idx] = 0
            self.R["addr"][idx] = -1
        if "ruled" in fields:
            self.R["ruling"][idx] = 0

