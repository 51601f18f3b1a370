"""BM25 as a text backend: bm25s (default) or rank-bm25, over one recorded tokenisation.

Tokenisation (the same for documents and queries, recorded in the index manifest): lower-case, the bm25s /
scikit-learn token pattern `(?u)\\b\\w\\w+\\b`, a stopword list removed before stemming, then a PyStemmer
(Snowball) stemmer. Engines are found in `ENGINES` by name; each keeps its own native files in the index directory.

- bm25s: methods robertson, lucene (default), atire, bm25l, bm25+ (`--k1 --b --delta`), saved with `BM25.save`.
- rank-bm25: okapi (BM25Okapi, default), bm25l, bm25+ — for users who must reproduce rank-bm25 numbers exactly.
  rank-bm25 has no native file format, so the token ids are saved and the model is rebuilt on load (deterministic).

Every document gets a score (rank-bm25 and bm25s both score the whole corpus); `search` returns the top k by score,
ties by row, and accepts `allowed` (a boolean row mask) so metadata filters run before ranking. A query none of whose
terms is in the index (all stopwords, empty, one letter…) matches nothing and gets no results, as in Lucene.
Term ids are numbered in sorted order per tokenisation batch, so the index files do not depend on PYTHONHASHSEED
(bm25s numbers stemmed terms in set order).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..errors import UserError
from ..lazy import LazyModule, need
from ..progress import progress
from .base import Index
from .params import Derived, Param, Spec

np = LazyModule("numpy")

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
        """(token ids per text, vocabulary): the same tokens as `tokenize`, in the id form bm25s indexes fastest.

        bm25s numbers stemmed terms in Python set order, which changes with PYTHONHASHSEED; the ids are renumbered
        here (new terms of each batch in sorted order), so the index files are the same on every run."""
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
                remap = [0] * len(local.vocab)
                for word in sorted(local.vocab):
                    remap[local.vocab[word]] = vocab.setdefault(word, len(vocab))
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
    score_dtype: ClassVar[str] = "float32"

    @classmethod
    @abstractmethod
    def build(cls, ids: list[list[int]], vocab: dict[str, int], method: str, k1: float, b: float,
              delta: float) -> "Engine":
        """Build from token ids and their vocabulary (see Tokenizer.tokenize_ids)."""

    @abstractmethod
    def scores(self, query: list[str]) -> Any:
        """Every document's score, or None when no query term is in the index (no document matches)."""

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
        self.vocab_size = int(len(model.scores["indptr"]) - 1)  # ids at or past this have no postings

    @classmethod
    def build(cls, ids: list[list[int]], vocab: dict[str, int], method: str, k1: float, b: float,
              delta: float) -> "Bm25sEngine":
        import bm25s

        model = bm25s.BM25(k1=k1, b=b, delta=delta, method=cls.methods[method])
        model.index((ids, dict(vocab)), show_progress=False)
        return cls(model)

    def scores(self, query: list[str]) -> Any:
        ids = [i for i in self.model.get_tokens_ids(query) if i < self.vocab_size]
        if not ids:  # no query term in the index (the empty token "" included): no document matches
            return None
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
    score_dtype = "float64"

    def __init__(self, model: Any, tokens: list[list[str]]) -> None:
        self.model = model
        self.tokens = tokens
        self.n = len(tokens)

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

    def scores(self, query: list[str]) -> Any:
        if not any(t in self.model.idf for t in query):  # no query term in the corpus: no document matches
            return None
        return np.asarray(self.model.get_scores(query), dtype=np.float64)

    def save(self, directory: Path) -> None:
        vocab: dict[str, int] = {}
        flat = [vocab.setdefault(t, len(vocab)) for doc in self.tokens for t in doc]
        lengths = np.fromiter((len(doc) for doc in self.tokens), dtype=np.int64, count=len(self.tokens))
        _write_npz(directory / TOKENS_FILE, ids=np.asarray(flat, dtype=np.int32), lengths=lengths)
        (directory / VOCAB_FILE).write_text(json.dumps(list(vocab)))

    @classmethod
    def load(cls, directory: Path, method: str, k1: float, b: float, delta: float) -> "RankBm25Engine":
        words = json.loads((directory / VOCAB_FILE).read_text())
        data = np.load(directory / TOKENS_FILE)
        ids, ends = data["ids"], np.cumsum(data["lengths"])
        starts = ends - data["lengths"]
        tokens = [[words[i] for i in ids[s:e]] for s, e in zip(starts, ends)]
        return cls.from_tokens(tokens, method, k1, b, delta)


def _write_npz(path: Path, **arrays: Any) -> None:
    """np.savez with fixed zip timestamps, so the same arrays give the same bytes."""
    import io
    import zipfile

    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, array in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(array), allow_pickle=False)
            zf.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), buf.getvalue())


ENGINES: dict[str, type[Engine]] = {"bm25s": Bm25sEngine, "rank-bm25": RankBm25Engine}


def _check(params: dict[str, Any], ctx: dict[str, Any], where: str) -> None:
    engine = ENGINES[params["engine"]]
    if params["method"] not in engine.methods:
        raise UserError(f"--method {params['method']}: not a {params['engine']} method; choose one of "
                        f"{', '.join(engine.methods)}")
    Tokenizer(stemmer=params["stemmer"], stopwords=params["stopwords"])  # checks both names


SPEC = Spec(
    name="bm25",
    summary="BM25 over text (bm25s, or rank-bm25 to reproduce its numbers)",
    input="text",
    metrics=("bm25",),
    exact_types=("bm25",),
    params=(
        Param("engine", str, "BM25 implementation.", default="bm25s", choices=tuple(ENGINES)),
        Param("method", str, "BM25 variant (bm25s: robertson, lucene, atire, bm25l, bm25+; rank-bm25: okapi, bm25l, "
              "bm25+).", choices=("lucene", "robertson", "atire", "bm25l", "bm25+", "okapi"),
              aliases=(("bm25plus", "bm25+"), ("bm25okapi", "okapi"), ("bm25", "okapi")),
              default=Derived("lucene (rank-bm25: okapi)", lambda c: ENGINES[c["engine"]].default_method)),
        Param("k1", float, "Term-frequency saturation (Lucene's default 1.2).", default=1.2, low=0, high=100),
        Param("b", float, "Length normalisation (Lucene's default 0.75).", default=0.75, low=0, high=1),
        Param("delta", float, "bm25l/bm25+ delta.", low=0, high=100,
              default=Derived("0.5 (rank-bm25 bm25+: 1.0)",
                              lambda c: 1.0 if c["method"] == "bm25+" and c["engine"] == "rank-bm25" else 0.5)),
        Param("stemmer", str, "PyStemmer (Snowball) language, e.g. english, or 'none'.", default="english"),
        Param("stopwords", str, "Stopword list (en, en_plus, de, fr, …) or 'none'.", default="en"),
    ),
    filter="before ranking",
    package="bm25s, PyStemmer (rank-bm25 optional)",
    rules=_check,
)
PARAMS = {p.name for p in SPEC.params}


class BM25Index(Index):
    spec = SPEC
    errors = (ValueError,)  # what bm25s and rank-bm25 raise on data they cannot score
    files = (BM25S_DIR, TOKENS_FILE)

    def __init__(self, params: dict[str, Any], engine: Engine, tokenizer: Tokenizer) -> None:
        super().__init__("bm25", 0, params)
        self.engine = engine
        self.tokenizer = tokenizer

    @property
    def size(self) -> int:
        return self.engine.n

    @staticmethod
    def _tokenizer(params: dict[str, Any]) -> Tokenizer:
        tok = params.get("tokenizer") or {}
        return Tokenizer(stemmer=str(params.get("stemmer", "english")), stopwords=str(params.get("stopwords", "en")),
                         lower=tok.get("lower", True), pattern=tok.get("pattern", TOKEN_PATTERN))

    @classmethod
    def fit(cls, data: Any, metric: str, params: dict[str, Any], seed: int = 0) -> "BM25Index":
        params = dict(params)
        tokenizer = cls._tokenizer(params)
        ids, vocab = tokenizer.tokenize_ids(data["text"].astype(str).tolist(), label="bm25 tokenize")
        if not any(ids):
            raise UserError(f"the corpus ({len(ids):,} documents) has no indexable term after tokenisation "
                            f"(tokens of 2+ letters, stopwords {tokenizer.stopwords}, stemmer {tokenizer.stemmer}); "
                            "check --text-field, or use --stopwords none")
        engine = ENGINES[params["engine"]].build(ids, vocab, params["method"], params["k1"], params["b"], params["delta"])
        params["tokenizer"] = asdict(tokenizer)
        return cls(params, engine, tokenizer)

    def save(self, directory: Path) -> None:
        self.engine.save(directory)

    @classmethod
    def open(cls, directory: Path, metric: str, dim: int, params: dict[str, Any]) -> "BM25Index":
        params = {k: v for k, v in params.items() if k in PARAMS | {"tokenizer"}}
        engine = ENGINES[params["engine"]].load(directory, params["method"], params["k1"], params["b"], params["delta"])
        return cls(params, engine, cls._tokenizer(params))

    def label(self) -> str:
        return f"bm25 ({self.params.get('engine')} {self.params.get('method')})"

    def describe(self) -> dict[str, Any]:
        return {"backend": self.backend, **self.params}

    def _search(self, queries: Any, k: int, allowed: Any) -> tuple[Any, Any]:
        """Top-k (scores, rows) per query text; rows outside `allowed` are never returned. A query none of whose
        terms is in the index matches no document: it gets no results (and a note), never an arbitrary ranking."""
        texts = [queries] if isinstance(queries, str) else list(queries)
        tokens = self.tokenizer.tokenize([str(t) for t in texts])
        dtype = self.engine.score_dtype
        out_s = np.full((len(tokens), k), -np.inf, dtype=dtype)
        out_p = np.full((len(tokens), k), -1, dtype=np.int64)
        for i, q in enumerate(tokens):
            s = self.engine.scores(q)
            if s is None:
                self.note("bm25: a query with no indexable term (after lower-casing, stopwords and stemming) or no "
                          "term found in the corpus matches no document; it gets no results")
                continue
            s = np.asarray(s, dtype=dtype)
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

