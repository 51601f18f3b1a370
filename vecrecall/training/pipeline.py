"""The finetune stage end to end: inputs → split → pairs → query mix → negatives → train → model directory
(+ manifest, split files) → stock vs finetuned on the held-out queries."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..artifacts import Manifest, atomic_dir, check_out, input_entry, sha256_path, write_dir_manifest
from ..errors import UserError
from . import negatives as neg
from .data import Corpus, Pair, QuerySplit, data_fingerprint, load_corpus, load_jsonl_pairs, pairs_from_qrels, positives_by_qid, split_queries
from .losses import DISTILL_MODES, LossSettings, get_loss
from .phases import Phases
from .querymix import MixRow, apply_mix, parse_mix
from .trainer import TrainResult, TrainSettings, build_tables, configure_torch, train

TEACHER_TRANSFORMS = ("none", "sigmoid", "minmax")


@dataclass
class FinetuneOptions:
    out: Path
    model: str = "default"
    train: Path | None = None
    qrels: Path | None = None
    queries: Path | None = None
    corpus: Path | None = None
    qrels_split: str = "test"
    split_queries: float | None = None
    dev_queries: int = 0
    loss: str = "mnrl"
    loss_settings: LossSettings = field(default_factory=LossSettings)
    item_frequency: Path | None = None
    negatives: str = "in-batch"
    negative_ratio: str = "1"
    mine_from: Path | None = None
    mine_range: str = "10:100"
    mine_margin: float | None = None
    core_terms: int = 1
    teacher_run: Path | None = None
    teacher_depth: int = 20
    teacher_transform: str = "none"
    query_mix: str | None = None
    mix_size: int | None = None
    train_settings: TrainSettings = field(default_factory=TrainSettings)
    eval_corpus_size: int = 2000
    baseline_run: Path | None = None
    eval_k: int = 1000
    no_eval: bool = False
    overwrite: bool = False
    fields: Any = None


@dataclass
class FinetuneResult:
    out: Path
    manifest: Manifest
    counts: dict[str, int]
    mix: list[MixRow] | None
    result: TrainResult
    comparison: Any = None
    notes: list[str] = field(default_factory=list)
    phases: Phases = field(default_factory=Phases)


def _model_path(spec: str) -> tuple[Path, str]:
    from ..encoders import DEFAULT_MODEL, DEFAULT_MODEL_NAME, default_model_path, model_spec_key

    key = model_spec_key(spec)
    if key == DEFAULT_MODEL:
        return default_model_path(), DEFAULT_MODEL_NAME
    if key.startswith("hash:"):
        raise UserError(f"--model {spec}: the hash encoder has no weights to train; finetune 'default' or a "
                        "sentence-transformers model directory")
    if not Path(key).is_dir():
        raise UserError(f"--model {spec}: no such local model directory (vecrecall never downloads models)")
    return Path(key), spec


def _validate(o: FinetuneOptions) -> None:
    check_out(o.out, o.overwrite, inputs=(o.train, o.qrels, o.queries, o.corpus, o.item_frequency, o.mine_from,
                                          o.teacher_run))
    get_loss(o.loss)
    _check_ranges(o)
    s = o.loss_settings
    if s.distill_mode not in DISTILL_MODES:
        raise UserError(f"--distill-mode {s.distill_mode}: choose {' or '.join(DISTILL_MODES)}")
    if o.teacher_transform not in TEACHER_TRANSFORMS:
        raise UserError(f"--teacher-transform {o.teacher_transform}: choose from {', '.join(TEACHER_TRANSFORMS)}")
    if s.logq and o.loss != "mnrl":
        raise UserError(f"--logq-correction applies to --loss mnrl (in-batch softmax), not --loss {o.loss}")
    if o.train is None and o.qrels is None:
        raise UserError("no training data: pass --train pairs.jsonl, or --qrels with --queries and --corpus")
    if o.qrels is not None and (o.queries is None or o.corpus is None):
        raise UserError("--qrels needs --queries and --corpus to turn judgements into training pairs")
    if o.split_queries is not None and o.qrels is None:
        raise UserError("--split-queries splits judged queries: pass --qrels, --queries and --corpus")
    if o.dev_queries and o.split_queries is None:
        raise UserError("--dev-queries takes queries from the training side of --split-queries; pass --split-queries")
    if o.train_settings.eval_every is not None and not o.dev_queries:
        raise UserError("--eval-every needs dev queries: pass --dev-queries N (taken from the training queries)")
    if o.teacher_run is not None and o.loss != "distill":
        raise UserError("--teacher-run is used by --loss distill; pass --loss distill or drop --teacher-run")
    for name, value in (("--scale", s.scale), ("--gamma", s.gamma)):
        if not (value > 0 and math.isfinite(value)):
            raise UserError(f"{name} {value:g}: must be > 0")
    for p, opt in ((o.train, "--train"), (o.qrels, "--qrels"), (o.queries, "--queries"), (o.corpus, "--corpus"),
                   (o.teacher_run, "--teacher-run"), (o.item_frequency, "--item-frequency"), (o.mine_from, "--mine-from"),
                   (o.baseline_run, "--baseline-run")):
        if p is not None and not Path(p).exists():
            raise UserError(f"{opt} {p}: no such file or directory")


def _check_ranges(o: FinetuneOptions) -> None:
    """Every numeric option in its range, each refused by name (0 must not silently mean "the default")."""
    ts = o.train_settings
    whole = [("--batch-size", ts.batch_size, 2, "in-batch negatives and the batch sampler need two rows"),
             ("--max-steps", ts.max_steps, 1, "leave it out to let --epochs decide"),
             ("--eval-every", ts.eval_every, 1, "leave it out to skip the dev evaluation"),
             ("--max-seq-length", ts.max_seq_length, 1, "leave it out to train at the model's own limit"),
             ("--threads", ts.threads, 1, "leave it out to use one per core"),
             ("--dev-queries", o.dev_queries, 0, None), ("--eval-corpus-size", o.eval_corpus_size, 1, None),
             ("--eval-k", o.eval_k, 1, None), ("--core-terms", o.core_terms, 1, None),
             ("--teacher-depth", o.teacher_depth, 1, None), ("--mix-size", o.mix_size, 1, "leave it out to draw as "
                                                                                           "many queries as there are")]
    for name, value, low, hint in whole:
        if value is not None and value < low:
            raise UserError(f"{name} {value}: must be ≥ {low}" + (f" ({hint})" if hint else ""))
    if not (ts.epochs > 0 and math.isfinite(ts.epochs)):
        raise UserError(f"--epochs {ts.epochs:g}: must be > 0 (a fraction trains on part of the rows)")
    if not (ts.lr > 0 and math.isfinite(ts.lr)):
        raise UserError(f"--lr {ts.lr:g}: must be > 0")
    if not 0 <= ts.warmup < 1:
        raise UserError(f"--warmup {ts.warmup:g}: must be a share of the steps in [0, 1)")
    if o.loss == "distill" and o.loss_settings.distill_mode == "margin-mse" and o.teacher_depth < 2:
        raise UserError(f"--teacher-depth {o.teacher_depth}: margin-mse pairs rank i with i + depth/2; use ≥ 2")


# ---------------------------------------------------------------------------------------------------------------
# teacher labels
# ---------------------------------------------------------------------------------------------------------------


def teacher_scores(run: pd.DataFrame, transform: str, where: str) -> pd.DataFrame:
    """Teacher scores mapped to [0, 1] by `transform`; anything left outside [0, 1] is refused."""
    run = run.copy()
    if transform == "sigmoid":
        run["score"] = 1 / (1 + np.exp(-run["score"].to_numpy(dtype=float)))
    elif transform == "minmax":
        g = run.groupby("qid")["score"]
        lo, hi = g.transform("min"), g.transform("max")
        span = hi - lo
        run["score"] = ((run["score"] - lo) / span.where(span > 0, 1.0)).where(span > 0, 0.5)  # constant: no preference
    lo, hi = float(run["score"].min()), float(run["score"].max())
    if lo < 0 or hi > 1:
        raise UserError(f"{where}: teacher scores range over [{lo:.4g}, {hi:.4g}], outside [0, 1]; rescale them, e.g. "
                        "--teacher-transform sigmoid for cross-encoder logits or --teacher-transform minmax (per query)")
    return run


def teacher_examples(run: pd.DataFrame, queries: dict[str, str], corpus: Corpus, depth: int, mode: str) -> list[neg.Example]:
    """(q, d, y) from the teacher's top `depth` documents per training query; margin-mse pairs rank i with i + depth/2."""
    from ..io.runs import rank_run

    out = []
    ranked = rank_run(run[run["qid"].isin(queries)][["qid", "docid", "score"]].copy())
    for qid, g in ranked.groupby("qid", sort=True):
        g = g[g["docid"].isin(corpus.by_id)].head(depth)
        docs, ys = g["docid"].tolist(), g["score"].tolist()
        if mode == "bce":
            out += [neg.Example("teacher", queries[qid], corpus.by_id[d], label=float(y)) for d, y in zip(docs, ys)]
        else:
            h = len(docs) // 2
            out += [neg.Example("teacher", queries[qid], corpus.by_id[docs[i]], queries[qid], corpus.by_id[docs[i + h]],
                                label=float(ys[i] - ys[i + h])) for i in range(h)]
    return out


# ---------------------------------------------------------------------------------------------------------------
# logQ
# ---------------------------------------------------------------------------------------------------------------


def item_log_probs(pairs: list[Pair], frequency_file: Path | None) -> tuple[dict[str, float], float, str]:
    """ln p_j per document id (from --item-frequency, or counted from the training positives) and the floor used for
    documents without a count (the smallest observed probability)."""
    if frequency_file is not None:
        f = Path(frequency_file)
        suffix = f.suffix.lower()
        try:
            df = (pd.read_parquet(f) if suffix == ".parquet" else pd.read_json(f, lines=True) if suffix == ".jsonl"
                  else pd.read_csv(f, sep="\t" if suffix == ".tsv" else ","))
        except Exception as exc:  # pandas raises many types
            raise UserError(f"--item-frequency {f}: cannot read ({exc}); use Parquet/CSV/TSV/JSONL with columns docid, frequency") from None
        df = df.rename(columns={"doc_id": "docid", "id": "docid", "_id": "docid", "count": "frequency", "clicks": "frequency"})
        if not {"docid", "frequency"} <= set(df.columns):
            raise UserError(f"--item-frequency {f}: needs columns docid and frequency (found {', '.join(map(str, df.columns))})")
        freq = pd.to_numeric(df["frequency"], errors="coerce")
        if freq.isna().any() or (freq <= 0).any():
            i = int(np.argmax(freq.isna().to_numpy() | (freq <= 0).to_numpy()))
            raise UserError(f"--item-frequency {f} row {i + 1}: frequency must be a positive number")
        counts = dict(zip(df["docid"].astype(str), freq.astype(float)))
        source = f"--item-frequency {f.name}"
    else:
        ids = [p.pos_id for p in pairs]
        if any(i is None for i in ids):
            raise UserError("--logq-correction needs item frequencies: pass --item-frequency FILE (columns docid, "
                            "frequency), or give positives as document ids (qrels, or positive_id with --corpus) so they "
                            "can be counted")
        counts = dict(Counter(ids))  # type: ignore[arg-type]
        source = "counted from training positives"
    total = sum(counts.values())
    logp = {d: math.log(c / total) for d, c in counts.items()}
    return logp, min(logp.values()), source


# ---------------------------------------------------------------------------------------------------------------
# the stage
# ---------------------------------------------------------------------------------------------------------------


def _inputs(o: FinetuneOptions) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("train", "qrels", "queries", "corpus", "teacher_run", "item_frequency", "mine_from", "baseline_run"):
        p = getattr(o, name)
        if p is not None:
            out[name] = input_entry(Path(p).resolve(), digest=sha256_path(p) if Path(p).is_file() else None)
    return out


def run_finetune(o: FinetuneOptions) -> FinetuneResult:
    """Run the whole finetune stage; nothing is written at `o.out` unless every step succeeds."""
    from ..io.qrels import read_qrels
    from ..io.runs import read_run
    from ..io.texts import load_texts
    from ..progress import console

    _validate(o)
    ph = Phases()
    ph.begin("setup")
    threads = configure_torch(o.train_settings.threads)  # before anything else imports torch
    base_path, base_name = _model_path(o.model)
    _check_seq_length(base_path, o.train_settings.max_seq_length)
    from ..fingerprint import fingerprint_fields, model_fingerprints

    base_fp = fingerprint_fields(*model_fingerprints(base_path))
    if o.baseline_run is not None:
        _check_baseline(o.baseline_run, base_fp)
    notes: list[str] = []
    s = o.loss_settings
    seed = o.train_settings.seed
    rng = np.random.default_rng(seed)

    ph.begin("read inputs")
    corpus = load_corpus(o.corpus, o.fields) if o.corpus is not None else None
    pairs: list[Pair] = load_jsonl_pairs(o.train, corpus) if o.train is not None else []
    split: QuerySplit | None = None
    qrels = queries = None
    known: dict[str, set[str]] = {}
    if o.qrels is not None:
        qrels = read_qrels(o.qrels, o.qrels_split)
        qt = load_texts(o.queries, "queries", o.fields)
        queries = dict(zip(qt["id"].astype(str), qt["text"].astype(str)))
        known = positives_by_qid(qrels)
        judged = sorted(set(qrels.loc[qrels["rel"] > 0, "qid"]))
        if o.split_queries is not None:
            split = split_queries(judged, o.split_queries, o.dev_queries, seed)
            train_qids = split.train
        elif o.train is None:
            train_qids = judged
        else:  # --train plus qrels: the qrels queries not in the training file are held out
            seen = {p.query for p in pairs}
            heldout = [q for q in judged if queries.get(q) not in seen]
            split = QuerySplit(seed, [], [], heldout)
            train_qids = []
        assert corpus is not None
        pairs += pairs_from_qrels(qrels, queries, corpus, train_qids, str(o.qrels))

    ph.begin("negatives")
    examples: list[neg.Example] = []
    counts: dict[str, int] = {}
    if o.loss == "distill":
        if o.teacher_run is not None:
            if queries is None or corpus is None:
                raise UserError("--teacher-run needs --qrels, --queries and --corpus (the teacher's query and document ids)")
            run = teacher_scores(read_run(o.teacher_run), o.teacher_transform, str(o.teacher_run))
            train_q = {q: queries[q] for q in dict.fromkeys(p.qid for p in pairs if p.qid in queries)}
            examples = teacher_examples(run, train_q, corpus, o.teacher_depth, s.distill_mode)
        else:
            labelled = [p for p in pairs if p.score is not None]
            if not labelled:
                raise UserError("--loss distill needs teacher labels: a 'score' field in --train rows, or --teacher-run")
            bad = [p for p in labelled if not 0 <= p.score <= 1]  # type: ignore[operator]
            if bad:
                raise UserError(f"--train: teacher score {bad[0].score} (query {bad[0].query[:40]!r}) is outside [0, 1]; "
                                "rescale the scores, e.g. σ(logit) for cross-encoder logits or min-max per query")
            examples = [neg.Example("teacher", p.query, p.positive, label=float(p.score)) for p in labelled]  # type: ignore[arg-type]
        counts["teacher"] = len(examples)
        if o.negatives != "in-batch" or o.query_mix:
            notes.append("--negatives and --query-mix do not apply to --loss distill (the teacher supplies the scored pairs)")
        mix_rows = None
    else:
        mix_rows = None
        if o.query_mix:
            if not pairs:
                raise UserError("the training set is empty; nothing to mix")
            pairs, mix_rows = apply_mix(pairs, parse_mix(o.query_mix), seed, o.mix_size)
        if not pairs:
            raise UserError("the training set is empty after filtering (no relevant judgements for the training queries "
                            "and no --train rows)")
        kinds = neg.parse_kinds(o.negatives)
        ratio = neg.parse_ratio(o.negative_ratio, kinds)
        if o.loss in ("mnrl", "contrastive") and ("in-batch" in kinds or o.loss == "contrastive" or kinds == []):
            examples += [neg.Example("pair", p.query, p.positive, pos_id=p.pos_id) for p in pairs]
            counts["positive pairs"] = len(pairs)
        if "in-batch" in kinds and o.loss != "mnrl":
            got = neg.in_batch_negatives(pairs, ratio["in-batch"], rng)
            examples += got
            counts["in-batch"] = len(got)
        if "random" in kinds:
            got = neg.random_negatives(pairs, corpus, known, ratio["random"], rng)
            examples += got
            counts["random"] = len(got)
        if "mined" in kinds:
            with ph.span("mine"):
                got, starved = _mine(o, pairs, corpus, known, ratio["mined"], rng, base_path)
            examples += got
            counts["mined"] = len(got)
            if starved:
                notes.append(f"mined: {starved} pairs had no candidate in --mine-range after skipping positives")
        if "core-deletion" in kinds:
            texts = corpus.texts if corpus is not None else list(dict.fromkeys(p.positive for p in pairs))
            idf, unseen = neg.idf_table(texts)
            got, skipped = neg.core_deletion_negatives(pairs, idf, unseen, o.core_terms)
            examples += got
            counts["core-deletion"] = len(got)
            if skipped:
                notes.append(f"core-deletion: {skipped} one-term queries skipped (nothing left after deletion)")
        given = neg.given_negatives(pairs)
        if given:
            examples += given
            counts["given"] = len(given)
    if not examples:
        raise UserError(f"the training set is empty after filtering (--loss {o.loss}, --negatives {o.negatives}; in-batch "
                        "negatives need at least 2 distinct queries); check the inputs and --negatives")

    log_p = None
    logq_source = None
    if s.logq:
        logp, floor, logq_source = item_log_probs(pairs, o.item_frequency)
        log_p = lambda e: logp.get(e.pos_id, floor)  # noqa: E731
    tables = build_tables(examples, o.loss, s, log_p)
    _print_counts(console, counts, {k: len(next(iter(v.values()))) for k, v in tables.items()}, mix_rows, notes)

    ph.begin("load model")
    from sentence_transformers import SentenceTransformer

    from .trainer import _offline

    _offline()
    model = SentenceTransformer(str(base_path), device=None if _cuda() else "cpu")
    dev_eval = None
    if o.train_settings.eval_every and split is not None and split.dev and qrels is not None and corpus is not None:
        from .heldout import DevEval

        dq = {q: queries[q] for q in split.dev}  # type: ignore[index]
        dev_eval = DevEval(dq, qrels[qrels["qid"].isin(split.dev)], corpus, o.eval_corpus_size, seed)

    with atomic_dir(o.out, o.overwrite) as tmp:
        ph.begin("train")
        result = train(model, tables, o.loss, s, o.train_settings, dev_eval)
        ph.begin("save")
        model.save(str(tmp), create_model_card=False)
        max_seq_length = int(model.max_seq_length)
        del model  # the held-out runs load the saved directory, as `vecrecall encode --model` will
        comparison = None
        split_files = {}
        if split is not None and qrels is not None:
            from .heldout import compare, write_qrels, write_queries

            (tmp / "split.json").write_text(__import__("json").dumps(split.to_dict(), indent=1) + "\n")
            hq = {q: queries[q] for q in split.heldout}  # type: ignore[index]
            hqrels = qrels[qrels["qid"].isin(split.heldout)]
            write_queries(tmp / "heldout.queries.jsonl", hq)
            write_qrels(tmp / "heldout.qrels.tsv", hqrels)
            split_files = {"split": "split.json", "heldout_queries": "heldout.queries.jsonl", "heldout_qrels": "heldout.qrels.tsv"}
            ph.end()
            if not o.no_eval and split.heldout:
                baseline = read_run(o.baseline_run) if o.baseline_run is not None else None
                comparison = compare(o.model, tmp, o.corpus, tmp / "heldout.queries.jsonl", hqrels, o.eval_k,  # type: ignore[arg-type]
                                     baseline, o.fields, span=ph.span)
        ph.end()
        manifest = Manifest(
            type="model",
            params={
                "base_model": {"name": base_name, "path": str(base_path), **base_fp},
                "loss": o.loss, "loss_settings": asdict(s), "logq_frequencies": logq_source,
                "negatives": o.negatives, "negative_ratio": o.negative_ratio, "mine_range": o.mine_range,
                "mine_margin": o.mine_margin, "core_terms": o.core_terms, "query_mix": o.query_mix,
                "teacher_depth": o.teacher_depth if o.teacher_run else None,
                "teacher_transform": o.teacher_transform if o.teacher_run else None,
                "train": asdict(o.train_settings), "seed": seed,
                "split": None if split is None else {"fraction": o.split_queries, **split.to_dict()["counts"], **split_files},
                "max_seq_length": max_seq_length, "train_max_seq_length": o.train_settings.max_seq_length,
                "threads": threads, "train_forward": "length-bucketed",
            },
            inputs=_inputs(o),
            stats={
                "data_fingerprint": data_fingerprint(pairs), "pairs": len(pairs), "rows": counts,
                "datasets": {k: len(next(iter(v.values()))) for k, v in tables.items()},
                "mix": [asdict(r) for r in mix_rows] if mix_rows else None,
                "steps": result.steps, "seconds": round(result.seconds, 1),
                "final_loss": result.losses[-1][1] if result.losses else None,
                "dev_ndcg10": result.dev or None,
                "heldout": comparison.to_dict() if comparison else None,
                "phases": ph.to_dict(), "peak_rss_mb": max(ph.peak_mb.values()),
            },
        )
        write_dir_manifest(tmp, manifest)
    return FinetuneResult(Path(o.out), manifest, counts, mix_rows, result, comparison, notes, ph)


def _check_seq_length(base_path: Path, length: int | None) -> None:
    """Refuse a --max-seq-length beyond the transformer's position embeddings (config.json beside modules.json)."""
    import json

    try:
        positions = json.loads((base_path / "config.json").read_text()).get("max_position_embeddings")
    except (OSError, ValueError, AttributeError):
        return
    if length and isinstance(positions, int) and length > positions:
        raise UserError(f"--max-seq-length {length}: the model has position embeddings for {positions} tokens; "
                        f"use ≤ {positions}")


def _check_baseline(path: Path, base_fp: dict[str, Any]) -> None:
    """Refuse a --baseline-run whose recorded lineage shows another model than the base model (`base_fp`: its
    fingerprint fields, vecrecall.fingerprint.fingerprint_fields)."""
    from ..fingerprint import same_model
    from ..io.runs import run_manifest

    m = run_manifest(path)
    if m is None:
        return
    for _, anc in m.lineage():
        model = anc.params.get("model") if isinstance(anc.params.get("model"), dict) else {}
        fp = model.get("fingerprint")
        if anc.type == "embeddings" and fp and not same_model(model, base_fp):
            raise UserError(f"--baseline-run {path}: made with model '{model.get('name')}' (fingerprint {fp}), not "
                            f"the base model being finetuned ({base_fp['fingerprint']}); drop --baseline-run "
                            "to encode the stock model, or pass a run of the base model")


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _mine(o: FinetuneOptions, pairs: list[Pair], corpus: Corpus | None, known: dict[str, set[str]], n: int,
          rng: np.random.Generator, base_path: Path) -> tuple[list[neg.Example], int]:
    """Mined negatives from --mine-from (a run file or an index directory) or from the base model itself."""
    from ..io.runs import read_run

    if corpus is None:
        raise UserError("--negatives mined needs --corpus (the documents the candidates come from)")
    lo, hi = neg.parse_range(o.mine_range)
    # queries without ids (JSONL rows) get one by text so the search can key on them
    ids: dict[str, str] = {}
    for p in pairs:
        if p.qid is None:
            p.qid = ids.setdefault(p.query, f"train-{len(ids)}")
    qtexts = {p.qid: p.query for p in pairs}  # type: ignore[misc]
    src = o.mine_from
    if src is not None and Path(src).is_file():
        cands = neg.candidates_from_run(read_run(src))
        if not set(qtexts) & set(cands):
            raise UserError(f"--mine-from {src}: the run has none of the training query ids; mine from an index instead")
    elif src is not None:
        cands = neg.candidates_from_index(src, qtexts, hi)
    else:
        cands = neg.candidates_from_model(o.model, o.corpus, qtexts, hi, o.fields)  # type: ignore[arg-type]
    return neg.mined_negatives(pairs, cands, corpus, known, n, (lo, hi), o.mine_margin, rng)


def _print_counts(console: Any, counts: dict[str, int], datasets: dict[str, int], mix: list[MixRow] | None,
                  notes: list[str]) -> None:
    from rich.table import Table

    if mix:
        t = Table(title="query mix (realised)")
        for c in ("bucket", "available", "target", "queries", "share", "pairs"):
            t.add_column(c, justify="right" if c != "bucket" else "left")
        for r in mix:
            t.add_row(r.bucket, str(r.available), f"{r.target:.2f}", str(r.queries), f"{r.share:.2f}", str(r.pairs))
        console.print(t)
    t = Table(title="training rows")
    t.add_column("kind")
    t.add_column("rows", justify="right")
    for k, v in counts.items():
        t.add_row(k, f"{v:,}")
    t.add_row("[dim]datasets[/]", "[dim]" + ", ".join(f"{k} {v:,}" for k, v in datasets.items()) + "[/]")
    console.print(t)
    for n in notes:
        console.print(f"[yellow]note[/]: {n}")
