"""`sweep` on an ann-benchmarks HDF5 file: `train` as the corpus, `test` as the queries, the file's `neighbors` as the
ground truth (as ann-benchmarks itself measures recall), checked against vecrecall's brute force on a sample.

These two functions are the sweep side of import-vectors; `sweep --embeddings FILE.hdf5` calls them (see the
lead's hook in vecrecall/cli/sweep.py and sweep/runner.py). They live here until that wiring moves them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ...artifacts import check_vectors_finite, input_entry, sha256_file
from ...errors import UserError
from .hdf5 import FileNeighbors, open_hdf5, read_neighbors

SAMPLE = 100  # queries re-checked by brute force


def _matrix(path: Path, dataset: str, metric: str | None) -> tuple[np.ndarray, Any]:
    vf = open_hdf5(path, dataset, metric, option="--metric")
    x = np.concatenate([np.asarray(b, dtype=np.float32) for b in vf.blocks(max(1, (64 << 20) // (4 * vf.dim)))])
    check_vectors_finite(x, f"{path} dataset '{dataset}'")
    return x, vf


def sweep_data_from_hdf5(path: str | Path, metric: str | None = None) -> tuple[Any, FileNeighbors]:
    """(SweepData, the file's neighbours) for an ann-benchmarks file; the metric is the file's `distance`.

    `metric` (sweep's --metric) may only repeat the file's metric, or supply one when the file names none.
    Raises UserError for a missing train/test/neighbors dataset, dimensions that differ, a contradicting metric.
    """
    from ...encoders import l2_normalize
    from ...sweep.data import SweepData
    from ...sweep.groundtruth import cache_dir_for

    p = Path(path)
    corpus, vf = _matrix(p, "train", metric)
    if vf.metric is None:
        raise UserError(f"{p}: has no distance attribute; pass --metric ip|l2|cosine (the metric its neighbours "
                        "were computed with)")
    queries, vq = _matrix(p, "test", vf.metric)
    if vq.dim != vf.dim:
        raise UserError(f"{p}: 'test' vectors have dimension {vq.dim} but 'train' has {vf.dim}; the file is damaged")
    nb = read_neighbors(p, vf.n, vq.n)
    m = vf.metric
    if m == "cosine":
        corpus, queries = l2_normalize(corpus), l2_normalize(queries)
    entry = input_entry(p.resolve(), digest=sha256_file(p))
    entry.update({"format": "ann-benchmarks hdf5", "distance": vf.details.get("distance"), "neighbors_k": nb.k})
    data = SweepData(corpus, queries, [str(i) for i in range(vq.n)], m, np.array([str(i) for i in range(vf.n)], dtype=object),
                     {"hdf5": entry}, cache_dir_for(p), None, None,
                     {"source": f"{p} 'train'", "queries": f"{vq.n:,} 'test' vectors"})
    return data, nb


@dataclass
class NeighborCheck:
    """How the file's neighbours compare with brute force on a sample of queries."""

    path: Path
    sampled: int
    agree: int  # sampled queries whose file top-k is the exact top-k (ties counted as recall_at does)
    recall: float  # mean recall@k of the file's neighbours against brute force on the sample
    k: int
    metric: str

    @property
    def ok(self) -> bool:
        return self.agree == self.sampled

    def status(self) -> str:
        """One line for the sweep's manifest and terminal."""
        if self.ok:
            return (f"from {self.path.name} 'neighbors' (brute force agrees on all {self.sampled} sampled queries)")
        return (f"from {self.path.name} 'neighbors', which disagree with brute force ({self.metric}) on "
                f"{self.sampled - self.agree} of {self.sampled} sampled queries (their recall@{self.k} against it: "
                f"{self.recall:.4f}); recall is measured against the file's neighbours, as ann-benchmarks does — check "
                "the metric, or that train/test are the vectors the neighbours were computed for")


def file_ground_truth(data: Any, nb: FileNeighbors, k: int, sample: int = SAMPLE, seed: int = 0) -> tuple[Any, NeighborCheck]:
    """The file's top-k as a sweep GroundTruth (exact scores recomputed, highest first) and its brute-force check.

    Raises UserError when k exceeds the neighbours the file holds per query.
    """
    from ...sweep.groundtruth import GroundTruth, exact_topk, pair_scores, recall_at

    if k > nb.k:
        raise UserError(f"-k {k}: {nb.path} holds {nb.k} neighbours per query; use -k {nb.k} or less")
    if sample < 1:
        raise UserError(f"sample {sample}: must be at least 1")
    pos = np.ascontiguousarray(nb.neighbors[:, :k])
    scores = pair_scores(data.corpus, data.queries, pos, data.metric)
    order = np.argsort(-scores, axis=1, kind="stable")
    gt = GroundTruth(np.take_along_axis(scores, order, 1), np.take_along_axis(pos, order, 1))
    nq = len(data.queries)
    rows = np.sort(np.random.default_rng(seed).choice(nq, min(sample, nq), replace=False))
    exact = exact_topk(data.corpus, data.queries[rows], data.metric, k)
    rec = recall_at(exact, pos[rows], data.corpus, data.queries[rows], data.metric, k)
    check = NeighborCheck(Path(nb.path), len(rows), int((rec >= 1.0 - 1e-9).sum()), float(rec.mean()), k, data.metric)
    return gt, check


def ground_truth_hook(data: Any, nb: FileNeighbors, seed: int = 0, sample: int = SAMPLE) -> Callable[[int], tuple[Any, str]]:
    """What `run_sweep` calls instead of `cached_topk` for an HDF5 file: k → (GroundTruth, status line)."""
    def hook(k: int) -> tuple[Any, str]:
        gt, check = file_ground_truth(data, nb, k, sample, seed)
        if not check.ok:
            from ...progress import console

            console.print(f"[yellow]warning[/]: {check.path}: {check.status()}")
        return gt, check.status()

    return hook
