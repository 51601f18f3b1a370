"""The two towers, in plain PyTorch.

Item tower  z = normalize(MLP([id embedding ; mean of each categorical feature's token embeddings ; W_t · text]))
User tower  x = normalize(MLP([id embedding ; feature bags ; mean of the item-tower vectors of the last H items ;
                                W_q · query text]))
Score       s(u, i) = xᵀz (cosine), divided by a temperature inside the softmax losses only.

The history part reuses the item tower (as YouTube DNN shares its item embeddings between the watch history and the
softmax), so an item's features and text reach the user vector too. Id row 0 is fixed at zero: cold-start users and
items are scored by their other parts. Text vectors come from a frozen text encoder (computed once, see `features`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .features import Entities


@dataclass(frozen=True)
class TowerSpec:
    """The architecture (recorded in the model manifest; a warm start must match it)."""

    dim: int = 64
    hidden: int = 128
    history: int = 50
    user_vocab: int = 1
    item_vocab: int = 1
    user_features: dict[str, int] = field(default_factory=dict)  # name → vocabulary size (row 0 included)
    item_features: dict[str, int] = field(default_factory=dict)
    item_text_dim: int = 0
    query_dim: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _mlp(n_in: int, hidden: int, out: int) -> nn.Module:
    if hidden <= 0:
        return nn.Linear(n_in, out)
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, out))


def _embedding(rows: int, dim: int) -> nn.Embedding:
    emb = nn.Embedding(rows, dim, padding_idx=0)
    nn.init.normal_(emb.weight, std=0.1)
    with torch.no_grad():
        emb.weight[0].zero_()
    return emb


def _bag(emb: nn.Embedding, rows: Tensor) -> Tensor:
    """Mean of the embeddings of the non-zero rows of each (n, T) row list; zeros where a row list is empty."""
    mask = (rows > 0).unsqueeze(-1).to(emb.weight.dtype)
    return (emb(rows) * mask).sum(1) / mask.sum(1).clamp(min=1.0)


class TwoTower(nn.Module):
    """Both towers plus the (non-trained) arrays they read: catalogue feature rows, text and query vectors."""

    def __init__(self, spec: TowerSpec, items: Entities, users: Entities, queries: np.ndarray | None) -> None:
        super().__init__()
        self.spec = spec
        d = spec.dim
        self.item_id = _embedding(spec.item_vocab, d)
        self.item_feature = nn.ModuleDict({k: _embedding(n, d) for k, n in spec.item_features.items()})
        self.item_text = nn.Linear(spec.item_text_dim, d) if spec.item_text_dim else None
        n_item_parts = 1 + len(spec.item_features) + (1 if self.item_text is not None else 0)
        self.item_mlp = _mlp(n_item_parts * d, spec.hidden, d)
        self.user_id = _embedding(spec.user_vocab, d)
        self.user_feature = nn.ModuleDict({k: _embedding(n, d) for k, n in spec.user_features.items()})
        self.query_proj = nn.Linear(spec.query_dim, d) if spec.query_dim else None
        n_user_parts = 1 + len(spec.user_features) + (1 if spec.history else 0) + (1 if self.query_proj is not None else 0)
        self.user_mlp = _mlp(n_user_parts * d, spec.hidden, d)
        self.set_data(items, users, queries)

    def set_data(self, items: Entities, users: Entities, queries: np.ndarray | None) -> None:
        """Attach the arrays (not parameters: they are rebuilt from the data, never saved with the weights)."""
        def buf(name: str, value: Any) -> None:
            self.register_buffer(name, torch.as_tensor(value), persistent=False)

        buf("item_id_rows", items.id_rows)
        for k in self.spec.item_features:
            buf(f"item_feat_{k}", items.features[k])
        if self.item_text is not None:
            buf("item_text_vecs", items.text)
        buf("user_id_rows", users.id_rows)
        for k in self.spec.user_features:
            buf(f"user_feat_{k}", users.features[k])
        if self.query_proj is not None:
            buf("query_vecs", queries)

    def items(self, idx: Tensor, id_keep: Tensor | None = None) -> Tensor:
        """Catalogue rows (n,) → (n, dim) unit vectors."""
        ident = self.item_id(self.item_id_rows[idx])
        if id_keep is not None:
            ident = ident * id_keep.unsqueeze(-1)
        parts = [ident] + [_bag(emb, getattr(self, f"item_feat_{k}")[idx]) for k, emb in self.item_feature.items()]
        if self.item_text is not None:
            parts.append(self.item_text(self.item_text_vecs[idx]))
        return F.normalize(self.item_mlp(torch.cat(parts, dim=-1)), dim=-1)

    def users(self, user: Tensor, history: Tensor, query: Tensor, id_keep: Tensor | None = None) -> Tensor:
        """User rows (n,), histories (n, H) of catalogue rows (-1 = none), query rows (n,) → (n, dim) unit vectors."""
        ident = self.user_id(self.user_id_rows[user])
        if id_keep is not None:
            ident = ident * id_keep.unsqueeze(-1)
        parts = [ident] + [_bag(emb, getattr(self, f"user_feat_{k}")[user]) for k, emb in self.user_feature.items()]
        if self.spec.history:
            parts.append(self._history(history))
        if self.query_proj is not None:
            parts.append(self.query_proj(self.query_vecs[query]))
        return F.normalize(self.user_mlp(torch.cat(parts, dim=-1)), dim=-1)

    def _history(self, history: Tensor) -> Tensor:
        valid = history >= 0
        out = torch.zeros(history.shape[0], self.spec.dim, dtype=self.item_id.weight.dtype, device=history.device)
        if not bool(valid.any()):
            return out
        unique, inverse = torch.unique(history[valid], return_inverse=True)
        vecs = self.items(unique)[inverse]  # each distinct item through the tower once
        rows = torch.nonzero(valid, as_tuple=True)[0]
        out = out.index_add(0, rows, vecs)
        return out / valid.sum(1, keepdim=True).clamp(min=1).to(out.dtype)
