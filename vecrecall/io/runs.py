"""Runs: one schema (`qid, docid, rank, score`), stored as Parquet or TREC text (`qid Q0 docno rank score tag`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..artifacts import Manifest, atomic_file, optional_manifest
from ..errors import UserError

if TYPE_CHECKING:  # pandas is imported where a run is read or made a table: `query` writes TREC runs without it
    import pandas as pd

COLUMNS = ["qid", "docid", "rank", "score"]


def run_format(path: str | Path, fmt: str | None = None) -> str:
    """`parquet` for *.parquet paths, else TREC text, unless `fmt` says otherwise."""
    if fmt:
        if fmt not in ("trec", "parquet"):
            raise UserError(f"--format {fmt}: unknown run format; use trec or parquet")
        return fmt
    return "parquet" if str(path).lower().endswith(".parquet") else "trec"


def _check_unique(df: "pd.DataFrame", where: str, line_of=None) -> None:
    dup = df.duplicated(["qid", "docid"], keep="first")
    if dup.any():
        i = int(np.argmax(dup.to_numpy()))
        r = df.iloc[i]
        loc = f" line {line_of(i)}" if line_of else f" row {i + 1}"
        raise UserError(f"{where}{loc}: document '{r.docid}' appears twice for query '{r.qid}'; a run lists each document once per query")


def _check_scores(df: "pd.DataFrame", where: str, allow_inf: bool, line_of=None) -> None:
    """Refuse NaN scores (no rank order: every measure would depend on where NaN sorts) and, unless `allow_inf`,
    ±inf (min-max and z-score normalisation, fusion and decay turn them into NaN)."""
    scores = df["score"].to_numpy(dtype=float)
    bad = np.isnan(scores) if allow_inf else ~np.isfinite(scores)
    if bad.any():
        i = int(np.argmax(bad))
        loc = f" line {line_of(i)}" if line_of else f" row {i + 1}"
        value = scores[i]
        shown, why = (("NaN", "NaN has no rank order, so every measure would depend on where it sorts") if np.isnan(value)
                      else (f"{value:+}", "infinite scores break score normalisation (fuse, rerank, decay)"))
        raise UserError(f"{where}{loc}: score {shown} for query '{df['qid'].iloc[i]}', document '{df['docid'].iloc[i]}' "
                        f"is not a finite number: {why}; fix or drop that line")


RUN_LAYOUTS = "'qid Q0 docno rank score tag' (TREC, 6 fields) or 'qid docid rank' (MS MARCO, 3 fields)"


def _read_text_run(p: Path) -> "tuple[pd.DataFrame, list[int]]":
    """A TREC (6 fields) or MS MARCO (3 fields: qid docid rank; score = 1/rank, as Anserini's converter writes)
    run; the layout is fixed by the first line and every line must match it. (rows, line number of each row)."""
    import pandas as pd

    from .files import iter_lines

    # columns of strings only (lists of lists would keep the garbage collector busy on large runs)
    qids, docids, ranks, scores, lines = [], [], [], [], []
    width = 0
    for lineno, line in iter_lines(p):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != width:
            if width:
                layout = "'qid Q0 docno rank score tag' (6 fields)" if width == 6 else "'qid docid rank' (3 fields)"
                raise UserError(f"{p} line {lineno}: expected {layout} like line {lines[0]}, got {len(parts)} field(s)")
            if len(parts) not in (3, 6):
                raise UserError(f"{p} line {lineno}: {len(parts)} field(s); expected {RUN_LAYOUTS}")
            width = len(parts)
        qids.append(parts[0])
        if width == 6:
            docids.append(parts[2])
            ranks.append(parts[3])
            scores.append(parts[4])
        else:
            docids.append(parts[1])
            ranks.append(parts[2])
        lines.append(lineno)
    try:
        rank = np.asarray(ranks, dtype=str).astype(np.int64)
        if width == 3 and (rank < 1).any():
            raise ValueError
        score = np.asarray(scores, dtype=str).astype(float) if width == 6 else 1.0 / rank
    except (ValueError, OverflowError):  # find the line, for the message
        for i in range(len(ranks)):
            try:
                if int(ranks[i]) < 1 and width == 3:
                    raise ValueError
                if width == 6:
                    float(scores[i])
            except ValueError:
                what = "rank must be an integer and score a number" if width == 6 else "rank must be a whole number ≥ 1"
                raise UserError(f"{p} line {lines[i]}: {what}") from None
        raise
    return pd.DataFrame({"qid": qids, "docid": docids, "rank": rank, "score": score}, columns=COLUMNS), lines


def _read_parquet_run(p: Path) -> "tuple[pd.DataFrame, bool]":
    """(rows, whether the file has a rank column)."""
    import pandas as pd

    from .files import read_parquet
    from .ids import norm_ids

    df = read_parquet(p)
    missing = [c for c in ("qid", "docid", "score") if c not in df.columns]
    if missing:
        raise UserError(f"{p}: run Parquet needs columns qid, docid, score[, rank] (missing {', '.join(missing)})")
    try:
        score = pd.to_numeric(df["score"]).astype(float)
    except (TypeError, ValueError):
        raise UserError(f"{p}: column 'score' must hold numbers (it is {df['score'].dtype})") from None
    out = pd.DataFrame({"qid": norm_ids(df["qid"]), "docid": norm_ids(df["docid"]), "score": score.to_numpy()})
    blank = (out["qid"] == "") | (out["docid"] == "")
    if blank.any():
        i = int(np.argmax(blank.to_numpy()))
        raise UserError(f"{p} row {i + 1}: empty {'qid' if out['qid'][i] == '' else 'docid'}; every run row needs both ids")
    has_rank = "rank" in df.columns
    if has_rank:
        rank = pd.to_numeric(df["rank"], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(rank) | (rank != np.round(rank))
        if bad.any():
            i = int(np.argmax(bad))
            raise UserError(f"{p} row {i + 1}: rank {df['rank'].iloc[i]!r} is not a whole number")
        out["rank"] = rank.astype(np.int64)
    else:
        out["rank"] = 0  # numbered by rank_run once the scores are known to be usable
    return out[COLUMNS], has_rank


def read_run(path: str | Path, allow_inf: bool = False) -> "pd.DataFrame":
    """Read a run: TREC text (`qid Q0 docno rank score tag`), MS MARCO text (`qid docid rank`, score 1/rank), either
    gzipped, or Parquet (`qid, docid, score[, rank]`; typed ids follow io/ids.py). Columns `qid, docid, rank, score`.

    Refused with the file and line (Parquet: row): duplicate (qid, docid) pairs, NaN scores, and — unless `allow_inf`
    (eval: ±inf still rank) — infinite scores, which break the normalisation fuse, rerank and decay apply."""
    from .files import format_suffix

    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: no such run file")
    if format_suffix(p) == ".parquet":
        df, has_rank = _read_parquet_run(p)
        _check_scores(df, str(p), allow_inf)
        if not has_rank:
            df = rank_run(df)
        _check_unique(df, str(p))
    else:
        df, lines = _read_text_run(p)
        _check_scores(df, str(p), allow_inf, lambda i: lines[i])
        _check_unique(df, str(p), lambda i: lines[i])
    if df.empty:
        raise UserError(f"{p}: the run is empty")
    return df.reset_index(drop=True)


def rank_run(df: "pd.DataFrame") -> "pd.DataFrame":
    """Sort each query's documents by score and number them from 1. Ties are broken as trec_eval does (docid
    descending), so the written order is the order every measure sees."""
    df = df.sort_values(["qid", "score", "docid"], ascending=[True, False, False], kind="mergesort").reset_index(drop=True)
    df["rank"] = df.groupby("qid", sort=False).cumcount() + 1
    return df


def _check_trec_fields(path: Path, qids: Any, docids: Any, tag: str) -> None:
    """A TREC run is split on whitespace, so an id or tag holding a space, tab or newline (or an empty one) would
    shift every field of its line; refuse it rather than write a run no reader can parse. Raises UserError."""
    import re

    blank = re.compile(r"\s")
    for what, values in (("--run-tag", [tag]), ("query id", qids), ("document id", docids)):
        joined = "\x00".join(map(str, values))
        m = blank.search(joined)
        if m or (len(values) and "\x00\x00" in f"\x00{joined}\x00"):  # an empty value (none when no lines)
            bad = next((str(v) for v in values if not str(v) or blank.search(str(v))), "")
            fix = "choose a tag without spaces" if what == "--run-tag" else "write the run as Parquet (--out NAME.parquet)"
            raise UserError(f"{path}: {what} {bad!r} is empty or holds whitespace, which a TREC run cannot hold; {fix}")


def _trec_line(qid: Any, docid: Any, rank: Any, score: float, tag: str) -> str:
    return f"{qid} Q0 {docid} {rank} {float(score)!r} {tag}\n"


def write_run(df: "pd.DataFrame", path: str | Path, manifest: Manifest | None = None, fmt: str | None = None,
              tag: str = "vecrecall", overwrite: bool = True) -> Path:
    """Write a run (TREC text or Parquet by extension/`fmt`) and its manifest beside it as one unit: a reader sees
    the old run with its old manifest or the new run with its new one, never a mix (see vecrecall.artifacts).
    Without `manifest`, a manifest left beside an earlier run at `path` is removed with it."""
    p = Path(path)
    kind = run_format(p, fmt)
    df = df[COLUMNS]
    if kind != "parquet":
        _check_trec_fields(p, df["qid"].unique(), df["docid"].unique(), tag)
    if manifest is not None:
        manifest.params.setdefault("format", kind)
    with atomic_file(p, overwrite=overwrite, manifest=manifest) as tmp:
        if kind == "parquet":
            df.to_parquet(tmp, index=False)
        else:
            with open(tmp, "w", encoding="utf-8") as fh:
                for q, d, r, s in zip(df["qid"], df["docid"], df["rank"], df["score"]):
                    fh.write(_trec_line(q, d, r, s, tag))
    return p


def write_results(qids: list[str], docids: np.ndarray, scores: np.ndarray, valid: np.ndarray, path: str | Path,
                  manifest: Manifest | None = None, fmt: str | None = None, tag: str = "vecrecall",
                  overwrite: bool = True) -> Path:
    """`write_run(results_to_run(qids, docids, scores, valid), ...)` byte for byte, without making a DataFrame for
    a TREC run (so `vecrecall query` need not import pandas): (queries × k) ids and scores, rank = slot + 1."""
    if run_format(path, fmt) == "parquet":
        return write_run(results_to_run(qids, docids, scores, valid), path, manifest, fmt, tag, overwrite)
    p = Path(path)
    _check_trec_fields(p, qids, [d for drow, vrow in zip(docids.tolist(), valid.tolist()) for d, v in zip(drow, vrow) if v],
                       tag)
    if manifest is not None:
        manifest.params.setdefault("format", "trec")
    with atomic_file(p, overwrite=overwrite, manifest=manifest) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            # _trec_line's format, inlined: a function call per line costs as much as the search on small runs
            for qid, drow, srow, vrow in zip(qids, docids.tolist(), scores.astype(float).tolist(), valid.tolist()):
                fh.write("".join([f"{qid} Q0 {d} {r} {s!r} {tag}\n"
                                  for r, (d, s, v) in enumerate(zip(drow, srow, vrow), 1) if v]))
    return p


def run_manifest(path: str | Path) -> Manifest | None:
    """The manifest beside a run, if vecrecall wrote it."""
    return optional_manifest(path)


def results_to_run(qids: list[str], docids: np.ndarray, scores: np.ndarray, valid: np.ndarray | None = None) -> "pd.DataFrame":
    """Turn (queries × k) id/score matrices into a ranked run; `valid` masks empty slots."""
    import pandas as pd

    k = docids.shape[1] if docids.ndim == 2 else 0
    q = np.repeat(np.asarray(qids, dtype=object), k)
    d = docids.reshape(-1)
    s = scores.reshape(-1).astype(float)
    r = np.tile(np.arange(1, k + 1), len(qids))
    df = pd.DataFrame({"qid": q, "docid": d, "rank": r, "score": s})
    if valid is not None:
        df = df[valid.reshape(-1)]
    return df.reset_index(drop=True)
