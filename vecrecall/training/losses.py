"""Training losses as sentence-transformers loss modules.

Built-in losses are used where sentence-transformers has them (MNRL, triplet, contrastive, MarginMSE); the others are
written here as the same kind of module (`forward(features, labels)` → `compute_loss_from_embeddings`):

* `PairwiseLogisticLoss`  ln(1 + exp(−γ·(s⁺ − s⁻)))  (RankNet-style pairwise logistic loss with a slope γ).
* `LogQMNRLoss`           in-batch softmax over scale·s(q_i, d_j) − ln p_j: the sampled-softmax logQ correction
                          (Yi et al., RecSys 2019) for the popularity bias of in-batch negatives. Training only: at
                          inference the model scores s(q, d) as usual.
* `DistillBCELoss`        binary cross-entropy of σ(scale·xᵀz) against a teacher label y ∈ [0, 1].

All similarities are cosine (the embeddings are normalised inside the loss), so the hand computations in the tests
need nothing but the formulas above.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import UserError


def _cos(a: Tensor, b: Tensor) -> Tensor:
    """Row-wise cosine similarity of two (n, d) matrices."""
    return F.cosine_similarity(a, b, dim=-1)


def _embed(model: Any, features: Iterable[dict[str, Tensor]]) -> list[Tensor]:
    from sentence_transformers.base.losses.merged_forward import embed_columns

    return embed_columns(model, features)


class _EmbeddingLoss(nn.Module):
    """A loss computed from the embeddings of each input column."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model

    def forward(self, sentence_features: Iterable[dict[str, Tensor]], labels: Tensor | None) -> Tensor:
        return self.compute_loss_from_embeddings(_embed(self.model, sentence_features), labels)

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None) -> Tensor:
        raise NotImplementedError


class PairwiseLogisticLoss(_EmbeddingLoss):
    """(anchor, positive, negative) → mean ln(1 + exp(−γ·(cos(a, p) − cos(a, n))))."""

    def __init__(self, model: Any, gamma: float = 10.0) -> None:
        super().__init__(model)
        self.gamma = gamma

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None) -> Tensor:
        anchor, pos, neg = embeddings[:3]
        margin = _cos(anchor, pos) - _cos(anchor, neg)
        return F.softplus(-self.gamma * margin).mean()

    def get_config_dict(self) -> dict[str, Any]:
        return {"gamma": self.gamma}


class LogQMNRLoss(_EmbeddingLoss):
    """In-batch softmax cross-entropy with logQ correction.

    Inputs (anchor, positive[, negative…]) and a label per row: ln p of that row's positive, the probability with
    which it appears as an in-batch candidate. Logits are scale·cos(q_i, d_j) − ln p_j for the in-batch positives
    d_j; explicit hard negatives were not drawn by popularity and get no correction.
    """

    def __init__(self, model: Any, scale: float = 20.0) -> None:
        super().__init__(model)
        self.scale = scale

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None) -> Tensor:
        if labels is None:
            raise ValueError("LogQMNRLoss needs ln p of each row's positive as the label")
        queries, docs = embeddings[0], embeddings[1:]
        q = F.normalize(queries, dim=-1)
        cands = F.normalize(torch.cat(docs, dim=0), dim=-1)
        logits = self.scale * q @ cands.T
        n = queries.shape[0]
        correction = torch.zeros(cands.shape[0], dtype=logits.dtype, device=logits.device)
        correction[:n] = labels.view(-1).to(logits.dtype)
        logits = logits - correction
        target = torch.arange(n, device=logits.device)
        return F.cross_entropy(logits, target)

    def get_config_dict(self) -> dict[str, Any]:
        return {"scale": self.scale, "logq_correction": True}


class DistillBCELoss(_EmbeddingLoss):
    """(query, document) with teacher label y ∈ [0, 1] → mean BCE(σ(scale·cos(q, d)), y)."""

    def __init__(self, model: Any, scale: float = 1.0) -> None:
        super().__init__(model)
        self.scale = scale

    def compute_loss_from_embeddings(self, embeddings: list[Tensor], labels: Tensor | None) -> Tensor:
        if labels is None:
            raise ValueError("DistillBCELoss needs the teacher score as the label")
        logits = self.scale * _cos(embeddings[0], embeddings[1])
        return F.binary_cross_entropy_with_logits(logits, labels.view(-1).to(logits.dtype))

    def get_config_dict(self) -> dict[str, Any]:
        return {"scale": self.scale}


# ---------------------------------------------------------------------------------------------------------------
# The registry of --loss values
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LossSettings:
    """Loss options from the command line."""

    scale: float = 20.0
    margin: float = 0.1
    gamma: float = 10.0
    distill_mode: str = "bce"
    logq: bool = False


@dataclass(frozen=True)
class LossSpec:
    """How a --loss value builds its module and which columns its rows carry."""

    help: str
    columns: str  # "pair", "triplet", "pair+label", "triplet+label"
    build: Callable[[Any, LossSettings], nn.Module]


def _mnrl(model: Any, s: LossSettings) -> nn.Module:
    if s.logq:
        return LogQMNRLoss(model, scale=s.scale)
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    return MultipleNegativesRankingLoss(model, scale=s.scale)


def _triplet(model: Any, s: LossSettings) -> nn.Module:
    from sentence_transformers.sentence_transformer.losses import TripletDistanceMetric, TripletLoss

    return TripletLoss(model, distance_metric=TripletDistanceMetric.COSINE, triplet_margin=s.margin)


def _contrastive(model: Any, s: LossSettings) -> nn.Module:
    from sentence_transformers.sentence_transformer.losses import ContrastiveLoss, SiameseDistanceMetric

    return ContrastiveLoss(model, distance_metric=SiameseDistanceMetric.COSINE_DISTANCE, margin=s.margin)


def _distill(model: Any, s: LossSettings) -> nn.Module:
    if s.distill_mode == "bce":
        return DistillBCELoss(model, scale=s.scale)
    from sentence_transformers.sentence_transformer.losses import MarginMSELoss
    from sentence_transformers.util import pairwise_cos_sim

    return MarginMSELoss(model, similarity_fct=pairwise_cos_sim)


LOSSES: dict[str, LossSpec] = {
    "mnrl": LossSpec("in-batch softmax cross-entropy (MultipleNegativesRankingLoss; --scale = 1/temperature; "
                     "--logq-correction subtracts ln p_j)", "triplet", _mnrl),
    "triplet": LossSpec("max(0, d(q,d⁺) − d(q,d⁻) + margin), cosine distance (--margin)", "triplet", _triplet),
    "pairwise": LossSpec("ln(1 + exp(−γ·(s⁺ − s⁻))) (--gamma)", "triplet", lambda m, s: PairwiseLogisticLoss(m, s.gamma)),
    "contrastive": LossSpec("½·[y·d² + (1−y)·max(0, margin − d)²], cosine distance (--margin)", "pair+label", _contrastive),
    "distill": LossSpec("BCE of σ(scale·xᵀz) against teacher y ∈ [0,1], or --distill-mode margin-mse", "pair+label", _distill),
}

DISTILL_MODES = ("bce", "margin-mse")


def get_loss(name: str) -> LossSpec:
    """The spec of a --loss value, or a UserError listing the known ones."""
    if name not in LOSSES:
        raise UserError(f"--loss {name}: unknown loss; choose one of {', '.join(LOSSES)}")
    return LOSSES[name]
