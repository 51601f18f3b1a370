"""The demo: encode → build-index (Flat and IVF) → query → eval on sample_data/, ending with a results table."""

from __future__ import annotations

import shutil
from pathlib import Path

from .embed import encode_source
from .errors import UserError
from .indexes.store import build_index
from .io.qrels import read_qrels
from .io.runs import write_run
from .metrics import EvalReport, evaluate_runs
from .search import run_query

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data"


def find_sample_data() -> Path:
    for candidate in (Path("sample_data"), SAMPLE):
        if (candidate / "corpus.jsonl").exists():
            return candidate
    raise UserError("sample_data/ not found; run the demo from the repository root or pass --data")


def run_demo(out: Path, data: Path | None = None, model: str | None = None, nlist: int = 32, nprobe: int = 8,
             k: int = 100) -> EvalReport:
    """Run the whole chain into `out` (replaced if present) and return the eval report."""
    data = data or find_sample_data()
    if out.exists():
        shutil.rmtree(out)
    encode_source(data, "corpus", out / "emb", model)
    encode_source(data, "queries", out / "qemb", model)
    build_index("faiss", out / "flat", embeddings=out / "emb", params={"index_type": "Flat"})
    build_index("faiss", out / "ivf", embeddings=out / "emb", params={"index_type": "IVF", "nlist": nlist})
    runs = {}
    for name, params in (("flat", {}), ("ivf", {"nprobe": nprobe})):
        res = run_query(out / name, out / "qemb", k, params)
        write_run(res.run, out / f"{name}.run", res.manifest, tag=name)
        runs[f"{name}.run"] = res.run
    return evaluate_runs(read_qrels(data), runs, ["nDCG@10", "R@100", "MAP", "P@10"])
