"""Every --loss equals a hand computation on a 3×3 batch (3 rows, 3 dimensions) to 1e-6.

The expected values are written out from the formulas with plain Python math on cosine similarities, independently
of torch and of sentence-transformers.
"""

from __future__ import annotations

import math

import pytest
import torch

from vecrecall.errors import UserError
from vecrecall.training.losses import LOSSES, DistillBCELoss, LogQMNRLoss, LossSettings, PairwiseLogisticLoss, get_loss

Q = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.6, 0.8, 0.0]]
P = [[0.8, 0.6, 0.0], [0.0, 0.6, 0.8], [1.0, 1.0, 1.0]]
N = [[0.0, 0.0, 1.0], [1.0, 1.0, 0.0], [0.5, -0.5, 0.5]]


def cos(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def t(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


def softmax_ce(logits: list[float], target: int) -> float:
    m = max(logits)
    return -(logits[target] - m - math.log(sum(math.exp(x - m) for x in logits)))


def test_mnrl_matches_hand_softmax():
    scale = 20.0
    loss = LOSSES["mnrl"].build(None, LossSettings(scale=scale))
    cands = P + N
    expected = sum(softmax_ce([scale * cos(Q[i], c) for c in cands], i) for i in range(3)) / 3
    got = loss.compute_loss_from_embeddings([t(Q), t(P), t(N)], None).item()
    assert got == pytest.approx(expected, abs=1e-6)


def test_mnrl_pairs_only_matches_hand_softmax():
    loss = LOSSES["mnrl"].build(None, LossSettings(scale=5.0))
    expected = sum(softmax_ce([5.0 * cos(Q[i], c) for c in P], i) for i in range(3)) / 3
    assert loss.compute_loss_from_embeddings([t(Q), t(P)], None).item() == pytest.approx(expected, abs=1e-6)


def test_logq_mnrl_subtracts_log_p_of_in_batch_candidates_only():
    scale = 20.0
    p = [0.5, 0.3, 0.2]  # sampling probability of each row's positive
    loss = LOSSES["mnrl"].build(None, LossSettings(scale=scale, logq=True))
    assert isinstance(loss, LogQMNRLoss)
    expected = 0.0
    for i in range(3):
        logits = [scale * cos(Q[i], P[j]) - math.log(p[j]) for j in range(3)]  # in-batch positives: corrected
        logits += [scale * cos(Q[i], n) for n in N]  # explicit hard negatives: not corrected
        expected += softmax_ce(logits, i)
    labels = torch.tensor([math.log(x) for x in p], dtype=torch.float64)
    got = loss.compute_loss_from_embeddings([t(Q), t(P), t(N)], labels).item()
    assert got == pytest.approx(expected / 3, abs=1e-6)
    # without the correction the value differs (the test would catch a no-op)
    plain = LOSSES["mnrl"].build(None, LossSettings(scale=scale)).compute_loss_from_embeddings([t(Q), t(P), t(N)], None).item()
    assert abs(plain - got) > 1e-3


def test_logq_pairs_only():
    p = [0.25, 0.25, 0.5]
    loss = LogQMNRLoss(None, scale=10.0)
    expected = sum(softmax_ce([10.0 * cos(Q[i], P[j]) - math.log(p[j]) for j in range(3)], i) for i in range(3)) / 3
    labels = torch.tensor([math.log(x) for x in p], dtype=torch.float64)
    assert loss.compute_loss_from_embeddings([t(Q), t(P)], labels).item() == pytest.approx(expected, abs=1e-6)


def test_pairwise_logistic_with_gamma():
    gamma = 7.5
    loss = LOSSES["pairwise"].build(None, LossSettings(gamma=gamma))
    assert isinstance(loss, PairwiseLogisticLoss)
    expected = sum(math.log(1 + math.exp(-gamma * (cos(Q[i], P[i]) - cos(Q[i], N[i])))) for i in range(3)) / 3
    assert loss.compute_loss_from_embeddings([t(Q), t(P), t(N)], None).item() == pytest.approx(expected, abs=1e-6)


def test_triplet_cosine_margin():
    margin = 0.3
    loss = LOSSES["triplet"].build(None, LossSettings(margin=margin))
    expected = sum(max(0.0, (1 - cos(Q[i], P[i])) - (1 - cos(Q[i], N[i])) + margin) for i in range(3)) / 3
    assert expected > 0
    assert loss.compute_loss_from_embeddings([t(Q), t(P), t(N)], None).item() == pytest.approx(expected, abs=1e-6)


def test_contrastive():
    margin = 0.5
    labels = [1.0, 0.0, 0.0]
    loss = LOSSES["contrastive"].build(None, LossSettings(margin=margin))
    expected = 0.0
    for i in range(3):
        d = 1 - cos(Q[i], P[i])
        expected += 0.5 * (labels[i] * d * d + (1 - labels[i]) * max(0.0, margin - d) ** 2)
    got = loss.compute_loss_from_embeddings([t(Q), t(P)], torch.tensor(labels, dtype=torch.float64)).item()
    assert got == pytest.approx(expected / 3, abs=1e-6)


def test_distill_bce_of_sigmoid_against_teacher():
    y = [0.9, 0.2, 0.5]
    scale = 3.0
    loss = LOSSES["distill"].build(None, LossSettings(scale=scale))
    assert isinstance(loss, DistillBCELoss)
    expected = 0.0
    for i in range(3):
        s = 1 / (1 + math.exp(-scale * cos(Q[i], P[i])))
        expected += -(y[i] * math.log(s) + (1 - y[i]) * math.log(1 - s))
    got = loss.compute_loss_from_embeddings([t(Q), t(P)], torch.tensor(y, dtype=torch.float64)).item()
    assert got == pytest.approx(expected / 3, abs=1e-6)


def test_distill_margin_mse():
    margins = [0.4, -0.1, 0.7]
    loss = LOSSES["distill"].build(None, LossSettings(distill_mode="margin-mse"))
    expected = sum((cos(Q[i], P[i]) - cos(Q[i], N[i]) - margins[i]) ** 2 for i in range(3)) / 3
    got = loss.compute_loss_from_embeddings([t(Q), t(P), t(N)], torch.tensor(margins, dtype=torch.float64)).item()
    assert got == pytest.approx(expected, abs=1e-6)


def test_unknown_loss_is_a_user_error():
    with pytest.raises(UserError, match="--loss focal: unknown loss; choose one of mnrl"):
        get_loss("focal")
