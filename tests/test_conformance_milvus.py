"""Milvus (milvus-lite inside the index directory) through the backend conformance suite."""

import pytest

from backend_conformance import BackendConformance

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")


class TestMilvusFlat(BackendConformance):
    backend = "milvus"
    build = {"index_type": "FLAT"}


class TestMilvusIVF(BackendConformance):
    backend = "milvus"
    build = {"index_type": "IVF_FLAT", "nlist": 8}
    search = {"nprobe": 8}
    min_recall = 0.99
