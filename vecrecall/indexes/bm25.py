"""BM25 as a text backend: bm25s (default) or rank-bm25, over one recorded tokenisation.

Tokenisation (the same for documents and queries, recorded in the index manifest): lower-case, the bm25s /
scikit-learn token pattern `(?u)\\b\\w\\w+\\b`, a stopword list removed before stemming, then a PyStemmer
(Snowball) stemmer. Engines are found in `ENGINES` by name; each keeps its own native files in the index directory.

- bm25s: methods robertson, lucene (default), atire, bm25l, bm25+ (`--k1 --b --delta`), saved with `BM25.save`.
- rank-bm25: okapi (BM25Okapi, default), bm25l, bm25+ — for users who must reproduce rank-bm25 numbers exactly.
  rank-bm25 has no native file format, so the token ids are saved and the model is rebuilt on load (deterministic).

Every document gets a score (rank-bm25 and bm25s both score the whole corpus); `search` returns the top k by score,
ties by row, and accepts `allowed` (a boolean row mask) so metadata filters run before ranking.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..errors import UserError
from ..lazy import need
from ..progress import progress
from .base import Index, refuse_unknown

TOKEN_PATTERN = r"(?u)\b\w\w+\b"
TOKENS_FILE = "tokens.npz"
VOCAB_FILE = "vocab.json"
BM25S_DIR = "bm25s"


@dataclass(frozen=True)
class Tokenizer:
    """How texts become BM25 terms; recorded in the manifest and reused for queries."""

    stemmer: str = "english"
    stopwords: str = "en"
    lower: bool = True
    pattern: str = TOKEN_PATTERN

    def __post_init__(self) -> None:
        if self.stemmer != "none":
            stemmer_mod = need("Stemmer")
            if self.stemmer not in stemmer_mod.algorithms():
                raise UserError(f"--stemmer {self.stemmer}: unknown PyStemmer language; choose 'none' or one of "
                                f"{', '.join(stemmer_mod.algorithms())}")
        if self.stopwords != "none":
            from bm25s.tokenization import _infer_stopwords

            try:
                _infer_stopwords(self.stopwords)
            except ValueError:
                raise UserError(f"--stopwords {self.stopwords}: unknown list; choose 'none' or one of en, en_plus, de, "
                                "nl, fr, es, pt, it, ru, sv, no, zh, tr, ko, da") from None

    def _stemmer(self) -> Any:
        return None if self.stemmer == "none" else need("Stemmer").Stemmer(self.stemmer)

    def tokenize(self, texts: list[str], batch: int = 2048, label: str | None = None) -> list[list[str]]:
        """Token lists (bm25s.tokenize semantics: stopwords dropped, then stemmed), with a progress bar if `label`."""
        import bm25s

        stop = [] if self.stopwords == "none" else self.stopwords
        stemmer = self._stemmer()
        out: list[list[str]] = []
        with progress(label or "tokenize", len(texts), "docs") if label else _quiet() as advance:
            for start in range(0, len(texts), batch):
                part = texts[start : start + batch]
                out.extend(bm25s.tokenize(part, lower=self.lower, token_pattern=self.pattern, stopwords=stop,
                                          stemmer=stemmer, return_ids=False, show_progress=False))
                advance(len(part))
        return out


    def tokenize_ids(self, texts: list[str], batch: int = 16384,
                     label: str | None = None) -> tuple[list[list[int]], dict[str, int]]:
        """(token ids per text, vocabulary): the same tokens as `tokenize`, in the id form bm25s indexes fastest."""
        import bm25s

        stop = [] if self.stopwords == "none" else self.stopwords
        stemmer = self._stemmer()
        vocab: dict[str, int] = {}
        ids: list[list[int]] = []
        with progress(label or "tokenize", len(texts), "docs") if label else _quiet() as advance:
            for start in range(0, len(texts), batch):
                part = texts[start : start + batch]
                local = bm25s.tokenize(part, lower=self.lower, token_pattern=self.pattern, stopwords=stop,
                                       stemmer=stemmer, return_ids=True, show_progress=False)
                if not vocab:  # the first batch keeps its ids (a corpus of one batch needs no remapping)
                    vocab.update(local.vocab)
                    ids.extend(local.ids)
                else:
                    words = sorted(local.vocab, key=local.vocab.__getitem__)
                    remap = [vocab.setdefault(w, len(vocab)) for w in words]
                    ids.extend([remap[i] for i in doc] for doc in local.ids)
                advance(len(part))
        return ids, vocab


class _quiet:
    def __enter__(self):
        return lambda n=1: None

    def __exit__(self, *exc: Any) -> None:
        return None


class Engine(ABC):
    """One BM25 implementation: build from token lists, score one query against every document, save, load."""

    methods: ClassVar[dict[str, str]]  # --method value -> the library's name for it
    default_method: ClassVar[str]
    score_dtype: ClassVar[type] = np.float32

    @classmethod
    @abstractmethod
    def build(cls, ids: list[list[int]], vocab: dict[str, int], method: str, k1: float, b: float,
              delta: float) -> "Engine":
        """Build from token ids and their vocabulary (see Tokenizer.tokenize_ids)."""

    @abstractmethod
    def scores(self, query: list[str]) -> np.ndarray: ...

    @abstractmethod
    def save(self, directory: Path) -> None: ...

    @classmethod
    @abstractmethod
    def load(cls, directory: Path, method: str, k1: float, b: float, delta: float) -> "Engine": ...


class Bm25sEngine(Engine):
    methods = {"robertson": "robertson", "lucene": "lucene", "atire": "atire", "bm25l": "bm25l", "bm25+": "bm25+"}
    default_method = "lucene"

    def __init__(self, model: Any) -> None:
        self.model = model
        self.n = int(model.scores["num_docs"])

    @classmethod
    def build(cls, ids: list[list[int]], vocab: dict[str, int], method: str, k1: float, b: float,
              delta: float) -> "Bm25sEngine":
        import bm25s

        model = bm25s.BM25(k1=k1, b=b, delta=delta, method=cls.methods[method])
        model.index((ids, dict(vocab)), show_progress=False)
        return cls(model)

    def scores(self, query: list[str]) -> np.ndarray:
        ids = self.model.get_tokens_ids(query)
        if not ids:  # no query term in the vocabulary: every document scores what the empty query scores
            return self.model.get_scores_from_ids([self.model.vocab_dict[""]]) if "" in self.model.vocab_dict \
                else np.zeros(self.n, dtype=np.float32)
        return self.model.get_scores_from_ids(ids)

    def save(self, directory: Path) -> None:
        self.model.save(str(directory / BM25S_DIR), show_progress=False)

    @classmethod
    def load(cls, directory: Path, method: str, k1: float, b: float, delta: float) -> "Bm25sEngine":
        import bm25s

        return cls(bm25s.BM25.load(str(directory / BM25S_DIR), mmap=False, show_progress=False, verbosity=0))


class RankBm25Engine(Engine):
    """rank-bm25 on exactly the given tokens; float64 scores, as rank_bm25's `get_scores` returns them."""

    methods = {"okapi": "BM25Okapi", "bm25l": "BM25L", "bm25+": "BM25Plus"}
    default_method = "okapi"
    score_dtype = np.float64

    def __init__(self, model: Any, tokens: list[list[str]]) -> None:
        self.model = model
        self.tokens = tokens

    @classmethod
    def build(cls, ids: list[list[int]], vocab: dict[str, int], method: str, k1: float, b: float,
              delta: float) -> "RankBm25Engine":
        words = sorted(vocab, key=vocab.__getitem__)
        return cls.from_tokens([[words[i] for i in doc] for doc in ids], method, k1, b, delta)

    @classmethod
    def from_tokens(cls, tokens: list[list[str]], method: str, k1: float, b: float, delta: float) -> "RankBm25Engine":
        rank_bm25 = need("rank_bm25")
        klass = getattr(rank_bm25, cls.methods[method])
        extra = {} if method == "okapi" else {"delta": delta}
        return cls(klass(tokens, k1=k1, b=b, **extra), tokens)

    def scores(self, query: list[str]) -> np.ndarray:
        return np.asarray(self.model.get_scores(query), dtype=np.float64)

    def save(self, directory: Path) -> None:
        vocab: dict[str, int] = {}
        flat = [vocab.setdefault(t, len(vocab)) for doc in self.tokens for t in doc]
        lengths = np.fromiter((len(doc) for doc in self.tokens), dtype=np.int64, count=len(self.tokens))
        np.savez(directory / TOKENS_FILE, ids=np.asarray(flat, dtype=np.int32), lengths=lengths)
        (directory / VOCAB_FILE).write_text(json.dumps(list(vocab)))

    @classmethod
    def load(cls, directory: Path, method: str, k1: float, b: float, delta: float) -> "RankBm25Engine":
        words = json.loads((directory / VOCAB_FILE).read_text())
        data = np.load(directory / TOKENS_FILE)
        ids, ends = data["ids"], np.cumsum(data["lengths"])
        starts = ends - data["lengths"]
        tokens = [[words[i] for i in ids[s:e]] for s, e in zip(starts, ends)]
        return cls.from_tokens(tokens, method, k1, b, delta)


ENGINES: dict[str, type[Engine]] = {"bm25s": Bm25sEngine, "rank-bm25": RankBm25Engine}
METHOD_ALIASES = {"bm25plus": "bm25+", "bm25okapi": "okapi", "bm25": "okapi"}
PARAMS = {"stemmer", "stopwords", "k1", "b", "delta", "method", "engine"}


def _settings(params: dict[str, Any]) -> dict[str, Any]:
    """Checked BM25 settings with defaults filled in (engine, method, k1, b, delta, tokenizer fields)."""
    params = dict(params)
    params.pop("index_type", None)
    params = refuse_unknown(params, PARAMS, "bm25")
    engine = params.setdefault("engine", "bm25s")
    if engine not in ENGINES:
        raise UserError(f"--engine {engine}: unknown bm25 engine; choose one of {', '.join(ENGINES)}")
    cls = ENGINES[engine]
    method = METHOD_ALIASES.get(str(params.get("method", cls.default_method)).lower(), str(params.get("method", cls.default_method)).lower())
    if method not in cls.methods:
        raise UserError(f"--method {params['method']}: not a {engine} method; choose one of {', '.join(cls.methods)}")
    params["method"] = method
    params.setdefault("k1", 1.5)
    params.setdefault("b", 0.75)
    params.setdefault("delta", 0.5 if method != "bm25+" or engine == "bm25s" else 1.0)
    for name in ("k1", "b", "delta"):
        params[name] = float(params[name])
        if params[name] < 0:
            raise UserError(f"--{name} {params[name]}: must be ≥ 0")
    if params["b"] > 1:
        raise UserError(f"--b {params['b']}: must be between 0 and 1")
    params.setdefault("stemmer", "english")
    params.setdefault("stopwords", "en")
    return params


class BM25Index(Index):
    backend = "bm25"
    input_kind = "text"
    metrics = ("bm25",)
    supports_filter = True

    def __init__(self, params: dict[str, Any], engine: Engine, tokenizer: Tokenizer) -> None:
        super().__init__("bm25", 0, params)
        self.engine = engine
        self.tokenizer = tokenizer

    @staticmethod
    def _tokenizer(params: dict[str, Any]) -> Tokenizer:
        tok = params.get("tokenizer") or {}
        return Tokenizer(stemmer=str(params.get("stemmer", "english")), stopwords=str(params.get("stopwords", "en")),
                         lower=tok.get("lower", True), pattern=tok.get("pattern", TOKEN_PATTERN))

    @classmethod
    def build(cls, data: Any, metric: str, params: dict[str, Any], seed: int = 0) -> "BM25Index":
        params = _settings(params)
        tokenizer = cls._tokenizer(params)
        ids, vocab = tokenizer.tokenize_ids(data["text"].astype(str).tolist(), label="bm25 tokenize")
        engine = ENGINES[params["engine"]].build(ids, vocab, params["method"], params["k1"], params["b"], params["delta"])
        params["tokenizer"] = asdict(tokenizer)
        return cls(params, engine, tokenizer)

    def save(self, directory: Path) -> None:
        self.engine.save(directory)

    @classmethod
    def load(cls, directory: Path, metric: str, dim: int, params: dict[str, Any]) -> "BM25Index":
        params = {k: v for k, v in params.items() if k in PARAMS | {"tokenizer"}}
        engine = ENGINES[params["engine"]].load(directory, params["method"], params["k1"], params["b"], params["delta"])
        return cls(params, engine, cls._tokenizer(params))

    def label(self) -> str:
        return f"bm25 ({self.params.get('engine')} {self.params.get('method')})"

    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend, **self.params}

    def search(self, queries: Any, k: int, allowed: np.ndarray | None = None,
               **search_params: Any) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, rows) per query text; rows outside `allowed` are never returned."""
        self.check_search_params(search_params)
        texts = [queries] if isinstance(queries, str) else list(queries)
        tokens = self.tokenizer.tokenize([str(t) for t in texts])
        dtype = self.engine.score_dtype
        out_s = np.full((len(tokens), k), -np.inf, dtype=dtype)
        out_p = np.full((len(tokens), k), -1, dtype=np.int64)
        for i, q in enumerate(tokens):
            s = np.asarray(self.engine.scores(q), dtype=dtype)
            if allowed is not None:
                s = np.where(allowed, s, -np.inf)
            top = _topk(s, k)
            top = top[np.isfinite(s[top])]
            out_s[i, : len(top)] = s[top]
            out_p[i, : len(top)] = top
        return out_s, out_p


def _topk(scores: np.ndarray, k: int) -> np.ndarray:
    """Rows of the k highest scores, best first, ties by row (deterministic)."""
    k = min(k, len(scores))
    if k < len(scores):
        cand = np.argpartition(-scores, k - 1)[:k]
        kth = scores[cand].min()
        cand = np.flatnonzero(scores >= kth)  # every row tied with the k-th, so ties resolve by row
    else:
        cand = np.arange(len(scores))
    order = np.lexsort((cand, -scores[cand]))
    return cand[order][:k]


def tokenize_like(index: BM25Index, texts: list[str]) -> list[list[str]]:
    """The tokens `index` gives these texts (for comparisons against other BM25 implementations)."""
    return index.tokenizer.tokenize(texts)

