"""`vecrecall import-vectors` vs the plain numpy conversion a user would write, on one generated file per format.

Each side runs in its own fresh Python process (so peak RSS is its own) and converts the same file into a `.npy`:
- vecrecall: the full `import-vectors` command (header checks, block-wise copy with per-block NaN/inf checks,
  sha256 of the source, ids.parquet, manifest) through its entry point;
- raw: read the whole file with numpy (`np.fromfile` / `np.load` / h5py) and `np.save` it — no checks.
Printed: wall seconds and peak RSS of each, and the ratios (vecrecall / raw). RSS includes the interpreter and
imports (vecrecall also imports pandas/pyarrow for ids.parquet), so "baseline" shows a 10-row import.

    python bench/import_vectors.py                       # 1,000,000 × 128 float32 (512 MB) as .fvecs, .fbin, .npy, .hdf5
    python bench/import_vectors.py --rows 200000 --dim 96 --formats fvecs
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

RAW = {
    "fvecs": "a = np.fromfile(src, dtype='<i4').reshape(-1, dim + 1)[:, 1:].copy().view('<f4')",
    "fbin": "a = np.fromfile(src, dtype='<f4', offset=8).reshape(-1, dim)",
    "npy": "a = np.load(src)",
    "hdf5": "import h5py; a = h5py.File(src, 'r')['train'][()]",
}


def write(fmt: str, path: Path, rows: int, dim: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    block = 100_000
    if fmt == "hdf5":
        import h5py

        with h5py.File(path, "w") as f:
            ds = f.create_dataset("train", (rows, dim), dtype="<f4")
            for s in range(0, rows, block):
                ds[s : s + block] = rng.normal(size=(min(block, rows - s), dim)).astype("<f4")
            f.attrs["distance"] = "euclidean"
        return
    if fmt == "npy":
        out = np.lib.format.open_memmap(path, mode="w+", dtype="<f4", shape=(rows, dim))
        for s in range(0, rows, block):
            out[s : s + block] = rng.normal(size=(min(block, rows - s), dim))
        out.flush()
        del out
        return
    with open(path, "wb") as f:
        if fmt == "fbin":
            np.array([rows, dim], "<u4").tofile(f)
        for s in range(0, rows, block):
            x = rng.normal(size=(min(block, rows - s), dim)).astype("<f4")
            if fmt == "fvecs":
                rec = np.empty(len(x), dtype=[("d", "<i4"), ("v", "<f4", (dim,))])
                rec["d"], rec["v"] = dim, x
                rec.tofile(f)
            else:
                x.tofile(f)


def measure(code: str) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of `code` run in a fresh interpreter."""
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over fork+exec, so a child would report this parent's peak.
    wrapper = ("import time, json; t0 = time.perf_counter()\n" + code +
               "\nhwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]"
               "\nprint(json.dumps([time.perf_counter() - t0, int(hwm) / 1024]))")
    out = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True, check=True,
                         env={"VECRECALL_QUIET": "1", **_env()})
    return tuple(json.loads(out.stdout.strip().splitlines()[-1]))  # type: ignore[return-value]


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k in ("PYTHONPATH", "HOME", "TMPDIR", "VECRECALL_CACHE_DIR")}


def vecrecall_code(src: Path, out: Path) -> str:
    return ("import sys\nfrom vecrecall.cli.app import main\n"
            f"sys.argv = ['vecrecall', 'import-vectors', {str(src)!r}, '--out', {str(out)!r}]\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--formats", default="fvecs,fbin,npy,hdf5")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="vr-import-bench-", dir=".") as d:
        tmp = Path(d)
        write("npy", tmp / "tiny.npy", 10, args.dim, args.seed)
        base_t, base_rss = measure(vecrecall_code(tmp / "tiny.npy", tmp / "tiny-out"))
        mb = args.rows * args.dim * 4 / 2**20
        print(f"{args.rows:,} × {args.dim} float32 = {mb:,.0f} MB of vectors; baseline (10-row import): "
              f"{base_t:.2f} s, {base_rss:,.0f} MB RSS")
        print(f"{'format':8} {'vecrecall s':>12} {'raw s':>8} {'ratio':>6} {'vecrecall MB':>13} {'raw MB':>8} {'ratio':>6}")
        for fmt in args.formats.split(","):
            src = tmp / f"x.{fmt}"
            write(fmt, src, args.rows, args.dim, args.seed)
            vt, vm = measure(vecrecall_code(src, tmp / f"emb-{fmt}"))
            raw = (f"import numpy as np\nsrc, dim = {str(src)!r}, {args.dim}\n{RAW[fmt]}\n"
                   f"np.save({str(tmp / f'raw-{fmt}.npy')!r}, a)")
            rt, rm = measure(raw)
            assert (tmp / f"emb-{fmt}" / "embeddings.npy").read_bytes()[128:4096] == (tmp / f"raw-{fmt}.npy").read_bytes()[128:4096]
            print(f"{fmt:8} {vt:12.2f} {rt:8.2f} {vt / rt:6.2f} {vm:13,.0f} {rm:8,.0f} {vm / rm:6.2f}")
            src.unlink()


if __name__ == "__main__":
    main()
