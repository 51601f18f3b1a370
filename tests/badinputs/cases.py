"""The catalogue: one row per bad input. Each row is run as `vecrecall ARGS` and must end with exit 2, exactly one
line `error: …` on stderr naming the file / row / option at fault (every fragment given must appear in it), no
traceback, and nothing new at --out or beside it.

Placeholders in args and fragments: {W} the session's world (badinputs/world.py), {S} sample_data, {T} the case's
own empty directory, {OUT} = {T}/out, {RUN} = {T}/out.run. `pre` prepares {T} before the run (see test_bad_inputs).
Backend parameter cases are derived from the backend tables (vecrecall.indexes.params), so a new backend or a new
parameter is covered without editing this file.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from .world import index_name


@dataclass(frozen=True)
class Case:
    kind: str
    args: str  # shell words with placeholders
    fragments: tuple[str, ...]
    pre: tuple[str, ...] = ()  # 'file:NAME', 'dir:NAME' (holding notes.txt), 'artifact:NAME' (a copy of {W}/emb), 'ro:NAME'
    sub: bool = False  # also run through the installed entry point in a subprocess
    xfail: str | None = None  # a known fault left to the owner of the file it lives in (reason names it)
    name: str = ""
    marks: tuple[Any, ...] = field(default=(), compare=False)

    @property
    def command(self) -> str:
        words = shlex.split(self.args)
        return " ".join(words[:2]) if words and words[0] == "anncur" and len(words) > 1 else (words[0] if words else "")

    @property
    def id(self) -> str:
        return self.name or f"{self.kind}:{self.args}"


CASES: list[Case] = []


def c(kind: str, args: str, *fragments: str, pre: tuple[str, ...] | str = (), sub: bool = False,
      xfail: str | None = None, name: str = "") -> None:
    CASES.append(Case(kind, " ".join(args.split()), tuple(fragments), (pre,) if isinstance(pre, str) else tuple(pre),
                      sub, xfail, name))


# Handy argument groups
EMB, QEMB, FLAT = "{W}/emb", "{W}/qemb", "{W}/idx-faiss-Flat"
Q_FLAT = f"query --index {FLAT} --queries {QEMB} -k 5"
BUILD = f"build-index --embeddings {EMB}"
EVAL = "eval --qrels {S}"
FUSE2 = "fuse {W}/good.run {W}/bm25.run"
DECAY = "decay --run {W}/good.run --corpus {S} --decay-field date"
RERANK = "rerank --corpus {S} --queries {S} --scorer biencoder --model hash:64"
FT = "finetune --model {W}/tiny-bi --no-eval"
FT_QRELS = "finetune --model {W}/tiny-bi --qrels {S} --queries {S} --corpus {S} --no-eval"
CE = "finetune-cross-encoder --model {W}/tiny-ce --qrels {S} --queries {S} --corpus {S}"
TT = "finetune-two-tower --log {W}/log/log.csv --text-model hash:32 --epochs 1"
SWEEP = f"sweep --embeddings {EMB} --queries {QEMB} --passes 1 --warmup 0"
CUR_Q = "anncur query --index {W}/cur --queries ids:{W}/test_ids.txt"
CUR_B = "anncur bench --index {W}/cur --queries ids:{W}/test_ids.txt --baseline none"
CUR_I = "anncur index --scorer matrix --scorer-path {W}/matrix --corpus {W}/small.jsonl --anchor-queries ids:{W}/anchors.txt --biencoder none --k-i 5"
SEEN = "exclude-seen --run {W}/good.run --seen {W}/tt/seen.csv"
BASE = "recsys-baseline --split {W}/tt"

# =====================================================================================================================
# Usage errors (the parser: Typer/Click classes, whatever version is installed)
# =====================================================================================================================
c("usage", f"query --index {FLAT} --queries {QEMB}", "Missing option '--out'", sub=True)
c("usage", f"{Q_FLAT} -k abc --out {{RUN}}", "'-k'", "not a valid int", sub=True)
c("usage", "encode --corpus {S} --out {OUT} --bogus", "No such option: --bogus", sub=True)
c("usage", "nosuchcommand", "No such command 'nosuchcommand'", sub=True)
c("usage", "anncur nosuch", "No such command 'nosuch'", sub=True)
c("usage", f"{BUILD} --out {{OUT}} --backend", "'--backend' requires an argument", sub=True)
c("usage", "eval -m nDCG@10", "Missing argument", sub=True)
c("usage", "fuse --out {RUN}", "Missing argument")
c("usage", "decay --run {W}/good.run --out {RUN}", "Missing option '--decay-field'")
c("usage", f"{SWEEP} --backend faiss --passes abc", "'--passes'")
c("usage", "make-recsys --out {OUT} --users 1.5", "'--users'")
c("usage", "make-recsys --out {OUT} --noise abc", "'--noise'")
c("usage", "rerank --run {W}/good.run --corpus {S} --queries {S} --depth ten --out {RUN}", "'--depth'")
c("usage", f"{SEEN} -k 1e3 --out {{RUN}}", "'-k'")
c("usage", f"{TT} --epochs 1.5 --out {{OUT}}", "'--epochs'")
c("usage", "encode --corpus {S}", "Missing option '--out'")
c("usage", "info", "Missing argument")
c("usage", "backends faiss extra", "unexpected extra argument")
c("usage", "merge --out {OUT}", "Missing argument")
c("usage", "import-vectors --out {OUT}", "Missing argument")
c("usage", f"query --index {FLAT} --queries {QEMB} --out {{RUN}} --k", "'--k' requires an argument")
c("usage", "eval --qrels {S} {W}/good.run --measure", "'--measure' requires an argument")
c("usage", "synth-queries --corpus {S} --out {OUT} --per-doc two", "'--per-doc'")
c("usage", "recsys-baseline --split {W}/tt --out {RUN}", "Missing option '--method'")
c("usage", "make-interaction-log --out {OUT} --queries yes", "unexpected extra argument")
c("usage", "anncur query --index {W}/cur --queries x --out {RUN}", "Missing option '--budget'")
c("usage", "build-index --embeddings {W}/emb --out {OUT} --hnsw-m", "'--hnsw-m' requires an argument")
c("usage", "encode --corpu {S} --out {OUT}", "No such option: --corpu")
c("usage", "demo --out {OUT} --json --seed 3", "No such option: --seed")
c("usage", "eval --qrels {S} {W}/good.run -m nDCG@10 --per-query", "'--per-query' requires an argument")

# =====================================================================================================================
# Missing or unreadable inputs
# =====================================================================================================================
c("missing-file", "encode --corpus {T}/nope.jsonl --model hash:64 --out {OUT}", "nope.jsonl", sub=True)
c("missing-file", "encode --queries {T}/nope --model hash:64 --out {OUT}", "nope")
c("missing-file", "merge {T}/nope {W}/sh1 --out {OUT}", "nope")
c("missing-file", "build-index --embeddings {T}/nope --out {OUT}", "nope")
c("missing-file", "build-index --backend bm25 --corpus {T}/nope.jsonl --out {OUT}", "nope.jsonl")
c("missing-file", "query --index {T}/nope --queries {W}/qemb --out {RUN}", "nope", sub=True)
c("missing-file", f"query --index {FLAT} --queries {{T}}/nope.jsonl --out {{RUN}}", "nope.jsonl")
c("missing-file", "eval --qrels {T}/nope.qrels {W}/good.run", "nope.qrels")
c("missing-file", "eval --qrels {S} {T}/nope.run", "nope.run")
c("missing-file", "info {T}/nope", "nope")
c("missing-file", "demo --data {T}/nope --model hash:64 --out {OUT}", "nope")
c("missing-file", "sweep --embeddings {T}/nope --queries {W}/qemb --backend faiss", "nope")
c("missing-file", "sweep --index {T}/nope --queries {W}/qemb", "nope")
c("missing-file", f"{SWEEP} --backend faiss --queries {{T}}/nope.jsonl", "nope.jsonl")
c("missing-file", "fuse {W}/good.run {T}/nope.run --out {RUN}", "nope.run")
c("missing-file", "decay --run {T}/nope.run --corpus {S} --decay-field date --out {RUN}", "nope.run")
c("missing-file", "decay --run {W}/good.run --corpus {T}/nope.jsonl --decay-field date --out {RUN}", "nope.jsonl")
c("missing-file", "decay --run {W}/good.run --index {T}/nope --decay-field date --out {RUN}", "nope")
c("missing-file", f"{RERANK} --run {{T}}/nope.run --out {{RUN}}", "nope.run")
c("missing-file", "rerank --run {W}/good.run --corpus {T}/nope.jsonl --queries {S} --scorer biencoder --model hash:64 --out {RUN}", "nope.jsonl")
c("missing-file", "rerank --run {W}/good.run --corpus {S} --queries {S} --model {T}/nope --out {RUN}", "nope")
c("missing-file", f"{FT} --train {{T}}/nope.jsonl --out {{OUT}}", "nope.jsonl")
c("missing-file", "finetune --qrels {T}/nope.qrels --queries {S} --corpus {S} --no-eval --out {OUT}", "nope.qrels")
c("missing-file", "synth-queries --corpus {T}/nope.jsonl --out {OUT}", "nope.jsonl")
c("missing-file", "finetune-cross-encoder --train {T}/nope.jsonl --out {OUT}", "nope.jsonl")
c("missing-file", "anncur index --corpus {T}/nope.jsonl --scorer matrix --scorer-path {W}/matrix --anchor-queries ids:{W}/anchors.txt --biencoder none --out {OUT}", "nope.jsonl")
c("missing-file", "anncur index --corpus {W}/small.jsonl --scorer matrix --scorer-path {T}/nope --anchor-queries ids:{W}/anchors.txt --biencoder none --out {OUT}", "nope")
c("missing-file", f"{CUR_I} --anchor-queries ids:{{T}}/nope.txt --out {{OUT}}", "nope.txt")
c("missing-file", "anncur query --index {T}/nope --queries ids:{W}/test_ids.txt --budget 20 --out {RUN}", "nope")
c("missing-file", "anncur query --index {W}/cur --queries ids:{T}/nope.txt --budget 20 --out {RUN}", "nope.txt")
c("missing-file", "anncur bench --index {T}/nope --queries ids:{W}/test_ids.txt --out {OUT}", "nope")
c("missing-file", "import-vectors {T}/nope.npy --out {OUT}", "nope.npy")
c("missing-file", "import-vectors {W}/vectors/good.npy --ids {T}/nope.txt --out {OUT}", "nope.txt")
c("missing-file", "finetune-two-tower --log {T}/nope.csv --text-model hash:32 --out {OUT}", "nope.csv")
c("missing-file", f"{TT} --items {{T}}/nope.csv --out {{OUT}}", "nope.csv")
c("missing-file", f"{TT} --init-from {{T}}/nope --out {{OUT}}", "nope")
c("missing-file", "exclude-seen --run {T}/nope.run --seen {W}/tt/seen.csv --out {RUN}", "nope.run")
c("missing-file", "exclude-seen --run {W}/good.run --seen {T}/nope.csv --out {RUN}", "nope.csv")
c("missing-file", "recsys-baseline --split {T}/nope --method popular --out {RUN}", "nope")
c("missing-file", f"{SWEEP} --backend faiss --qrels {{T}}/nope.qrels", "nope.qrels")
c("missing-file", f"{FUSE2} --optimize --qrels {{T}}/nope.qrels --out {{RUN}}", "nope.qrels")
c("missing-file", "sweep --config {T}/nope.yaml --embeddings {W}/emb --queries {W}/qemb", "nope.yaml")
# a directory where a file is expected
c("missing-file", "eval --qrels {W}/emptydir {W}/good.run", "emptydir")
c("missing-file", "eval --qrels {S} {W}/emptydir", "emptydir")
c("missing-file", "fuse {W}/good.run {W}/emptydir --out {RUN}", "emptydir")
c("missing-file", "decay --run {W}/emptydir --corpus {S} --decay-field date --out {RUN}", "emptydir")
c("missing-file", "import-vectors {W}/emptydir --out {OUT}", "emptydir")
c("missing-file", "exclude-seen --run {W}/good.run --seen {W}/emptydir --out {RUN}", "emptydir")
c("missing-file", "finetune-two-tower --log {W}/emptydir --text-model hash:32 --out {OUT}", "emptydir")
c("missing-file", "encode --corpus {W}/emptydir --model hash:64 --out {OUT}", "emptydir")
c("missing-file", f"{FT} --train {{W}}/emptydir --out {{OUT}}", "emptydir")
c("missing-file", "sweep --config {W}/emptydir --embeddings {W}/emb --queries {W}/qemb", "emptydir")

# =====================================================================================================================
# The wrong kind of artifact
# =====================================================================================================================
c("wrong-artifact", f"build-index --embeddings {FLAT} --out {{OUT}}", "idx-faiss-Flat", "'index'")
c("wrong-artifact", "build-index --embeddings {W}/good.run --out {OUT}", "good.run")
c("wrong-artifact", "build-index --embeddings {W}/small.jsonl --out {OUT}", "small.jsonl")
c("wrong-artifact", "build-index --backend faiss --corpus {S} --out {OUT}", "--embeddings")
c("wrong-artifact", "build-index --backend bm25 --embeddings {W}/emb --out {OUT}", "bm25")
c("wrong-artifact", f"query --index {EMB} --queries {QEMB} --out {{RUN}}", "emb", "'embeddings'")
c("wrong-artifact", f"query --index {{W}}/good.run --queries {QEMB} --out {{RUN}}", "good.run")
c("wrong-artifact", f"query --index {{W}}/recsys --queries {QEMB} --out {{RUN}}", "recsys")
c("wrong-artifact", f"query --index {FLAT} --queries {{W}}/idx-hnswlib-HNSW --out {{RUN}}", "idx-hnswlib-HNSW")
c("wrong-artifact", f"query --index {{W}}/idx-bm25 --queries {QEMB} --out {{RUN}}", "qemb")
c("wrong-artifact", f"query --index {FLAT} --queries {{W}}/qemb32 --out {{RUN}}", "qemb32")
c("wrong-artifact", f"query --index {FLAT} --queries {{W}}/users/dim8.npy --out {{RUN}}", "dim8.npy", "dimension")
c("wrong-artifact", f"query --index {FLAT} --queries {{S}} --model hash:32 --out {{RUN}}", "--model")
c("wrong-artifact", "merge {W}/emb {W}/qemb --out {OUT}", "emb", "not a shard")
c("wrong-artifact", "merge {W}/sh0 {W}/sh1-32 --out {OUT}", "sh1-32")
c("wrong-artifact", "merge {W}/sh0 {W}/sh0 --out {OUT}", "sh0")
c("wrong-artifact", "merge {W}/sh0 --out {OUT}", "no shard")
c("wrong-artifact", "merge {W}/idx-faiss-Flat {W}/sh1 --out {OUT}", "idx-faiss-Flat")
c("wrong-artifact", "info {W}/afile", "afile", "not a vecrecall artifact")
c("wrong-artifact", "info {W}/emptydir", "emptydir", "not a vecrecall artifact")
c("wrong-artifact", "eval --qrels {W}/emb {W}/good.run", "emb")
c("wrong-artifact", "eval --qrels {S} {W}/emb", "emb")
c("wrong-artifact", "eval --qrels {S} {W}/small.jsonl", "small.jsonl")
c("wrong-artifact", "fuse {W}/good.run {W}/idx-faiss-Flat --out {RUN}", "idx-faiss-Flat")
c("wrong-artifact", "sweep --index {W}/emb --queries {W}/qemb", "emb")
c("wrong-artifact", f"sweep --embeddings {FLAT} --queries {QEMB} --backend faiss", "idx-faiss-Flat")
c("wrong-artifact", f"{SWEEP} --backend faiss --queries {{W}}/qemb32", "qemb32")
c("wrong-artifact", "decay --run {W}/good.run --index {W}/emb --decay-field date --out {RUN}", "emb")
c("wrong-artifact", "rerank --run {W}/good.run --corpus {S} --queries {S} --model {W}/emb --out {RUN}", "emb")
c("wrong-artifact", "anncur query --index {W}/idx-faiss-Flat --queries ids:{W}/test_ids.txt --budget 20 --out {RUN}", "idx-faiss-Flat")
c("wrong-artifact", "anncur bench --index {W}/emb --queries ids:{W}/test_ids.txt --out {OUT}", "emb")
c("wrong-artifact", "recsys-baseline --split {W}/emb --method popular --out {RUN}", "emb")
c("wrong-artifact", "recsys-baseline --split {W}/recsys --method popular --out {RUN}", "recsys")
c("wrong-artifact", f"{TT} --init-from {{W}}/emb --out {{OUT}}", "emb")
c("wrong-artifact", "exclude-seen --run {W}/good.run --seen {W}/good.run --out {RUN}", "good.run")
c("wrong-artifact", "import-vectors {W}/emb --out {OUT}", "emb")
c("wrong-artifact", "demo --data {W}/emb --model hash:64 --out {OUT}", "emb")
c("wrong-artifact", "finetune-cross-encoder --model {W}/emb --train {W}/synth.jsonl --corpus {W}/small.jsonl --out {OUT}", "emb")
c("wrong-artifact", f"{FT} --train {{W}}/synth.jsonl --corpus {{W}}/small.jsonl --mine-from {{W}}/emb --negatives mined --out {{OUT}}", "emb")
c("wrong-artifact", f"query --index {FLAT} --queries {{W}}/users/noids.npy --out {{RUN}}", "noids.npy", "ids")
c("wrong-artifact", f"query --index {FLAT} --queries {{W}}/users/short.npy --out {{RUN}}", "short", "ids")
c("wrong-artifact", "import-vectors {W}/vectors/vec.unknown --out {OUT}", "vec.unknown")

# =====================================================================================================================
# Edited manifests and damaged artifacts
# =====================================================================================================================
for variant, frags in (("notype", ("'type'",)), ("typeindex", ("'index'",)), ("dim", ("dimension", "dim")),
                       ("rows", ("rows",)), ("params-list", ("'params'",)), ("nomanifest", ("manifest.json",)),
                       ("badjson", ("manifest",)), ("noids", ("ids.parquet",)), ("nonpy", ("embeddings.npy",)),
                       ("truncnpy", ("embeddings.npy",)), ("garbagenpy", ("embeddings.npy",)),
                       ("badids", ("ids.parquet",)), ("swapped", ("dimension",))):
    c("edited-manifest", f"build-index --embeddings {{W}}/emb-{variant} --out {{OUT}}", f"emb-{variant}", *frags,
      sub=variant in ("truncnpy", "notype"))
c("edited-manifest", f"{SWEEP} --backend faiss --embeddings {{W}}/emb-dim", "emb-dim")
c("edited-manifest", f"query --index {FLAT} --queries {{W}}/qemb-dim --out {{RUN}}", "qemb-dim")
c("edited-manifest", "info {W}/emb-badjson", "emb-badjson", "manifest")
c("edited-manifest", "info {W}/emb-notype", "emb-notype", "'type'")
c("edited-manifest", "info {W}/emb-params-list", "emb-params-list", "'params'")




def _index_damage_cases() -> None:
    from vecrecall.indexes.base import specs

    from .world import index_types_needed

    for backend, types in index_types_needed().items():
        spec = specs()[backend]
        q = "{S}" if spec.input == "text" else QEMB
        for i, t in enumerate(types):
            name = index_name(backend, t)
            for variant, frags in (("trunc", ()), ("empty", ()), ("garbage", ()), ("missing", ())):
                c("corrupt-index", f"query --index {{W}}/{name}-{variant} --queries {q} -k 5 --out {{RUN}}",
                  f"{name}-{variant}", *frags, sub=variant == "trunc")
            if i:
                continue  # manifest edits: the default index type of each backend
            for variant, frags in (("notype", ("'type'",)), ("nobackend", ("backend",)), ("nometric", ("metric",)),
                                   ("backend", ()), ("unknownbackend", ("nosuch",)), ("nomanifest", ("manifest.json",)),
                                   ("noids", ("ids.parquet",))):
                c("edited-manifest", f"query --index {{W}}/{name}-{variant} --queries {q} -k 5 --out {{RUN}}",
                  f"{name}-{variant}", *frags)
            if spec.input == "vectors":
                c("corrupt-index", f"sweep --index {{W}}/{name}-trunc --queries {q} --passes 1 --warmup 0",
                  f"{name}-trunc")
            c("corrupt-index", f"anncur query --index {{W}}/{name}-trunc --queries ids:{{W}}/test_ids.txt --budget 20 "
              "--out {RUN}", f"{name}-trunc")


_index_damage_cases()

# update-index / rebuild: refused before anything is written (the world's indexes stay as they are)
c("update", f"update-index --index {FLAT} --out {{OUT}}", "nothing to do", "--add", "--delete")
c("update", f"update-index --index {FLAT} --add {QEMB} --out {{OUT}}", "these are queries embeddings")
c("update", f"update-index --index {FLAT} --delete {{W}}/nope.txt --out {{OUT}}", "--delete", "no such file")
c("update", f"update-index --index {FLAT} --add {EMB} --out {{OUT}}", "already in the index", "--replace")
c("update", "rebuild --index {W}/nope --out {OUT}", "nope: no such file or directory")
c("update", f"rebuild --index {FLAT} --embeddings {QEMB} --out {{OUT}}", "holds query vectors")
c("update", "rebuild --index {W}/idx-bm25 --out {OUT}", "bm25 indexes text", "--corpus")

# =====================================================================================================================
# Corrupt Parquet
# =====================================================================================================================
c("corrupt-parquet", "encode --corpus {W}/texts/corrupt.parquet --model hash:64 --out {OUT}", "corrupt.parquet", "Parquet")
c("corrupt-parquet", "encode --queries {W}/texts/trunc.parquet --model hash:64 --out {OUT}", "trunc.parquet", "Parquet")
c("corrupt-parquet", "build-index --backend bm25 --corpus {W}/texts/trunc.parquet --out {OUT}", "trunc.parquet")
c("corrupt-parquet", "eval --qrels {S} {W}/runs/corrupt.parquet", "corrupt.parquet")
c("corrupt-parquet", "eval --qrels {W}/qrels/corrupt.parquet {W}/good.run", "corrupt.parquet")
c("corrupt-parquet", "fuse {W}/good.run {W}/runs/trunc.parquet --out {RUN}", "trunc.parquet")
c("corrupt-parquet", "decay --run {W}/runs/corrupt.parquet --corpus {S} --decay-field date --out {RUN}", "corrupt.parquet")
c("corrupt-parquet", "decay --run {W}/good.run --corpus {W}/texts/corrupt.parquet --decay-field date --out {RUN}", "corrupt.parquet")
c("corrupt-parquet", f"{RERANK} --run {{W}}/runs/corrupt.parquet --out {{RUN}}", "corrupt.parquet")
c("corrupt-parquet", "rerank --run {W}/good.run --corpus {W}/texts/corrupt.parquet --queries {S} --scorer biencoder --model hash:64 --out {RUN}", "corrupt.parquet")
c("corrupt-parquet", "exclude-seen --run {W}/runs/corrupt.parquet --seen {W}/tt/seen.csv --out {RUN}", "corrupt.parquet")
c("corrupt-parquet", "exclude-seen --run {W}/good.run --seen {W}/logs/corrupt.parquet --out {RUN}", "corrupt.parquet")
c("corrupt-parquet", "finetune-two-tower --log {W}/logs/corrupt.parquet --text-model hash:32 --out {OUT}", "corrupt.parquet")
c("corrupt-parquet", f"{TT} --items {{W}}/texts/corrupt.parquet --out {{OUT}}", "corrupt.parquet")
c("corrupt-parquet", "import-vectors {W}/vectors/notvectors.parquet --out {OUT}", "notvectors.parquet")
c("corrupt-parquet", "synth-queries --corpus {W}/texts/trunc.parquet --out {OUT}", "trunc.parquet")
c("corrupt-parquet", f"query --index {FLAT} --queries {{W}}/texts/corrupt.parquet --out {{RUN}}", "corrupt.parquet")
c("corrupt-parquet", f"{FT} --train {{W}}/synth.jsonl --corpus {{W}}/texts/corrupt.parquet --out {{OUT}}", "corrupt.parquet")
c("corrupt-parquet", f"{SWEEP} --backend faiss --qrels {{W}}/qrels/corrupt.parquet", "corrupt.parquet")
c("corrupt-parquet", "anncur index --corpus {W}/texts/corrupt.parquet --scorer matrix --scorer-path {W}/matrix --anchor-queries ids:{W}/anchors.txt --biencoder none --out {OUT}", "corrupt.parquet")

# =====================================================================================================================
# Bytes that are not UTF-8, byte-order marks
# =====================================================================================================================
for args, frag in (("encode --corpus {W}/texts/latin1.jsonl --model hash:64 --out {OUT}", "latin1.jsonl"),
                   ("encode --queries {W}/texts/latin1.tsv --model hash:64 --out {OUT}", "latin1.tsv"),
                   ("build-index --backend bm25 --corpus {W}/texts/latin1.jsonl --out {OUT}", "latin1.jsonl"),
                   ("synth-queries --corpus {W}/texts/latin1.jsonl --out {OUT}", "latin1.jsonl"),
                   (f"query --index {FLAT} --queries {{W}}/texts/queries-latin1.jsonl --out {{RUN}}", "queries-latin1.jsonl"),
                   ("rerank --run {W}/good.run --corpus {W}/texts/latin1.jsonl --queries {S} --scorer biencoder --model hash:64 --out {RUN}", "latin1.jsonl"),
                   ("rerank --run {W}/good.run --corpus {S} --queries {W}/texts/queries-latin1.jsonl --scorer biencoder --model hash:64 --out {RUN}", "queries-latin1.jsonl"),
                   ("eval --qrels {S} {W}/runs/latin1.run", "latin1.run"),
                   ("eval --qrels {W}/qrels/latin1.qrels {W}/good.run", "latin1.qrels"),
                   ("fuse {W}/good.run {W}/runs/latin1.run --out {RUN}", "latin1.run"),
                   ("decay --run {W}/runs/latin1.run --corpus {S} --decay-field date --out {RUN}", "latin1.run"),
                   ("exclude-seen --run {W}/runs/latin1.run --seen {W}/tt/seen.csv --out {RUN}", "latin1.run"),
                   ("exclude-seen --run {W}/good.run --seen {W}/logs/latin1.csv --out {RUN}", "latin1.csv"),
                   ("finetune-two-tower --log {W}/logs/latin1.csv --text-model hash:32 --out {OUT}", "latin1.csv"),
                   (f"{FT} --train {{W}}/train/latin1.jsonl --out {{OUT}}", "latin1.jsonl"),
                   ("finetune-cross-encoder --train {W}/train/latin1.jsonl --out {OUT}", "latin1.jsonl"),
                   ("import-vectors {W}/vectors/good.npy --ids {W}/vectors/ids-latin1.txt --out {OUT}", "ids-latin1.txt"),
                   ("anncur index --corpus {W}/texts/latin1.jsonl --scorer matrix --scorer-path {W}/matrix --anchor-queries ids:{W}/anchors.txt --biencoder none --out {OUT}", "latin1.jsonl"),
                   ("decay --run {W}/good.run --corpus {W}/texts/latin1.jsonl --decay-field date --out {RUN}", "latin1.jsonl")):
    c("non-utf8", args, frag, "UTF-8", sub=frag == "latin1.run" and args.startswith("eval"))
for args, frag in (("encode --corpus {W}/texts/utf16.jsonl --model hash:64 --out {OUT}", "utf16.jsonl"),
                   ("encode --queries {W}/texts/utf16.tsv --model hash:64 --out {OUT}", "utf16.tsv"),
                   ("eval --qrels {W}/qrels/utf16.qrels {W}/good.run", "utf16.qrels"),
                   ("fuse {W}/good.run {W}/runs/utf16.run --out {RUN}", "utf16.run"),
                   ("build-index --backend bm25 --corpus {W}/texts/utf16.jsonl --out {OUT}", "utf16.jsonl")):
    c("bom", args, frag, "UTF-16")
c("bom", "eval --qrels {W}/qrels/bommid.tsv {W}/good.run", "bommid.tsv", "line 11")
c("bom", "eval --qrels {S} {W}/runs/bommid.run", "bommid.run", "line 4")
c("bom", "fuse {W}/good.run {W}/runs/bommid.run --out {RUN}", "bommid.run", "line 4")
c("bom", "encode --queries {W}/texts/bommid.tsv --model hash:64 --out {OUT}", "bommid.tsv", "line 3")

# =====================================================================================================================
# Ragged CSV/TSV, malformed lines
# =====================================================================================================================
for args, *frags in (("encode --corpus {W}/texts/ragged.csv --model hash:64 --out {OUT}", "ragged.csv line 3"),
                   ("encode --queries {W}/texts/ragged.tsv --model hash:64 --out {OUT}", "ragged.tsv line 3"),
                   ("encode --corpus {W}/texts/quote.csv --model hash:64 --out {OUT}", "quote.csv line 2"),
                   ("encode --corpus {W}/texts/onecol.tsv --model hash:64 --out {OUT}", "onecol.tsv line 1"),
                   ("build-index --backend bm25 --corpus {W}/texts/ragged.csv --out {OUT}", "ragged.csv line 3"),
                   ("synth-queries --corpus {W}/texts/ragged.csv --out {OUT}", "ragged.csv line 3"),
                   ("rerank --run {W}/good.run --corpus {W}/texts/ragged.csv --queries {S} --scorer biencoder --model hash:64 --out {RUN}", "ragged.csv line 3"),
                   ("query --index {W}/idx-bm25 --queries {W}/texts/ragged.tsv --out {RUN}", "ragged.tsv line 3"),
                   ("finetune-two-tower --log {W}/logs/ragged.csv --text-model hash:32 --out {OUT}", "ragged.csv line 3"),
                   ("exclude-seen --run {W}/good.run --seen {W}/logs/ragged.csv --out {RUN}", "ragged.csv line 3"),
                   ("eval --qrels {W}/logs/ragged.csv {W}/good.run", "ragged.csv line 3"),
                   (f"{TT} --items {{W}}/texts/ragged.csv --out {{OUT}}", "ragged.csv line 3"),
                   ("eval --qrels {S} {W}/runs/ragged.run", "ragged.run line 4"),
                   ("eval --qrels {S} {W}/runs/five.run", "five.run line 1"),
                   ("fuse {W}/good.run {W}/runs/ragged.run --out {RUN}", "ragged.run line 4"),
                   ("eval --qrels {S} {W}/runs/badscore.run", "badscore.run line 3"),
                   ("eval --qrels {S} {W}/runs/badrank.run", "badrank.run line 3"),
                   ("eval --qrels {S} {W}/runs/msmarco0.run", "msmarco0.run line 1"),
                   ("encode --corpus {W}/texts/bad.json.jsonl --model hash:64 --out {OUT}", "bad.json.jsonl line 6"),
                   ("encode --corpus {W}/texts/array.jsonl --model hash:64 --out {OUT}", "array.jsonl line 6"),
                   ("encode --corpus {W}/texts/noid.jsonl --model hash:64 --out {OUT}", "noid.jsonl line 1", "--id-field"),
                   ("encode --corpus {W}/texts/notext.jsonl --model hash:64 --out {OUT}", "notext.jsonl line 1", "--text-field"),
                   ("encode --corpus {W}/texts/nodocno.trec --model hash:64 --out {OUT}", "nodocno.trec line 1"),
                   ("encode --queries {W}/texts/notopics.trec --model hash:64 --out {OUT}", "notopics.trec line 1"),
                   ("encode --corpus {W}/texts/notes.xyz --model hash:64 --out {OUT}", "notes.xyz"),
                   ("encode --corpus {W}/texts/notbeir --model hash:64 --out {OUT}", "notbeir"),
                   ("encode --corpus {W}/texts/fake.jsonl.gz --model hash:64 --out {OUT}", "fake.jsonl.gz", "gzip"),
                   ("encode --corpus {W}/texts/trunc.jsonl.gz --model hash:64 --out {OUT}", "trunc.jsonl.gz"),
                   ("eval --qrels {S} {W}/runs/fake.run.gz", "fake.run.gz", "gzip"),
                   ("eval --qrels {S} {W}/runs/trunc.run.gz", "trunc.run.gz"),
                   ("eval --qrels {S} {W}/runs/noscore.parquet", "noscore.parquet", "score"),
                   ("eval --qrels {S} {W}/runs/strscore.parquet", "strscore.parquet", "score"),
                   ("eval --qrels {S} {W}/runs/fracrank.parquet", "fracrank.parquet", "rank"),
                   (f"{FT} --train {{W}}/train/badjson.jsonl --out {{OUT}}", "badjson.jsonl line 1"),
                   (f"{FT} --train {{W}}/train/noquery.jsonl --out {{OUT}}", "noquery.jsonl line 1", "query"),
                   ("finetune-cross-encoder --train {W}/train/noquery.jsonl --out {OUT}", "noquery.jsonl line 1"),
                   ("finetune-two-tower --log {W}/logs/nouser.csv --text-model hash:32 --out {OUT}", "nouser.csv", "user"),
                   ("exclude-seen --run {W}/good.run --seen {W}/logs/seen-nouser.csv --out {RUN}", "seen-nouser.csv", "user"),
                   ("sweep --config {W}/configs/notyaml.yaml --embeddings {W}/emb --queries {W}/qemb", "notyaml.yaml"),
                   ("sweep --config {W}/configs/list.yaml --embeddings {W}/emb --queries {W}/qemb", "list.yaml"),
                   ("sweep --config {W}/configs/unknown.yaml --embeddings {W}/emb --queries {W}/qemb", "nosuch"),
                   ("sweep --config {W}/configs/badparam.yaml --embeddings {W}/emb --queries {W}/qemb", "hnsw"),
                   ("sweep --config {W}/configs/badsearch.yaml --embeddings {W}/emb --queries {W}/qemb", "ef")):
    c("malformed", args, *frags)

# =====================================================================================================================
# Qrels layouts and values
# =====================================================================================================================
for qrels, frags in (("five.qrels", ("five.qrels line 1", "5 fields")), ("two.qrels", ("two.qrels line 1",)),
                     ("mixed.qrels", ("mixed.qrels line 2",)), ("badgrade.qrels", ("badgrade.qrels line 2", "high")),
                     ("fracgrade.qrels", ("fracgrade.qrels line 2", "0.5")), ("dup.qrels", ("dup.qrels line 2",)),
                     ("empty.qrels", ("empty.qrels", "empty")), ("headeronly.tsv", ("headeronly.tsv",)),
                     ("unrelated.qrels", ("unrelated.qrels",)), ("norel.parquet", ("norel.parquet", "rel")),
                     ("nanqid.parquet", ("nanqid.parquet row 2",)), ("beir-noqrels", ("beir-noqrels", "qrels/")),
                     ("beir-nosplit", ("beir-nosplit", "train"))):
    c("qrels", f"eval --qrels {{W}}/qrels/{qrels} {{W}}/good.run", *frags, sub=qrels == "five.qrels")
for args in (f"{FUSE2} --optimize --qrels {{W}}/qrels/five.qrels --out {{RUN}}",
             f"{SWEEP} --backend faiss --qrels {{W}}/qrels/five.qrels",
             "finetune --qrels {W}/qrels/five.qrels --queries {S} --corpus {S} --no-eval --out {OUT}",
             "finetune-cross-encoder --qrels {W}/qrels/five.qrels --queries {S} --corpus {S} --out {OUT}",
             f"{CUR_B} --qrels {{W}}/qrels/five.qrels --out {{OUT}}"):
    c("qrels", args, "five.qrels line 1")
c("qrels", f"{SWEEP} --backend faiss --qrels {{W}}/qrels/unrelated.qrels", "unrelated.qrels")

# =====================================================================================================================
# NaN and infinity
# =====================================================================================================================
c("nonfinite", "eval --qrels {S} {W}/runs/nan.run", "nan.run line 4", "NaN", sub=True)
c("nonfinite", "eval --qrels {S} {W}/runs/nan.parquet", "nan.parquet row", "NaN")
for run, frag in (("nan.run", "line 4"), ("inf.run", "line 5"), ("neginf.run", "line 6"), ("nan.parquet", "row"),
                  ("inf.parquet", "row")):
    c("nonfinite", f"fuse {{W}}/good.run {{W}}/runs/{run} --out {{RUN}}", f"{run} {frag}")
for run, frag in (("nan.run", "line 4"), ("inf.run", "line 5"), ("neginf.run", "line 6")):
    c("nonfinite", f"decay --run {{W}}/runs/{run} --corpus {{S}} --decay-field date --out {{RUN}}", f"{run} {frag}")
    c("nonfinite", f"{RERANK} --run {{W}}/runs/{run} --out {{RUN}}", f"{run} {frag}")
c("nonfinite", "exclude-seen --run {W}/runs/inf.run --seen {W}/tt/seen.csv --out {RUN}", "inf.run line 5")
for backend in ("faiss", "hnswlib", "annoy", "milvus"):
    c("nonfinite", f"build-index --embeddings {{W}}/emb-nan --backend {backend} --out {{OUT}}", "emb-nan", "row 7")
    c("nonfinite", f"build-index --embeddings {{W}}/emb-inf --backend {backend} --out {{OUT}}", "emb-inf", "row 11")
c("nonfinite", f"{SWEEP} --backend faiss --embeddings {{W}}/emb-nan", "emb-nan", "row 7")
c("nonfinite", "import-vectors {W}/vectors/nan.npy --out {OUT}", "nan.npy", "row 3")
c("nonfinite", "import-vectors {W}/vectors/inf.npy --out {OUT}", "inf.npy", "row 4")
c("nonfinite", "import-vectors {W}/vectors/nanlist.parquet --out {OUT}", "nanlist.parquet")
c("nonfinite", f"query --index {FLAT} --queries {{W}}/users/nan.npy --out {{RUN}}", "nan.npy", "NaN")

# =====================================================================================================================
# Duplicate ids, float-typed ids
# =====================================================================================================================
for args, frags in (("encode --corpus {W}/texts/dup.jsonl --model hash:64 --out {OUT}", ("dup.jsonl line 5",)),
                    ("encode --queries {W}/texts/dup.tsv --model hash:64 --out {OUT}", ("dup.tsv line 3",)),
                    ("build-index --backend bm25 --corpus {W}/texts/dup.jsonl --out {OUT}", ("dup.jsonl line 5",)),
                    (f"query --index {FLAT} --queries {{W}}/texts/queries-dup.jsonl --out {{RUN}}", ("queries-dup.jsonl line 4",)),
                    ("synth-queries --corpus {W}/texts/dup.jsonl --out {OUT}", ("dup.jsonl line 5",)),
                    ("rerank --run {W}/good.run --corpus {W}/texts/dup.jsonl --queries {S} --scorer biencoder --model hash:64 --out {RUN}", ("dup.jsonl line 5",)),
                    ("eval --qrels {S} {W}/runs/dup.run", ("dup.run line 4",)),
                    ("eval --qrels {S} {W}/runs/dup.parquet", ("dup.parquet row",)),
                    ("fuse {W}/good.run {W}/runs/dup.run --out {RUN}", ("dup.run line 4",)),
                    ("build-index --embeddings {W}/emb-dupids --out {OUT}", ("emb-dupids", "twice")),
                    ("import-vectors {W}/vectors/good.npy --ids {W}/vectors/ids-dup.txt --out {OUT}", ("ids-dup.txt",)),
                    ("import-vectors {W}/vectors/dupid.parquet --out {OUT}", ("dupid.parquet",)),
                    ("anncur index --corpus {W}/texts/dup.jsonl --scorer matrix --scorer-path {W}/matrix --anchor-queries ids:{W}/anchors.txt --biencoder none --out {OUT}", ("dup.jsonl line 5",))):
    c("duplicate-ids", args, *frags)
for args, frags in (("encode --corpus {W}/texts/dupnum.jsonl --model hash:64 --out {OUT}", ("dupnum.jsonl line 3", "'17'")),
                    ("encode --corpus {W}/texts/dupexp.jsonl --model hash:64 --out {OUT}", ("dupexp.jsonl line 2", "'1000'")),
                    ("encode --corpus {W}/texts/dupfloat.parquet --model hash:64 --out {OUT}", ("dupfloat.parquet", "'17'")),
                    ("encode --corpus {W}/texts/nanid.parquet --model hash:64 --out {OUT}", ("nanid.parquet row 2", "empty id")),
                    ("build-index --backend bm25 --corpus {W}/texts/nanid.parquet --out {OUT}", ("nanid.parquet row 2",)),
                    ("eval --qrels {S} {W}/runs/nanqid.parquet", ("nanqid.parquet row 3", "qid")),
                    ("eval --qrels {S} {W}/runs/dupfloat.parquet", ("dupfloat.parquet row",)),
                    ("fuse {W}/good.run {W}/runs/nanqid.parquet --out {RUN}", ("nanqid.parquet row 3",)),
                    ("encode --corpus {W}/texts/nullid.jsonl --model hash:64 --out {OUT}", ("nullid.jsonl line 1", "empty id")),
                    ("encode --corpus {W}/texts/emptyid.jsonl --model hash:64 --out {OUT}", ("emptyid.jsonl line 1", "empty id"))):
    c("float-ids", args, *frags)

# =====================================================================================================================
# Empty inputs
# =====================================================================================================================
for args, frag in (("encode --corpus {W}/texts/empty.jsonl --model hash:64 --out {OUT}", "empty.jsonl"),
                   ("encode --corpus {W}/texts/blank.jsonl --model hash:64 --out {OUT}", "blank.jsonl"),
                   ("build-index --backend bm25 --corpus {W}/texts/empty.jsonl --out {OUT}", "empty.jsonl"),
                   ("synth-queries --corpus {W}/texts/empty.jsonl --out {OUT}", "empty.jsonl"),
                   (f"query --index {FLAT} --queries {{W}}/texts/queries-empty.jsonl --out {{RUN}}", "queries-empty.jsonl"),
                   ("rerank --run {W}/good.run --corpus {W}/texts/empty.jsonl --queries {S} --scorer biencoder --model hash:64 --out {RUN}", "empty.jsonl"),
                   ("eval --qrels {S} {W}/runs/empty.run", "empty.run"),
                   ("eval --qrels {S} {W}/runs/empty.parquet", "empty.parquet"),
                   ("fuse {W}/good.run {W}/runs/empty.run --out {RUN}", "empty.run"),
                   ("decay --run {W}/runs/empty.run --corpus {S} --decay-field date --out {RUN}", "empty.run"),
                   ("exclude-seen --run {W}/runs/empty.run --seen {W}/tt/seen.csv --out {RUN}", "empty.run"),
                   ("exclude-seen --run {W}/good.run --seen {W}/logs/empty.csv --out {RUN}", "empty.csv"),
                   ("exclude-seen --run {W}/good.run --seen {W}/logs/headeronly.csv --out {RUN}", "headeronly.csv"),
                   ("finetune-two-tower --log {W}/logs/empty.csv --text-model hash:32 --out {OUT}", "empty.csv"),
                   ("finetune-two-tower --log {W}/logs/headeronly.csv --text-model hash:32 --out {OUT}", "headeronly.csv"),
                   ("import-vectors {W}/vectors/empty.npy --out {OUT}", "empty.npy"),
                   ("import-vectors {W}/vectors/zero.fvecs --out {OUT}", "zero.fvecs"),
                   (f"{FT} --train {{W}}/train/empty.jsonl --out {{OUT}}", "empty.jsonl"),
                   ("finetune-cross-encoder --train {W}/train/empty.jsonl --out {OUT}", "empty.jsonl"),
                   ("anncur index --corpus {W}/texts/empty.jsonl --scorer matrix --scorer-path {W}/matrix --anchor-queries ids:{W}/anchors.txt --biencoder none --out {OUT}", "empty.jsonl"),
                   ("anncur query --index {W}/cur --queries ids:{W}/texts/empty.jsonl --budget 20 --out {RUN}", "empty.jsonl"),
                   ("eval --qrels {W}/qrels/empty.qrels {W}/good.run -m MAP", "empty.qrels")):
    c("empty-input", args, frag)

# =====================================================================================================================
# Vector files with bad headers or values
# =====================================================================================================================
for src, frag in (("one_d.npy", "one_d.npy"), ("strings.npy", "strings.npy"), ("objects.npy", "objects.npy"),
                  ("trunc.npy", "trunc.npy"), ("garbage.npy", "garbage.npy"), ("trunc.fvecs", "trunc.fvecs"),
                  ("mixed.fvecs", "mixed.fvecs"), ("short.fbin", "short.fbin"), ("tiny.fbin", "tiny.fbin"),
                  ("corrupt.hdf5", "corrupt.hdf5"), ("notrain.hdf5", "train"), ("one_d.hdf5", "one_d.hdf5"),
                  ("nolist.parquet", "nolist.parquet"), ("ragged.parquet", "ragged.parquet")):
    c("vector-file", f"import-vectors {{W}}/vectors/{src} --out {{OUT}}", frag)
c("vector-file", "import-vectors {W}/vectors/good.npy --ids {W}/vectors/ids-short.txt --out {OUT}", "ids-short.txt", "9")
c("vector-file", "sweep --embeddings {W}/vectors/corrupt.hdf5", "corrupt.hdf5")

# =====================================================================================================================
# Numeric options of the commands themselves: 0, negative, too large, not a number
# =====================================================================================================================
R = "{RUN}"
for args, frag, *xfail in (
    ("encode --corpus {S} --model hash:64 --batch-size 0 --out {OUT}", "--batch-size 0"),
    ("encode --corpus {S} --model hash:64 --batch-size -4 --out {OUT}", "--batch-size -4"),
    ("encode --corpus {S} --model hash:64 --block-size 0 --out {OUT}", "--block-size 0"),
    ("encode --corpus {S} --model hash:64 --chunk-tokens 0 --out {OUT}", "--chunk-tokens 0"),
    ("encode --corpus {S} --model hash:64 --chunk-tokens 8 --chunk-overlap 8 --out {OUT}", "--chunk-overlap 8"),
    ("encode --corpus {S} --model hash:64 --chunk-tokens 8 --chunk-overlap -1 --out {OUT}", "--chunk-overlap -1"),
    ("encode --corpus {S} --model hash:64 --threads 0 --out {OUT}", "--threads 0"),
    ("encode --corpus {S} --model hash:64 --shard 2/2 --out {OUT}", "--shard 2/2"),
    ("encode --corpus {S} --model hash:64 --shard x --out {OUT}", "--shard x"),
    ("encode --corpus {S} --model hash:64 --shard 0/500 --out {OUT}", "--shard 0/500"),
    ("encode --corpus {S} --model hash:0 --out {OUT}", "hash:0"),
    ("encode --corpus {S} --model hash:abc --out {OUT}", "hash:abc"),
    ("encode --corpus {S} --model hash:-8 --out {OUT}", "hash:-8"),
    (f"{Q_FLAT} -k 0 --out {R}", "-k 0"),
    (f"query --index {FLAT} --queries {QEMB} -k -5 --out {R}", "-k -5"),
    (f"{FUSE2} --rrf-k -1 --out {R}", "--rrf-k -1"),
    (f"{FUSE2} --rrf-k nan --out {R}", "--rrf-k nan"),
    (f"{FUSE2} --alpha 2 --out {R}", "--alpha 2"),
    (f"{FUSE2} --alpha -0.5 --out {R}", "--alpha -0.5"),
    (f"{FUSE2} --depth 0 --out {R}", "--depth 0"),
    (f"{FUSE2} -k 0 --out {R}", "-k 0"),
    (f"{FUSE2} --weights -1,1 --method weighted --out {R}", "--weights"),
    (f"{FUSE2} --weights 0,0 --method weighted --out {R}", "--weights"),
    (f"{FUSE2} --optimize --qrels {{S}} --grid-steps 0 --out {R}", "--grid-steps 0"),
    (f"{FUSE2} --decay-field date --corpus {{S}} --decay-weight 2 --out {R}", "--decay-weight 2"),
    (f"{DECAY} --decay-weight -0.1 --out {R}", "--decay-weight -0.1"),
    (f"{DECAY} --half-life 0d --out {R}", "--half-life 0d"),
    (f"{DECAY} --half-life -3d --out {R}", "--half-life -3d"),
    (f"{DECAY} --half-life abc --out {R}", "--half-life abc"),
    (f"{DECAY} --half-life 5x --out {R}", "--half-life 5x"),
    (f"{RERANK} --run {{W}}/good.run --depth 0 --out {R}", "--depth 0"),
    (f"{RERANK} --run {{W}}/good.run -k 0 --out {R}", "-k 0"),
    (f"{RERANK} --run {{W}}/good.run -k 20 --depth 10 --out {R}", "-k 20"),
    (f"{RERANK} --run {{W}}/good.run --batch-size 0 --out {R}", "--batch-size 0"),
    ("rerank --run {W}/good.run --corpus {S} --queries {S} --model {W}/emb --max-length 0 --out {RUN}", "--max-length 0"),
    (f"{FT} --train {{W}}/synth.jsonl --corpus {{W}}/small.jsonl --batch-size 0 --out {{OUT}}", "--batch-size"),
    (f"{FT} --train {{W}}/synth.jsonl --corpus {{W}}/small.jsonl --max-steps 0 --out {{OUT}}", "--max-steps 0"),
    (f"{FT} --train {{W}}/synth.jsonl --corpus {{W}}/small.jsonl --epochs 0 --out {{OUT}}", "--epochs"),
    (f"{FT} --train {{W}}/synth.jsonl --corpus {{W}}/small.jsonl --lr -1 --out {{OUT}}", "--lr"),
    (f"{FT} --train {{W}}/synth.jsonl --corpus {{W}}/small.jsonl --warmup 2 --out {{OUT}}", "--warmup"),
    (f"{FT} --train {{W}}/synth.jsonl --corpus {{W}}/small.jsonl --scale 0 --out {{OUT}}", "--scale"),
    (f"{FT} --train {{W}}/synth.jsonl --corpus {{W}}/small.jsonl --max-seq-length 0 --out {{OUT}}", "--max-seq-length 0"),
    (f"{FT_QRELS} --split-queries 2.5 --out {{OUT}}", "--split-queries 2.5"),
    (f"{FT_QRELS} --split-queries 0 --out {{OUT}}", "--split-queries 0"),
    (f"{FT_QRELS} --split-queries 0.7 --dev-queries 5 --eval-every 0 --max-steps 1 --out {{OUT}}", "--eval-every 0"),
    ("synth-queries --corpus {S} --per-doc 0 --out {OUT}", "--per-doc 0"),
    ("synth-queries --corpus {S} --max-words 0 --out {OUT}", "--max-words 0"),
    ("synth-queries --corpus {S} --max-docs 0 --out {OUT}", "--max-docs 0"),
    (f"{CE} --batch-size 0 --out {{OUT}}", "--batch-size"),
    (f"{CE} --max-steps 0 --out {{OUT}}", "--max-steps 0"),
    (f"{CE} --max-length 0 --out {{OUT}}", "--max-length 0"),
    (f"{CE} --epochs -1 --out {{OUT}}", "--epochs"),
    (f"{CE} --fn-threshold 2 --out {{OUT}}", "--fn-threshold 2"),
    (f"{CE} --random-negatives -1 --out {{OUT}}", "--random-negatives"),
    (f"{CE} --max-pairs 0 --out {{OUT}}", "--max-pairs 0"),
    (f"{CE} --mine-range 50:10 --out {{OUT}}", "--mine-range 50:10"),
    (f"{TT} --dim 0 --out {{OUT}}", "--dim 0"),
    (f"{TT} --epochs -1 --out {{OUT}}", "--epochs -1"),
    (f"{TT} --batch-size 0 --out {{OUT}}", "--batch-size 0"),
    (f"{TT} --lr 0 --out {{OUT}}", "--lr 0"),
    (f"{TT} --temperature 0 --out {{OUT}}", "--temperature 0"),
    (f"{TT} --id-dropout 1.5 --out {{OUT}}", "--id-dropout 1.5"),
    (f"{TT} --min-interactions 0 --out {{OUT}}", "--min-interactions 0"),
    (f"{TT} --threads 0 --out {{OUT}}", "--threads 0"),
    (f"{TT} --history -1 --out {{OUT}}", "--history -1"),
    (f"{TT} --hidden -1 --out {{OUT}}", "--hidden -1"),
    (f"{TT} --num-random 0 --loss sampled-softmax --out {{OUT}}", "--num-random 0"),
    (f"{TT} --weight-decay -1 --out {{OUT}}", "--weight-decay -1"),
    (f"{SEEN} -k 0 --out {R}", "-k 0"),
    (f"{BASE} --method popular -k 0 --out {R}", "-k 0"),
    (f"{BASE} --method text --history -1 --text-model hash:32 --out {R}", "--history -1"),
    ("make-interaction-log --users 0 --out {OUT}", "--users 0"),
    ("make-interaction-log --items 0 --out {OUT}", "--items 0"),
    ("make-interaction-log --clusters 0 --out {OUT}", "--clusters 0"),
    ("make-interaction-log --days 0 --out {OUT}", "--days 0"),
    ("make-interaction-log --impressions -1 --out {OUT}", "--impressions -1"),
    ("make-recsys --users 0 --out {OUT}", "--users 0"),
    ("make-recsys --items 0 --out {OUT}", "--items 0"),
    ("make-recsys --dim 0 --out {OUT}", "--dim 0"),
    ("make-recsys --clusters 0 --out {OUT}", "--clusters 0"),
    ("make-recsys --per-user 0 --out {OUT}", "--per-user 0"),
    ("make-recsys --noise -1 --out {OUT}", "--noise"),
    ("make-recsys --temperature 0 --out {OUT}", "--temperature"),
    (f"{CUR_I} --k-i 0 --out {{OUT}}", "--k-i 0"),
    (f"{CUR_I} --k-i 61 --out {{OUT}}", "--k-i 61"),
    (f"{CUR_I} --max-length 0 --out {{OUT}}", "--max-length 0"),
    ("anncur index --corpus {W}/small.jsonl --biencoder none --anchor-queries pseudo:0 --out {OUT}", "pseudo:0"),
    ("anncur index --corpus {W}/small.jsonl --biencoder none --anchor-queries pseudo:x --out {OUT}", "pseudo:x"),
    (f"{CUR_Q} --budget 0 --out {R}", "--budget 0"),
    (f"{CUR_Q} --budget 20 -k 0 --out {R}", "-k 0"),
    (f"{CUR_Q} --budget 20 --rounds 0 --method adacur --out {R}", "--rounds 0"),
    (f"{CUR_Q} --budget 20 --k-i 0 --out {R}", "--k-i 0"),
    (f"{CUR_Q} --budget 5 --out {R}", "--budget 5"),
    (f"{CUR_B} --budgets 0,10 --out {{OUT}}", "--budgets"),
    (f"{CUR_B} -k 0 --out {{OUT}}", "-k"),
    (f"{CUR_B} --anchor-share 2 --out {{OUT}}", "--anchor-share 2"),
    (f"{CUR_B} --rounds 0 --out {{OUT}}", "--rounds 0"),
    (f"{SWEEP} --backend faiss -k 0", "-k 0"),
    (f"{SWEEP} --backend faiss --passes 0", "--passes 0"),
    (f"{SWEEP} --backend faiss --warmup -1", "--warmup"),
    (f"{SWEEP} --backend faiss --target-recall 2", "--target-recall 2"),
    (f"{SWEEP} --backend faiss --threads 0", "--threads 0"),
    (f"{SWEEP} --backend faiss --latency-queries 0", "--latency-queries 0"),
    (f"{SWEEP} --backend faiss --holdout -1", "--holdout"),
    ("sweep --synthetic 10x --passes 1", "10x"),
    ("sweep --synthetic 0x8 --passes 1", "0x8"),
    ("sweep --synthetic 100x8 --synthetic-queries 0 --passes 1", "--synthetic-queries 0"),
    ("sweep --embeddings {W}/emb --holdout 5000 --backend faiss --passes 1", "--holdout 5000"),
):
    c("option-range", args, frag, xfail=xfail[0] if xfail else None)

# =====================================================================================================================
# Names that are not one of the choices
# =====================================================================================================================
for args, frag in (
    ("encode --corpus {S} --model hash:64 --dtype float64 --out {OUT}", "--dtype float64"),
    ("encode --corpus {S} --model hash:64 --backend tensorrt --out {OUT}", "--backend tensorrt"),
    ("encode --corpus {S} --model hash:64 --quantize int4 --backend onnx --out {OUT}", "--quantize int4"),
    ("encode --corpus {S} --model {T}/nomodel --out {OUT}", "nomodel"),
    (f"{BUILD} --backend nosuch --out {{OUT}}", "nosuch"),
    (f"{BUILD} --metric hamming --out {{OUT}}", "--metric hamming"),
    (f"{Q_FLAT} --format xml --out {{RUN}}", "--format xml"),
    ("backends nosuch", "nosuch"),
    (f"{FUSE2} --method bogus --out {{RUN}}", "--method bogus"),
    (f"{FUSE2} --norm bogus --method combsum --out {{RUN}}", "--norm bogus"),
    (f"{FUSE2} --missing bogus --method combsum --out {{RUN}}", "--missing bogus"),
    (f"{RERANK} --run {{W}}/good.run --scorer bogus --out {{RUN}}", "--scorer bogus"),
    ("rerank --run {W}/good.run --corpus {S} --queries {S} --backend bogus --model {W}/emb --out {RUN}", "--backend bogus"),
    (f"{FT} --train {{W}}/synth.jsonl --corpus {{W}}/small.jsonl --loss bogus --out {{OUT}}", "--loss bogus"),
    (f"{FT} --train {{W}}/synth.jsonl --corpus {{W}}/small.jsonl --distill-mode bogus --loss distill --out {{OUT}}", "--distill-mode bogus"),
    (f"{FT} --train {{W}}/synth.jsonl --corpus {{W}}/small.jsonl --teacher-transform bogus --out {{OUT}}", "--teacher-transform bogus"),
    ("synth-queries --corpus {S} --method bogus --out {OUT}", "bogus"),
    (f"{CE} --loss bogus --out {{OUT}}", "--loss bogus"),
    (f"{CE} --architecture bogus --out {{OUT}}", "--architecture bogus"),
    (f"{CE} --teacher-norm bogus --out {{OUT}}", "--teacher-norm bogus"),
    ("import-vectors {W}/vectors/good.npy --role bogus --out {OUT}", "--role bogus"),
    ("import-vectors {W}/vectors/good.npy --metric-hint bogus --out {OUT}", "--metric-hint bogus"),
    ("import-vectors {W}/vectors/good.npy --dtype int8 --out {OUT}", "--dtype int8"),
    (f"{TT} --split bogus --out {{OUT}}", "--split bogus"),
    (f"{TT} --loss bogus --out {{OUT}}", "--loss bogus"),
    (f"{TT} --duplicates bogus --out {{OUT}}", "--duplicates bogus"),
    (f"{TT} --user-col nosuch --out {{OUT}}", "nosuch"),
    (f"{TT} --time-col nosuch --out {{OUT}}", "nosuch"),
    ("finetune-two-tower --log {W}/log/log.csv --items {W}/log/items.csv --item-text title --text-model bogus:model --out {OUT}", "bogus:model"),
    (f"{BASE} --method bogus --out {{RUN}}", "--method bogus"),
    (f"{BASE} --method cooc --cooc-norm bogus --out {{RUN}}", "--cooc-norm bogus"),
    (f"{CUR_I} --scorer bogus --out {{OUT}}", "--scorer bogus"),
    (f"{CUR_Q} --budget 20 --method bogus --out {{RUN}}", "--method bogus"),
    (f"{CUR_B} --baseline bogus --out {{OUT}}", "--baseline bogus"),
    (f"{SWEEP} --backend faiss --pareto-by speed", "--pareto-by speed"),
    (f"{SWEEP} --backend faiss --metric hamming", "--metric hamming"),
    (f"{SWEEP} --backend nosuch", "nosuch"),
    ("eval --qrels {S} {W}/good.run --split dev", "dev"),
):
    c("bad-name", args, frag)

# =====================================================================================================================
# Measures and comma lists
# =====================================================================================================================
for m in ("Bogus@10", "nDCG@abc", "ndcg_cut_x", "''", "P@-1", "nDCG@10.5", "nDCG@0", "Judged@0", "P_0"):
    c("bad-measure", f"eval --qrels {{S}} {{W}}/good.run -m {m}", m.strip("'") or "-m", sub=m in ("Bogus@10", "nDCG@0"))
c("bad-measure", "eval --qrels {S} {W}/good.run -m ndcg_cut.0,10", "nDCG@0", "cutoff 0")
c("bad-measure", f"{FUSE2} --optimize --qrels {{S}} -m Bogus@10 --out {{RUN}}", "Bogus@10")
c("bad-measure", f"{SWEEP} --backend faiss --qrels {{S}} -m Bogus@10", "Bogus@10")
c("bad-measure", f"{SWEEP} --backend faiss -m nDCG@10", "--qrels")
for args, frag in (
    (f"{FUSE2} --weights a,b --method weighted --out {{RUN}}", "--weights a,b"),
    (f"{FUSE2} --weights 1,2,3 --method weighted --out {{RUN}}", "--weights"),
    (f"{FUSE2} --depth 10,x --out {{RUN}}", "--depth 10,x"),
    (f"{FUSE2} --depth 10,20,30 --out {{RUN}}", "--depth"),
    (f"{FUSE2} --optimize --qrels {{S}} --rrf-k-grid a,b --out {{RUN}}", "--rrf-k-grid a,b"),
    (f"{SWEEP} --backend faiss -k 10,abc", "-k 10,abc"),
    (f"{SWEEP} --backend faiss --index-type IVF --nprobe 1,x", "nprobe"),
    (f"{SWEEP} --backend hnswlib --hnsw-m 8,x", "hnsw_m"),
    (f"{SWEEP} --backend faiss --param nlist", "--param"),
    (f"{CUR_B} --budgets 10,x --out {{OUT}}", "--budgets 10,x"),
    (f"{CUR_B} -k 1,abc --out {{OUT}}", "-k 1,abc"),
    (f"{CUR_B} --methods anncur,bogus --out {{OUT}}", "bogus"),
    (f"{FT} --train {{W}}/synth.jsonl --corpus {{W}}/small.jsonl --negatives in-batch,bogus --out {{OUT}}", "bogus"),
    (f"{FT} --train {{W}}/synth.jsonl --corpus {{W}}/small.jsonl --negatives random --negative-ratio random:x --out {{OUT}}", "--negative-ratio"),
    (f"{FT} --train {{W}}/synth.jsonl --corpus {{W}}/small.jsonl --query-mix head:0.5,tail:x --out {{OUT}}", "--query-mix"),
    (f"{FT} --train {{W}}/synth.jsonl --corpus {{W}}/small.jsonl --mine-range 10 --negatives mined --out {{OUT}}", "--mine-range 10"),
    ("synth-queries --corpus {S} --method keyphrases,bogus --out {OUT}", "bogus"),
    (f"{TT} --items {{W}}/log/items.csv --item-text title,nosuch --out {{OUT}}", "nosuch"),
    (f"{TT} --items {{W}}/log/items.csv --item-features nosuch --out {{OUT}}", "nosuch"),
    (f"{TT} --negatives in-batch,bogus --out {{OUT}}", "bogus"),
    (f"{CE} --mine-range a:b --out {{OUT}}", "--mine-range a:b"),
    (f"{BUILD} --param hnsw_m --backend hnswlib --out {{OUT}}", "--param"),
    (f"{Q_FLAT} --param =4 --out {{RUN}}", "--param"),
):
    c("bad-list", args, frag)

# =====================================================================================================================
# Dates and filters
# =====================================================================================================================
for args, *frags in (
    (f"{DECAY} --now 2020-13-45 --out {{RUN}}", "--now", "2020-13-45"),
    (f"{DECAY} --now yesterday --out {{RUN}}", "--now", "yesterday"),
    (f"{DECAY} --now 2020-02-30 --out {{RUN}}", "--now", "2020-02-30"),
    ("decay --run {W}/good.run --corpus {S} --decay-field nosuch --out {RUN}", "nosuch"),
    ("decay --run {W}/good.run --corpus {S} --decay-field lang --out {RUN}", "lang"),
    (f"{FUSE2} --decay-field date --corpus {{S}} --now 2021-99-01 --out {{RUN}}", "--now", "2021-99-01"),
    (f"{FUSE2} --decay-field date --corpus {{S}} --half-life 0 --out {{RUN}}", "--half-life 0"),
    (f"{Q_FLAT} --filter \"date >= '2020-13-01'\" --out {{RUN}}", "2020-13-01"),
    (f"{Q_FLAT} --filter \"year >>= 3\" --out {{RUN}}", "--filter"),
    (f"{Q_FLAT} --filter \"nosuchcol == 1\" --out {{RUN}}", "nosuchcol"),
    (f"{Q_FLAT} --filter \"year == \" --out {{RUN}}", "--filter"),
    (f"{Q_FLAT} --filter \"__import__('os')\" --out {{RUN}}", "--filter"),
    (f"query --index {{W}}/idx-hnswlib-HNSW --queries {QEMB} -k 5 --filter \"lang in ('en'\" --out {{RUN}}", "--filter"),
    ("query --index {W}/idx-bm25 --queries {S} -k 5 --filter \"year > 'abc'\" --out {RUN}", "year"),
    (f"{TT} --split cutoff --cutoff notadate --out {{OUT}}", "--cutoff", "notadate"),
    (f"{TT} --split cutoff --cutoff 2099-01-01 --out {{OUT}}", "--cutoff"),
    (f"{TT} --split cutoff --cutoff 1970-01-01T00:02:00 --until 1970-01-01T00:01:00 --out {{OUT}}", "--until"),
    (f"{TT} --train-since xyz --out {{OUT}}", "--train-since", "xyz"),
    ("finetune-two-tower --log {W}/logs/badtime.csv --text-model hash:32 --min-interactions 1 --out {OUT}", "badtime.csv line 6"),
):
    c("bad-date", args, *frags)

# =====================================================================================================================
# Options that do not apply here, options that conflict
# =====================================================================================================================
for args, frag in (
    ("encode --corpus {S} --model hash:64 --quantize int8 --out {OUT}", "--quantize"),
    ("encode --corpus {S} --model hash:64 --chunk-overlap 4 --out {OUT}", "--chunk-overlap"),
    (f"{Q_FLAT} --model hash:64 --out {{RUN}}", "--model"),
    ("eval --qrels {S} {W}/good.run --per-query {T}/pq.csv", "--per-query"),
    ("fuse {W}/good.run {W}/bm25.run {W}/good.parquet --alpha 0.5 --out {RUN}", "--alpha"),
    (f"{FUSE2} --qrels {{S}} --out {{RUN}}", "--qrels"),
    (f"{FUSE2} --corpus {{S}} --out {{RUN}}", "--decay-field"),
    (f"{FUSE2} --optimize --out {{RUN}}", "--qrels"),
    ("fuse {W}/good.run --out {RUN}", "two"),
    (f"{SWEEP} --backend faiss --qrels {{S}} --holdout 5", "--qrels"),
    ("sweep --synthetic 100x8 --queries {W}/qemb --passes 1", "--synthetic"),
    (f"sweep --index {FLAT} --queries {QEMB} --backend faiss", "--index"),
    (f"sweep --index {FLAT} --queries {QEMB} --metric l2", "--metric l2"),
    (f"{SWEEP} --backend faiss --resume", "--resume"),
    ("sweep --embeddings {W}/vectors/notrain.hdf5 --queries {W}/qemb", "notrain.hdf5"),
    (f"{SWEEP} --hnsw-m 8", "--backend"),
    ("import-vectors {W}/vectors/good.npy --dataset train --out {OUT}", "--dataset"),
    ("import-vectors {W}/vectors/good.npy --vector-column vec --out {OUT}", "--vector-column"),
    (f"{FT} --train {{W}}/synth.jsonl --corpus {{W}}/small.jsonl --eval-every 5 --out {{OUT}}", "--eval-every"),
    (f"{FT} --train {{W}}/synth.jsonl --corpus {{W}}/small.jsonl --loss distill --out {{OUT}}", "--teacher-run"),
    (f"{CE} --loss listwise --out {{OUT}}", "--teacher-run"),
    (f"{TT} --cutoff 2020-01-01 --out {{OUT}}", "--cutoff"),
    (f"{TT} --until 2020-01-01 --out {{OUT}}", "--until"),
    (f"{TT} --item-text title --out {{OUT}}", "--item-text"),
    (f"{TT} --user-features age --out {{OUT}}", "--user-features"),
    (f"{BASE} --method popular --text-model hash:32 --out {{RUN}}", "--text-model"),
    (f"{CUR_Q} --budget 20 --method rerank --out {{RUN}}", "bi-encoder"),
    (f"{CUR_B} --queries ids:{{W}}/anchors.txt --out {{OUT}}", "anchor"),
):
    c("not-applicable", args, frag)
for args, frag, *xfail in (
    ("encode --corpus {S} --queries {S} --model hash:64 --out {OUT}", "--corpus"),
    ("encode --model hash:64 --out {OUT}", "--corpus"),
    ("build-index --embeddings {W}/emb --corpus {S} --out {OUT}", "--corpus"),
    ("build-index --out {OUT}", "--embeddings"),
    (f"{FUSE2} --alpha 0.3 --weights 1,2 --out {{RUN}}", "--alpha"),
    (f"{FUSE2} --optimize --qrels {{S}} --weights 1,2 --out {{RUN}}", "--optimize"),
    (f"sweep --embeddings {EMB} --index {FLAT} --queries {QEMB}", "--index"),
    ("sweep --passes 1", "--embeddings"),
    (f"{SWEEP} --config {{ROOT}}/configs/sweep_default.yaml --backend faiss", "--config"),
    (f"{BUILD} --backend faiss --nlist 8 --param nlist=8 --index-type IVF --out {{OUT}}", "--nlist"),
    (f"{BUILD} --backend faiss --index-type Flat --factory IVF8,Flat --out {{OUT}}", "--index-type Flat"),
    (f"{BUILD} --backend hnswlib --param hnsw-m=8 --hnsw-m 8 --out {{OUT}}", "--hnsw-m"),
    (f"{Q_FLAT} --param nprobe=4 --out {{RUN}}", "--nprobe"),
    (f"query --index {{W}}/idx-hnswlib-HNSW --queries {QEMB} --param hnsw_m=8 --out {{RUN}}", "--hnsw-m"),
    (f"{BUILD} --backend hnswlib --param ef_search=8 --out {{OUT}}", "--ef-search"),
    (f"{BUILD} --backend hnswlib --param bogus=1 --out {{OUT}}", "--bogus"),
    (f"{TT} --items {{W}}/log/items.csv --item-text title --text-model none --out {{OUT}}", "--text-model"),
    ("import-vectors {W}/vectors/good.npy --ids {W}/vectors/ids-short.txt --id-column id --out {OUT}", "--id-column"),
):
    c("conflict", args, frag, xfail=xfail[0] if xfail else None)

# =====================================================================================================================
# Outputs: cannot be written, already there
# =====================================================================================================================
WRITERS = {  # command → (args before --out, output name in {T})
    "encode": ("encode --corpus {W}/small.jsonl --model hash:64", "out"),
    "merge": ("merge {W}/sh0 {W}/sh1", "out"),
    "build-index": ("build-index --embeddings {W}/emb", "out"),
    "query": (f"query --index {FLAT} --queries {QEMB} -k 5", "out.run"),
    "demo": ("demo --model hash:64", "out"),
    "sweep": (f"{SWEEP} --backend faiss", "out"),
    "fuse": (FUSE2, "out.run"),
    "decay": (DECAY, "out.run"),
    "rerank": (f"{RERANK} --run {{W}}/good.run --depth 5 -k 5", "out.run"),
    "synth-queries": ("synth-queries --corpus {W}/small.jsonl", "out.jsonl"),
    "import-vectors": ("import-vectors {W}/vectors/good.npy", "out"),
    "exclude-seen": ("exclude-seen --run {W}/good.run --seen {W}/tt/seen.csv -k 5 --allow-short", "out.run"),
    "recsys-baseline": (f"{BASE} --method popular -k 5", "out.run"),
    "make-interaction-log": ("make-interaction-log --users 10 --items 10", "out"),
    "make-recsys": ("make-recsys --users 10 --items 20 --dim 4 --clusters 2", "out"),
    "anncur index": (f"{CUR_I} --k-i 5", "out"),
    "anncur query": (f"{CUR_Q} --budget 20", "out.run"),
    "anncur bench": (f"{CUR_B} --budgets 20", "out"),
    "finetune": (f"{FT} --train {{W}}/synth.jsonl --corpus {{W}}/small.jsonl --max-steps 1", "out"),
    "finetune-cross-encoder": ("finetune-cross-encoder --model {W}/tiny-ce --train {W}/synth.jsonl --corpus {W}/small.jsonl "
                               "--random-negatives 1 --max-steps 1", "out"),
    "finetune-two-tower": (TT, "out"),
}
for cmd, (args, name) in WRITERS.items():
    c("unwritable", f"{args} --out {{T}}/blocker/{name}", "blocker", "is a file", pre="file:blocker", sub=cmd == "query")
    c("exists", f"{args} --out {{T}}/{name}", f"{name}", "already exists", pre=f"{'file' if '.' in name else 'dir'}:{name}",
      sub=cmd == "encode")
    c("unwritable", f"{args} --out /proc/vecrecall-catalogue-{name}", "/proc/vecrecall-catalogue", name=f"unwritable:{cmd}:/proc")
    c("unwritable", f"{args} --out {{T}}/ro/{name}", "ro", "not writable", pre="ro:ro", name=f"unwritable:{cmd}:read-only dir")
for cmd in ("encode", "build-index", "demo", "make-recsys", "import-vectors", "anncur index"):
    args, name = WRITERS[cmd]
    c("exists", f"{args} --out {{T}}/{name} --overwrite", f"{name}", "did not write", pre=f"dir:{name}")
for cmd in ("query", "fuse", "synth-queries"):
    args, name = WRITERS[cmd]
    c("exists", f"{args} --out {{T}}/{name} --overwrite", f"{name}", "directory", pre=f"dir:{name}")
for cmd in ("encode", "build-index", "make-interaction-log"):
    args, name = WRITERS[cmd]
    c("exists", f"{args} --out {{T}}/{name}.txt --overwrite", f"{name}.txt", "file", pre=f"file:{name}.txt")
c("exists", "eval --qrels {S} {W}/good.run --per-query {T}/pq.parquet", "pq.parquet", "already exists", pre="file:pq.parquet")
c("exists", "anncur bench --index {W}/cur --queries ids:{W}/test_ids.txt --baseline none --budgets 20", "cur-bench",
  "already exists", name="exists:anncur bench default --out beside the index (cur-bench made by the world)")


# =====================================================================================================================
# Backend parameters, derived from the backend tables
# =====================================================================================================================

def _bad_values(p: Any) -> list[tuple[str, str]]:
    """(value, what is wrong) for a numeric parameter: 0, negative, above its range, not a number, fractional."""
    out: list[tuple[str, str]] = []
    if p.low is not None and p.low > 0:
        out.append(("0", "zero"))
    if p.low is not None and p.low >= 0:
        out.append(("-1" if p.type is int else "-0.5", "negative"))
    if p.high is not None:
        out.append((str(int(p.high) + 1) if p.type is int else f"{p.high + 1:g}", "too large"))
    out.append(("abc", "not a number"))
    if p.type is int:
        out.append(("2.5", "fractional"))
    else:
        out.append(("nan", "NaN"))
    return out


def _valid(p: Any) -> str:
    if p.choices:
        return p.choices[-1]
    if p.type is str:
        return "x"
    if isinstance(p.default, (int, float)) and not isinstance(p.default, bool):
        return str(p.default)
    return str(int(p.low) if p.low is not None and p.low > 0 else 1)


NATIVE_CRASHERS = {("hnswlib", "hnsw_m", "0"), ("annoy", "n_trees", "0"), ("faiss", "hnsw_m", "0"),
                   ("faiss", "nlist", "0"), ("faiss", "pq_bits", "0"), ("annoy", "search_k", "0"),
                   ("hnswlib", "ef_search", "0"), ("faiss", "nprobe", "0")}


def _sweep_own_options() -> set[str]:
    import inspect

    from vecrecall.cli.sweep import sweep

    return set(inspect.signature(sweep).parameters)


def _backend_cases() -> None:
    from vecrecall.indexes.base import specs

    from .world import index_types_needed

    all_specs = specs()
    needed = index_types_needed()
    for spec in all_specs.values():
        src = "--corpus {S}" if spec.input == "text" else f"--embeddings {EMB}"
        queries = "{S}" if spec.input == "text" else QEMB
        build = f"build-index {src} --backend {spec.name}"
        for p in spec.all_params:
            t = p.types[0] if p.types else None
            typed = f" --index-type {t}" if t and spec.index_types else ""
            if p.type in (int, float):
                for value, what in _bad_values(p):
                    crash = (spec.name, p.name, value) in NATIVE_CRASHERS
                    if p.kind == "build":
                        c("backend-param", f"{build}{typed} {p.option} {value} --out {{OUT}}", f"{p.option} {value}",
                          spec.name, sub=crash, name=f"backend-param:{spec.name}{typed} build {p.option} {value} ({what})")
                    else:
                        idx = index_name(spec.name, t if t in needed[spec.name] else needed[spec.name][0])
                        c("backend-param", f"query --index {{W}}/{idx} --queries {queries} -k 5 {p.option} {value} "
                          "--out {RUN}", f"{p.option} {value}", sub=crash,
                          name=f"backend-param:{spec.name}{typed} search {p.option} {value} ({what})")
            elif p.choices:
                c("backend-param", f"{build} {p.option} bogus --out {{OUT}}", f"{p.option} bogus", spec.name,
                  name=f"backend-param:{spec.name} {p.option} bogus (not a choice)")
            elif p.kind == "build":
                c("backend-param", f"{build}{typed} {p.option} '' --out {{OUT}}", p.option,
                  name=f"backend-param:{spec.name} {p.option} '' (empty)")
            # the same parameter where it does not apply: another index type of the same backend
            if p.types and spec.index_types and p.name != "index_type":
                other = next((x for x in spec.index_types if x not in p.types), None)
                if other is not None and p.kind == "build":
                    c("not-applicable", f"{build} --index-type {other} {p.option} {_valid(p)} --out {{OUT}}", other,
                      name=f"not-applicable:{spec.name} --index-type {other} {p.option}")
                elif other is not None and other in needed[spec.name]:
                    c("not-applicable", f"query --index {{W}}/{index_name(spec.name, other)} --queries {queries} -k 5 "
                      f"{p.option} {_valid(p)} --out {{RUN}}", p.option,
                      name=f"not-applicable:{spec.name} {other} index, search {p.option}")
        # parameters of other backends that this one does not have at all
        own = {p.name for p in spec.all_params}
        foreign: dict[str, Any] = {}
        for other in all_specs.values():
            for p in other.all_params:
                if p.name not in own and p.name not in foreign:
                    foreign[p.name] = p
        for name, p in foreign.items():
            if p.kind == "build":
                c("not-applicable", f"{build} {p.option} {_valid(p)} --out {{OUT}}", p.option, spec.name,
                  name=f"not-applicable:{spec.name} build {p.option} (another backend's)")
            else:
                idx = index_name(spec.name, needed[spec.name][0])
                c("not-applicable", f"query --index {{W}}/{idx} --queries {queries} -k 5 {p.option} {_valid(p)} "
                  "--out {RUN}", p.option, name=f"not-applicable:{spec.name} search {p.option} (another backend's)")
        # sweep takes every parameter as a comma list: the first bad value of each numeric parameter
        if spec.input == "vectors":
            for p in spec.all_params:
                if p.type in (int, float) and p.name not in _sweep_own_options():
                    t = p.types[0] if p.types else None
                    typed = f" --index-type {t}" if t and spec.index_types else ""
                    value, what = _bad_values(p)[0]
                    c("backend-param", f"{SWEEP} --backend {spec.name}{typed} {p.option} 8,{value}",
                      f"{p.option} || {typed.split()[-1] if typed else p.option}", name=f"backend-param:sweep {spec.name}{typed} {p.option} 8,{value} ({what})")


_backend_cases()

# Cross-parameter rules and data-dependent ranges (the tables' rules, known to the backends)
c("backend-param", f"{BUILD} --backend faiss --index-type IVF --nlist 2001 --out {{OUT}}", "--nlist 2001")
c("backend-param", f"{BUILD} --backend faiss --index-type IVFPQ --nlist 8 --pq-m 7 --out {{OUT}}", "--pq-m 7")
c("backend-param", f"{BUILD} --backend faiss --index-type IVF --nlist 8 --train-size 4 --out {{OUT}}", "--train-size 4")
c("backend-param", f"{BUILD} --backend faiss --index-type factory --factory NotAnIndex --out {{OUT}}", "NotAnIndex")
c("backend-param", f"{BUILD} --backend faiss --index-type factory --factory IVF4096,Flat --out {{OUT}}", "IVF4096")
c("backend-param", f"{BUILD} --backend faiss --index-type factory --factory PQ7 --out {{OUT}}", "PQ7")
c("backend-param", f"{BUILD} --backend milvus --index-type IVF_FLAT --nlist 2001 --out {{OUT}}", "--nlist 2001")
c("backend-param", f"{BUILD} --backend milvus --index-type IVF_PQ --nlist 8 --pq-m 7 --out {{OUT}}", "--pq-m 7")
c("backend-param", f"{BUILD} --backend milvus --milvus-uri bogus://nowhere --out {{OUT}}", "--milvus-uri")
c("backend-param", f"{BUILD} --backend milvus --collection 'bad name!' --out {{OUT}}", "--collection")
c("backend-param", "build-index --corpus {S} --backend bm25 --stemmer klingon --out {OUT}", "--stemmer klingon")
c("backend-param", "build-index --corpus {S} --backend bm25 --stopwords xx --out {OUT}", "--stopwords xx")
c("backend-param", "build-index --corpus {S} --backend bm25 --engine rank-bm25 --method bm25l --k1 -1 --out {OUT}", "--k1 -1")
c("backend-param", f"{BUILD} --backend nosuch --hnsw-m 8 --out {{OUT}}", "nosuch")
