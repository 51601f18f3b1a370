"""Losses over one batch of (user vector, positive item vector) rows and their negatives.

Scores are cosines s = xᵀz of unit vectors. Candidates of row b: its positive; with in-batch negatives the other rows'
positives; shared random negatives (uniform over the catalogue, drawn once per batch); and the row's impressions
(items shown in the same request but not clicked). A candidate that is the row's own positive item (an "accidental
hit") is masked out.

* `softmax`:  cross-entropy of the positive among the candidates, logits s/τ: the in-batch softmax (plus random
  negatives and impressions, if asked).
* `sampled-softmax`: the same over the positive, random negatives (and impressions) only, no in-batch candidates
  (Jean et al., ACL 2015; Bengio & Senécal 2008).
* logQ correction (Yi et al., RecSys 2019): subtract ln q_j, the probability that one draw yields candidate j, from
  its logit — q_j = p_j (the item's share of training positives) for in-batch candidates, the positive included;
  1/N for uniform random ones (a constant, so it changes nothing unless mixed with in-batch candidates); no
  correction for impressions (not drawn by the sampler). Training only: serving scores are plain xᵀz.
* `pairwise`: mean over (positive, negative) pairs of ln(1 + exp(−γ(s⁺ − s⁻))) (RankNet-style logistic loss; γ = 1
  is BPR, Rendle et al. 2009).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

LOSSES = ("softmax", "sampled-softmax", "pairwise")


@dataclass
class Batch:
    """Vectors and item ids of one batch. `random` (M, d) are shared by all rows; `impressions` (B, K, d)."""

    users: Tensor  # (B, d)
    positives: Tensor  # (B, d)
    pos_items: Tensor  # (B,) catalogue rows
    random: Tensor | None = None  # (M, d)
    random_items: Tensor | None = None  # (M,)
    impressions: Tensor | None = None  # (B, K, d)
    impression_items: Tensor | None = None  # (B, K), -1 = padding


def _columns(batch: Batch, in_batch: bool) -> tuple[list[Tensor], list[Tensor], list[str]]:
    """Score blocks (B × c), their validity masks, and each block's kind: in-batch (or the positive), random, shown."""
    u, pos = batch.users, batch.positives
    scores, masks, kinds = [], [], []
    if in_batch:
        s = u @ pos.T
        same = batch.pos_items.unsqueeze(0) == batch.pos_items.unsqueeze(1)
        eye = torch.eye(len(u), dtype=torch.bool, device=u.device)
        scores.append(s)
        masks.append(~same | eye)
        kinds.append("in-batch")
    else:
        scores.append((u * pos).sum(-1, keepdim=True))
        masks.append(torch.ones(len(u), 1, dtype=torch.bool, device=u.device))
        kinds.append("positive")
    if batch.random is not None:
        scores.append(u @ batch.random.T)
        masks.append(batch.random_items.unsqueeze(0) != batch.pos_items.unsqueeze(1))
        kinds.append("random")
    if batch.impressions is not None:
        scores.append(torch.einsum("bd,bkd->bk", u, batch.impressions))
        masks.append((batch.impression_items >= 0) & (batch.impression_items != batch.pos_items.unsqueeze(1)))
        kinds.append("shown")
    return scores, masks, kinds


def softmax_loss(batch: Batch, temperature: float, in_batch: bool, log_p: Tensor | None = None,
                 n_items: int | None = None) -> Tensor:
    """Softmax cross-entropy of each row's positive among its candidates (see the module docstring).

    `log_p` (n_catalogue,): ln p_j of every catalogue item, turning on the logQ correction; `n_items`: the size of the
    catalogue random negatives are drawn from (their q = 1/n_items).
    """
    scores, masks, kinds = _columns(batch, in_batch)
    blocks = []
    for s, m, kind in zip(scores, masks, kinds):
        logits = s / temperature
        if log_p is not None:
            if kind == "in-batch":
                logits = logits - log_p[batch.pos_items].unsqueeze(0)
            elif kind == "positive":
                logits = logits - log_p[batch.pos_items].unsqueeze(1)
            elif kind == "random":
                logits = logits + torch.log(torch.tensor(float(n_items), dtype=logits.dtype))
        blocks.append(logits.masked_fill(~m, float("-inf")))
    logits = torch.cat(blocks, dim=1)
    target = torch.arange(len(logits), device=logits.device) if in_batch else torch.zeros(len(logits), dtype=torch.long)
    return F.cross_entropy(logits, target)


def pairwise_loss(batch: Batch, gamma: float, in_batch: bool) -> Tensor:
    """Mean over valid (positive, negative) pairs of ln(1 + exp(−γ(s⁺ − s⁻)))."""
    scores, masks, kinds = _columns(batch, in_batch)
    s_pos = (batch.users * batch.positives).sum(-1, keepdim=True)
    terms, valid = [], []
    for s, m, kind in zip(scores, masks, kinds):
        if kind == "positive":
            continue
        if kind == "in-batch":
            m = m & ~torch.eye(len(s), dtype=torch.bool, device=s.device)
        terms.append(F.softplus(-gamma * (s_pos - s)))
        valid.append(m)
    if not terms:
        raise ValueError("pairwise loss needs negatives")
    t, v = torch.cat(terms, dim=1), torch.cat(valid, dim=1)
    return (t * v).sum() / v.sum().clamp(min=1)
