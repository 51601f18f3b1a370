"""Evaluation of a finetuned model: stock vs finetuned on the held-out queries through the same stages as the CLI
(`encode` → `build-index` faiss Flat (exact) → `query` → `eval`), and a quick dev signal for --eval-every."""

from __future__ import annotations

import contextlib
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ContextManager

import numpy as np
import pandas as pd

from ..metrics import EvalReport, evaluate_runs
from .data import Corpus

MEASURES = ["nDCG@10", "R@100", "MAP"]


def write_queries(path: Path, queries: dict[str, str]) -> None:
    path.write_text("".join(json.dumps({"_id": q, "text": t}, ensure_ascii=False) + "\n" for q, t in queries.items()))


def write_qrels(path: Path, qrels: pd.DataFrame) -> None:
    """BEIR tsv (query-id, corpus-id, score), readable by `vecrecall eval --qrels`."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("query-id\tcorpus-id\tscore\n")
        for q, d, r in qrels[["qid", "docid", "rel"]].itertuples(index=False):
            fh.write(f"{q}\t{d}\t{int(r)}\n")


def exact_run(model: str, corpus_path: str | Path, queries: Path | dict[str, str], k: int, fields: Any = None,
              use_cache: bool = True) -> pd.DataFrame:
    """encode → faiss Flat → query: the run `vecrecall query` would produce. `queries` is a query file or a mapping
    qid → text (searched in memory, no query file written); the corpus index is built in a temporary directory."""
    from ..embed import encode_source
    from ..indexes.store import build_index
    from ..search import run_query

    with tempfile.TemporaryDirectory(prefix="vecrecall-eval-") as tmp:
        encode_source(corpus_path, "corpus", Path(tmp) / "emb", model=model, spec=fields, use_cache=use_cache)
        build_index("faiss", Path(tmp) / "flat", embeddings=Path(tmp) / "emb")
        return run_query(Path(tmp) / "flat", queries, k=k, use_cache=use_cache).run


@dataclass
class Comparison:
    report: EvalReport
    queries: int

    def to_dict(self) -> dict[str, Any]:
        return {"queries": self.queries, "means": self.report.means, "pvalues": self.report.pvalues}


def compare(stock: str, finetuned: Path, corpus_path: str | Path, queries_file: Path, qrels: pd.DataFrame, k: int,
            baseline_run: pd.DataFrame | None = None, fields: Any = None,
            span: Callable[[str], ContextManager[Any]] | None = None) -> Comparison:
    """Stock vs finetuned on the held-out queries (nDCG@10, R@100, MAP; paired t-test p-values).

    Both models encode through the vector cache: the stock model's vectors are cache hits when this corpus was
    encoded with it before (or mined with it in this run), and the finetuned model's vectors are stored under its
    fingerprint, so a later `vecrecall encode --model <finetuned dir>` of the same corpus reads them back instead of
    encoding again. This relies on the model directory being complete (every file but its manifest.json, which
    the fingerprint leaves out) before this runs. `span(name)` times the phases ("held-out stock", "held-out
    finetuned", "held-out scoring")."""
    span = span or (lambda name: contextlib.nullcontext())
    qids = set(qrels["qid"])
    with span("held-out stock"):
        if baseline_run is None:
            base = exact_run(stock, corpus_path, queries_file, k, fields)
        else:
            base = baseline_run[baseline_run["qid"].isin(qids)]
    with span("held-out finetuned"):
        ft = exact_run(str(finetuned), corpus_path, queries_file, k, fields)
    with span("held-out scoring"):
        report = evaluate_runs(qrels, {"stock": base, "finetuned": ft}, MEASURES)
    return Comparison(report, len(qids))


class DevEval:
    """nDCG@10 of the model being trained on the dev queries, searched exactly over a seeded corpus sample that
    always contains the dev positives (a cheap signal during training, not the final number)."""

    def __init__(self, queries: dict[str, str], qrels: pd.DataFrame, corpus: Corpus, size: int, seed: int) -> None:
        self.qids = list(queries)
        self.texts = [queries[q] for q in self.qids]
        self.qrels = qrels
        must = [d for d in dict.fromkeys(qrels["docid"]) if d in corpus]
        rest = [d for d in corpus.ids if d not in set(must)]
        rng = np.random.default_rng(seed)
        extra = [rest[i] for i in sorted(rng.choice(len(rest), size=min(len(rest), max(0, size - len(must))), replace=False))]
        self.docids = np.asarray(must + extra, dtype=object)
        self.doc_texts = [corpus.by_id[d] for d in self.docids]

    def __call__(self, model: Any) -> float:
        from ..io.runs import results_to_run

        was_training = model.training
        model.eval()
        q = model.encode(self.texts, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)
        d = model.encode(self.doc_texts, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False)
        if was_training:
            model.train()
        k = min(100, len(self.docids))
        scores = q @ d.T
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        run = results_to_run(self.qids, self.docids[top], np.take_along_axis(scores, top, axis=1))
        return evaluate_runs(self.qrels, {"dev": run}, ["nDCG@10"]).means["dev"]["nDCG@10"]
