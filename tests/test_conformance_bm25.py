"""BM25 (text input) through the backend conformance suite, with both engines."""

from backend_conformance import BackendConformance


class TestBM25s(BackendConformance):
    backend = "bm25"
    input = "text"


class TestRankBM25(BackendConformance):
    backend = "bm25"
    input = "text"
    build = {"engine": "rank-bm25"}
