"""encode --backend onnx|openvino and --quantize int8 on a tiny random-init model (built in the test, nothing
downloaded): export once, agreement with PyTorch, fingerprints, lineage for query, refusals."""

import json
import sys

import numpy as np
import pytest

from conftest import SAMPLE, assert_user_error
from vecrecall.errors import UserError

pytest.importorskip("onnxruntime", reason="the fast backends need: pip install \"vecrecall[fast]\"")
pytest.importorskip("openvino", reason="the fast backends need: pip install \"vecrecall[fast]\"")

TEXTS = ["switching circuits with bidirectional impedances", "x", "a much longer text about waveguides, cavities, "
         "spheres and cylinders, measured at several temperatures " * 2, "the perturbation of waveguides"]
SPECS = [("onnx", None), ("onnx", "int8"), ("openvino", None), ("openvino", "int8")]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from tiny_models import make_tiny_bi_encoder

    return make_tiny_bi_encoder(tmp_path_factory.mktemp("models") / "bi", seed=5)


@pytest.fixture(scope="module")
def small_corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    lines = (SAMPLE / "corpus.jsonl").read_text().splitlines()[:60]
    (d / "corpus.jsonl").write_text("\n".join(lines) + "\n")
    (d / "queries.jsonl").write_text((SAMPLE / "queries.jsonl").read_text())
    return d


def test_backends_agree_with_torch_and_have_their_own_fingerprints(tiny):
    from vecrecall.encoders import load_encoder
    from vecrecall.fingerprint import model_fingerprint

    base_fp = model_fingerprint(tiny)
    torch_enc = load_encoder(str(tiny))
    ref = torch_enc.encode(TEXTS)
    fps = {torch_enc.fingerprint}
    for backend, quantize in SPECS:
        enc = load_encoder(str(tiny), backend=backend, quantize=quantize)
        v = enc.encode(TEXTS, batch_size=2)
        cos = (v * ref).sum(1) / np.linalg.norm(v, axis=1) / np.linalg.norm(ref, axis=1)
        if quantize is None:
            np.testing.assert_allclose(v, ref, atol=2e-3)
        else:
            assert cos.min() > 0.95, (backend, cos)
        d = enc.describe()
        assert d["backend"] == backend and d["quantize"] == quantize and d["base_fingerprint"] == base_fp
        assert (d["int8_config"] is not None) == (quantize is not None)
        assert d["path"].startswith(str(tiny / ".vecrecall-exports"))
        fps.add(enc.fingerprint)
    assert len(fps) == 5  # torch, onnx, onnx-int8, openvino, openvino-int8
    assert model_fingerprint(tiny) == base_fp  # exports beside the model do not change the model's fingerprint


def test_export_is_made_once_and_reused(tiny, capsys):
    from vecrecall import encoders

    first = encoders.load_encoder(str(tiny), backend="onnx")
    record = first.export_dir / "export.json"
    stamp = record.stat().st_mtime_ns
    encoders._LOADED.clear()
    again = encoders.load_encoder(str(tiny), backend="onnx")
    assert record.stat().st_mtime_ns == stamp and again.fingerprint == first.fingerprint
    assert "exporting" not in capsys.readouterr().err
    # the export directory is itself a --model that reproduces the encoder
    encoders._LOADED.clear()
    assert encoders.load_encoder(str(first.export_dir)).fingerprint == first.fingerprint
    with pytest.raises(UserError, match="this export is onnx, not openvino"):
        encoders.load_encoder(str(first.export_dir), backend="openvino")
    meta = json.loads(record.read_text())
    assert meta["base_path"] == str(tiny) and meta["inputs"][:2] == ["input_ids", "attention_mask"]


def test_query_takes_the_backend_from_the_lineage_and_refuses_another(vr, tiny, small_corpus, tmp_path):
    model = str(tiny)
    r = vr("encode", "--corpus", small_corpus, "--out", tmp_path / "e", "--model", model, "--backend", "onnx",
           "--quantize", "int8", "--json")
    assert r.exit_code == 0, r.stderr
    m = json.loads(r.stdout)["params"]["model"]
    assert m["backend"] == "onnx" and m["quantize"] == "int8" and m["name"].endswith("]")
    assert vr("build-index", "--embeddings", tmp_path / "e", "--out", tmp_path / "i").exit_code == 0
    r = vr("query", "--index", tmp_path / "i", "--queries", small_corpus, "--out", tmp_path / "r.parquet")
    assert r.exit_code == 0, r.stderr  # texts: encoded with the index's onnx int8 export
    assert vr("encode", "--queries", small_corpus, "--out", tmp_path / "q8", "--model", model, "--backend", "onnx",
              "--quantize", "int8").exit_code == 0
    assert vr("query", "--index", tmp_path / "i", "--queries", tmp_path / "q8", "--out", tmp_path / "r8.parquet").exit_code == 0
    import pandas as pd

    a, b = pd.read_parquet(tmp_path / "r.parquet"), pd.read_parquet(tmp_path / "r8.parquet")
    assert a["docid"].tolist() == b["docid"].tolist()
    assert_user_error(vr("query", "--index", tmp_path / "i", "--queries", small_corpus, "--model", model,
                         "--out", tmp_path / "x.parquet"), "differs from the index's model")
    assert vr("encode", "--queries", small_corpus, "--out", tmp_path / "qt", "--model", model).exit_code == 0
    assert_user_error(vr("query", "--index", tmp_path / "i", "--queries", tmp_path / "qt", "--out", tmp_path / "x.parquet"),
                      "re-encode the queries with the index's model")


def test_shards_of_different_backends_do_not_merge(vr, tiny, small_corpus, tmp_path):
    base = ["encode", "--corpus", small_corpus, "--model", str(tiny), "--block-size", 20]
    assert vr(*base, "--shard", "0/2", "--out", tmp_path / "a", "--backend", "onnx").exit_code == 0
    assert vr(*base, "--shard", "1/2", "--out", tmp_path / "b").exit_code == 0
    assert_user_error(vr("merge", tmp_path / "a", tmp_path / "b", "--out", tmp_path / "m"),
                      "different models or backends", "[onnx]")


def test_int8_config_follows_the_cpu(monkeypatch):
    from vecrecall import exported
    from vecrecall.exported import BackendSpec

    assert BackendSpec.parse("onnx", "int8:avx2").label == "onnx-int8-avx2"
    assert BackendSpec.parse("openvino", "int8").label == "openvino-int8"
    monkeypatch.setattr(exported.platform, "machine", lambda: "aarch64")
    assert exported.cpu_int8_config() == "arm64"
    assert BackendSpec.parse("onnx", "int8").int8_config == "arm64"
    monkeypatch.setattr(exported.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(exported.Path, "read_text", lambda self, *a, **k: "flags\t\t: fpu sse2 avx avx2 fma\n")
    assert exported.cpu_int8_config() == "avx2"
    monkeypatch.setattr(exported.Path, "read_text", lambda self, *a, **k: "flags\t\t: fpu sse2\n")
    with pytest.raises(UserError, match="this CPU has none of"):
        BackendSpec.parse("onnx", "int8")


def test_export_goes_to_the_cache_for_the_packaged_model(tmp_path, monkeypatch):
    from vecrecall.exported import BackendSpec, export_location

    monkeypatch.setenv("VECRECALL_CACHE_DIR", str(tmp_path / "c"))
    spec = BackendSpec.parse("onnx", "int8:avx512_vnni")
    assert export_location(tmp_path, "fp", spec, packaged=True) == tmp_path / "c" / "exports" / "fp" / "onnx-int8-avx512_vnni"
    assert export_location(tmp_path, "fp", spec, packaged=False) == tmp_path / ".vecrecall-exports" / "onnx-int8-avx512_vnni"


def test_missing_runtime_names_the_pip_command(vr, tmp_path, monkeypatch):
    from tiny_models import make_tiny_bi_encoder

    model = make_tiny_bi_encoder(tmp_path / "m", seed=1)
    monkeypatch.setitem(sys.modules, "openvino", None)
    assert_user_error(vr("encode", "--queries", SAMPLE, "--out", tmp_path / "q", "--model", model, "--backend", "openvino"),
                      "needs the Python package 'openvino'", 'pip install "vecrecall[fast]"')
    assert not (model / ".vecrecall-exports" / "openvino").exists()


def test_an_export_directory_as_model_runs_its_own_backend(vr, tiny, small_corpus, tmp_path):
    """`encode --model EXPORT_DIR` needs no --backend (the export names its own); a contradicting one is refused."""
    assert vr("encode", "--corpus", small_corpus, "--model", tiny, "--backend", "onnx", "--out", tmp_path / "a").exit_code == 0
    export = json.loads((tmp_path / "a" / "manifest.json").read_text())["params"]["model"]["path"]
    r = vr("encode", "--corpus", small_corpus, "--model", export, "--out", tmp_path / "b")
    assert r.exit_code == 0, r.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "a" / "embeddings.npy"), np.load(tmp_path / "b" / "embeddings.npy"))
    assert_user_error(vr("encode", "--corpus", small_corpus, "--model", export, "--backend", "torch", "--out",
                         tmp_path / "c"), "this export is onnx, not torch")
