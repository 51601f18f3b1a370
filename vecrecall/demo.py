"""The demo: encode → build-index (Flat and IVF) → query → eval on sample_data/, ending with a results table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .artifacts import Manifest, atomic_dir, check_out, input_entry, write_dir_manifest, write_json
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


def _relocate(tmp: Path, final: Path) -> None:
    """The chain ran in a hidden directory; make the lineage in every manifest name `final` instead."""
    old, new = str(tmp.resolve()), str(final.resolve())

    def fix(value: Any) -> Any:
        if isinstance(value, str) and (value == old or value.startswith(old + "/")):
            return new + value[len(old):]
        if isinstance(value, dict):
            return {k: fix(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value

    for mp in sorted(tmp.rglob("*manifest.json")):
        write_json(mp, fix(json.loads(mp.read_text(encoding="utf-8"))))


def run_demo(out: Path, data: Path | None = None, model: str | None = None, nlist: int = 32, nprobe: int = 8,
             k: int = 100, overwrite: bool = False) -> EvalReport:
    """Run the whole chain into the directory `out` and return the eval report.

    `out` is written as one artifact (type `demo`): it appears only when the chain has finished, an existing `out`
    is refused unless `overwrite`, and `overwrite` replaces only an earlier vecrecall artifact holding no file it
    did not write (a directory of your own files is never touched). Raises UserError for those refusals.
    """
    data = data or find_sample_data()
    check_out(out, overwrite, "dir")
    with atomic_dir(out, overwrite) as tmp:
        encode_source(data, "corpus", tmp / "emb", model)
        encode_source(data, "queries", tmp / "qemb", model)
        build_index("faiss", tmp / "flat", embeddings=tmp / "emb", params={"index_type": "Flat"})
        build_index("faiss", tmp / "ivf", embeddings=tmp / "emb", params={"index_type": "IVF", "nlist": nlist})
        runs = {}
        for name, params in (("flat", {}), ("ivf", {"nprobe": nprobe})):
            res = run_query(tmp / name, tmp / "qemb", k, params)
            write_run(res.run, tmp / f"{name}.run", res.manifest, tag=name)
            runs[f"{name}.run"] = res.run
        report = evaluate_runs(read_qrels(data), runs, ["nDCG@10", "R@100", "MAP", "P@10"])
        _relocate(tmp, out)
        write_dir_manifest(tmp, Manifest(
            type="demo", params={"model": model or "default", "nlist": nlist, "nprobe": nprobe, "k": k},
            inputs={"data": input_entry(Path(data).resolve())}, stats={"means": report.means}))
    return report
