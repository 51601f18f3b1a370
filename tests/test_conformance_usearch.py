"""usearch through the backend conformance suite: f32 vectors with a wide beam, and i8 storage (cosine only)."""

import pytest

from backend_conformance import BackendConformance

pytest.importorskip("usearch")


class TestUsearchF32(BackendConformance):
    backend = "usearch"
    build = {"connectivity": 16, "expansion_add": 128}
    search = {"expansion_search": 256}
    min_recall = 0.99


class TestUsearchI8(BackendConformance):
    backend = "usearch"
    build = {"quantization": "i8", "connectivity": 16}
    search = {"expansion_search": 256}
    min_recall = 0.9
    quantised = True
    metrics = ("cosine",)


# ---------------------------------------------------------------------------------------------------------------- usearch only

import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

from conftest import assert_user_error  # noqa: E402
from vectors import clustered, write_vectors  # noqa: E402


@pytest.fixture(scope="module")
def emb(tmp_path_factory):
    x, _ = clustered(800, 1, 12, clusters=6, spread=0.4, seed=2)
    return write_vectors(tmp_path_factory.mktemp("usearch") / "emb", x)


def test_single_thread_builds_are_byte_identical(vr, emb, tmp_path):
    """usearch's level generator has a fixed seed: one-thread builds are identical (whatever --seed says)."""
    for name, seed in (("a", 0), ("b", 0), ("c", 7)):
        r = vr("build-index", "--embeddings", emb, "--backend", "usearch", "--seed", seed, "--out", tmp_path / name)
        assert r.exit_code == 0, r.stderr
    files = [(tmp_path / n / "index.usearch").read_bytes() for n in "abc"]
    assert files[0] == files[1] == files[2]


def test_i8_is_refused_for_ip_and_l2_before_usearch_sees_it(vr, emb, tmp_path):
    for metric in ("ip", "l2"):
        r = vr("build-index", "--embeddings", emb, "--backend", "usearch", "--metric", metric, "--quantization", "i8",
               "--out", tmp_path / "i")
        assert_user_error(r, "--quantization i8", "--metric cosine")
    assert not (tmp_path / "i").exists()


def test_f16_scores_are_close_to_the_exact_ones(emb, tmp_path):
    from vecrecall.indexes.store import IndexDir, build_index
    from vectors import exact

    build_index("usearch", tmp_path / "i", embeddings=emb, metric="l2", params={"quantization": "f16"})
    index = IndexDir.load(tmp_path / "i")
    x = np.load(emb / "embeddings.npy")
    scores, pos = index.search(index.prepare(x[:20]), 5, expansion_search=200)
    _, full = exact(x, x[:20], "l2", 5)
    true = np.take_along_axis(full, pos, 1)
    np.testing.assert_allclose(scores, true, rtol=2e-3, atol=2e-3)
    assert (pos[:, 0] == np.arange(20)).all()


def test_missing_package_is_one_line_with_the_pip_command(emb, tmp_path):
    code = ("import sys\nsys.modules['usearch'] = sys.modules['usearch.index'] = None\n"
            f"sys.argv = ['vecrecall', 'build-index', '--embeddings', {str(emb)!r}, '--backend', 'usearch', "
            f"'--out', {str(tmp_path / 'i')!r}]\n"
            "from vecrecall.cli.app import main\nmain()\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 2, r.stderr
    err = r.stderr.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "pip install 'vecrecall[ann]'" in err, err
    assert not (tmp_path / "i").exists()


def test_a_sweep_naming_a_missing_backend_stops_before_building(tmp_path):
    """The default grid names usearch: without the package, sweep refuses it before any index is built."""
    from conftest import ROOT

    code = ("import sys\nsys.modules['usearch'] = None\n"
            f"sys.argv = ['vecrecall', 'sweep', '--synthetic', '400x8', '--synthetic-queries', '10', '--config', "
            f"{str(ROOT / 'configs' / 'sweep_default.yaml')!r}, '--out', {str(tmp_path / 's')!r}]\n"
            "from vecrecall.cli.app import main\nmain()\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "VECRECALL_QUIET": "1"})
    assert r.returncode == 2, r.stderr
    err = r.stderr.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1, err
    assert "usearch" in err and "pip install 'vecrecall[ann]'" in err, err
    assert not (tmp_path / "s").exists()
