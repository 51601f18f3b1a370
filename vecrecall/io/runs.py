"""Runs: one schema (`qid, docid, rank, score`), stored as Parquet or TREC text (`qid Q0 docno rank score tag`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..artifacts import Manifest, atomic_file, optional_manifest
from ..errors import UserError

COLUMNS = ["qid", "docid", "rank", "score"]


def run_format(path: str | Path, fmt: str | None = None) -> str:
    """`parquet` for *.parquet paths, else TREC text, unless `fmt` says otherwise."""
    if fmt:
        if fmt not in ("trec", "parquet"):
            raise UserError(f"--format {fmt}: unknown run format; use trec or parquet")
        return fmt
    return "parquet" if str(path).lower().endswith(".parquet") else "trec"


def _check_unique(df: pd.DataFrame, where: str, line_of=None) -> None:
    dup = df.duplicated(["qid", "docid"], keep="first")
    if dup.any():
        i = int(np.argmax(dup.to_numpy()))
        r = df.iloc[i]
        loc = f" line {line_of(i)}" if line_of else f" row {i + 1}"
        raise UserError(f"{where}{loc}: document '{r.docid}' appears twice for query '{r.qid}'; a run lists each document once per query")


def read_run(path: str | Path) -> pd.DataFrame:
    """Read a TREC or Parquet run; duplicate (qid, docid) pairs are refused."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: no such run file")
    if p.suffix.lower() == ".parquet":
        df = pd.read_parquet(p)
        missing = [c for c in ("qid", "docid", "score") if c not in df.columns]
        if missing:
            raise UserError(f"{p}: run Parquet needs columns qid, docid, score[, rank] (missing {', '.join(missing)})")
        df = df.astype({"qid": str, "docid": str, "score": float})
        if "rank" not in df.columns:
            df = rank_run(df)
        df = df[COLUMNS]
        _check_unique(df, str(p))
    else:
        rows = []
        with open(p, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                parts = line.split()
                if not parts:
                    continue
                if len(parts) < 6:
                    raise UserError(f"{p} line {lineno}: expected 'qid Q0 docno rank score tag' (6 fields), got {len(parts)}")
                try:
                    rows.append((parts[0], parts[2], int(parts[3]), float(parts[4])))
                except ValueError:
                    raise UserError(f"{p} line {lineno}: rank must be an integer and score a number") from None
        df = pd.DataFrame(rows, columns=COLUMNS)
        nonempty = [i for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if line.split()]
        _check_unique(df, str(p), lambda i: nonempty[i])
    if df.empty:
        raise UserError(f"{p}: the run is empty")
    return df.reset_index(drop=True)


def rank_run(df: pd.DataFrame) -> pd.DataFrame:
    """Sort each query's documents by score and number them from 1. Ties are broken as trec_eval does (docid
    descending), so the written order is the order every measure sees."""
    df = df.sort_values(["qid", "score", "docid"], ascending=[True, False, False], kind="mergesort").reset_index(drop=True)
    df["rank"] = df.groupby("qid", sort=False).cumcount() + 1
    return df


def write_run(df: pd.DataFrame, path: str | Path, manifest: Manifest | None = None, fmt: str | None = None,
              tag: str = "vecrecall", overwrite: bool = True) -> Path:
    """Write a run (TREC text or Parquet by extension/`fmt`) and its manifest beside it as one unit: a reader sees
    the old run with its old manifest or the new run with its new one, never a mix (see vecrecall.artifacts).
    Without `manifest`, a manifest left beside an earlier run at `path` is removed with it."""
    p = Path(path)
    kind = run_format(p, fmt)
    df = df[COLUMNS]
    if manifest is not None:
        manifest.params.setdefault("format", kind)
    with atomic_file(p, overwrite=overwrite, manifest=manifest) as tmp:
        if kind == "parquet":
            df.to_parquet(tmp, index=False)
        else:
            with open(tmp, "w", encoding="utf-8") as fh:
                for q, d, r, s in zip(df["qid"], df["docid"], df["rank"], df["score"]):
                    fh.write(f"{q} Q0 {d} {r} {float(s)!r} {tag}\n")
    return p


def run_manifest(path: str | Path) -> Manifest | None:
    """The manifest beside a run, if vecrecall wrote it."""
    return optional_manifest(path)


def results_to_run(qids: list[str], docids: np.ndarray, scores: np.ndarray, valid: np.ndarray | None = None) -> pd.DataFrame:
    """Turn (queries × k) id/score matrices into a ranked run; `valid` masks empty slots."""
    k = docids.shape[1] if docids.ndim == 2 else 0
    q = np.repeat(np.asarray(qids, dtype=object), k)
    d = docids.reshape(-1)
    s = scores.reshape(-1).astype(float)
    r = np.tile(np.arange(1, k + 1), len(qids))
    df = pd.DataFrame({"qid": q, "docid": d, "rank": r, "score": s})
    if valid is not None:
        df = df[valid.reshape(-1)]
    return df.reset_index(drop=True)
