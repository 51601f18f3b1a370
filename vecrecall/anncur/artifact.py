"""The `anncur index` artifact: a directory that describes itself, so `anncur query`/`bench` need no scorer flags.

    manifest.json            type "anncur-index": scorer, k_q, k_i, seed, bi-encoder, lineage, effective rank
    items.parquet            id, text of every item (row i = item position i)
    anchor_queries.parquet   id, text of the k_q anchor queries (pseudo-queries or training queries)
    r_anc.npy                R_anc = scorer(anchor queries, all items), k_q × |I|, float64
    random_order.npy         a seeded permutation of the items; the random anchor items are its first k_i
    item_embeddings.npy      E_I = pinv(R_anc[:, anchors]) · R_anc for those k_i anchors, k_i × |I|
    biencoder.npy            optional normalised bi-encoder item vectors (bi-encoder anchors, the rerank baseline)
    scorer/                  item-side scorer data (MaxSim token embeddings)
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..artifacts import Manifest, atomic_dir, check_out, input_entry, read_manifest, sha256_path, write_dir_manifest
from ..errors import UserError
from ..io.texts import FieldSpec, load_texts, source_entry
from .cur import RCOND, check_anchor_counts, effective_rank, item_embeddings
from .methods import SearchContext
from .scorers import SCORERS, Items, QuerySet, ScoreBook, Scorer, read_ids, make_scorer

TYPE = "anncur-index"
_PSEUDO = re.compile(r"^pseudo:(\d+)$")
PSEUDO_WORDS = (4, 12)  # pseudo-query length range, in words (Vaswani's queries average 11)


def pseudo_queries(items: Items, n: int, seed: int, words: tuple[int, int] = PSEUDO_WORDS) -> QuerySet:
    """n pseudo-queries: a random span of 4–12 consecutive words from a random item (distinct items while n ≤ |I|)."""
    rng = np.random.default_rng(seed)
    usable = [i for i, t in enumerate(items.texts) if t.split()]
    if not usable:
        raise UserError("--anchor-queries pseudo:N: every item text is empty, so no pseudo-queries can be sampled; "
                        "pass a queries file instead")
    picks = rng.choice(usable, size=n, replace=n > len(usable))
    ids, texts = [], []
    for j, i in enumerate(picks):
        toks = items.texts[i].split()
        length = int(rng.integers(min(words[0], len(toks)), min(words[1], len(toks)) + 1))
        start = int(rng.integers(0, len(toks) - length + 1))
        ids.append(f"pseudo-{j}-{items.ids[i]}")
        texts.append(" ".join(toks[start : start + length]))
    return QuerySet(ids, texts)


def load_query_set(spec: str | Path, option: str, fields: FieldSpec | None = None, needs_text: bool = True) -> QuerySet:
    """Queries from a text source (BEIR dir, JSONL, CSV, TREC topics…) or `ids:FILE` (one id per line, no text)."""
    s = str(spec)
    if s.startswith("ids:"):
        path = Path(s[4:])
        if not path.is_file():
            raise UserError(f"{option} {s}: no such file {path}")
        if needs_text:
            raise UserError(f"{option} {s}: id-only queries work with the matrix scorer only; this scorer needs query texts")
        ids = read_ids(path)
        if not ids:
            raise UserError(f"{option} {s}: the file holds no ids")
        return QuerySet(ids, [""] * len(ids))
    path = Path(s)
    if not path.exists():
        raise UserError(f"{option} {path}: no such file or directory")
    table = load_texts(path, "queries", fields)
    if table.empty:
        raise UserError(f"{option} {path}: no queries found")
    return QuerySet(table["id"].astype(str).tolist(), table["text"].astype(str).tolist())


def load_items(corpus: Path | None, scorer_kind: str, scorer_path: Path | None, fields: FieldSpec | None) -> Items:
    if corpus is None:
        if scorer_kind != "matrix" or scorer_path is None:
            raise UserError("--corpus is required (only --scorer matrix can take its items from item_ids.txt)")
        ids = read_ids(Path(scorer_path) / "item_ids.txt") if (Path(scorer_path) / "item_ids.txt").exists() else []
        if not ids:
            raise UserError(f"--scorer-path {scorer_path}: no item_ids.txt to take the items from; pass --corpus")
        return Items(ids, [""] * len(ids))
    if not Path(corpus).exists():
        raise UserError(f"--corpus {corpus}: no such file or directory")
    table = load_texts(Path(corpus), "corpus", fields)
    if table.empty:
        raise UserError(f"--corpus {corpus}: no documents found")
    return Items(table["id"].astype(str).tolist(), table["text"].astype(str).tolist())


def encode_biencoder(model: str, texts: list[str], role: str, use_cache: bool = True) -> tuple[np.ndarray, dict[str, Any]]:
    """Normalised bi-encoder vectors through the shared vector cache, and the encoder's description."""
    from ..encoders import EncodeSettings, VectorCache, encode_texts, load_encoder

    encoder = load_encoder(model)
    cache = VectorCache(encoder, "raw") if use_cache else None
    vecs = encode_texts(encoder, texts, EncodeSettings(), role, cache)
    if cache is not None:
        cache.close()
    return vecs.astype(np.float32), {**encoder.describe(), "spec": model}


@dataclass
class IndexSpec:
    """What `anncur index` was asked to build."""

    scorer: str = "maxsim"
    scorer_path: str | None = None
    anchor_queries: str = "pseudo:500"
    k_i: int = 100
    biencoder: str | None = "default"
    allow_underdetermined: bool = False
    max_length: int = 256
    seed: int = 0
    rcond: float = RCOND
    scorer_backend: str = "torch"  # cross-encoder: torch | onnx | openvino | auto
    scorer_quantize: str | None = None  # cross-encoder on onnx/openvino: int8 | int8:CONFIG


def build_index(out: Path, corpus: Path | None, spec: IndexSpec, fields: FieldSpec | None = None,
                use_cache: bool = True, overwrite: bool = False) -> Manifest:
    """Score the anchor queries against every item once and write the self-describing index directory."""
    check_out(out, overwrite, inputs=(corpus,))
    t0 = time.perf_counter()
    if spec.scorer not in SCORERS:
        raise UserError(f"--scorer {spec.scorer}: unknown scorer; choose one of {', '.join(SCORERS)}")
    if spec.scorer_path is not None and not Path(spec.scorer_path).exists():
        raise UserError(f"--scorer-path {spec.scorer_path}: no such file or directory")
    if spec.max_length < 1:
        raise UserError(f"--max-length {spec.max_length}: must be at least 1 token")
    items = load_items(corpus, spec.scorer, Path(spec.scorer_path) if spec.scorer_path else None, fields)
    needs_text = SCORERS[spec.scorer].needs_text
    if spec.biencoder and not needs_text:
        raise UserError("--biencoder: the matrix scorer's items have no texts to encode; pass --biencoder none")
    # cheap to construct (item-side work happens on first use), so a bad scorer is refused before anything else
    scorer = make_scorer(spec.scorer, Path(spec.scorer_path) if spec.scorer_path else None, items, None, spec.max_length,
                         spec.scorer_backend, spec.scorer_quantize)
    m = _PSEUDO.match(spec.anchor_queries)
    if m:
        if not needs_text:
            raise UserError("--anchor-queries pseudo:N: the matrix scorer only scores its own queries; pass "
                            "ids:FILE or a queries file whose ids are rows of the matrix")
        if int(m.group(1)) < 1:
            raise UserError("--anchor-queries pseudo:0: need at least one anchor query")
        anchors_q = pseudo_queries(items, int(m.group(1)), spec.seed)
    else:
        anchors_q = load_query_set(spec.anchor_queries, "--anchor-queries", fields, needs_text)
    check_anchor_counts(len(anchors_q), spec.k_i, len(items), spec.allow_underdetermined)
    bi_vecs, bi_desc = (None, None)
    if spec.biencoder:
        bi_vecs, bi_desc = encode_biencoder(spec.biencoder, items.texts, "corpus", use_cache)
    with atomic_dir(out, overwrite) as tmp:
        scorer.save(tmp / "scorer")
        book = ScoreBook(scorer, use_cache)
        r_anc = book.score_all(anchors_q, "anncur: R_anc")
        book.close()
        if not np.isfinite(r_anc).all():
            raise UserError(f"--scorer {spec.scorer}: produced NaN or inf scores for the anchor queries; check the scorer")
        order = np.random.default_rng(spec.seed).permutation(len(items)).astype(np.int64)
        emb = item_embeddings(r_anc, order[: spec.k_i], spec.rcond)
        pd.DataFrame({"id": items.ids, "text": items.texts}).to_parquet(tmp / "items.parquet", index=False)
        pd.DataFrame({"id": anchors_q.ids, "text": anchors_q.texts}).to_parquet(tmp / "anchor_queries.parquet", index=False)
        np.save(tmp / "r_anc.npy", r_anc)
        np.save(tmp / "random_order.npy", order)
        np.save(tmp / "item_embeddings.npy", emb)
        if bi_vecs is not None:
            np.save(tmp / "biencoder.npy", bi_vecs)
        inputs: dict[str, Any] = {}
        if corpus is not None:
            inputs["corpus"] = source_entry(corpus, "corpus")
        if not m:
            src = spec.anchor_queries[4:] if spec.anchor_queries.startswith("ids:") else spec.anchor_queries
            inputs["anchor_queries"] = input_entry(Path(src).resolve(), digest=sha256_path(src))
        erank = effective_rank(r_anc)
        manifest = Manifest(
            type=TYPE,
            params={**asdict(spec), "scorer_info": scorer.describe(), "biencoder_info": bi_desc},
            inputs=inputs,
            stats={"n_items": len(items), "k_q": len(anchors_q), "k_i": spec.k_i, "effective_rank_99": erank,
                   "scorer_calls": int(r_anc.size), "build_s": round(time.perf_counter() - t0, 3)},
        )
        write_dir_manifest(tmp, manifest)
    return manifest


@dataclass
class AnncurIndex:
    path: Path
    manifest: Manifest
    items: Items
    anchor_queries: QuerySet
    r_anc: np.ndarray
    random_order: np.ndarray
    biencoder: np.ndarray | None

    @property
    def k_i(self) -> int:
        return int(self.manifest.params["k_i"])

    @property
    def spec(self) -> dict[str, Any]:
        return self.manifest.params

    @classmethod
    def load(cls, path: str | Path) -> "AnncurIndex":
        p = Path(path)
        m = read_manifest(p, expect=TYPE)
        need = ["items.parquet", "anchor_queries.parquet", "r_anc.npy", "random_order.npy"]
        missing = [f for f in need if not (p / f).exists()]
        if missing:
            raise UserError(f"{p}: incomplete anncur index ({', '.join(missing)} missing); rebuild it with anncur index")
        items_df, aq = pd.read_parquet(p / "items.parquet"), pd.read_parquet(p / "anchor_queries.parquet")
        items = Items(items_df["id"].astype(str).tolist(), items_df["text"].astype(str).tolist())
        bi = np.load(p / "biencoder.npy") if (p / "biencoder.npy").exists() else None
        return cls(p, m, items, QuerySet(aq["id"].astype(str).tolist(), aq["text"].astype(str).tolist()),
                   np.load(p / "r_anc.npy").astype(np.float64), np.load(p / "random_order.npy"), bi)

    def scorer(self) -> Scorer:
        """The index's scorer, refusing one whose model changed since the index was built."""
        spec = self.spec
        scorer = make_scorer(spec["scorer"], Path(spec["scorer_path"]) if spec.get("scorer_path") else None, self.items,
                             self.path / "scorer", spec.get("max_length", 256), spec.get("scorer_backend", "torch"),
                             spec.get("scorer_quantize"))
        from ..fingerprint import same_model

        recorded = spec.get("scorer_info", {}).get("fingerprint")
        if recorded and not same_model(scorer.describe(), spec["scorer_info"]):
            raise UserError(f"{self.path}: the {spec['scorer']} scorer at {scorer.path} changed since the index was "
                            f"built (fingerprint {scorer.fingerprint} ≠ {recorded}); rebuild the index")
        return scorer

    def context(self) -> SearchContext:
        return SearchContext(self.r_anc, self.random_order, self.biencoder, self.spec.get("rcond", RCOND))

    def query_vectors(self, queries: QuerySet, use_cache: bool = True) -> np.ndarray | None:
        """Bi-encoder vectors of the queries with the index's bi-encoder (None if the index has none)."""
        info = self.spec.get("biencoder_info")
        if self.biencoder is None or not info:
            return None
        from ..fingerprint import same_model

        vecs, desc = encode_biencoder(info["spec"], queries.texts, "queries", use_cache)
        if not same_model(desc, info):
            raise UserError(f"{self.path}: the bi-encoder '{info['spec']}' changed since the index was built; rebuild it")
        return vecs

    def describe(self) -> str:
        s = self.manifest.stats
        return (f"{self.spec['scorer']} scorer, {s['n_items']:,} items, k_q={s['k_q']}, k_i={s['k_i']}, "
                f"effective rank (99% energy) {s['effective_rank_99']}")
