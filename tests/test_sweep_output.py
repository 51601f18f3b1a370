"""What `vecrecall sweep` shows: the 80-column table, --wide, canonical measure columns, progress lines in logs and
on a terminal, and the warning about a busy machine."""

from __future__ import annotations

import io
import json
import os
import re
import select
import subprocess
import time

import pandas as pd
import pytest
from clirun import cli_env, entry_point, run_cli
from rich.console import Console

FAST = ["--passes", "1", "--warmup", "5"]
IVF = ["--backend", "faiss", "--index-type", "IVF", "--nlist", "8,16,32", "--nprobe", "1,2,4,8,16,32,nlist"]


def _sweep(vr, chain, *args):
    return vr("sweep", "--embeddings", chain["emb"], "--queries", chain["qemb"], *FAST, *args)


def _fits(text: str) -> None:
    lines = text.splitlines()
    assert lines, "nothing printed"
    too_long = [line for line in lines if len(line) > 80]
    assert not too_long, too_long
    assert "…" not in text, text


def test_compact_table_fits_80_columns_and_cuts_nothing(vr, sample_chain, sample, tmp_path):
    out = tmp_path / "sw"
    r = _sweep(vr, sample_chain, *IVF, "--out", out)
    assert r.exit_code == 0, r.stderr
    _fits(r.stdout)
    df = pd.read_parquet(out / "results.parquet")
    # One setting column with build and search parameters, whole on one line; a row per setting.
    for nlist, nprobe in zip(df["nlist"], df["nprobe"]):
        assert re.search(rf"faiss IVF nlist={nlist} nprobe={nprobe} ", r.stdout), (nlist, nprobe)
    header = next(line for line in r.stdout.splitlines() if "setting" in line)
    assert "★" in header and "QPS" in header and "p95 ms" not in r.stdout and "batch QPS" in r.stdout  # in the caption
    # Values are the results table's, rounded: the best recall's row shows its recall and QPS.
    best = df.sort_values(["recall@10", "qps"], ascending=False).iloc[0]
    row = next(line for line in r.stdout.splitlines() if f"nlist={best['nlist']} nprobe={best['nprobe']} " in line)
    assert f"{best['recall@10']:.3f}" in row and f"{best['qps']:,.0f}" in row

    # Many columns at once (two k, three measures, hnswlib's long names, a factory string) still fit.
    r = _sweep(vr, sample_chain, "--config", _config(tmp_path), "-k", "10,100", "--qrels", sample,
               "-m", "nDCG@10", "-m", "P.5,10")
    assert r.exit_code == 0, r.stderr
    _fits(r.stdout)
    _whole(r.stdout, "hnswlib hnsw_m=8 ef_construction=40 ef_search=512", "faiss factory IVF8,SQ8 nprobe=4")


def _whole(text: str, *settings: str) -> None:
    """Every word of each setting is in the output whole (a long word may be folded over lines, never cut)."""
    flat = re.sub(r"\s+", "", text)
    for setting in settings:
        for word in setting.split():
            assert word in flat, (word, text)


def _config(tmp_path):
    path = tmp_path / "grid.yaml"
    path.write_text("backends:\n"
                    "  hnsw: {backend: hnswlib, build: {hnsw_m: 8, ef_construction: 40}, search: {ef_search: [16, 512]}}\n"
                    "  sq: {backend: faiss, build: {factory: 'IVF8,SQ8'}, search: {nprobe: [4]}}\n")
    return path


def test_wide_table_has_every_column_and_json_is_the_same_either_way(vr, sample_chain, tmp_path):
    r = _sweep(vr, sample_chain, "--backend", "faiss", "--index-type", "IVF", "--nlist", "8", "--nprobe", "1,8",
               "--wide", "--out", tmp_path / "a")
    assert r.exit_code == 0, r.stderr
    for col in ("backend", "nlist", "nprobe", "recall@10", "p50 ms", "p50 min–max", "p95 ms", "p99 ms", "QPS min–max",
                "batch QPS", "batch min–max", "build s", "MB"):
        assert col in r.stdout, col
    compact = _sweep(vr, sample_chain, "--backend", "faiss", "--index-type", "IVF", "--nlist", "8", "--nprobe", "1,8",
                     "--out", tmp_path / "b")
    a, b = (pd.read_parquet(tmp_path / d / "results.parquet") for d in "ab")
    assert list(a.columns) == list(b.columns) and a["recall@10"].tolist() == b["recall@10"].tolist()
    assert compact.exit_code == 0 and "p95 ms" not in compact.stdout


def test_measure_columns_use_canonical_names(vr, sample_chain, sample, tmp_path):
    r = _sweep(vr, sample_chain, "--backend", "faiss", "--index-type", "Flat", "--qrels", sample, "-m", "P.5,10",
               "-m", "ndcg_cut_10", "-m", "NDCG@10", "--json", "--out", tmp_path / "sw")
    assert r.exit_code == 0, r.stderr
    (row,) = json.loads(r.stdout)["rows"]
    df = pd.read_parquet(tmp_path / "sw" / "results.parquet")
    for cols in (set(row), set(df.columns)):
        assert {"P@5", "P@10", "nDCG@10"} <= cols and not {"P.5,10", "ndcg_cut_10", "NDCG@10"} & cols
    run = tmp_path / "flat.run"
    assert vr("query", "--index", sample_chain["flat"], "--queries", sample_chain["qemb"], "-k", "10", "--out", run).exit_code == 0
    means = json.loads(vr("eval", "--qrels", sample, run, "-m", "P@5", "-m", "P@10", "-m", "nDCG@10", "--json").stdout)["flat.run"]
    for m in ("P@5", "P@10", "nDCG@10"):
        assert row[m] == pytest.approx(means[m], abs=1e-9), m
    compact = _sweep(vr, sample_chain, "--backend", "faiss", "--index-type", "Flat", "--qrels", sample, "-m", "P.5,10")
    header = "".join(line for line in compact.stdout.splitlines()[:6])
    assert "P" in header and "@5" in header and "@10" in header


def _plain_env(**extra: str) -> dict[str, str]:
    env = cli_env(**extra)
    env.pop("VECRECALL_QUIET")
    return env


def test_progress_in_a_log_is_plain_lines_with_the_total_known_up_front(sample_chain, tmp_path):
    r = run_cli("sweep", "--embeddings", sample_chain["emb"], "--queries", sample_chain["qemb"], *FAST, *IVF,
                env=_plain_env(VECRECALL_CACHE_DIR=str(tmp_path / "cache"), VECRECALL_PROGRESS_EVERY="0.001"))
    assert r.exit_code == 0, r.stderr
    assert "\r" not in r.stderr and "\x1b" not in r.stderr
    all_lines = [line for line in r.stderr.splitlines() if line.startswith("sweep: ")]
    lines = [line for line in all_lines if re.match(r"sweep: [\d.,]+/\d+ settings", line)]
    totals = {re.match(r"sweep: [\d.,]+/(\d+) settings", line).group(1) for line in lines}
    assert totals == {"18"}, all_lines  # 3 × 6 asked (15 distinct once nprobe > nlist is clamped), never growing
    # an interval of ~0 leaves only the 10 %-step rule: a line per new 10 % while time allows
    assert len(lines) >= 2 and all_lines[-1].startswith("sweep: done 18 settings in "), all_lines
    done = [float(re.match(r"sweep: ([\d.,]+)/", line).group(1)) for line in lines]
    assert done == sorted(done)


def test_progress_on_a_terminal_is_a_bar_with_a_fixed_total(sample_chain, tmp_path):
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen([*entry_point(), "sweep", "--embeddings", str(sample_chain["emb"]), "--queries",
                             str(sample_chain["qemb"]), *FAST, *IVF], stdin=slave, stdout=slave, stderr=slave,
                            env=_plain_env(VECRECALL_CACHE_DIR=str(tmp_path / "cache"), COLUMNS="120", TERM="xterm"),
                            close_fds=True)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.wait(timeout=60)
    os.close(master)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode(errors="replace"))
    assert proc.returncode == 0, text[-2000:]
    bars = re.findall(r"sweep\s.*?(\d+)/(\d+)", text)
    assert bars and {t for _, t in bars} == {"18"}, bars
    assert "sweep: " not in text  # not the plain lines
    assert "15 settings (18 asked; 3 ran as another after a clamp)" in text.replace("\r", "").replace("\n", "")


def test_a_busy_machine_is_warned_about_and_recorded(vr, sample_chain, tmp_path, monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: (50.0, 50.0, 50.0))
    r = _sweep(vr, sample_chain, "--backend", "faiss", "--index-type", "Flat", "--out", tmp_path / "busy")
    assert r.exit_code == 0, r.stderr
    assert re.search(r"warning: the load from other processes is ≈50\.0 on \d+ usable cores before timing", r.stderr)
    load = json.loads((tmp_path / "busy" / "manifest.json").read_text())["stats"]["load"]
    assert load["busy"] is True and load["load1_before"] == 50.0
    assert pd.read_parquet(tmp_path / "busy" / "results.parquet")["load1_before"].tolist() == [50.0]
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    r = _sweep(vr, sample_chain, "--backend", "faiss", "--index-type", "Flat", "--out", tmp_path / "idle")
    assert r.exit_code == 0 and "warning" not in r.stderr
    assert json.loads((tmp_path / "idle" / "manifest.json").read_text())["stats"]["load"]["busy"] is False


def test_compact_table_of_extreme_values_fits(tmp_path):
    """Rendered directly: huge and tiny numbers, a long factory string and many measure columns stay whole."""
    from vecrecall.sweep.report import compact_table

    rows = []
    for i, (factory, qps) in enumerate([("IVF4096_HNSW32,PQ64x4fsr", 1_234_567.0), ("OPQ16_64,IVF65536,PQ16", 0.5)]):
        rows.append({"name": f"x{i}", "label": "l", "backend": "faiss", "index_type": "factory", "factory": factory,
                     "nprobe": 4096, "recall@10": 0.5 + i / 10, "recall@100": 0.25, "nDCG@10": 0.43621, "P@10": 0.5,
                     "MAP": 0.2871, "qps": qps, "qps_min": qps * 0.5, "qps_max": qps * 3, "p50_ms": 1000 / qps,
                     "build_s": 12345.6, "repetitions": 5, "pareto": i == 0,
                     "build_json": json.dumps({"factory": factory})})
    t = compact_table(pd.DataFrame(rows), ["recall@10", "recall@100"], ["nDCG@10", "P@10", "MAP"],
                      {"source": "/a/rather/long/path/to/some/embeddings/artifact", "queries": "6,980 queries"},
                      6980, "cosine", "qps", 5)
    buf = io.StringIO()
    Console(file=buf, width=80, color_system=None).print(t)
    _fits(buf.getvalue())
    flat = buf.getvalue().replace("\n", " ")
    for cell in ("1,234,567 ±200%", "0.500 ±200%", "0.000810", "2,000", "0.600", "0.250", "12,346"):
        assert cell in flat, cell
    # Too many value columns for 80: the measures go to --wide (named in the caption), the setting stays readable.
    assert "0.4362" not in flat and "nDCG@10, P@10, MAP, batch QPS" in re.sub(r"\s+", " ", flat)
    _whole(buf.getvalue(), "faiss factory IVF4096_HNSW32,PQ64x4fsr nprobe=4096", "faiss factory OPQ16_64,IVF65536,PQ16")
