"""hnswlib through the backend conformance suite."""

from backend_conformance import BackendConformance


class TestHnswlib(BackendConformance):
    backend = "hnswlib"
    build = {"hnsw_m": 16, "ef_construction": 100}
    search = {"ef_search": 256}
    min_recall = 0.99
