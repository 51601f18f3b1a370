"""faiss through the backend conformance suite: Flat (exact), IVF probing every list, HNSW with a wide beam, and a
quantised factory index."""

from backend_conformance import BackendConformance


class TestFaissFlat(BackendConformance):
    backend = "faiss"
    build = {"index_type": "Flat"}


class TestFaissIVF(BackendConformance):
    backend = "faiss"
    build = {"index_type": "IVF", "nlist": 8}
    search = {"nprobe": 8}  # every list: exact


class TestFaissHNSW(BackendConformance):
    backend = "faiss"
    build = {"index_type": "HNSW", "hnsw_m": 16}
    search = {"ef_search": 256}
    min_recall = 0.99


class TestFaissFactorySQ8(BackendConformance):
    backend = "faiss"
    build = {"factory": "IVF4,SQ8"}
    search = {"nprobe": 4}
    min_recall = 0.9
    quantised = True
