"""Train a cross-encoder reranker offline: a sentence-transformers CrossEncoder on (query, document, label) pairs.

Backbone: any local transformer checkpoint (default: the bundled all-MiniLM-L6-v2 weights); its pooling head is
dropped and a fresh one-logit classification head is initialised from `seed`.

Training rows come from
* judged queries (`qrels` + `queries` + `corpus`, optionally a seeded `split_queries`): every relevant judgement is a
  positive (label 1), every judged non-relevant document a negative (label 0);
* JSONL files (`train`): labelled rows `query`, `document` | `docid`, `label`, or positive-only rows such as
  `synth-queries` writes (`query`, `positive` | `positive_id`; label 1) — the cold start with no real queries;
* hard negatives (label 0) mined from retrievers (`mine_from`: run files or index directories, e.g. BM25 and the
  bi-encoder) in a rank window, skipping known positives and, as a false-negative filter, any candidate scoring at
  least `fn_threshold` × the query's best positive score in that retriever (TopK-PercPos, Moreira et al. 2024,
  "NV-Retriever"); plus optional uniformly random negatives.

Losses: `bce` (binary cross-entropy on the labels), and distillation from a teacher run (any run, e.g. a BM25 +
bi-encoder fusion from `vecrecall fuse`): `listwise` (ListNet, Cao et al. 2007: cross-entropy between the softmax of
the teacher's normalised scores and of the model's logits over the teacher's top documents) and `margin-mse`
(Hofstätter et al. 2020: MSE between model and teacher score margins of document pairs).

`architecture="emb-ce"` trains [EMB]-CE instead (Yadav et al. 2022): the same BCE rows, scored as the dot product of
the query and item marker tokens' final states — the score the ANNCUR paper recommends for CUR (a lower-rank score
matrix); the output is then a plain transformer checkpoint for `anncur --scorer emb-ce --scorer-path`.

The output is a normal CrossEncoder directory (so `rerank --model`, `anncur --scorer cross-encoder` and, through a
rerank run, `finetune --loss distill --teacher-run` take it unchanged) with `manifest.json` (lineage) and, with a
query split, `split.json`, `heldout.queries.jsonl`, `heldout.qrels.tsv`.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..artifacts import Manifest, atomic_dir, check_out, input_entry, sha256_path, write_dir_manifest
from ..errors import UserError
from .data import QUERY_KEYS, Corpus, QuerySplit, load_corpus, split_queries

LOSSES = ("bce", "listwise", "margin-mse")
ARCHITECTURES = ("cross-encoder", "emb-ce")
TEACHER_NORMS = ("zscore", "minmax", "none")
DOC_TEXT_KEYS = ("document", "passage", "text", "positive", "pos")
DOC_ID_KEYS = ("docid", "doc_id", "document_id", "positive_id", "pos_id")
POSITIVE_KEYS = ("positive", "pos", "positive_id", "pos_id")
LABEL_KEYS = ("label", "score", "relevance")


@dataclass
class LabelledPair:
    """One training pair: label 1 relevant, 0 not (BCE labels may lie anywhere in [0, 1])."""

    qid: str
    query: str
    doc: str
    label: float
    docid: str | None = None
    kind: str = "given"


@dataclass
class CrossEncoderOptions:
    """Everything `finetune-cross-encoder` was asked to do (recorded in the model's manifest)."""

    out: Path
    model: str = "default"
    train: list[Path] = field(default_factory=list)
    qrels: Path | None = None
    queries: Path | None = None
    corpus: Path | None = None
    qrels_split: str = "test"
    split_queries: float | None = None
    loss: str = "bce"
    architecture: str = "cross-encoder"
    mine_from: list[Path] = field(default_factory=list)
    mine_range: tuple[int, int] = (5, 100)
    negatives_per_positive: int = 1
    random_negatives: int = 0
    fn_threshold: float = 0.95
    teacher_run: Path | None = None
    teacher_depth: int = 30
    teacher_norm: str = "zscore"
    max_pairs: int | None = None
    max_length: int = 256
    epochs: float = 1.0
    max_steps: int | None = None
    batch_size: int = 16
    lr: float = 2e-5
    head_lr: float | None = None
    warmup: float = 0.1
    seed: int = 0
    overwrite: bool = False
    fields: Any = None


@dataclass
class CrossEncoderResult:
    out: Path
    manifest: Manifest
    counts: dict[str, int]
    truncated: int
    pairs_total: int
    steps: int
    seconds: float
    final_loss: float | None
    notes: list[str] = field(default_factory=list)

    @property
    def truncated_share(self) -> float:
        return self.truncated / self.pairs_total if self.pairs_total else 0.0


# ---------------------------------------------------------------------------------------------------------------
# backbone
# ---------------------------------------------------------------------------------------------------------------


def backbone(spec: str) -> tuple[Path, str, dict[str, Any]]:
    """(checkpoint directory, name, fingerprint fields as vecrecall.fingerprint.fingerprint_fields) of `--model`:
    'default' (bundled MiniLM) or a local transformer directory (a Hugging Face checkpoint or a sentence-transformers
    model). Raises UserError for anything else."""
    from ..crossencoder import checkpoint_config, transformer_dir
    from ..encoders import DEFAULT_MODEL, DEFAULT_MODEL_NAME, default_model_path, model_spec_key
    from ..fingerprint import fingerprint_fields, model_fingerprints

    key = model_spec_key(spec)
    if key.startswith("hash:"):
        raise UserError(f"--model {spec}: the hash encoder has no transformer to train; give 'default' or a local "
                        "transformer directory")
    path, name = (default_model_path(), DEFAULT_MODEL_NAME) if key == DEFAULT_MODEL else (Path(key), spec)
    ckpt = transformer_dir(path, "--model")
    checkpoint_config(ckpt, "--model")
    return ckpt, name, fingerprint_fields(*model_fingerprints(ckpt))


# ---------------------------------------------------------------------------------------------------------------
# JSONL pairs
# ---------------------------------------------------------------------------------------------------------------


def _first(row: dict[str, Any], keys: tuple[str, ...]) -> tuple[str | None, Any]:
    for k in keys:
        if k in row and row[k] is not None and str(row[k]).strip() != "":
            return k, row[k]
    return None, None


def load_pair_file(path: Path, corpus: Corpus | None, bce: bool, qids: dict[str, str]) -> list[LabelledPair]:
    """Pairs from JSONL, each bad row refused by line number. `qids` maps query text → id for rows without `qid`
    (shared across files, so one query keeps one id)."""
    from ..io.texts import iter_json_objects

    if not path.is_file():
        raise UserError(f"--train {path}: no such file")
    out: list[LabelledPair] = []
    for lineno, row in iter_json_objects(path):
        where = f"{path} line {lineno}"
        _, query = _first(row, QUERY_KEYS)
        if query is None:
            raise UserError(f"{where}: no query (looked for {', '.join(QUERY_KEYS)}); every row needs a query, a "
                            "document and a label (or a positive)")
        id_key, docid = _first(row, DOC_ID_KEYS)
        _, text = _first(row, DOC_TEXT_KEYS)
        if docid is not None and corpus is not None:
            docid = str(docid)
            if docid not in corpus:
                raise UserError(f"{where}: document '{docid}' is not in the corpus; fix the id or the --corpus")
            text = corpus.by_id[docid]
        elif docid is not None and text is None:
            raise UserError(f"{where}: '{id_key}' {docid!r} is a document id; pass --corpus so it can be resolved, or "
                            "give the text as 'document'")
        if text is None:
            raise UserError(f"{where}: no document (looked for {', '.join(DOC_TEXT_KEYS + DOC_ID_KEYS)}); every row "
                            "needs a query, a document and a label (or a positive)")
        label_key, label = _first(row, LABEL_KEYS)
        if label is None:
            if not any(row.get(k) not in (None, "") for k in POSITIVE_KEYS):
                raise UserError(f"{where}: no label (looked for {', '.join(LABEL_KEYS)}); give a label in [0, 1], or "
                                "name the document 'positive' / 'positive_id' for a relevant pair")
            label = 1.0
        try:
            y = float(label)
        except (TypeError, ValueError):
            raise UserError(f"{where}: '{label_key}' must be a number, got {label!r}") from None
        if not math.isfinite(y) or (bce and not 0 <= y <= 1):
            raise UserError(f"{where}: label {label!r} is outside [0, 1]; --loss bce needs labels in [0, 1] "
                            "(1 relevant, 0 not); rescale graded labels, e.g. grade / max grade")
        q = str(query)
        qid = str(row["qid"]) if row.get("qid") not in (None, "") else qids.setdefault(q, f"train-{len(qids)}")
        out.append(LabelledPair(qid, q, str(text), y, None if docid is None else str(docid), "given"))
        for neg in row.get("negatives") or ([row["negative"]] if row.get("negative") else []):
            neg_text = corpus.by_id[str(neg)] if corpus is not None and str(neg) in corpus else str(neg)
            out.append(LabelledPair(qid, q, neg_text, 0.0, str(neg) if corpus is not None and str(neg) in corpus else None,
                                    "given"))
    if not out:
        raise UserError(f"--train {path}: no rows; the file is empty")
    return out


def qrels_pairs(qrels: pd.DataFrame, queries: dict[str, str], corpus: Corpus, qids: list[str], where: str) -> list[LabelledPair]:
    """Judged pairs of the given queries: relevant (rel > 0) → label 1, judged non-relevant → label 0."""
    wanted = set(qids)
    out = []
    for qid, docid, rel in qrels[["qid", "docid", "rel"]].itertuples(index=False):
        if qid not in wanted:
            continue
        if qid not in queries:
            raise UserError(f"{where}: query '{qid}' is judged but has no text in --queries; pass the matching queries file")
        if docid not in corpus:
            raise UserError(f"{where}: document '{docid}' (query '{qid}') is not in the corpus; pass the matching --corpus")
        out.append(LabelledPair(qid, queries[qid], corpus.by_id[docid], 1.0 if rel > 0 else 0.0, docid,
                                "qrels positive" if rel > 0 else "qrels negative"))
    return out


# ---------------------------------------------------------------------------------------------------------------
# hard negatives
# ---------------------------------------------------------------------------------------------------------------


def candidates(source: Path, queries: dict[str, str], depth: int) -> dict[str, list[tuple[str, float]]]:
    """Ranked (docid, score) candidates per query id from a run file or by searching an index directory."""
    from ..io.runs import read_run
    from . import negatives as neg

    if source.is_file():
        cands = neg.candidates_from_run(read_run(source))
        if not set(cands) & set(queries):
            raise UserError(f"--mine-from {source}: the run has none of the {len(queries)} training query ids; make "
                            "it from the training queries, or pass an index directory to search")
        return cands
    return neg.candidates_from_index(source, queries, depth)


def mine_negatives(pairs: list[LabelledPair], sources: list[tuple[str, dict[str, list[tuple[str, float]]]]],
                   corpus: Corpus, window: tuple[int, int], per_positive: int, fn_threshold: float,
                   rng: np.random.Generator) -> tuple[list[LabelledPair], dict[str, int]]:
    """Per query and source: candidates ranked in `window` (1-based, inclusive) that are not known positives and
    score below `fn_threshold` × the query's best positive score in that source (when a positive is among its
    candidates and scores > 0; `fn_threshold` 0 turns the filter off); `per_positive` × positives of them are drawn
    without replacement, never the same document twice for a query. Returns the negatives and counts."""
    lo, hi = window
    positives: dict[str, set[str]] = {}
    pos_texts: dict[str, set[str]] = {}
    texts: dict[str, str] = {}
    for p in pairs:
        texts.setdefault(p.qid, p.query)
        if p.label >= 0.5:
            pos_texts.setdefault(p.qid, set()).add(p.doc)
            if p.docid is not None:
                positives.setdefault(p.qid, set()).add(p.docid)
    taken: dict[str, set[str]] = {q: {p.docid for p in pairs if p.qid == q and p.docid} for q in texts}
    out: list[LabelledPair] = []
    stats = {"filtered_false_negatives": 0, "queries_without_negatives": 0}
    for qid in sorted(pos_texts):
        want = per_positive * len(pos_texts[qid])
        got_any = False
        for name, cands in sources:
            ranked = cands.get(qid, [])
            known = positives.get(qid, set())
            pos_scores = [s for d, s in ranked if d in known]
            limit = fn_threshold * max(pos_scores) if fn_threshold > 0 and pos_scores and max(pos_scores) > 0 else None
            pool = []
            for d, s in ranked[lo - 1 : hi]:
                if d in known or d in taken[qid] or d not in corpus or corpus.by_id[d] in pos_texts[qid]:
                    continue
                if limit is not None and s >= limit:
                    stats["filtered_false_negatives"] += 1
                    continue
                pool.append(d)
            for j in rng.permutation(len(pool))[:want]:
                d = pool[int(j)]
                taken[qid].add(d)
                out.append(LabelledPair(qid, texts[qid], corpus.by_id[d], 0.0, d, f"mined ({name})"))
                got_any = True
        if not got_any:
            stats["queries_without_negatives"] += 1
    return out, stats


def random_negatives(pairs: list[LabelledPair], corpus: Corpus, per_positive: int,
                     rng: np.random.Generator) -> list[LabelledPair]:
    """`per_positive` uniformly drawn corpus documents per positive pair that are not positives of its query."""
    known: dict[str, set[str]] = {}
    for p in pairs:
        if p.label >= 0.5:
            known.setdefault(p.qid, set()).update({p.docid or "", p.doc})
    out = []
    for p in pairs:
        if p.label < 0.5:
            continue
        got = 0
        for _ in range(20 * per_positive):
            j = int(rng.integers(len(corpus)))
            if corpus.ids[j] in known[p.qid] or corpus.texts[j] in known[p.qid]:
                continue
            out.append(LabelledPair(p.qid, p.query, corpus.texts[j], 0.0, corpus.ids[j], "random"))
            got += 1
            if got == per_positive:
                break
    return out


# ---------------------------------------------------------------------------------------------------------------
# teacher
# ---------------------------------------------------------------------------------------------------------------


def normalise(scores: np.ndarray, how: str) -> np.ndarray:
    """Per-query teacher scores → `zscore` (mean 0, sd 1), `minmax` ([0, 1]) or `none`; constant lists → 0."""
    s = np.asarray(scores, dtype=np.float64)
    if how == "none" or len(s) == 0:
        return s
    if how == "zscore":
        sd = s.std()
        return (s - s.mean()) / sd if sd > 0 else np.zeros_like(s)
    span = s.max() - s.min()
    return (s - s.min()) / span if span > 0 else np.zeros_like(s)


def teacher_lists(run: pd.DataFrame, queries: dict[str, str], corpus: Corpus, depth: int, norm: str,
                  where: str) -> dict[str, tuple[list[str], np.ndarray]]:
    """Each covered training query's teacher top-`depth` documents (in the corpus) and normalised teacher scores."""
    from ..io.runs import rank_run

    covered = sorted(set(run["qid"]) & set(queries))
    if not covered:
        first = sorted(queries)[0] if queries else "-"
        raise UserError(f"{where}: the teacher run covers none of the {len(queries)} training queries (e.g. '{first}'); "
                        "make the teacher run from the training queries (query + fuse), with the same query ids")
    ranked = rank_run(run[run["qid"].isin(covered)][["qid", "docid", "score"]].copy())
    out = {}
    for qid, g in ranked.groupby("qid", sort=True):
        g = g[g["docid"].isin(corpus.by_id)].head(depth)
        if len(g) >= 2:
            out[qid] = (g["docid"].tolist(), normalise(g["score"].to_numpy(), norm))
    if not out:
        raise UserError(f"{where}: no training query has two or more teacher documents in the corpus; check the "
                        "run's document ids against --corpus")
    return out


# ---------------------------------------------------------------------------------------------------------------
# tables, truncation, training
# ---------------------------------------------------------------------------------------------------------------


def build_table(loss: str, pairs: list[LabelledPair], teacher: dict[str, tuple[list[str], np.ndarray]] | None,
                queries: dict[str, str], corpus: Corpus | None) -> dict[str, list[Any]]:
    """Dataset columns for the loss: bce (query, document, label); listwise (query, docs, labels);
    margin-mse (query, positive, negative, label = teacher margin) pairing rank i with rank i + n/2."""
    if loss == "bce":
        return {"query": [p.query for p in pairs], "document": [p.doc for p in pairs], "label": [p.label for p in pairs]}
    assert teacher is not None and corpus is not None
    if loss == "listwise":
        qids = sorted(teacher)
        return {"query": [queries[q] for q in qids],
                "docs": [[corpus.by_id[d] for d in teacher[q][0]] for q in qids],
                "labels": [teacher[q][1].tolist() for q in qids]}
    table: dict[str, list[Any]] = {"query": [], "positive": [], "negative": [], "label": []}
    for q in sorted(teacher):
        docs, ys = teacher[q]
        h = len(docs) // 2
        for i in range(h):
            table["query"].append(queries[q])
            table["positive"].append(corpus.by_id[docs[i]])
            table["negative"].append(corpus.by_id[docs[i + h]])
            table["label"].append(float(ys[i] - ys[i + h]))
    return table


def table_pairs(table: dict[str, list[Any]]) -> list[tuple[str, str]]:
    """Every (query, document) pair the model will see in `table`."""
    if "document" in table:
        return list(zip(table["query"], table["document"]))
    if "docs" in table:
        return [(q, d) for q, docs in zip(table["query"], table["docs"]) for d in docs]
    return [(q, d) for q, a, b in zip(table["query"], table["positive"], table["negative"]) for d in (a, b)]


def count_truncated(tokenizer: Any, pairs: list[tuple[str, str]], max_length: int, block: int = 512) -> int:
    """How many (query, document) pairs exceed `max_length` tokens with special tokens (and so get cut)."""
    n = 0
    for start in range(0, len(pairs), block):
        part = pairs[start : start + block]
        enc = tokenizer([q for q, _ in part], [d for _, d in part], truncation=False, add_special_tokens=True)
        n += sum(len(ids) > max_length for ids in enc["input_ids"])
    return n


def data_fingerprint(table: dict[str, list[Any]]) -> str:
    h = hashlib.sha256()
    h.update(json.dumps(table, ensure_ascii=False, sort_keys=True).encode())
    return h.hexdigest()[:16]


def _offline() -> None:
    import os

    from ..encoders import offline_hf

    offline_hf()
    for var in ("HF_DATASETS_OFFLINE", "TOKENIZERS_PARALLELISM", "TQDM_DISABLE"):
        os.environ.setdefault(var, "1" if var != "TOKENIZERS_PARALLELISM" else "false")


def new_cross_encoder(ckpt: Path, max_length: int, seed: int) -> Any:
    """A CrossEncoder on the checkpoint with a fresh one-logit head drawn from `seed` (the backbone's own head, if it
    has one, is replaced too, so the same seed always gives the same start)."""
    _offline()
    import logging

    from sentence_transformers import CrossEncoder
    from transformers import set_seed
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    logging.getLogger("sentence_transformers").setLevel(logging.ERROR)
    set_seed(seed)
    try:
        model = CrossEncoder(str(ckpt), num_labels=1, max_length=max_length, device="cpu",
                             model_kwargs={"ignore_mismatched_sizes": True})
    except Exception as exc:  # many library error types for a directory that is not a model
        raise UserError(f"--model {ckpt}: cannot build a cross-encoder on it ({type(exc).__name__}: {exc})") from exc
    positions = getattr(model.model.config, "max_position_embeddings", None)
    if isinstance(positions, int) and max_length > positions:  # longer pairs would crash inside the embeddings
        raise UserError(f"--max-length {max_length}: the backbone {ckpt} has {positions} positions; "
                        f"pass --max-length {positions} or less")
    head = getattr(model.model, "classifier", None)
    if head is None:
        head = getattr(model.model, "score", None)
    if head is not None:  # re-draw the head from the seed as transformers initialises it: N(0, initializer_range), bias 0
        import torch

        std = float(getattr(model.model.config, "initializer_range", 0.02) or 0.02)
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for m in head.modules():
                if isinstance(m, torch.nn.Linear):
                    m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * std)
                    if m.bias is not None:
                        m.bias.zero_()
    return model


def row_lengths(table: dict[str, list[Any]]) -> list[int]:
    """Characters per training row (query + every text it holds): the length key of length-grouped batching."""
    text_cols = [c for c in ("query", "document", "positive", "negative") if c in table]
    n = len(table["query"])
    out = [sum(len(table[c][i]) for c in text_cols) for i in range(n)]
    if "docs" in table:
        out = [a + max((len(d) for d in docs), default=0) for a, docs in zip(out, table["docs"])]
    return out


def length_grouped_batches(lengths: list[int], batch_size: int, seed: int, epoch: int = 0,
                           drop_last: bool = False, group: int = 50) -> list[list[int]]:
    """One epoch of batches whose rows have similar lengths, so little of each batch is padding.

    The rows are shuffled (seeded by `seed` and `epoch`), cut into mega-batches of `group` × `batch_size` rows, each
    mega-batch is sorted by length and cut into batches, and the batch order is shuffled again — the scheme of
    transformers' `LengthGroupedSampler` (mega-batches of 50 batches), with the batch order randomised too so that
    length does not drift with the step. Every row appears exactly once per epoch."""
    rng = np.random.default_rng([seed, epoch])
    perm = rng.permutation(len(lengths))
    mega = group * batch_size
    batches: list[list[int]] = []
    for start in range(0, len(perm), mega):
        chunk = sorted(perm[start : start + mega].tolist(), key=lambda i: (-lengths[i], i))
        batches += [chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size)]
    if drop_last:
        batches = [b for b in batches if len(b) == batch_size]
    return [batches[int(i)] for i in rng.permutation(len(batches))]


HEAD_PATTERN = r"(^|\.)(classifier|pooler|score)\."


def head_parameters(model: Any) -> list[str]:
    """Names of the parameters `--head-lr` applies to: the classification head and (BERT) the pooler in front of it —
    both untrained when the backbone is a bi-encoder."""
    import re

    return [n for n, _ in model.named_parameters() if re.search(HEAD_PATTERN, n)]


@dataclass
class TrainStats:
    steps: int
    seconds: float
    losses: list[float]


def train(model: Any, table: dict[str, list[Any]], loss: str, o: CrossEncoderOptions) -> TrainStats:
    """Train `model` in place with sentence-transformers' CrossEncoderTrainer (seeded; one rich progress bar)."""
    _offline()
    import os
    import tempfile

    from datasets import Dataset
    from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments, losses
    from transformers import PrinterCallback, ProgressCallback, TrainerCallback

    from ..progress import console, progress

    log_lines = not console.is_terminal and not os.environ.get("VECRECALL_QUIET")
    loss_fn = {"bce": losses.BinaryCrossEntropyLoss, "listwise": losses.ListNetLoss,
               "margin-mse": losses.MarginMSELoss}[loss](model)
    n = len(next(iter(table.values())))
    per_epoch = math.ceil(n / o.batch_size)
    total = o.max_steps if o.max_steps else math.ceil(per_epoch * o.epochs)
    seen: list[float] = []
    lengths = row_lengths(table)
    from sentence_transformers.base.sampler import DefaultBatchSampler

    class LengthGrouped(DefaultBatchSampler):  # the trainer calls set_epoch before each pass
        def __iter__(self):  # noqa: ANN204
            yield from length_grouped_batches(lengths, self.batch_size, o.seed, self.epoch, self.drop_last)

        def __len__(self) -> int:
            return len(lengths) // self.batch_size if self.drop_last else math.ceil(len(lengths) / self.batch_size)

    lr_mapping = {}
    if o.head_lr is not None and o.head_lr != o.lr:
        if not head_parameters(model):
            raise UserError(f"--head-lr: the model has no classification head or pooler parameters "
                            f"(looked for {HEAD_PATTERN}); drop --head-lr")
        lr_mapping = {HEAD_PATTERN: o.head_lr}
    with tempfile.TemporaryDirectory(prefix="vecrecall-ce-train-") as scratch, \
            progress("train cross-encoder", total, "steps") as advance:

        class Bar(TrainerCallback):
            def on_step_end(self, args, state, control, **kw):  # noqa: ANN001
                advance(1)

            def on_log(self, args, state, control, logs=None, **kw):  # noqa: ANN001
                if logs and "loss" in logs:
                    seen.append(float(logs["loss"]))
                    step = state.global_step
                    if log_lines and (step == total or step % max(1, total // 10) == 0):
                        console.print(f"train step {step}/{total} loss {seen[-1]:.4f}")  # where no live bar shows

        args = CrossEncoderTrainingArguments(
            output_dir=scratch, num_train_epochs=o.epochs, max_steps=o.max_steps or -1,
            per_device_train_batch_size=o.batch_size, learning_rate=o.lr, warmup_steps=o.warmup, seed=o.seed,
            data_seed=o.seed, save_strategy="no", report_to="none", logging_steps=1, disable_tqdm=True,
            use_cpu=True, dataloader_num_workers=0, batch_sampler=LengthGrouped, learning_rate_mapping=lr_mapping)
        trainer = CrossEncoderTrainer(model=model, args=args, train_dataset=Dataset.from_dict(table), loss=loss_fn,
                                      callbacks=[Bar()])
        for unwanted in (PrinterCallback, ProgressCallback):
            trainer.remove_callback(unwanted)
        t0 = time.perf_counter()
        out = trainer.train()
        seconds = time.perf_counter() - t0
    if any(not math.isfinite(v) for v in seen):
        raise UserError("training diverged (loss became NaN/inf); lower --lr")
    return TrainStats(int(out.global_step), seconds, seen)


def train_emb_ce(ckpt: Path, table: dict[str, list[Any]], o: CrossEncoderOptions) -> tuple[Any, Any, TrainStats, int]:
    """[EMB]-CE (Yadav et al. 2022, "Efficient Nearest Neighbor Search for Cross-Encoder Models using Matrix
    Factorization"): the backbone reads `[CLS] [E_q] q [SEP] [E_i] i [SEP]` and the score is the dot product of the
    two marker tokens' final states; trained here with BCE on that score (AdamW, linear warm-up and decay, seeded
    shuffling). Returns (model, tokenizer, stats, pairs truncated by the layout)."""
    _offline()
    import torch
    from transformers import AutoModel, AutoTokenizer, get_linear_schedule_with_warmup, set_seed

    from ..anncur.scorers import EmbCEFormat, emb_ce_scores
    from ..progress import progress

    set_seed(o.seed)
    try:
        tok = AutoTokenizer.from_pretrained(str(ckpt))
        model = AutoModel.from_pretrained(str(ckpt))
    except Exception as exc:  # many library error types for a directory that is not a model
        raise UserError(f"--model {ckpt}: cannot load a transformer ({type(exc).__name__}: {exc})") from exc
    fmt = EmbCEFormat(tok, o.max_length, f"--model {ckpt}")
    queries = {q: fmt.ids(q, 10**6) for q in dict.fromkeys(table["query"])}
    docs = {d: fmt.ids(d, 10**6) for d in dict.fromkeys(table["document"])}
    truncated = sum(len(queries[q]) > fmt.QUERY_TOKENS or min(len(queries[q]), fmt.QUERY_TOKENS) + len(docs[d]) + 5 > o.max_length
                    for q, d in zip(table["query"], table["document"]))
    qids = {q: [tok.cls_token_id, fmt.marker_q] + ids[: fmt.QUERY_TOKENS] + [tok.sep_token_id] for q, ids in queries.items()}
    n = len(table["query"])
    total = o.max_steps or math.ceil(math.ceil(n / o.batch_size) * o.epochs)
    opt = torch.optim.AdamW(model.parameters(), lr=o.lr)
    sched = get_linear_schedule_with_warmup(opt, int(o.warmup * total), total)
    lengths = row_lengths(table)
    labels = torch.tensor(table["label"], dtype=torch.float32)
    seen: list[float] = []
    model.train()
    t0 = time.perf_counter()
    with progress("train emb-ce", total, "steps") as advance:
        step = 0
        epoch = 0
        while step < total:
            for idx in length_grouped_batches(lengths, o.batch_size, o.seed, epoch):
                batch = fmt.batch([qids[table["query"][i]] for i in idx], [docs[table["document"][i]] for i in idx])
                loss = torch.nn.functional.binary_cross_entropy_with_logits(emb_ce_scores(model, batch), labels[idx])
                loss.backward()
                opt.step()
                sched.step()
                opt.zero_grad()
                seen.append(float(loss.detach()))
                step += 1
                advance(1)
                if step >= total:
                    break
            epoch += 1
    model.eval()
    if any(not math.isfinite(v) for v in seen):
        raise UserError("training diverged (loss became NaN/inf); lower --lr")
    return model, tok, TrainStats(step, time.perf_counter() - t0, seen), truncated


# ---------------------------------------------------------------------------------------------------------------
# the stage
# ---------------------------------------------------------------------------------------------------------------


def parse_window(value: str) -> tuple[int, int]:
    """--mine-range LO:HI → ranks LO..HI (1-based, inclusive)."""
    try:
        lo, hi = (int(x) for x in value.split(":"))
    except ValueError:
        raise UserError(f"--mine-range {value}: give LO:HI ranks, e.g. 5:100") from None
    if not 1 <= lo <= hi:
        raise UserError(f"--mine-range {value}: need 1 ≤ LO ≤ HI")
    return lo, hi


def validate(o: CrossEncoderOptions) -> None:
    """Every option's range and every input path, before anything is loaded or written."""
    check_out(o.out, o.overwrite, inputs=(*o.train, o.qrels, o.queries, o.corpus, *o.mine_from, o.teacher_run))
    if o.loss not in LOSSES:
        raise UserError(f"--loss {o.loss}: choose one of {', '.join(LOSSES)}")
    if o.architecture not in ARCHITECTURES:
        raise UserError(f"--architecture {o.architecture}: choose one of {', '.join(ARCHITECTURES)}")
    if o.architecture == "emb-ce" and o.loss != "bce":
        raise UserError(f"--architecture emb-ce trains with --loss bce only, not --loss {o.loss}")
    if o.teacher_norm not in TEACHER_NORMS:
        raise UserError(f"--teacher-norm {o.teacher_norm}: choose one of {', '.join(TEACHER_NORMS)}")
    if not 8 <= o.max_length <= 8192:
        raise UserError(f"--max-length {o.max_length}: must be between 8 and 8192 tokens")
    if o.batch_size < 1 or o.epochs <= 0 or o.lr <= 0 or not 0 <= o.warmup < 1:
        raise UserError("need --batch-size ≥ 1, --epochs > 0, --lr > 0 and 0 ≤ --warmup < 1")
    if o.head_lr is not None and o.head_lr <= 0:
        raise UserError(f"--head-lr {o.head_lr}: must be > 0")
    if o.head_lr is not None and o.architecture == "emb-ce":
        raise UserError("--head-lr applies to the classification head of --architecture cross-encoder; [EMB]-CE has none")
    if o.max_steps is not None and o.max_steps < 1:
        raise UserError(f"--max-steps {o.max_steps}: must be ≥ 1")
    if o.max_pairs is not None and o.max_pairs < 1:
        raise UserError(f"--max-pairs {o.max_pairs}: must be ≥ 1")
    if o.negatives_per_positive < 0 or o.random_negatives < 0:
        raise UserError("--negatives-per-positive and --random-negatives must be ≥ 0")
    if not 0 <= o.fn_threshold <= 1:
        raise UserError(f"--fn-threshold {o.fn_threshold}: must be in [0, 1] (0 turns the false-negative filter off)")
    if o.teacher_depth < 2:
        raise UserError(f"--teacher-depth {o.teacher_depth}: must be ≥ 2")
    if not o.train and o.qrels is None:
        raise UserError("no training data: pass --train pairs.jsonl (e.g. from synth-queries), or --qrels with "
                        "--queries and --corpus")
    if o.qrels is not None and (o.queries is None or o.corpus is None):
        raise UserError("--qrels needs --queries and --corpus to turn judgements into training pairs")
    if o.split_queries is not None and o.qrels is None:
        raise UserError("--split-queries splits judged queries: pass --qrels, --queries and --corpus")
    if o.loss == "bce" and o.teacher_run is not None:
        raise UserError("--teacher-run is used by --loss listwise or margin-mse (distillation); drop it for --loss bce")
    if o.loss != "bce" and o.teacher_run is None:
        raise UserError(f"--loss {o.loss} distils a teacher: pass --teacher-run RUN (e.g. a BM25 + bi-encoder fusion)")
    if o.loss != "bce" and o.corpus is None:
        raise UserError(f"--loss {o.loss}: pass --corpus (the teacher run's documents)")
    if (o.mine_from or o.random_negatives) and o.corpus is None:
        raise UserError("--mine-from and --random-negatives need --corpus (the documents negatives come from)")
    for p, opt in [(t, "--train") for t in o.train] + [(m, "--mine-from") for m in o.mine_from] + [
            (o.qrels, "--qrels"), (o.queries, "--queries"), (o.corpus, "--corpus"), (o.teacher_run, "--teacher-run")]:
        if p is not None and not Path(p).exists():
            raise UserError(f"{opt} {p}: no such file or directory")


def _inputs(o: CrossEncoderOptions) -> dict[str, Any]:
    def entry(p: Path) -> dict[str, Any]:
        from ..io.runs import run_manifest

        m = run_manifest(p) if Path(p).is_file() else None
        if m is None and Path(p).is_dir() and (Path(p) / "manifest.json").exists():
            from ..artifacts import read_manifest

            try:
                m = read_manifest(p)
            except UserError:  # a manifest.json some other tool wrote: record the path only
                m = None
        return input_entry(Path(p).resolve(), m, sha256_path(p) if Path(p).is_file() else None)

    out: dict[str, Any] = {}
    for name in ("qrels", "queries", "corpus", "teacher_run"):
        if getattr(o, name) is not None:
            out[name] = entry(getattr(o, name))
    for i, t in enumerate(o.train):
        out[f"train_{i}"] = entry(t)
    for i, m in enumerate(o.mine_from):
        out[f"mine_from_{i}"] = entry(m)
    return out


def run_finetune_cross_encoder(o: CrossEncoderOptions) -> CrossEncoderResult:
    """The whole stage; nothing is written at `o.out` unless every step succeeds. Raises UserError on bad input."""
    from ..io.qrels import read_qrels
    from ..io.runs import read_run
    from ..io.texts import load_texts

    validate(o)
    ckpt, base_name, base_fp = backbone(o.model)
    inputs = _inputs(o)  # hashed before training, so an input that changes meanwhile cannot be misrecorded
    rng = np.random.default_rng(o.seed)
    bce = o.loss == "bce"
    corpus = load_corpus(o.corpus, o.fields) if o.corpus is not None else None
    qid_of_text: dict[str, str] = {}
    pairs: list[LabelledPair] = []
    for t in o.train:
        pairs += load_pair_file(Path(t), corpus, bce, qid_of_text)
    split: QuerySplit | None = None
    qrels = None
    queries: dict[str, str] = {}
    if o.qrels is not None:
        assert corpus is not None and o.queries is not None
        qrels = read_qrels(o.qrels, o.qrels_split)
        qt = load_texts(o.queries, "queries", o.fields)
        queries = dict(zip(qt["id"].astype(str), qt["text"].astype(str)))
        judged = sorted(set(qrels.loc[qrels["rel"] > 0, "qid"]))
        if o.split_queries is not None:
            split = split_queries(judged, o.split_queries, 0, o.seed)
            train_qids = split.train
        else:
            train_qids = judged
        pairs += qrels_pairs(qrels, queries, corpus, train_qids, str(o.qrels))
    if split is not None:  # a JSONL row may not reuse a held-out query: that would leak it into training
        held = {queries[q] for q in split.heldout}
        leak = [p for p in pairs if p.query in held]
        if leak:
            raise UserError(f"--train: query {leak[0].query[:60]!r} is one of the held-out queries of --split-queries; "
                            "remove it from the training file or drop --split-queries")
    train_queries = {p.qid: p.query for p in pairs}
    counts: dict[str, int] = {}
    notes: list[str] = []
    filtered: int | None = None
    teacher = None
    if bce:
        if o.mine_from and o.negatives_per_positive:
            assert corpus is not None
            lo, hi = o.mine_range
            sources = [(Path(s).name, candidates(Path(s), train_queries, hi)) for s in o.mine_from]
            mined, stats = mine_negatives(pairs, sources, corpus, (lo, hi), o.negatives_per_positive, o.fn_threshold, rng)
            pairs += mined
            filtered = stats["filtered_false_negatives"]
            notes.append(f"false-negative filter: skipped {filtered:,} candidates scoring ≥ {o.fn_threshold:g} × the "
                         "query's best positive score" if o.fn_threshold > 0 else "false-negative filter off")
            if stats["queries_without_negatives"]:
                notes.append(f"{stats['queries_without_negatives']} queries got no mined negative (window "
                             f"{lo}:{hi} empty after the filters)")
        if o.random_negatives:
            assert corpus is not None
            pairs += random_negatives(pairs, corpus, o.random_negatives, rng)
        if o.max_pairs is not None and len(pairs) > o.max_pairs:
            keep = np.sort(rng.choice(len(pairs), size=o.max_pairs, replace=False))
            notes.append(f"--max-pairs {o.max_pairs}: kept a seeded sample of {o.max_pairs:,} of {len(pairs):,} pairs")
            pairs = [pairs[int(i)] for i in keep]
        if not pairs:
            raise UserError("the training set is empty (no relevant judgements for the training queries and no --train rows)")
        for p in pairs:
            counts[p.kind] = counts.get(p.kind, 0) + 1
        labels = {p.label >= 0.5 for p in pairs}
        if labels != {True, False}:
            raise UserError("--loss bce needs both relevant and non-relevant pairs; add negatives (--mine-from, "
                            "--random-negatives, or labelled rows)")
    else:
        assert corpus is not None and o.teacher_run is not None
        teacher = teacher_lists(read_run(o.teacher_run), train_queries, corpus, o.teacher_depth, o.teacher_norm,
                                f"--teacher-run {o.teacher_run}")
        counts["teacher queries"] = len(teacher)
        if len(teacher) < len(train_queries):
            notes.append(f"the teacher run covers {len(teacher)} of the {len(train_queries)} training queries; "
                         "only those are trained on")
        if o.mine_from or o.random_negatives:
            notes.append("--mine-from and --random-negatives do not apply to distillation (the teacher ranks the documents)")
    table = build_table(o.loss, pairs, teacher, train_queries, corpus)
    if o.max_pairs is not None and not bce and len(table["query"]) > o.max_pairs:
        keep = sorted(rng.choice(len(table["query"]), size=o.max_pairs, replace=False).tolist())
        table = {c: [v[i] for i in keep] for c, v in table.items()}
    counts["training rows"] = len(table["query"])

    seen_pairs = table_pairs(table)
    if o.architecture == "cross-encoder":
        model = new_cross_encoder(ckpt, o.max_length, o.seed)
        truncated = count_truncated(model.tokenizer, seen_pairs, o.max_length)
    with atomic_dir(o.out, o.overwrite) as tmp:
        if o.architecture == "cross-encoder":
            stats = train(model, table, o.loss, o)
            model.save(str(tmp), create_model_card=False)
        else:  # a plain transformer checkpoint that `anncur --scorer emb-ce --scorer-path` reads
            emb_model, tok, stats, truncated = train_emb_ce(ckpt, table, o)
            emb_model.save_pretrained(str(tmp))
            tok.save_pretrained(str(tmp))
        split_files: dict[str, str] = {}
        if split is not None and qrels is not None:
            from .heldout import write_qrels, write_queries

            (tmp / "split.json").write_text(json.dumps(split.to_dict(), indent=1) + "\n")
            write_queries(tmp / "heldout.queries.jsonl", {q: queries[q] for q in split.heldout})
            write_qrels(tmp / "heldout.qrels.tsv", qrels[qrels["qid"].isin(split.heldout)])
            split_files = {"split": "split.json", "heldout_queries": "heldout.queries.jsonl",
                           "heldout_qrels": "heldout.qrels.tsv"}
        params = {k: v for k, v in asdict(o).items() if k not in ("out", "overwrite", "fields", "train", "mine_from",
                                                                  "qrels", "queries", "corpus", "teacher_run")}
        params["mine_range"] = f"{o.mine_range[0]}:{o.mine_range[1]}"
        manifest = Manifest(
            type="cross-encoder",
            params={
                **params,
                "base_model": {"name": base_name, "path": str(ckpt), **base_fp,
                               "head": "fresh, 1 logit" if o.architecture == "cross-encoder" else "[EMB] marker dot product"},
                "split": None if split is None else {"fraction": o.split_queries, **split.to_dict()["counts"], **split_files},
            },
            inputs=inputs,
            stats={
                "data_fingerprint": data_fingerprint(table), "rows": counts, "queries": len(train_queries),
                "false_negatives_filtered": filtered,
                "pairs_seen": len(seen_pairs), "truncated_pairs": truncated,
                "truncated_share": round(truncated / len(seen_pairs), 4) if seen_pairs else 0.0,
                "steps": stats.steps, "seconds": round(stats.seconds, 1),
                "final_loss": stats.losses[-1] if stats.losses else None,
            },
        )
        write_dir_manifest(tmp, manifest)
    return CrossEncoderResult(Path(o.out), manifest, counts, truncated, len(seen_pairs), stats.steps, stats.seconds,
                              stats.losses[-1] if stats.losses else None, notes)
