"""Milvus past one machine: build-index streams the vectors to a server in bounded batches.

The server is milvus-lite's gRPC server in its own process on loopback (standing in for Milvus standalone), so this
process's traced memory is the client side only: reading, normalising and sending one batch at a time."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc

import numpy as np
import pandas as pd
import pytest

from vecrecall.indexes import milvus as milvus_backend

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

SERVER = """
import sys
from milvus_lite.adapter.grpc.server import start_server_in_thread
srv, db, port = start_server_in_thread(sys.argv[1], host="127.0.0.1", port=0)
print(port, flush=True)
sys.stdin.read()  # serve until the test closes stdin
srv.stop(grace=0)
db.close()
"""


@pytest.fixture
def server_process(tmp_path):
    """http://127.0.0.1:PORT of a milvus-lite gRPC server running in a child process."""
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(tmp_path / "server-data")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_insert_batches_are_bounded_in_rows_and_bytes():
    assert milvus_backend.insert_batch_rows(384) == 2048
    assert milvus_backend.insert_batch_rows(4096) == 512  # 8 MB of float32
    assert milvus_backend.insert_batch_rows(10_000_000) == 1


@pytest.mark.slow
def test_build_streams_200k_vectors_to_a_server_with_bounded_memory(tmp_path, server_process, monkeypatch):
    from pymilvus import MilvusClient

    from vecrecall.artifacts import Manifest, save_embeddings_from_array
    from vecrecall.indexes.store import IndexDir, build_index

    n, dim = 200_000, 128
    rng = np.random.default_rng(5)
    x = rng.standard_normal((n, dim)).astype(np.float32)
    (tmp_path / "emb").mkdir()
    save_embeddings_from_array(tmp_path / "emb", x, pd.DataFrame({"id": [f"d{i}" for i in range(n)]}),
                               Manifest("embeddings", params={"model": {"name": "t"}}))
    probes = x[[0, 77_777, n - 1]].copy()
    del x
    sizes: list[int] = []
    insert = MilvusClient.insert

    def counting_insert(self, collection_name, data, *args, **kwargs):
        sizes.append(len(data))
        return insert(self, collection_name, data, *args, **kwargs)

    monkeypatch.setattr(MilvusClient, "insert", counting_insert)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        m = build_index("milvus", tmp_path / "idx", embeddings=tmp_path / "emb",
                        params={"index_type": "FLAT", "milvus_uri": server_process})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    matrix_bytes = n * dim * 4  # 102 MB
    assert sum(sizes) == n and max(sizes) == 2048 and len(sizes) == -(-n // 2048)
    assert peak < matrix_bytes / 4, f"client peak {peak / 1e6:.1f} MB for a {matrix_bytes / 1e6:.1f} MB matrix"
    assert m.stats["n"] == n and m.params["flavour"] == "server"
    index = IndexDir.load(tmp_path / "idx")
    assert index.index.size == n and index.n_rows == n
    client = MilvusClient(uri=server_process)
    assert int(client.get_collection_stats(m.params["collection"])["row_count"]) == n
    client.close()
    scores, rows = index.search(index.prepare(probes), 3)
    assert rows[:, 0].tolist() == [0, 77_777, n - 1]  # FLAT on the server: each vector finds itself first
    assert np.allclose(scores[:, 0], 1.0, atol=1e-5)
