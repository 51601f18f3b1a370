"""Every input the catalogue's cases point at, built once per session: good artifacts (sample_data encoded with
hash:64, one tiny index per backend and index type the backend tables need, runs, qrels, a two-tower split, an anncur
index) and broken copies of them (edited manifests, truncated native index files, corrupt Parquet, bad bytes…).

Cases only read the world; `snapshot` lets the test check that a failed command changed nothing in it."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data"
MODEL = "hash:64"


def cli(*args: Any) -> None:
    """Run one vecrecall command in-process; any failure is a broken fixture, not a case."""
    from vecrecall.cli.app import main

    old = sys.argv
    sys.argv = ["vecrecall", *map(str, args)]
    code: Any = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    finally:
        sys.argv = old
    if code not in (0, None):
        raise RuntimeError(f"world: vecrecall {' '.join(map(str, args))} exited {code}")


def snapshot(root: Path) -> dict[str, Any]:
    """Every path under `root` (hidden ones included) → file size and mtime, or 'dir'/'link'."""
    out: dict[str, Any] = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(dirpath, name)
            rel = p.relative_to(root).as_posix()
            if p.is_symlink():
                out[rel] = "link"
            elif p.is_dir():
                out[rel] = "dir"
            else:
                st = p.stat()
                out[rel] = (st.st_size, st.st_mtime_ns)
    return out


def native_files(index_dir: Path) -> list[Path]:
    """The files a backend's library wrote (everything but vecrecall's manifest and id map)."""
    return sorted(p for p in index_dir.rglob("*") if p.is_file() and p.name not in ("manifest.json", "ids.parquet"))


def _edit_manifest(src: Path, dst: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    shutil.copytree(src, dst)
    mp = dst / "manifest.json"
    data = json.loads(mp.read_text())
    edit(data)
    mp.write_text(json.dumps(data, indent=2))
    return dst


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def index_types_needed() -> dict[str, list[str | None]]:
    """Backend → the index types whose tiny index the catalogue builds: the default one and, for every search
    parameter restricted to some types, the first of them (derived from the backend tables)."""
    from vecrecall.indexes.base import specs

    need: dict[str, list[str | None]] = {}
    for spec in specs().values():
        types = [spec.index_types[0] if spec.index_types else None]
        for p in spec.all_params:
            if p.kind == "search" and p.types and not any(t in p.types for t in types):
                types.append(p.types[0])
        need[spec.name] = types
    return need


def index_name(backend: str, index_type: str | None) -> str:
    return f"idx-{backend}" + (f"-{index_type}" if index_type else "")


def build_world(w: Path) -> dict[str, Any]:
    from vecrecall.indexes.base import specs

    w.mkdir(parents=True, exist_ok=True)
    info: dict[str, Any] = {"W": w, "S": SAMPLE}
    corpus = SAMPLE / "corpus.jsonl"
    docs = [json.loads(x) for x in corpus.read_text().splitlines()[:60]]
    queries = [json.loads(x) for x in (SAMPLE / "queries.jsonl").read_text().splitlines()]

    # ------------------------------------------------------------------ good artifacts
    _write(w / "small.jsonl", _jsonl(docs))
    cli("encode", "--corpus", SAMPLE, "--model", MODEL, "--out", w / "emb")
    cli("encode", "--queries", SAMPLE, "--model", MODEL, "--out", w / "qemb")
    cli("encode", "--queries", SAMPLE, "--model", "hash:32", "--out", w / "qemb32")
    cli("encode", "--corpus", w / "small.jsonl", "--model", MODEL, "--block-size", 16, "--shard", "0/2", "--out", w / "sh0")
    cli("encode", "--corpus", w / "small.jsonl", "--model", MODEL, "--block-size", 16, "--shard", "1/2", "--out", w / "sh1")
    cli("encode", "--corpus", w / "small.jsonl", "--model", "hash:32", "--block-size", 16, "--shard", "1/2",
        "--out", w / "sh1-32")
    built: dict[str, Path] = {}
    for backend, types in index_types_needed().items():
        spec = specs()[backend]
        for t in types:
            name = index_name(backend, t)
            src = ["--corpus", SAMPLE] if spec.input == "text" else ["--embeddings", w / "emb"]
            extra = ["--index-type", t] if t and spec.index_types else []
            if backend == "faiss" and t in ("IVF", "IVFPQ"):
                extra += ["--nlist", 8]
            if backend == "milvus" and t and t.startswith("IVF"):
                extra += ["--nlist", 8]
            cli("build-index", "--backend", backend, *src, *extra, "--out", w / name)
            built[name] = w / name
    info["indexes"] = built
    cli("query", "--index", w / "idx-faiss-Flat", "--queries", w / "qemb", "-k", 20, "--out", w / "good.run")
    cli("query", "--index", w / "idx-faiss-Flat", "--queries", w / "qemb", "-k", 20, "--out", w / "good.parquet")
    cli("query", "--index", w / "idx-bm25", "--queries", SAMPLE, "-k", 20, "--out", w / "bm25.run")
    cli("make-recsys", "--out", w / "recsys", "--users", 20, "--items", 50, "--dim", 8, "--clusters", 4)
    cli("make-interaction-log", "--out", w / "log", "--users", 30, "--items", 40, "--days", 5)
    cli("finetune-two-tower", "--log", w / "log" / "log.csv", "--items", w / "log" / "items.csv", "--item-text", "title",
        "--text-model", "hash:32", "--epochs", 1, "--dim", 8, "--hidden", 0, "--out", w / "tt")
    cli("synth-queries", "--corpus", w / "small.jsonl", "--out", w / "synth.jsonl")
    sys.path.insert(0, str(ROOT / "tests"))
    from tiny_models import make_tiny_bi_encoder, make_tiny_cross_encoder

    make_tiny_bi_encoder(w / "tiny-bi")
    make_tiny_cross_encoder(w / "tiny-ce")

    # anncur: a rank-3 score matrix over the 60 small documents, 20 anchor and 5 test queries
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(25, 3)) @ rng.normal(size=(3, 60))
    qids = [f"a{i}" for i in range(20)] + [f"t{i}" for i in range(5)]
    iids = [str(d["_id"]) for d in docs]
    m = w / "matrix"
    m.mkdir()
    np.save(m / "scores.npy", scores)
    _write(m / "query_ids.txt", "\n".join(qids) + "\n")
    _write(m / "item_ids.txt", "\n".join(iids) + "\n")
    _write(w / "anchors.txt", "\n".join(qids[:20]) + "\n")
    _write(w / "test_ids.txt", "\n".join(qids[20:]) + "\n")
    _write(w / "unknown_ids.txt", "nope\n")
    cli("anncur", "index", "--scorer", "matrix", "--scorer-path", m, "--corpus", w / "small.jsonl", "--anchor-queries",
        f"ids:{w / 'anchors.txt'}", "--k-i", 10, "--biencoder", "none", "--out", w / "cur")
    cli("anncur", "bench", "--index", w / "cur", "--queries", f"ids:{w / 'test_ids.txt'}", "--baseline", "none",
        "--budgets", 20, "-k", 5)  # the default --out, cur-bench: an existing output for the catalogue

    # ------------------------------------------------------------------ broken artifacts
    emb = w / "emb"
    _edit_manifest(emb, w / "emb-notype", lambda d: d.pop("type"))
    _edit_manifest(emb, w / "emb-typeindex", lambda d: d.update(type="index"))
    _edit_manifest(emb, w / "emb-dim", lambda d: d["stats"].update(dim=32))
    _edit_manifest(emb, w / "emb-rows", lambda d: d["stats"].update(rows=5))
    _edit_manifest(emb, w / "emb-params-list", lambda d: d.update(params=[1, 2]))
    _edit_manifest(emb, w / "emb-nomodel", lambda d: d["params"].pop("model"))
    shutil.copytree(emb, w / "emb-nomanifest")
    (w / "emb-nomanifest" / "manifest.json").unlink()
    shutil.copytree(emb, w / "emb-badjson")
    _write(w / "emb-badjson" / "manifest.json", '{"type": "embeddings", ')
    shutil.copytree(emb, w / "emb-noids")
    (w / "emb-noids" / "ids.parquet").unlink()
    shutil.copytree(emb, w / "emb-nonpy")
    (w / "emb-nonpy" / "embeddings.npy").unlink()
    shutil.copytree(emb, w / "emb-truncnpy")
    npy = w / "emb-truncnpy" / "embeddings.npy"
    npy.write_bytes(npy.read_bytes()[: npy.stat().st_size // 2])
    shutil.copytree(emb, w / "emb-garbagenpy")
    _write(w / "emb-garbagenpy" / "embeddings.npy", b"\x00garbage" * 100)
    shutil.copytree(emb, w / "emb-badids")
    _write(w / "emb-badids" / "ids.parquet", b"PAR1 not really parquet")
    shutil.copytree(emb, w / "emb-nan")
    x = np.load(emb / "embeddings.npy")
    x[7, 3] = np.nan
    np.save(w / "emb-nan" / "embeddings.npy", x)
    shutil.copytree(emb, w / "emb-inf")
    x = np.load(emb / "embeddings.npy")
    x[11, 0] = np.inf
    np.save(w / "emb-inf" / "embeddings.npy", x)
    shutil.copytree(emb, w / "emb-dupids")
    ids = pd.read_parquet(emb / "ids.parquet")
    ids.loc[5, "id"] = ids.loc[4, "id"]
    ids.to_parquet(w / "emb-dupids" / "ids.parquet", index=False)
    shutil.copytree(emb, w / "emb-swapped")  # an embeddings.npy whose dimension differs from its manifest
    np.save(w / "emb-swapped" / "embeddings.npy", np.load(w / "qemb32" / "embeddings.npy")[:1].repeat(2000, 0))
    _edit_manifest(w / "qemb", w / "qemb-dim", lambda d: d["stats"].update(dim=16))

    for name, path in built.items():
        _edit_manifest(path, w / f"{name}-notype", lambda d: d.pop("type"))
        _edit_manifest(path, w / f"{name}-nobackend", lambda d: d["params"].pop("backend"))
        _edit_manifest(path, w / f"{name}-nometric", lambda d: d["params"].pop("metric"))
        other = "annoy" if not name.startswith("idx-annoy") else "hnswlib"
        _edit_manifest(path, w / f"{name}-backend", lambda d, o=other: d["params"].update(backend=o))
        _edit_manifest(path, w / f"{name}-unknownbackend", lambda d: d["params"].update(backend="nosuch"))
        shutil.copytree(path, w / f"{name}-nomanifest")
        (w / f"{name}-nomanifest" / "manifest.json").unlink()
        for variant in ("trunc", "empty", "garbage", "missing"):
            dst = w / f"{name}-{variant}"
            shutil.copytree(path, dst)
            for f in native_files(dst):
                if variant == "trunc":
                    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
                elif variant == "empty":
                    f.write_bytes(b"")
                elif variant == "garbage":
                    f.write_bytes(np.random.default_rng(1).bytes(max(64, f.stat().st_size)))
                else:
                    f.unlink()
        shutil.copytree(path, w / f"{name}-noids")
        (w / f"{name}-noids" / "ids.parquet").unlink()

    # ------------------------------------------------------------------ texts
    t = w / "texts"
    good = _jsonl(docs[:5]).encode()
    _write(t / "latin1.jsonl", good + '{"_id": "x1", "text": "caf\u00e9"}\n'.encode("latin-1"))
    _write(t / "utf16.jsonl", _jsonl(docs[:3]).encode("utf-16"))
    _write(t / "bad.json.jsonl", good + b'{"_id": "x2", "text": \n')
    _write(t / "array.jsonl", good + b'["x3", "text"]\n')
    _write(t / "dup.jsonl", _jsonl(docs[:4] + [docs[1]]))
    _write(t / "dupnum.jsonl", _jsonl([{"_id": 17, "text": "a"}, {"_id": 18, "text": "b"}, {"_id": 17.0, "text": "c"}]))
    _write(t / "dupexp.jsonl", _jsonl([{"_id": 1000, "text": "a"}, {"_id": 1e3, "text": "b"}]))
    _write(t / "noid.jsonl", _jsonl([{"title": "t", "text": "no id here"}]))
    _write(t / "emptyid.jsonl", _jsonl([{"_id": "", "text": "empty id"}]))
    _write(t / "nullid.jsonl", _jsonl([{"_id": None, "text": "null id"}]))
    _write(t / "notext.jsonl", _jsonl([{"_id": "a", "body2": "x"}]))
    _write(t / "empty.jsonl", "")
    _write(t / "blank.jsonl", "\n\n  \n")
    _write(t / "ragged.csv", "id,text\n1,one\n2,two,extra\n3,three\n")
    _write(t / "ragged.tsv", "id\ttext\n1\tone\n2\ttwo\textra\n")
    _write(t / "quote.csv", 'id,text\n1,"unterminated\n')
    _write(t / "latin1.tsv", "id\ttext\n1\tone\n".encode() + "2\tcaf\u00e9\n".encode("latin-1"))
    _write(t / "utf16.tsv", "id\ttext\n1\tone\n".encode("utf-16"))
    _write(t / "bommid.tsv", "id\ttext\n1\tone\n" + "\ufeffid\ttext\n2\ttwo\n")
    _write(t / "onecol.tsv", "1\n2\n")
    _write(t / "dup.tsv", "id\ttext\n1\tone\n1\tagain\n")
    _write(t / "fake.jsonl.gz", good)
    _write(t / "trunc.jsonl.gz", gzip.compress(good * 50)[:200])
    _write(t / "notes.xyz", "some text\n")
    _write(t / "nodocno.trec", "<DOC>\n<TEXT>no docno</TEXT>\n</DOC>\n")
    _write(t / "notopics.trec", "<top>\n<title>t</title>\n</top>\n")
    (t / "notbeir").mkdir()
    _write(t / "corrupt.parquet", b"PAR1" + np.random.default_rng(2).bytes(300))
    pd.DataFrame({"_id": [str(d["_id"]) for d in docs[:10]], "text": [d["text"] for d in docs[:10]]}).to_parquet(
        t / "good.parquet", index=False)
    raw = (t / "good.parquet").read_bytes()
    _write(t / "trunc.parquet", raw[: len(raw) // 2])
    pd.DataFrame({"_id": [1.0, np.nan, 3.0], "text": ["a", "b", "c"]}).to_parquet(t / "nanid.parquet", index=False)
    pd.DataFrame({"_id": [17.0, 17.0], "text": ["a", "b"]}).to_parquet(t / "dupfloat.parquet", index=False)
    _write(t / "queries-latin1.jsonl", _jsonl(queries[:3]).encode() + '{"_id": "q", "text": "\u00e9t\u00e9"}\n'.encode("cp1252"))
    _write(t / "queries-dup.jsonl", _jsonl(queries[:3] + [queries[0]]))
    _write(t / "queries-empty.jsonl", "")

    # ------------------------------------------------------------------ runs
    r = w / "runs"
    lines = (w / "good.run").read_text().splitlines(keepends=True)
    run_df = pd.read_parquet(w / "good.parquet")

    def edit_line(i: int, field: int, value: str) -> str:
        parts = lines[i].split()
        parts[field] = value
        return "".join(lines[:i]) + " ".join(parts) + "\n" + "".join(lines[i + 1:])

    _write(r / "nan.run", edit_line(3, 4, "nan"))
    _write(r / "inf.run", edit_line(4, 4, "inf"))
    _write(r / "neginf.run", edit_line(5, 4, "-inf"))
    _write(r / "badscore.run", edit_line(2, 4, "abc"))
    _write(r / "badrank.run", edit_line(2, 3, "x"))
    _write(r / "dup.run", "".join(lines[:3]) + lines[1])
    _write(r / "ragged.run", "".join(lines[:3]) + " ".join(lines[3].split()[:5]) + "\n")
    _write(r / "five.run", "".join(" ".join(x.split()[:5]) + "\n" for x in lines[:5]))
    _write(r / "empty.run", "")
    _write(r / "latin1.run", "".join(lines[:3]).encode() + "q1 Q0 caf\u00e9 1 1.0 t\n".encode("latin-1"))
    _write(r / "utf16.run", "".join(lines[:3]).encode("utf-16"))
    _write(r / "bommid.run", "".join(lines[:3]) + "\ufeff" + "".join(lines[3:6]))
    _write(r / "fake.run.gz", "".join(lines[:3]))
    _write(r / "trunc.run.gz", gzip.compress("".join(lines).encode())[:100])
    _write(r / "msmarco0.run", "1 d1 0\n1 d2 1\n")
    _write(r / "corrupt.parquet", b"PAR1" + np.random.default_rng(3).bytes(200))
    raw = (w / "good.parquet").read_bytes()
    _write(r / "trunc.parquet", raw[: len(raw) // 2])
    bad = run_df.copy()
    bad.loc[3, "score"] = np.nan
    bad.to_parquet(r / "nan.parquet", index=False)
    bad = run_df.copy()
    bad.loc[4, "score"] = np.inf
    bad.to_parquet(r / "inf.parquet", index=False)
    run_df.drop(columns=["score"]).to_parquet(r / "noscore.parquet", index=False)
    bad = run_df.copy()
    bad["score"] = "high"
    bad.to_parquet(r / "strscore.parquet", index=False)
    bad = run_df.copy()
    bad["qid"] = bad["qid"].astype(float)
    bad.loc[2, "qid"] = np.nan
    bad.to_parquet(r / "nanqid.parquet", index=False)
    bad = run_df.copy()
    bad.loc[1, "docid"] = bad.loc[0, "docid"]
    bad.to_parquet(r / "dup.parquet", index=False)
    bad = run_df.copy()
    bad["docid"] = bad["docid"].astype(float)
    bad.loc[1, "docid"] = bad.loc[0, "docid"] + 0.0  # same id written as a float: a duplicate once normalised
    bad.to_parquet(r / "dupfloat.parquet", index=False)
    run_df.iloc[:0].to_parquet(r / "empty.parquet", index=False)
    bad = run_df.copy()
    bad["rank"] = 1.5
    bad.to_parquet(r / "fracrank.parquet", index=False)

    # ------------------------------------------------------------------ qrels
    q = w / "qrels"
    ql = (SAMPLE / "qrels" / "test.tsv").read_text().splitlines(keepends=True)
    _write(q / "five.qrels", "".join(f"{a} 0 {b} {c} extra\n" for a, b, c in (x.split() for x in ql[1:20])))
    _write(q / "two.qrels", "2 12\n2 13\n")
    _write(q / "mixed.qrels", ql[1] + "2 0 13 1\n")
    _write(q / "badgrade.qrels", "2\t12\t1\n2\t13\thigh\n")
    _write(q / "fracgrade.qrels", "2 0 12 1\n2 0 13 0.5\n")
    _write(q / "dup.qrels", "2 0 12 1\n2 0 12 1\n")
    _write(q / "empty.qrels", "")
    _write(q / "headeronly.tsv", "query-id\tcorpus-id\tscore\n")
    _write(q / "latin1.qrels", "2 0 12 1\n".encode() + "2 0 caf\u00e9 1\n".encode("latin-1"))
    _write(q / "utf16.qrels", "2 0 12 1\n".encode("utf-16"))
    _write(q / "bommid.tsv", "".join(ql[:10]) + "\ufeff" + "".join(ql[:1]) + "".join(ql[10:20]))
    _write(q / "unrelated.qrels", "zz1 0 d1 1\nzz2 0 d2 1\n")
    _write(q / "corrupt.parquet", b"PAR1" + np.random.default_rng(4).bytes(200))
    pd.DataFrame({"qid": ["2"], "docid": ["12"]}).to_parquet(q / "norel.parquet", index=False)
    pd.DataFrame({"qid": [2.0, np.nan], "docid": ["12", "13"], "rel": [1, 1]}).to_parquet(q / "nanqid.parquet", index=False)
    (q / "beir-noqrels").mkdir()
    _write(q / "beir-nosplit" / "qrels" / "train.tsv", "".join(ql[:5]))

    # ------------------------------------------------------------------ interaction logs and tables
    lg = w / "logs"
    _write(lg / "nouser.csv", "item_id,timestamp\n1,100\n")
    _write(lg / "ragged.csv", "user_id,item_id,timestamp\nu1,i1,100\nu1,i2\n")
    _write(lg / "empty.csv", "")
    _write(lg / "headeronly.csv", "user_id,item_id,timestamp\n")
    _write(lg / "latin1.csv", "user_id,item_id,timestamp\n".encode() + "u\u00e9,i1,100\n".encode("latin-1"))
    _write(lg / "badtime.csv", "user_id,item_id,timestamp\n" + "".join(f"u{i % 3},i{i},{'yesterday' if i == 4 else 100 + i}\n" for i in range(12)))
    _write(lg / "emptyuser.csv", "user_id,item_id,timestamp\nu1,i1,100\n,i2,101\n")
    _write(lg / "corrupt.parquet", b"PAR1" + np.random.default_rng(5).bytes(200))
    _write(lg / "seen-nouser.csv", "item,x\n1,2\n")

    # ------------------------------------------------------------------ vectors to import
    v = w / "vectors"
    v.mkdir()
    good_v = np.random.default_rng(6).normal(size=(10, 8)).astype(np.float32)
    np.save(v / "good.npy", good_v)
    bad = good_v.copy()
    bad[3, 2] = np.nan
    np.save(v / "nan.npy", bad)
    bad = good_v.copy()
    bad[4, 1] = np.inf
    np.save(v / "inf.npy", bad)
    np.save(v / "one_d.npy", good_v[0])
    np.save(v / "empty.npy", good_v[:0])
    np.save(v / "strings.npy", np.array([["a", "b"], ["c", "d"]]))
    np.save(v / "objects.npy", np.array([[1, "a"], [2, "b"]], dtype=object), allow_pickle=True)
    raw = (v / "good.npy").read_bytes()
    _write(v / "trunc.npy", raw[: len(raw) - 40])
    _write(v / "garbage.npy", b"not a numpy file at all" * 10)
    rec = b"".join(np.int32(8).tobytes() + row.tobytes() for row in good_v)
    _write(v / "good.fvecs", rec)
    _write(v / "trunc.fvecs", rec[:-7])
    _write(v / "mixed.fvecs", rec + np.int32(4).tobytes() + good_v[0, :4].tobytes())
    _write(v / "zero.fvecs", np.int32(0).tobytes())
    _write(v / "good.fbin", np.array([10, 8], dtype=np.uint32).tobytes() + good_v.tobytes())
    _write(v / "short.fbin", np.array([20, 8], dtype=np.uint32).tobytes() + good_v.tobytes())
    _write(v / "tiny.fbin", b"\x01\x00")
    _write(v / "corrupt.hdf5", b"\x89HDF\r\n\x1a\n" + b"\x00" * 40)
    _write(v / "notvectors.parquet", b"")
    pd.DataFrame({"id": [str(i) for i in range(10)], "n": range(10)}).to_parquet(v / "nolist.parquet", index=False)
    pd.DataFrame({"id": ["a", "b"], "vec": [[1.0, 2.0], [1.0, 2.0, 3.0]]}).to_parquet(v / "ragged.parquet", index=False)
    pd.DataFrame({"id": ["a", "b"], "vec": [[1.0, float("nan")], [1.0, 2.0]]}).to_parquet(v / "nanlist.parquet", index=False)
    pd.DataFrame({"id": ["a", "a"], "vec": [[1.0, 0.0], [0.0, 1.0]]}).to_parquet(v / "dupid.parquet", index=False)
    _write(v / "ids-short.txt", "\n".join(str(i) for i in range(9)) + "\n")
    _write(v / "ids-dup.txt", "\n".join(["a"] * 10) + "\n")
    _write(v / "ids-latin1.txt", "\n".join(str(i) for i in range(9)).encode() + "\n\xe9\n".encode("latin-1"))
    _write(v / "vec.unknown", b"x")
    try:
        import h5py

        with h5py.File(v / "notrain.hdf5", "w") as f:
            f.create_dataset("test", data=good_v)
        with h5py.File(v / "one_d.hdf5", "w") as f:
            f.create_dataset("train", data=good_v[0])
    except ImportError:  # pragma: no cover - h5py is a dependency of import-vectors
        pass
    # user vectors (plain .npy + ids) for query
    u = w / "users"
    u.mkdir()
    np.save(u / "dim8.npy", good_v)
    _write(u / "dim8.ids.txt", "\n".join(f"u{i}" for i in range(10)) + "\n")
    np.save(u / "noids.npy", good_v)
    np.save(u / "short.npy", np.random.default_rng(7).normal(size=(10, 64)).astype(np.float32))
    _write(u / "short.ids.txt", "\n".join(f"u{i}" for i in range(9)) + "\n")
    np.save(u / "nan.npy", np.full((2, 64), np.nan, dtype=np.float32))
    _write(u / "nan.ids.txt", "a\nb\n")

    # ------------------------------------------------------------------ training and configs
    tr = w / "train"
    _write(tr / "noquery.jsonl", _jsonl([{"positive": "text"}]))
    _write(tr / "latin1.jsonl", '{"query": "q", "positive": "p"}\n'.encode() + '{"query": "\u00e9", "positive": "p"}\n'.encode("latin-1"))
    _write(tr / "empty.jsonl", "")
    _write(tr / "badjson.jsonl", '{"query": "q", "positive": \n')
    cfg = w / "configs"
    _write(cfg / "notyaml.yaml", "backends: [unclosed\n")
    _write(cfg / "unknown.yaml", "backends:\n  x:\n    backend: nosuch\n")
    _write(cfg / "list.yaml", "- 1\n- 2\n")
    _write(cfg / "badparam.yaml", "backends:\n  h:\n    backend: hnswlib\n    build: {hnsw_m: [0]}\n")
    _write(cfg / "badsearch.yaml", "backends:\n  h:\n    backend: hnswlib\n    search: {ef_search: [0]}\n")
    _write(w / "afile", "a plain file\n")
    (w / "emptydir").mkdir()
    return info
