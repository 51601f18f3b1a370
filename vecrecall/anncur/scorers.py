"""Expensive query–item scorers behind one interface, a persistent score cache and a budget-enforcing call counter.

A `Scorer` is bound to one item collection (`Items`) and computes `compute(queries, items) → |Q| × |items|` scores.
Everything above it goes through a `ScoreBook` (cache keyed by scorer fingerprint, item collection, query key and
item position) and, at test time, a `CallCounter`, which counts every (query, item) score a method asks for and
raises `BudgetExceeded` the moment a method asks for more than its budget.

Scorers (registry `SCORERS`):
- `maxsim`        late interaction: Σ over query tokens of the max cosine with the item's tokens (ColBERT-style),
                  from a transformer's token states (default: the bundled MiniLM). Item tokens are precomputed.
- `cross-encoder` a sentence-transformers CrossEncoder directory; raw logits (no sigmoid).
- `emb-ce`        [EMB]-CE (Yadav et al., 2022): joint input `[CLS] [E_q] q [SEP] [E_i] i [SEP]`, score = dot product
                  of the contextualised embeddings of the two marker tokens (`[unused0]`, `[unused1]`). Built from
                  any local BERT-style checkpoint; untrained unless that checkpoint was fine-tuned this way.
- `matrix`        a precomputed score matrix: a directory with `scores.npy` (queries × items), `query_ids.txt` and
                  `item_ids.txt` (one id per line). Queries are looked up by id.
"""

from __future__ import annotations

import hashlib
import json
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..cache import Cache, cache_root
from ..crossencoder import transformer_dir
from ..errors import UserError
from ..progress import progress


@dataclass
class Items:
    """The item collection a scorer ranks: ids and texts (texts may be empty for the matrix scorer)."""

    ids: list[str]
    texts: list[str]

    def __len__(self) -> int:
        return len(self.ids)

    def digest(self) -> str:
        h = hashlib.sha256()
        for i, t in zip(self.ids, self.texts):
            h.update(f"{i}\x00{t}\x01".encode())
        return h.hexdigest()[:16]


@dataclass
class QuerySet:
    """Queries by id and text (text is '' when only ids are known, e.g. rows of a score matrix)."""

    ids: list[str]
    texts: list[str]

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, rows: list[int] | np.ndarray) -> "QuerySet":
        return QuerySet([self.ids[i] for i in rows], [self.texts[i] for i in rows])


class BudgetExceeded(RuntimeError):
    """A method asked for more scorer calls than its budget (a bug in the method, never a user error)."""


class Scorer(ABC):
    """Scores (query, item) pairs for one item collection. `fingerprint` identifies the scores, for the cache;
    `fingerprint_v1` (when it differs) is what older versions recorded for it (vecrecall.fingerprint.same_model)."""

    kind: ClassVar[str]
    needs_text: ClassVar[bool] = True

    def __init__(self, path: Path | None, items: Items, store: Path | None = None, max_length: int = 256) -> None:
        self.path = path
        self.items = items
        self.max_length = max_length
        self.fingerprint = ""
        self.fingerprint_v1: str | None = None

    def describe(self) -> dict[str, Any]:
        from ..fingerprint import fingerprint_fields

        return {"kind": self.kind, "path": str(self.path) if self.path else None,
                **fingerprint_fields(self.fingerprint, self.fingerprint_v1 or self.fingerprint),
                "max_length": self.max_length}

    def _model_fingerprint(self, tag: str, model_dir: Path) -> None:
        """Set `fingerprint` and `fingerprint_v1` from the model's (whole-content, sampled) fingerprints."""
        from ..fingerprint import model_fingerprints

        self.fingerprint, self.fingerprint_v1 = (
            hashlib.sha256(f"{tag}:{fp}:{self.max_length}".encode()).hexdigest()[:16]
            for fp in model_fingerprints(model_dir))

    def key(self, qid: str, text: str) -> str:
        """What identifies a query's scores in the cache (its text, or its id for the matrix scorer)."""
        return text

    def save(self, store: Path) -> None:
        """Write item-side precomputation (e.g. token embeddings) into `store` at index time."""

    @abstractmethod
    def compute(self, queries: QuerySet, items: np.ndarray) -> np.ndarray:
        """Exact scores, float64 of shape (len(queries), len(items)); `items` are positions in `self.items`."""


# ----------------------------------------------------------------------------------------------------------------
# Transformer helpers
# ----------------------------------------------------------------------------------------------------------------


def _load_transformer(path: Path) -> tuple[Any, Any]:
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_PROGRESS_BARS"):
        os.environ.setdefault(var, "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    try:
        tok = AutoTokenizer.from_pretrained(str(path))
        model = AutoModel.from_pretrained(str(path)).eval()
    except Exception as exc:  # many library error types for a directory that is not a model
        raise UserError(f"--scorer-path {path}: cannot load a transformer ({type(exc).__name__}: {exc})") from exc
    return tok, model


def model_max_length(model: Any, requested: int) -> int:
    """`requested`, capped at what the model's position embeddings allow."""
    limit = getattr(model.config, "max_position_embeddings", None)
    return min(requested, int(limit)) if limit else requested


def _resolve_model(path: Path | None) -> Path:
    if path is None:
        from ..encoders import default_model_path

        path = default_model_path()
    return transformer_dir(Path(path), "--scorer-path")


# ----------------------------------------------------------------------------------------------------------------
# MaxSim (late interaction)
# ----------------------------------------------------------------------------------------------------------------

TOKENS_FILE, OFFSETS_FILE = "tokens.npy", "offsets.npy"


def ragged_rows(offsets: np.ndarray, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the tokens of `items` in a ragged array, and the start of each item among them."""
    starts, lens = offsets[items], offsets[items + 1] - offsets[items]
    new_starts = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    rows = np.repeat(starts - new_starts, lens) + np.arange(int(lens.sum()))
    return rows, new_starts


class MaxSimScorer(Scorer):
    """Σ_query tokens max_item tokens cos(q_t, i_t) over a transformer's L2-normalised token states."""

    kind = "maxsim"

    def __init__(self, path: Path | None, items: Items, store: Path | None = None, max_length: int = 256) -> None:
        super().__init__(path, items, store, max_length)
        self.model_dir = _resolve_model(path)
        self.path = path or self.model_dir
        self._model_fingerprint("maxsim-v1", self.model_dir)
        self._tok: Any = None
        self._query_tokens: dict[str, np.ndarray] = {}
        self._item_tokens: tuple[np.ndarray, np.ndarray] | None = None
        if store is not None and (store / TOKENS_FILE).exists():
            offsets = np.load(store / OFFSETS_FILE)
            if len(offsets) != len(items) + 1:
                raise UserError(f"{store}: token embeddings for {len(offsets) - 1} items but the index has "
                                f"{len(items)}; rebuild the index")
            self._item_tokens = (np.load(store / TOKENS_FILE).astype(np.float32), offsets)

    @property
    def tokens(self) -> np.ndarray:
        return self._items()[0]

    @property
    def offsets(self) -> np.ndarray:
        return self._items()[1]

    def _items(self) -> tuple[np.ndarray, np.ndarray]:
        """Item token embeddings: loaded from the index, or encoded on first use."""
        if self._item_tokens is None:
            self._item_tokens = self.encode(self.items.texts, "maxsim: item tokens")
        return self._item_tokens

    def encode(self, texts: list[str], desc: str, batch: int = 32) -> tuple[np.ndarray, np.ndarray]:
        """Normalised token states of every text, concatenated, with offsets (special tokens kept, padding dropped)."""
        import torch

        if self._tok is None:
            self._tok, self._model = _load_transformer(self.model_dir)
            self._length = model_max_length(self._model, self.max_length)
        order = np.argsort([len(t) for t in texts], kind="stable")
        pieces: list[np.ndarray] = [np.zeros((0, 0), np.float32)] * len(texts)
        with progress(desc, len(texts), "texts") as advance:
            for start in range(0, len(texts), batch):
                idx = order[start : start + batch]
                enc = self._tok([texts[i] for i in idx], padding=True, truncation=True, max_length=self._length,
                                return_tensors="pt")
                with torch.inference_mode():
                    states = self._model(**enc).last_hidden_state
                states = torch.nn.functional.normalize(states, dim=-1).numpy()
                mask = enc["attention_mask"].numpy().astype(bool)
                for j, i in enumerate(idx):
                    pieces[i] = states[j][mask[j]]
                advance(len(idx))
        lens = np.array([len(p) for p in pieces], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        dim = pieces[0].shape[1] if pieces else 0
        tokens = np.concatenate(pieces).astype(np.float32) if pieces else np.zeros((0, dim), np.float32)
        return tokens, offsets

    def save(self, store: Path) -> None:
        store.mkdir(parents=True, exist_ok=True)
        np.save(store / TOKENS_FILE, self.tokens.astype(np.float16))
        np.save(store / OFFSETS_FILE, self.offsets)
        # what is on disk is float16: score from the same values the next process will load
        self._item_tokens = (self.tokens.astype(np.float16).astype(np.float32), self.offsets)

    def _queries(self, texts: list[str]) -> list[np.ndarray]:
        todo = list(dict.fromkeys(t for t in texts if t not in self._query_tokens))
        if todo:
            tokens, offsets = self.encode(todo, "maxsim: query tokens")
            for j, t in enumerate(todo):
                self._query_tokens[t] = tokens[offsets[j] : offsets[j + 1]]
        return [self._query_tokens[t] for t in texts]

    def compute(self, queries: QuerySet, items: np.ndarray, q_tokens_per_block: int = 256) -> np.ndarray:
        items = np.asarray(items, dtype=np.int64)
        out = np.empty((len(queries), len(items)), dtype=np.float64)
        if len(items) == 0 or len(queries) == 0:
            return out
        rows, starts = ragged_rows(self.offsets, items)
        item_tokens = self.tokens[rows]
        qtoks = self._queries(queries.texts)
        q = 0
        while q < len(qtoks):
            block, n_tok = [], 0
            while q < len(qtoks) and (not block or n_tok + len(qtoks[q]) <= q_tokens_per_block):
                block.append(qtoks[q])
                n_tok += len(qtoks[q])
                q += 1
            qmat = np.concatenate(block)
            qstarts = np.concatenate([[0], np.cumsum([len(b) for b in block])[:-1]]).astype(np.int64)
            sims = qmat @ item_tokens.T                                  # query tokens × item tokens
            best = np.maximum.reduceat(sims, starts, axis=1)             # query tokens × items (contiguous reduce)
            out[q - len(block) : q] = np.add.reduceat(best, qstarts, axis=0)
        return out


# ----------------------------------------------------------------------------------------------------------------
# Cross-encoders
# ----------------------------------------------------------------------------------------------------------------


class CrossEncoderScorer(Scorer):
    """A sentence-transformers CrossEncoder; scores are raw logits (no activation), as CUR expects."""

    kind = "cross-encoder"

    def __init__(self, path: Path | None, items: Items, store: Path | None = None, max_length: int = 256,
                 backend: str = "torch", quantize: str | None = None) -> None:
        super().__init__(path, items, store, max_length)
        if path is None:
            raise UserError("--scorer cross-encoder needs --scorer-path DIR (a local CrossEncoder directory)")
        from ..crossencoder import PairLogits

        config = Path(path) / "config.json"
        if config.exists():
            limit = json.loads(config.read_text()).get("max_position_embeddings")
            max_length = min(max_length, int(limit)) if limit else max_length
        try:
            self.logits = PairLogits(path, max_length=max_length, backend=backend, quantize=quantize)
        except UserError as exc:
            raise UserError(str(exc).replace("--model", "--scorer-path", 1).replace("--backend", "--scorer-backend")
                            .replace("--quantize", "--scorer-quantize")) from None
        # PairLogits' fingerprint is "<model>:<max_length>" on torch (the key indexes were built with), plus the
        # backend and exported graph otherwise
        self.fingerprint, self.fingerprint_v1 = (hashlib.sha256(f"ce-v1:{fp}".encode()).hexdigest()[:16]
                                                 for fp in (self.logits.fingerprint, self.logits.fingerprint_v1))

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "backend": self.logits.spec.label}

    def compute(self, queries: QuerySet, items: np.ndarray) -> np.ndarray:
        items = np.asarray(items, dtype=np.int64)
        pairs = [(qt, self.items.texts[i]) for qt in queries.texts for i in items]
        if not pairs:
            return np.zeros((len(queries), len(items)))
        return self.logits.scores(pairs, batch_size=32).reshape(len(queries), len(items))


class EmbCEFormat:
    """How [EMB]-CE lays out a (query, item) pair — `[CLS] [E_q] q [SEP] [E_i] i [SEP]`, the query cut to 64 tokens,
    the pair to `length`, token types 0 then 1 — shared by the scorer and by `finetune-cross-encoder
    --architecture emb-ce`, so training and scoring see identical inputs."""

    MARKERS = ("[unused0]", "[unused1]")
    QUERY_TOKENS = 64

    def __init__(self, tok: Any, length: int, where: str) -> None:
        ids = tok.convert_tokens_to_ids(list(self.MARKERS))
        if any(i is None or i == tok.unk_token_id for i in ids) or tok.cls_token_id is None:
            raise UserError(f"{where}: emb-ce needs a BERT-style vocabulary with [CLS], [SEP], "
                            f"{self.MARKERS[0]} and {self.MARKERS[1]}")
        self.tok, self.length = tok, length
        self.marker_q, self.marker_i = ids

    def ids(self, text: str, limit: int) -> list[int]:
        return self.tok(text, add_special_tokens=False, truncation=True, max_length=limit)["input_ids"]

    def query(self, text: str) -> list[int]:
        return [self.tok.cls_token_id, self.marker_q] + self.ids(text, self.QUERY_TOKENS) + [self.tok.sep_token_id]

    def item(self, text: str) -> list[int]:
        return self.ids(text, self.length)

    def batch(self, queries: list[list[int]], items: list[list[int]]) -> dict[str, Any]:
        """Padded tensors for pairs (query ids from `query`, item ids from `item`) and each item marker's position."""
        import torch

        seqs, types, pos = [], [], []
        for q, i in zip(queries, items):
            rest = [self.marker_i] + i[: max(1, self.length - len(q) - 2)] + [self.tok.sep_token_id]
            seqs.append(q + rest)
            types.append([0] * len(q) + [1] * len(rest))
            pos.append(len(q))
        width = max(len(x) for x in seqs)
        return {"input_ids": torch.tensor([x + [self.tok.pad_token_id] * (width - len(x)) for x in seqs]),
                "token_type_ids": torch.tensor([t + [0] * (width - len(t)) for t in types]),
                "attention_mask": torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in seqs]),
                "pos": torch.tensor(pos)}


def emb_ce_scores(model: Any, batch: dict[str, Any]) -> Any:
    """[EMB]-CE scores of a batch from `EmbCEFormat.batch`: ⟨h(E_q), h(E_i)⟩, a tensor of shape (pairs,)."""
    import torch

    h = model(input_ids=batch["input_ids"], token_type_ids=batch["token_type_ids"],
              attention_mask=batch["attention_mask"]).last_hidden_state
    rows = torch.arange(h.shape[0])
    return (h[rows, 1] * h[rows, batch["pos"]]).sum(-1)


class EmbCEScorer(Scorer):
    """[EMB]-CE: dot product of the contextualised marker tokens of query and item in one joint forward pass."""

    kind = "emb-ce"
    MARKERS = EmbCEFormat.MARKERS

    def __init__(self, path: Path | None, items: Items, store: Path | None = None, max_length: int = 256) -> None:
        super().__init__(path, items, store, max_length)
        self.model_dir = _resolve_model(path)
        self.path = path or self.model_dir
        self._model_fingerprint("emb-ce-v1", self.model_dir)
        self.tok, self.model = _load_transformer(self.model_dir)
        self.length = model_max_length(self.model, max_length)
        self.format = EmbCEFormat(self.tok, self.length, f"--scorer-path {self.path}")
        self._item_ids: dict[int, list[int]] = {}

    def compute(self, queries: QuerySet, items: np.ndarray, batch: int = 32) -> np.ndarray:
        import torch

        items = np.asarray(items, dtype=np.int64)
        out = np.empty((len(queries), len(items)), dtype=np.float64)
        with progress("emb-ce: pairs", len(queries) * len(items), "pairs") as advance:
            for qi, qt in enumerate(queries.texts):
                qids = self.format.query(qt)
                for start in range(0, len(items), batch):
                    part = items[start : start + batch]
                    for i in part:
                        if i not in self._item_ids:
                            self._item_ids[i] = self.format.item(self.items.texts[i])
                    b = self.format.batch([qids] * len(part), [self._item_ids[i] for i in part])
                    with torch.inference_mode():
                        out[qi, start : start + len(part)] = emb_ce_scores(self.model, b).double().numpy()
                    advance(len(part))
        return out


# ----------------------------------------------------------------------------------------------------------------
# Precomputed matrix
# ----------------------------------------------------------------------------------------------------------------

MATRIX_FILES = ("scores.npy", "query_ids.txt", "item_ids.txt")


def read_ids(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class MatrixScorer(Scorer):
    """Scores looked up in a precomputed matrix (`scores.npy`, `query_ids.txt`, `item_ids.txt` in one directory)."""

    kind = "matrix"
    needs_text = False

    def __init__(self, path: Path | None, items: Items, store: Path | None = None, max_length: int = 256) -> None:
        super().__init__(path, items, store, max_length)
        if path is None:
            raise UserError("--scorer matrix needs --scorer-path DIR holding scores.npy, query_ids.txt and item_ids.txt")
        path = Path(path)
        if not path.is_dir():
            raise UserError(f"--scorer-path {path}: no such directory (the matrix scorer needs a directory holding "
                            f"{', '.join(MATRIX_FILES)})")
        missing = [f for f in MATRIX_FILES if not (path / f).exists()]
        if missing:
            raise UserError(f"--scorer-path {path}: missing {', '.join(missing)} (the matrix scorer needs "
                            f"{', '.join(MATRIX_FILES)})")
        try:
            self.matrix = np.load(path / "scores.npy", mmap_mode="r")
        except ValueError as exc:
            raise UserError(f"{path / 'scores.npy'}: not a readable .npy matrix ({exc})") from None
        qids, iids = read_ids(path / "query_ids.txt"), read_ids(path / "item_ids.txt")
        if self.matrix.ndim != 2 or self.matrix.shape != (len(qids), len(iids)):
            raise UserError(f"{path / 'scores.npy'}: shape {self.matrix.shape} does not match query_ids.txt "
                            f"({len(qids)} ids) × item_ids.txt ({len(iids)} ids)")
        for name, ids in (("query_ids.txt", qids), ("item_ids.txt", iids)):
            if len(set(ids)) != len(ids):
                dup = next(i for i in ids if ids.count(i) > 1)
                raise UserError(f"{path / name}: id '{dup}' appears twice; ids must be unique")
        self.qrow = {q: r for r, q in enumerate(qids)}
        col = {i: c for c, i in enumerate(iids)}
        absent = [i for i in items.ids if i not in col]
        if absent:
            raise UserError(f"{path / 'item_ids.txt'}: {len(absent)} of the {len(items)} corpus ids are not matrix "
                            f"columns (first: '{absent[0]}'); the matrix's item ids must cover the corpus ids")
        self.cols = np.array([col[i] for i in items.ids], dtype=np.int64)
        from ..artifacts import sha256_path

        self.path = path
        self.fingerprint = hashlib.sha256(f"matrix-v1:{sha256_path(path)}".encode()).hexdigest()[:16]

    def key(self, qid: str, text: str) -> str:
        return qid

    def rows(self, qids: list[str]) -> np.ndarray:
        absent = [q for q in qids if q not in self.qrow]
        if absent:
            raise UserError(f"query '{absent[0]}' is not a row of {self.path / 'query_ids.txt'} "
                            f"({len(absent)} of {len(qids)} queries missing); the matrix scorer only knows its own queries")
        return np.array([self.qrow[q] for q in qids], dtype=np.int64)

    def compute(self, queries: QuerySet, items: np.ndarray) -> np.ndarray:
        rows = self.rows(queries.ids)
        return np.asarray(self.matrix[rows][:, self.cols[np.asarray(items, dtype=np.int64)]], dtype=np.float64)


SCORERS: dict[str, type[Scorer]] = {c.kind: c for c in (MaxSimScorer, CrossEncoderScorer, EmbCEScorer, MatrixScorer)}


def make_scorer(kind: str, path: Path | None, items: Items, store: Path | None = None, max_length: int = 256,
                backend: str = "torch", quantize: str | None = None) -> Scorer:
    """The scorer registered as `kind`, bound to `items` (loading precomputed item data from `store` if there).
    `backend` (torch | onnx | openvino | auto) and `quantize` (None | int8 | int8:CONFIG) apply to the cross-encoder
    (vecrecall.crossencoder.PairLogits); other scorers refuse them."""
    if kind not in SCORERS:
        raise UserError(f"--scorer {kind}: unknown scorer; choose one of {', '.join(SCORERS)}")
    if path is not None and not Path(path).exists():
        raise UserError(f"--scorer-path {path}: no such file or directory")
    if kind == CrossEncoderScorer.kind:
        return CrossEncoderScorer(Path(path) if path else None, items, store, max_length, backend, quantize)
    if backend.lower() not in ("torch", "auto"):
        raise UserError(f"--scorer-backend {backend}: applies to --scorer cross-encoder only")
    if quantize not in (None, "none"):
        raise UserError(f"--scorer-quantize {quantize}: applies to --scorer cross-encoder only")
    return SCORERS[kind](Path(path) if path else None, items, store, max_length)


# ----------------------------------------------------------------------------------------------------------------
# Cache, book-keeping, budgets
# ----------------------------------------------------------------------------------------------------------------


class ScoreCache:
    """Scores by (scorer, item collection, query key, item): one float64 row per query, NaN where not yet scored.

    Rows live in memory and, unless `root` is None, in the one vecrecall cache (kind `anncur`, under
    `$VECRECALL_CACHE_DIR`, default ~/.cache/vecrecall), so repeated experiments do not rescore.
    """

    def __init__(self, namespace: str, n_items: int, root: Path | None = None) -> None:
        self.n_items = n_items
        self.rows: dict[bytes, np.ndarray] = {}
        self.dirty: set[bytes] = set()
        self.store = Cache("anncur", namespace, root) if root is not None else None

    @staticmethod
    def default_root() -> Path:
        return cache_root()

    def _key(self, key: str) -> bytes:
        return self.store.key(key) if self.store else hashlib.sha256(key.encode()).digest()

    def row(self, key: str) -> np.ndarray:
        h = self._key(key)
        if h not in self.rows:
            found = self.store.get_arrays([h], "float64").get(h) if self.store else None
            self.rows[h] = found if found is not None and len(found) == self.n_items else np.full(self.n_items, np.nan)
        return self.rows[h]

    def touched(self, key: str) -> None:
        self.dirty.add(self._key(key))

    def flush(self) -> None:
        if self.store is not None and self.dirty:
            keys = sorted(self.dirty)
            self.store.put_arrays(keys, [self.rows[h] for h in keys], "float64", replace=True)
        self.dirty.clear()

    def close(self) -> None:
        self.flush()
        if self.store is not None:
            self.store.close()


class ScoreBook:
    """Every score goes through here: cached rows first, the scorer for what is missing. `computed` counts real
    scorer evaluations (cache misses); budgets are counted per method by `CallCounter`."""

    def __init__(self, scorer: Scorer, use_cache: bool = True) -> None:
        self.scorer = scorer
        ns = hashlib.sha256(f"{scorer.fingerprint}:{scorer.items.digest()}".encode()).hexdigest()[:16]
        self.cache = ScoreCache(ns, len(scorer.items), ScoreCache.default_root() if use_cache else None)
        self.computed = 0

    def score(self, queries: QuerySet, items: np.ndarray | None = None) -> np.ndarray:
        """Exact scores (len(queries) × len(items)); `items=None` means every item."""
        items = np.arange(len(self.scorer.items)) if items is None else np.asarray(items, dtype=np.int64)
        keys = [self.scorer.key(q, t) for q, t in zip(queries.ids, queries.texts)]
        rows = [self.cache.row(k) for k in keys]
        # queries missing the same items are scored in one call; a pair already cached is never scored again
        groups: dict[bytes, list[int]] = {}
        for j, r in enumerate(rows):
            missing = np.unique(items[np.isnan(r[items])])
            if len(missing):
                groups.setdefault(missing.tobytes(), []).append(j)
        for packed, need in groups.items():
            missing = np.frombuffer(packed, dtype=np.int64)
            fresh = self.scorer.compute(queries.subset(need), missing)
            self.computed += fresh.size
            for j, vals in zip(need, fresh):
                rows[j][missing] = vals
                self.cache.touched(keys[j])
        return np.stack([r[items] for r in rows]) if rows else np.zeros((0, len(items)))

    def score_all(self, queries: QuerySet, desc: str, block: int = 16) -> np.ndarray:
        """The full score matrix of `queries` against every item, in blocks with a progress bar; cached."""
        out = np.empty((len(queries), len(self.scorer.items)), dtype=np.float64)
        with progress(desc, len(queries), "queries") as advance:
            for start in range(0, len(queries), block):
                rows = list(range(start, min(start + block, len(queries))))
                out[start : start + len(rows)] = self.score(queries.subset(rows))
                advance(len(rows))
        self.cache.flush()
        return out

    def counter(self, query_id: str, query_text: str, limit: int | None = None) -> "CallCounter":
        return CallCounter(self, query_id, query_text, limit)

    def close(self) -> None:
        self.cache.close()


class CallCounter:
    """One query's scorer calls under one method: counts every requested (query, item) score, refuses to go over
    `limit` (raises BudgetExceeded before scoring) and refuses to score an item twice."""

    def __init__(self, book: ScoreBook, query_id: str, query_text: str, limit: int | None = None) -> None:
        self.book, self.qid, self.text, self.limit = book, query_id, query_text, limit
        self.calls = 0
        self.scored: dict[int, float] = {}

    def score(self, items: np.ndarray) -> np.ndarray:
        items = np.asarray(items, dtype=np.int64)
        if self.limit is not None and self.calls + len(items) > self.limit:
            raise BudgetExceeded(f"query {self.qid}: {self.calls} + {len(items)} scorer calls exceed the budget {self.limit}")
        again = [int(i) for i in items if int(i) in self.scored]
        if again or len(np.unique(items)) != len(items):
            raise BudgetExceeded(f"query {self.qid}: item {again[0] if again else items[0]} scored twice")
        self.calls += len(items)
        vals = self.book.score(QuerySet([self.qid], [self.text]), items)[0]
        self.scored.update(zip(items.tolist(), vals.tolist()))
        return vals

    def top(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k best items scored so far (exact scores; ties by position), as (items, scores)."""
        if not self.scored:
            return np.zeros(0, np.int64), np.zeros(0)
        items = np.fromiter(self.scored.keys(), dtype=np.int64)
        vals = np.fromiter(self.scored.values(), dtype=np.float64)
        order = np.lexsort((items, -vals))[:k]
        return items[order], vals[order]
