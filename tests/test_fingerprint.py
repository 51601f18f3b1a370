"""Model fingerprints: the whole content of every file counts (scheme 2), large files' digests come from the one
cache, and artifacts recorded with the older sampled fingerprint (scheme 1) keep matching the same model."""

from __future__ import annotations

import json
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from conftest import SAMPLE, assert_user_error
from tiny_models import make_tiny_bi_encoder

MiB = 1 << 20


@pytest.fixture(scope="module")
def tiny_large(tmp_path_factory) -> Path:
    """A tiny bi-encoder whose model.safetensors is over 4 MiB (where scheme 1 hashed only head and tail)."""
    d = make_tiny_bi_encoder(tmp_path_factory.mktemp("fp") / "bi", hidden_size=48)
    assert (d / "model.safetensors").stat().st_size > 4 * MiB
    return d


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """The first 150 sample_data documents (a tiny model encodes them in a moment)."""
    d = tmp_path_factory.mktemp("fpcorpus")
    lines = (SAMPLE / "corpus.jsonl").read_text().splitlines()[:150]
    (d / "corpus.jsonl").write_text("\n".join(lines) + "\n")
    return d / "corpus.jsonl"


@pytest.fixture
def fresh_loads(monkeypatch):
    """Forget the encoders this process loaded, so the next command loads (and fingerprints) the model again."""
    from vecrecall import encoders

    monkeypatch.setattr(encoders, "_LOADED", {})


def _edit_middle_in_place(model: Path) -> None:
    """Add ±0.5 (alternately) to the word-embedding floats that lie more than 1 MiB from either end of model.safetensors, rewriting
    those bytes in place: what fine-tuning that leaves the [unused] rows (head) and the pooler (tail) alone does."""
    f = model / "model.safetensors"
    size = f.stat().st_size
    with open(f, "r+b") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(n))
        name = next(k for k in header if k.endswith("word_embeddings.weight"))
        lo, hi = (8 + n + o for o in header[name]["data_offsets"])
        lo, hi = max(lo, MiB + 4096) // 4 * 4, min(hi, size - MiB - 4096) // 4 * 4
        assert hi - lo > MiB
        fh.seek(lo)
        x = np.frombuffer(fh.read(hi - lo), dtype="<f4")
        x = x + np.where(np.arange(x.size) % 2, 0.5, -0.5).astype("<f4")  # not a constant: LayerNorm would remove it
        fh.seek(lo)
        fh.write(x.astype("<f4").tobytes())


def _vectors(path: Path) -> np.ndarray:
    from vecrecall.artifacts import load_embeddings

    return np.array(load_embeddings(path).vectors)


def test_a_change_in_the_middle_of_a_large_file_is_a_new_model(vr, tiny_large, corpus, tmp_path, fresh_loads):
    from vecrecall import encoders

    model = shutil.copytree(tiny_large, tmp_path / "model")
    before = encoders.model_fingerprints(model)
    r = vr("encode", "--corpus", corpus, "--out", tmp_path / "old", "--model", model)
    assert r.exit_code == 0, r.stderr
    head, tail = (model / "model.safetensors").read_bytes()[:MiB], (model / "model.safetensors").read_bytes()[-MiB:]

    _edit_middle_in_place(model)
    data = (model / "model.safetensors").read_bytes()
    assert data[:MiB] == head and data[-MiB:] == tail
    after = encoders.model_fingerprints(model)
    assert after[1] == before[1]  # the sampled scheme-1 hash cannot see this change…
    assert after[0] != before[0]  # …the whole-content one does

    encoders._LOADED.clear()
    r = vr("encode", "--corpus", corpus, "--out", tmp_path / "new", "--model", model)
    assert r.exit_code == 0, r.stderr
    encoders._LOADED.clear()
    r = vr("encode", "--corpus", corpus, "--out", tmp_path / "uncached", "--model", model, "--no-cache")
    assert r.exit_code == 0, r.stderr
    old, new = _vectors(tmp_path / "old"), _vectors(tmp_path / "new")
    assert not np.allclose(old, new, atol=1e-4)  # not the first model's cached vectors…
    np.testing.assert_array_equal(new, _vectors(tmp_path / "uncached"))  # …but the edited model's own
    recorded = json.loads((tmp_path / "new" / "manifest.json").read_text())["params"]["model"]
    assert (recorded["fingerprint"], recorded["fingerprint_scheme"], recorded["fingerprint_v1"]) == (*after[:1], 2, after[1])


def _count_full_reads(monkeypatch) -> list[Path]:
    from vecrecall import fingerprint

    reads: list[Path] = []
    real = fingerprint._sha256_file

    def counting(f, advance):
        reads.append(f)
        return real(f, advance)

    monkeypatch.setattr(fingerprint, "_sha256_file", counting)
    return reads


def _plain_dir(tmp_path: Path) -> Path:
    d = tmp_path / "files"
    d.mkdir()
    (d / "weights.bin").write_bytes(np.random.default_rng(0).bytes(5 * MiB))
    (d / "config.json").write_text("{}")
    return d


def test_an_unchanged_model_is_read_whole_once(tmp_path, monkeypatch):
    from vecrecall.fingerprint import model_fingerprints

    d = _plain_dir(tmp_path)
    reads = _count_full_reads(monkeypatch)
    first = model_fingerprints(d)
    assert reads == [d / "weights.bin"]
    assert model_fingerprints(d) == first and len(reads) == 1  # the second time the digest comes from the cache
    assert (Path(os.environ["VECRECALL_CACHE_DIR"]) / "file-digests.sqlite").exists()

    # the same bytes written again in place: a new ctime, so read again (same answer)
    data = (d / "weights.bin").read_bytes()
    (d / "weights.bin").write_bytes(data)
    assert model_fingerprints(d) == first and len(reads) == 2
    (d / "weights.bin").write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # one bit of the tail changed
    assert model_fingerprints(d)[0] != first[0] and len(reads) == 3


def test_without_a_usable_cache_the_fingerprint_is_the_same(tmp_path, monkeypatch):
    from vecrecall.fingerprint import model_fingerprints

    d = _plain_dir(tmp_path)
    expected = model_fingerprints(d)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    monkeypatch.setenv("VECRECALL_CACHE_DIR", str(blocker))
    reads = _count_full_reads(monkeypatch)
    assert model_fingerprints(d) == expected and model_fingerprints(d) == expected
    assert len(reads) == 2  # no cache: read whole every time


def test_exports_manifest_and_git_do_not_count(tmp_path):
    from vecrecall.fingerprint import model_fingerprints

    d = _plain_dir(tmp_path)
    expected = model_fingerprints(d)
    for rel in (".vecrecall-exports/onnx/model.onnx", "manifest.json", ".git/HEAD"):
        (d / rel).parent.mkdir(parents=True, exist_ok=True)
        (d / rel).write_text("x")
    assert model_fingerprints(d) == expected
    (d / "sub").mkdir()
    (d / "sub" / "manifest.json").write_text("x")  # only vecrecall's own top-level manifest is left out
    assert model_fingerprints(d) != expected


def test_same_model_rule():
    from vecrecall.fingerprint import fingerprint_fields, same_model

    new = {"name": "m", **fingerprint_fields("full-a", "v1-a")}
    assert same_model(new, {"name": "elsewhere", **fingerprint_fields("full-a", "v1-a")})
    assert not same_model(new, fingerprint_fields("full-b", "v1-a"))  # both scheme 2: the whole content decides
    assert same_model(new, {"fingerprint": "v1-a"}) and same_model({"fingerprint": "v1-a"}, new)  # an old record
    assert not same_model(new, {"fingerprint": "v1-b"}) and not same_model(new, {"fingerprint": "full-a"})
    assert same_model({"fingerprint": "x"}, {"fingerprint": "x"}) and not same_model({"fingerprint": "x"}, {"fingerprint": "y"})


def _make_old_style(index: Path) -> dict:
    """Rewrite the embeddings lineage recorded in `index` as vecrecall wrote it before fingerprint scheme 2."""
    f = index / "manifest.json"
    m = json.loads(f.read_text())
    model = m["inputs"]["embeddings"]["manifest"]["params"]["model"]
    model["fingerprint"] = model.pop("fingerprint_v1")
    del model["fingerprint_scheme"]
    f.write_text(json.dumps(m, indent=2) + "\n")
    return model


def test_an_index_recorded_with_the_old_fingerprint_still_fits_its_model(vr, tiny_large, corpus, tmp_path, fresh_loads):
    from vecrecall import encoders

    model = tiny_large
    assert vr("encode", "--corpus", corpus, "--out", tmp_path / "emb", "--model", model).exit_code == 0
    assert vr("build-index", "--embeddings", tmp_path / "emb", "--out", tmp_path / "flat").exit_code == 0
    old = _make_old_style(tmp_path / "flat")
    assert old["fingerprint"] == encoders.model_fingerprints(model)[1]

    r = vr("query", "--index", tmp_path / "flat", "--query", "switching circuits", "-k", "3", "--json")
    assert r.exit_code == 0, r.stderr
    assert len(json.loads(r.stdout)["hits"]) == 3

    (tmp_path / "more.jsonl").write_text('{"_id": "new1", "text": "superconducting waveguide resonators"}\n')
    assert vr("encode", "--corpus", tmp_path / "more.jsonl", "--out", tmp_path / "add", "--model", model).exit_code == 0
    r = vr("update-index", "--index", tmp_path / "flat", "--add", tmp_path / "add", "--out", tmp_path / "flat2")
    assert r.exit_code == 0, r.stderr

    other = make_tiny_bi_encoder(tmp_path / "other", seed=1, hidden_size=48)
    assert_user_error(vr("query", "--index", tmp_path / "flat", "--query", "switching circuits", "--model", other),
                      "differs from the index's model", old["fingerprint"])
    assert vr("encode", "--corpus", tmp_path / "more.jsonl", "--out", tmp_path / "add2", "--model", other).exit_code == 0
    assert_user_error(vr("update-index", "--index", tmp_path / "flat", "--add", tmp_path / "add2", "--out",
                         tmp_path / "flat3"), "re-encode with the index's model", old["fingerprint"])


@pytest.mark.parametrize("backend", ["onnx", "openvino"])
def test_an_export_made_before_scheme_2_is_made_again_and_old_records_still_match(tiny_large, tmp_path, fresh_loads,
                                                                                  backend):
    """OpenVINO's export is not byte-identical from one run to the next, so the old graph's fingerprint is carried."""
    pytest.importorskip("onnxruntime" if backend == "onnx" else "openvino")
    from vecrecall import encoders
    from vecrecall.exported import EXPORT_FILE, graph_fingerprint
    from vecrecall.fingerprint import same_model

    model = shutil.copytree(tiny_large, tmp_path / "model")
    first = encoders.load_encoder(str(model), backend=backend)
    record_file = first.export_dir / EXPORT_FILE
    record = json.loads(record_file.read_text())
    assert "graph_v1" not in record and first.fingerprint_v1 != first.fingerprint
    # as vecrecall wrote it before scheme 2: the model named by its sampled fingerprint; what artifacts recorded
    record["base_fingerprint"] = first.base_fingerprint_v1
    record_file.write_text(json.dumps(record))
    old_graph, old_record = graph_fingerprint(first.export_dir), {"fingerprint": first.fingerprint_v1}

    encoders._LOADED.clear()
    again = encoders.load_encoder(str(model), backend=backend)
    redone = json.loads(record_file.read_text())
    assert redone["base_fingerprint"] == again.base_fingerprint and redone["graph_v1"] == old_graph
    assert again.fingerprint_v1 == first.fingerprint_v1 and same_model(again.describe(), old_record)
    encoders._LOADED.clear()
    third = encoders.load_encoder(str(model), backend=backend)  # made once: the new export is used as it is
    assert json.loads(record_file.read_text()) == redone and third.fingerprint == again.fingerprint


def test_a_symlinked_subdirectory_counts(tmp_path):
    """A model assembled from links (a shared pooling directory, say) hashes like its plain copy, and a change
    inside the linked directory changes the fingerprint (os.walk follows it; Path.rglob would not)."""
    from vecrecall.fingerprint import model_fingerprints

    plain = make_tiny_bi_encoder(tmp_path / "plain")
    linked = tmp_path / "linked"
    linked.mkdir()
    for f in plain.iterdir():
        if f.is_dir():
            shutil.copytree(f, tmp_path / f"real-{f.name}")
            (linked / f.name).symlink_to(tmp_path / f"real-{f.name}", target_is_directory=True)
        else:
            (linked / f.name).symlink_to(f)
    pooling = next(d for d in linked.iterdir() if d.is_dir() and (d / "config.json").exists())
    (linked / "loop").symlink_to(linked, target_is_directory=True)  # a link back up the tree: walked once, no hang
    assert model_fingerprints(linked) == model_fingerprints(plain)
    config = json.loads((pooling / "config.json").read_text())
    (pooling / "config.json").write_text(json.dumps({**config, "pooling_mode_cls_token": True}))
    assert model_fingerprints(linked)[0] != model_fingerprints(plain)[0]


def test_an_export_of_a_changed_model_given_as_model_is_refused(vr, tiny_large, corpus, tmp_path, fresh_loads):
    """`--model EXPORT_DIR` after the base model changed would encode with the old weights: refused, naming the fix."""
    pytest.importorskip("onnxruntime")
    model = shutil.copytree(tiny_large, tmp_path / "model")
    assert vr("encode", "--corpus", corpus, "--model", model, "--backend", "onnx", "--out", tmp_path / "a").exit_code == 0
    export = model / ".vecrecall-exports" / "onnx"
    assert vr("encode", "--corpus", corpus, "--model", export, "--out", tmp_path / "b").exit_code == 0
    _edit_middle_in_place(model)
    from vecrecall import encoders

    encoders._LOADED.clear()
    assert_user_error(vr("encode", "--corpus", corpus, "--model", export, "--out", tmp_path / "c"),
                      "when its files were different", f"pass {model} with --backend onnx to export it again")
    assert not (tmp_path / "c").exists()


def test_an_index_whose_model_changed_on_disk_says_so(vr, tiny_large, corpus, tmp_path, fresh_loads):
    """Without --model the query names the index and the changed model, not an option the user did not pass."""
    model = shutil.copytree(tiny_large, tmp_path / "model")
    assert vr("encode", "--corpus", corpus, "--model", model, "--out", tmp_path / "e").exit_code == 0
    assert vr("build-index", "--embeddings", tmp_path / "e", "--out", tmp_path / "i").exit_code == 0
    _edit_middle_in_place(model)
    from vecrecall import encoders

    encoders._LOADED.clear()
    r = vr("query", "--index", tmp_path / "i", "--query", "waveguide", "-k", 3)
    assert_user_error(r, f"{tmp_path / 'i'}: its model", "has changed on disk since the index was built")
    assert "--model" not in r.stderr
