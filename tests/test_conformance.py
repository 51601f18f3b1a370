"""The registry is covered and consistent: every registered backend runs the conformance suite, parameters shared
by name agree on their type, the CLI declares no backend parameter, and nothing outside cli/ imports cli."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from backend_conformance import BackendConformance
from vecrecall.indexes.base import REGISTRY, get_backend, specs

ROOT = Path(__file__).resolve().parent.parent
# Parameter names that are also ordinary words of other commands (fuse --method, sweep --threads, …).
GENERIC = {"b", "delta", "method", "engine", "threads", "collection"}


def _covered() -> dict[str, list[type]]:
    out: dict[str, list[type]] = {}
    for path in sorted(Path(__file__).parent.glob("test_conformance_*.py")):
        try:
            module = importlib.import_module(path.stem)
        except pytest.skip.Exception:  # an optional backend's library is not installed here
            continue
        for obj in vars(module).values():
            if isinstance(obj, type) and issubclass(obj, BackendConformance) and obj.__name__.startswith("Test"):
                out.setdefault(obj.backend, []).append(obj)
    return out


def test_every_registered_backend_runs_the_conformance_suite():
    covered = _covered()
    missing = sorted(set(REGISTRY) - set(covered))
    assert not missing, f"backends without a conformance test class (tests/test_conformance_<name>.py): {missing}"
    for name, classes in covered.items():
        spec = get_backend(name).spec
        if spec.exact_types and spec.index_types:  # an exact configuration is among those tested
            kinds = {c.build.get("index_type", spec.index_types[0]) for c in classes}
            assert kinds & set(spec.exact_types), (name, kinds)


def test_parameters_shared_by_name_agree_on_type_and_kind():
    seen: dict[str, tuple] = {}
    for spec in specs().values():
        for p in spec.all_params:
            key = (p.type, p.kind)
            assert seen.setdefault(p.name, key) == key, (spec.name, p.name)


def test_the_cli_declares_no_backend_parameter_and_the_library_never_imports_cli():
    names = {p.name for s in specs().values() for p in s.all_params} - GENERIC
    assert {"nlist", "nprobe", "pq_m", "hnsw_m", "ef_construction", "ef_search", "n_trees", "search_k", "k1",
            "stemmer"} <= names
    spelled = "|".join(sorted({re.escape(n) for n in names} | {re.escape(n.replace("_", "-")) for n in names}))
    pattern = re.compile(rf"(?<![\w-])(?:--)?(?:{spelled})(?![\w-])")
    for f in sorted((ROOT / "vecrecall" / "cli").glob("*.py")):
        hits = [line for line in f.read_text().splitlines() if pattern.search(line)]
        assert not hits, (f.name, hits)
    for f in sorted((ROOT / "vecrecall").rglob("*.py")):
        if "cli" in f.relative_to(ROOT / "vecrecall").parts:
            continue
        assert not re.search(r"^\s*(from\s+(\.\.?|vecrecall\.)cli\b|import\s+vecrecall\.cli)", f.read_text(), re.M), f


def test_declarations_import_no_native_library():
    import subprocess
    import sys

    code = ("import sys\nfrom vecrecall.indexes.base import specs\nspecs()\n"
            "print(','.join(m for m in ('numpy', 'faiss', 'hnswlib', 'annoy', 'bm25s', 'pymilvus', 'pandas', "
            "'usearch', 'scann') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()
    assert out == ""
