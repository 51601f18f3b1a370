"""A wheel carries sample_data/ and configs/, and `vecrecall demo` runs from it outside the checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from clirun import ROOT

SHIPPED = ["vecrecall/sample_data/corpus.jsonl", "vecrecall/sample_data/queries.jsonl",
           "vecrecall/sample_data/qrels/test.tsv", "vecrecall/sample_data/README.md",
           "vecrecall/configs/sweep_default.yaml"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """A wheel built from a copy of the checkout (an in-tree build would leave build/ and *.egg-info behind)."""
    pytest.importorskip("setuptools", reason="building the wheel needs setuptools in this environment")
    d = tmp_path_factory.mktemp("wheel")
    src = d / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("vecrecall", "sample_data", "configs"):
        shutil.copytree(ROOT / name, src / name, ignore=ignore)
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(d / "dist")], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    (found,) = (d / "dist").glob("vecrecall-*.whl")
    return found


def test_wheel_holds_sample_data_and_configs_as_in_the_checkout(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for name in SHIPPED:
            assert name in names, name
            assert zf.read(name) == (ROOT / name.removeprefix("vecrecall/")).read_bytes(), name
        assert not any(n.startswith(("sample_data/", "configs/")) for n in names)  # inside the package only


def test_demo_and_default_sweep_grid_from_the_unpacked_wheel_outside_the_checkout(wheel, tmp_path):
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    away = tmp_path / "elsewhere"
    away.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VECRECALL_DEBUG")}
    env.update(PYTHONPATH=str(site), VECRECALL_QUIET="1", VECRECALL_CACHE_DIR=str(tmp_path / "cache"))

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=away, timeout=600)

    r = run("-c", "import vecrecall, vecrecall.resources as r; print(vecrecall.__file__); "
                  "print(r.sample_data()); print(r.default_sweep_config())")
    assert r.returncode == 0, r.stderr
    module, data, config = r.stdout.split()
    assert module.startswith(str(site)) and data == str(site / "vecrecall" / "sample_data")
    assert config == str(site / "vecrecall" / "configs" / "sweep_default.yaml")

    r = run("-m", "vecrecall.cli.app", "demo", "--model", "hash:64", "--out", "demo")
    assert r.returncode == 0, r.stderr
    assert "flat.run" in r.stdout and "demo took" in r.stdout
    import json

    manifest = json.loads((away / "demo" / "manifest.json").read_text())
    assert manifest["inputs"]["data"]["path"] == str(site / "vecrecall" / "sample_data")
