"""Test-time k-NN search methods under a budget of B scorer calls per query, in one registry (`METHODS`).

Every method spends its calls through a `CallCounter` (which refuses to exceed the budget) and answers with the
top-k of the items it scored exactly, so methods differ only in *which* B items they score:

- `anncur`            ANNCUR with the index's random anchor items: k_i anchors, then the B−k_i best items by ŝ.
- `anncur-biencoder`  ANNCUR whose k_i anchors are the query's bi-encoder top items (E_I re-solved per query).
- `adacur`            ADACUR: all B calls in rounds, each chosen by the approximation re-solved after the last.
- `rerank`            the usual pipeline: bi-encoder top-B, all B scored by the scorer (no CUR).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import UserError
from .adaptive import adacur
from .cur import RCOND, approx_scores, item_embeddings, top_unscored
from .scorers import CallCounter


@dataclass
class Plan:
    """How one method spends one query's budget."""

    budget: int
    k: int
    k_i: int
    rounds: int = 5


@dataclass
class SearchContext:
    """What the methods may use besides the scorer: the offline anchor matrix, the index's random item order
    (anchors are its prefix) and, optionally, bi-encoder item vectors."""

    r_anc: np.ndarray                      # k_q × |I| float64
    random_order: np.ndarray               # a seeded permutation of all item positions
    biencoder: np.ndarray | None = None    # |I| × d (normalised) or None
    rcond: float = RCOND
    _emb: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def n_items(self) -> int:
        return self.r_anc.shape[1]

    def random_anchors(self, k_i: int) -> tuple[np.ndarray, np.ndarray]:
        """The first k_i items of the random order and their item embeddings E_I (solved once per k_i)."""
        anchors = self.random_order[:k_i]
        if k_i not in self._emb:
            self._emb[k_i] = item_embeddings(self.r_anc, anchors, self.rcond)
        return anchors, self._emb[k_i]

    def biencoder_top(self, qvec: np.ndarray | None, n: int) -> np.ndarray:
        if self.biencoder is None or qvec is None:
            raise UserError("this method needs bi-encoder vectors; build the index with --biencoder MODEL")
        return top_unscored(self.biencoder @ qvec, np.zeros(0, np.int64), n)


def _retrieve(counter: CallCounter, anchors: np.ndarray, s_hat: np.ndarray, plan: Plan) -> None:
    """Spend the rest of the budget on the best items by ŝ that are not anchors."""
    counter.score(top_unscored(s_hat, anchors, plan.budget - len(anchors)))


def anncur_random(ctx: SearchContext, counter: CallCounter, qvec: np.ndarray | None, plan: Plan) -> None:
    anchors, emb = ctx.random_anchors(plan.k_i)
    _retrieve(counter, anchors, approx_scores(counter.score(anchors), emb), plan)


def anncur_biencoder(ctx: SearchContext, counter: CallCounter, qvec: np.ndarray | None, plan: Plan) -> None:
    anchors = ctx.biencoder_top(qvec, plan.k_i)
    c_q = counter.score(anchors)
    # ŝ = c_q · pinv(R_anc[:, A]) · R_anc, associated so the k_i × |I| item embeddings are never formed
    w = c_q @ np.linalg.pinv(ctx.r_anc[:, anchors], rcond=ctx.rcond)
    _retrieve(counter, anchors, w @ ctx.r_anc, plan)


def adacur_method(ctx: SearchContext, counter: CallCounter, qvec: np.ndarray | None, plan: Plan) -> None:
    adacur(ctx.r_anc, ctx.random_order, counter, plan.budget, plan.rounds, ctx.rcond)


def biencoder_rerank(ctx: SearchContext, counter: CallCounter, qvec: np.ndarray | None, plan: Plan) -> None:
    counter.score(ctx.biencoder_top(qvec, plan.budget))


@dataclass(frozen=True)
class Method:
    name: str
    label: str
    run: Callable[[SearchContext, CallCounter, "np.ndarray | None", Plan], None]
    needs_biencoder: bool
    uses_anchors: bool  # whether k_i applies


METHODS: dict[str, Method] = {m.name: m for m in (
    Method("anncur", "ANNCUR (random anchors)", anncur_random, False, True),
    Method("anncur-biencoder", "ANNCUR (bi-encoder anchors)", anncur_biencoder, True, True),
    Method("adacur", "ADACUR", adacur_method, False, False),
    Method("rerank", "bi-encoder + rerank", biencoder_rerank, True, False),
)}


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise UserError(f"--method {name}: unknown method; choose one of {', '.join(METHODS)}")
    return METHODS[name]


def check_plan(method: Method, plan: Plan, n_items: int, max_k_i: int) -> Plan:
    """Refuse budgets that cannot work; budgets above |I| are clipped to |I| (everything gets scored)."""
    if plan.k < 1:
        raise UserError(f"-k {plan.k}: need at least 1 result per query")
    if plan.budget < 1:
        raise UserError(f"--budget {plan.budget}: need at least one scorer call per query")
    if method.uses_anchors:
        if plan.k_i < 1:
            raise UserError(f"--k-i {plan.k_i}: ANNCUR needs at least one anchor item")
        if plan.k_i > max_k_i:
            raise UserError(f"--k-i {plan.k_i}: the index has only {max_k_i} anchor items (its R_anc columns are "
                            f"known for every item, but random anchors are its first {max_k_i}); use --k-i ≤ {max_k_i}")
        if plan.budget < plan.k_i:
            raise UserError(f"--budget {plan.budget} is below k_i = {plan.k_i}: ANNCUR spends k_i calls on anchor "
                            f"items before retrieving; raise --budget to ≥ {plan.k_i} or lower --k-i")
    if plan.rounds < 1:
        raise UserError(f"--rounds {plan.rounds}: ADACUR needs at least one round")
    return Plan(min(plan.budget, n_items), plan.k, min(plan.k_i, n_items), plan.rounds)
