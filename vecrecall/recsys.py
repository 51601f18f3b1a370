"""A small synthetic user/item set for match evaluation (recommendation retrieval), made from a seed.

The world: items belong to taste clusters; each user has a true taste vector near one or two clusters and interacted
with items sampled from softmax(true taste · item / temperature) (Gumbel top-m, without replacement). What a
recommender "exported" is a noisy copy of each user's taste, so retrieving the held-out interactions with it is good
but not perfect — the kind of number match evaluation is for.

Written as a directory:
  items/               an embeddings artifact (item vectors; `vecrecall build-index --embeddings` takes it)
  users.npy            user vectors, plain (no vecrecall manifest), as a recommender would export them
  users.ids.txt        the id of each row of users.npy
  interactions.csv     user_id,item_id — the held-out interactions, read by `vecrecall eval --qrels` as binary qrels
  manifest.json        what made it (type "recsys-example")
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .artifacts import Manifest, atomic_dir, check_out, save_embeddings_from_array, write_dir_manifest
from .errors import UserError

MODEL_NAME = "synthetic-two-tower"


@dataclass(frozen=True)
class RecsysSpec:
    """Sizes and noise of the synthetic set."""

    users: int = 500
    items: int = 2000
    dim: int = 32
    clusters: int = 20
    per_user: int = 5
    noise: float = 0.5
    temperature: float = 0.1
    seed: int = 0

    def check(self) -> None:
        for name in ("users", "items", "dim", "clusters", "per_user"):
            if getattr(self, name) < 1:
                raise UserError(f"--{name.replace('_', '-')} {getattr(self, name)}: must be at least 1")
        if self.per_user > self.items:
            raise UserError(f"--per-user {self.per_user}: more than the number of items ({self.items})")
        if self.noise < 0 or self.temperature <= 0:
            raise UserError("--noise must be ≥ 0 and --temperature > 0")


@dataclass
class RecsysData:
    item_ids: list[str]
    items: np.ndarray
    user_ids: list[str]
    users: np.ndarray  # the exported (noisy) user vectors
    interactions: pd.DataFrame  # user_id, item_id


def generate(spec: RecsysSpec) -> RecsysData:
    """The synthetic set for `spec` (same spec → same arrays)."""
    spec.check()
    rng = np.random.default_rng(spec.seed)
    centers = rng.standard_normal((spec.clusters, spec.dim))
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    item_cluster = rng.integers(spec.clusters, size=spec.items)
    items = centers[item_cluster] + 0.5 * rng.standard_normal((spec.items, spec.dim)) / np.sqrt(spec.dim)
    taste = rng.integers(spec.clusters, size=(spec.users, 2))
    weight = rng.uniform(0.5, 1.0, size=(spec.users, 1))
    true = weight * centers[taste[:, 0]] + (1 - weight) * centers[taste[:, 1]]
    true += 0.3 * rng.standard_normal(true.shape) / np.sqrt(spec.dim)
    logits = (true @ items.T) / spec.temperature
    gumbel = rng.gumbel(size=logits.shape)
    chosen = np.argsort(-(logits + gumbel), axis=1, kind="stable")[:, : spec.per_user]
    exported = true + spec.noise * rng.standard_normal(true.shape) * np.linalg.norm(true, axis=1, keepdims=True) / np.sqrt(spec.dim)
    item_ids = [f"i{j:05d}" for j in range(spec.items)]
    user_ids = [f"u{u:05d}" for u in range(spec.users)]
    pairs = [(user_ids[u], item_ids[j]) for u in range(spec.users) for j in chosen[u]]
    return RecsysData(item_ids, items.astype(np.float32), user_ids, exported.astype(np.float32),
                      pd.DataFrame(pairs, columns=["user_id", "item_id"]))


def item_manifest(spec: RecsysSpec, n: int) -> Manifest:
    """An embeddings manifest for the item vectors (the 'model' is the generator and its seed)."""
    fingerprint = hashlib.sha256(repr(sorted(asdict(spec).items())).encode()).hexdigest()[:16]
    return Manifest(type="embeddings",
                    params={"role": "corpus", "model": {"name": MODEL_NAME, "fingerprint": fingerprint, "dim": spec.dim},
                            "normalize": False, "query_prefix": "", "doc_prefix": "", "dtype": "float32"},
                    stats={"rows": n})


def write_recsys(out: str | Path, spec: RecsysSpec, overwrite: bool = False) -> Manifest:
    """Generate the set and write it as a directory at `out` (atomically)."""
    check_out(out, overwrite)
    spec.check()
    data = generate(spec)
    with atomic_dir(out, overwrite) as tmp:
        (tmp / "items").mkdir()
        save_embeddings_from_array(tmp / "items", data.items, pd.DataFrame({"id": data.item_ids}), item_manifest(spec, len(data.item_ids)))
        np.save(tmp / "users.npy", data.users)
        (tmp / "users.ids.txt").write_text("\n".join(data.user_ids) + "\n", encoding="utf-8")
        data.interactions.to_csv(tmp / "interactions.csv", index=False)
        manifest = Manifest(type="recsys-example", params=asdict(spec),
                            stats={"users": len(data.user_ids), "items": len(data.item_ids),
                                   "interactions": len(data.interactions)})
        write_dir_manifest(tmp, manifest)
    return manifest
