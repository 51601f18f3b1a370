"""finetune-two-tower end to end: log → split → towers → a model directory whose user and item vectors are ordinary
embeddings artifacts (`build-index --embeddings DIR/items`, `query --queries DIR/users`, `eval --qrels
DIR/heldout.csv`).

Model directory:
  manifest.json        type 'two-tower-model': every option, the inputs (paths + hashes), split and training stats
  model.safetensors    the towers' weights; vocab.json: id and feature vocabularies (row order of the tables)
  items/               embeddings artifact: one unit vector per catalogue item (role corpus)
  users/               embeddings artifact: one unit vector per held-out request (id = qid; role queries)
  heldout.csv          user_id (= qid), item_id: the held-out positives, read by `eval --qrels` as binary qrels
  seen.csv             user_id (= qid), item_id: each request's training positives, for `exclude-seen`
  train.parquet, requests.parquet, catalog.parquet: the split and the catalogue, for `recsys-baseline`
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..artifacts import Manifest, atomic_dir, check_out, input_entry, read_manifest, save_embeddings_from_array, sha256_file, write_dir_manifest
from ..errors import UserError
from .features import (Entities, Vocabs, build_examples, build_vocabs, catalogue, encode_text, entities,
                       item_texts, last_items, query_table)
from .log import EntityTable, Log, LogSpec, read_entities, read_log
from .model import TowerSpec, TwoTower
from .negatives import check_negatives
from .split import Split, SplitSpec, serving_history, split_log
from .trainer import TrainSpec, deterministic, train

MODEL_TYPE = "two-tower-model"
WEIGHTS, VOCAB = "model.safetensors", "vocab.json"
ITEM_ID_COLUMNS = ("item_id", "item", "itemid", "iid", "movieid", "id")
USER_ID_COLUMNS = ("user_id", "user", "userid", "uid", "id")


@dataclass(frozen=True)
class TableSpec:
    """An optional item or user table and which of its columns to use."""

    path: Path | None = None
    id_col: str | None = None
    text: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    sep: str = "|"


@dataclass(frozen=True)
class Job:
    log: Path
    log_spec: LogSpec = LogSpec()
    items: TableSpec = TableSpec()
    users: TableSpec = TableSpec()
    split: SplitSpec = SplitSpec()
    text_model: str = "default"  # 'none': no text parts
    dim: int = 64
    hidden: int = 128
    history: int = 50
    impressions_per_row: int = 5
    train: TrainSpec = TrainSpec()
    use_cache: bool = True

    def check(self) -> None:
        for option, value, low in (("--dim", self.dim, 1), ("--hidden", self.hidden, 0), ("--history", self.history, 0),
                                   ("--impressions-per-row", self.impressions_per_row, 0)):
            if value < low:
                raise UserError(f"{option} {value}: must be at least {low}")
        if self.items.text and self.text_model == "none":
            raise UserError("--item-text needs a text encoder; pass --text-model (default, a model directory or hash:DIM)")
        if (self.items.text or self.items.features) and self.items.path is None:
            raise UserError("--item-text/--item-features name columns of an item table; pass it with --items FILE")
        if self.users.features and self.users.path is None:
            raise UserError("--user-features name columns of a user table; pass it with --users FILE")
        self.train.check()


@dataclass
class Prepared:
    """The data side of a job: the read log and tables, the split and the arrays the towers read."""

    log: Log
    items_table: EntityTable | None
    users_table: EntityTable | None
    split: Split
    catalogue: list[str]
    catalogue_counts: dict[str, int]
    item_text: np.ndarray | None
    query_rows: dict[str, int]
    query_vectors: np.ndarray | None
    text_encoder: dict[str, Any] | None
    stats: dict[str, Any] = field(default_factory=dict)


def read_inputs(job: Job) -> tuple[Log, EntityTable | None, EntityTable | None]:
    """Read and check every input file before any work (bad input: one UserError, nothing written)."""
    job.check()
    log = read_log(job.log, job.log_spec)
    items = users = None
    if job.items.path is not None:
        items = read_entities(job.items.path, "item", job.items.id_col, ITEM_ID_COLUMNS, list(job.items.text),
                              list(job.items.features), job.items.sep)
    if job.users.path is not None:
        users = read_entities(job.users.path, "user", job.users.id_col, USER_ID_COLUMNS, [], list(job.users.features),
                              job.users.sep)
    return log, items, users


def prepare(job: Job, log: Log, items: EntityTable | None, users: EntityTable | None, split: Split | None = None) -> Prepared:
    """Split the log, fix the catalogue, and encode item and query texts with the frozen text encoder."""
    split = split or split_log(log, job.split)
    check_negatives(job.train.negatives, job.train.logq, job.train.num_random if "random" in job.train.negatives else 1,
                    split.stats["train_impressions"] > 0)
    ids, counts = catalogue(log, items)
    texts = item_texts(ids, items)
    item_text = query_vectors = None
    encoder = None
    queries = query_table(list(split.train["query"]) + list(split.requests["query"])) if log.has_query else {}
    if job.text_model != "none" and texts is not None:
        item_text, encoder = encode_text(texts, job.text_model, job.use_cache)
    if job.text_model != "none" and queries:
        vecs, encoder = encode_text(list(queries), job.text_model, job.use_cache)
        query_vectors = np.vstack([np.zeros((1, vecs.shape[1]), np.float32), vecs])
    return Prepared(log, items, users, split, ids, counts, item_text, queries, query_vectors, encoder)


# ------------------------------------------------------------------------------------------------ model state


@dataclass
class Trained:
    model: TwoTower
    vocabs: Vocabs
    items: Entities
    users: Entities
    stats: dict[str, Any]


def _entities(prep: Prepared, vocabs: Vocabs) -> tuple[Entities, Entities]:
    items = entities(prep.catalogue, vocabs.items, prep.items_table, vocabs.item_features, prep.item_text)
    user_ids = sorted(set(prep.split.train["user"]) | set(prep.split.requests["user"]))
    users = entities(user_ids, vocabs.users, prep.users_table, vocabs.user_features)
    return items, users


def tower_spec(job: Job, prep: Prepared, vocabs: Vocabs) -> TowerSpec:
    return TowerSpec(dim=job.dim, hidden=job.hidden, history=job.history, user_vocab=len(vocabs.users),
                     item_vocab=len(vocabs.items),
                     user_features={k: len(v) for k, v in vocabs.user_features.items()},
                     item_features={k: len(v) for k, v in vocabs.item_features.items()},
                     item_text_dim=0 if prep.item_text is None else prep.item_text.shape[1],
                     query_dim=0 if prep.query_vectors is None else prep.query_vectors.shape[1])


def fit(job: Job, prep: Prepared, init: "Trained | None" = None, since_ns: int | None = None,
        epochs: int | None = None, description: str = "training two-tower") -> Trained:
    """Build (or warm-start from `init`: its weights, vocabularies extended with new ids) and train the towers.

    `since_ns`: train only on positives at or after this time (the incremental update); `epochs` overrides the job's.
    """
    spec_train = replace(job.train, epochs=job.train.epochs if epochs is None else epochs)
    vocabs = build_vocabs(prep.split.train_positives, prep.items_table, prep.users_table, init.vocabs if init else None)
    items, users = _entities(prep, vocabs)
    spec = tower_spec(job, prep, vocabs)
    torch.manual_seed(job.train.seed)
    model = TwoTower(spec, items, users, prep.query_vectors)
    if init is not None:
        _warm_start(model, init.model)
    ex = build_examples(prep.split.train, users, items, prep.query_rows, job.history, job.impressions_per_row,
                        job.train.seed, since_ns)
    stats = train(model, ex, spec_train, len(items.ids), description)
    return Trained(model, vocabs, items, users, stats)


def _warm_start(model: TwoTower, old: TwoTower) -> None:
    """Copy `old`'s weights into `model`; embedding tables that grew keep their old rows first, new rows stay fresh."""
    mine, theirs = model.spec, old.spec
    for name in ("dim", "hidden", "history", "item_text_dim", "query_dim"):
        if getattr(mine, name) != getattr(theirs, name):
            raise UserError(f"--init-from: the previous model has {name} {getattr(theirs, name)}, this one "
                            f"{getattr(mine, name)}; warm starts need the same architecture")
    if set(mine.user_features) != set(theirs.user_features) or set(mine.item_features) != set(theirs.item_features):
        raise UserError("--init-from: the previous model used other user/item features; warm starts need the same ones")
    state = model.state_dict()
    with torch.no_grad():
        for name, value in old.state_dict().items():
            target = state[name]
            if target.shape == value.shape:
                target.copy_(value)
            elif target.dim() == 2 and target.shape[1] == value.shape[1] and target.shape[0] >= value.shape[0]:
                target[: value.shape[0]].copy_(value)
            else:
                raise UserError(f"--init-from: parameter {name} has shape {tuple(value.shape)} there but "
                                f"{tuple(target.shape)} here")


def load_model(path: Path, prep: Prepared, job: Job) -> Trained:
    """A saved model directory, rebuilt over this job's data (its vocabularies as saved), for a warm start."""
    from safetensors.torch import load_file

    m = read_manifest(path, expect=MODEL_TYPE)
    for f in (WEIGHTS, VOCAB):
        if not (path / f).exists():
            raise UserError(f"--init-from {path}: {f} is missing; pass a complete finetune-two-tower output")
    vocabs = Vocabs.from_json(json.loads((path / VOCAB).read_text(encoding="utf-8")))
    from ..fingerprint import same_model

    saved_text = (m.params.get("text_encoder") or {}).get("fingerprint")
    here_text = (prep.text_encoder or {}).get("fingerprint")
    if not same_model(m.params.get("text_encoder"), prep.text_encoder):
        raise UserError(f"--init-from {path}: trained with text encoder {saved_text}, this run uses {here_text}; "
                        "pass the same --text-model")
    spec = TowerSpec(**m.params["tower"])
    items, users = _entities(prep, build_vocabs(prep.split.train_positives, prep.items_table, prep.users_table, vocabs))
    model = TwoTower(spec, items, users, prep.query_vectors)
    model.load_state_dict(load_file(str(path / WEIGHTS)))
    return Trained(model, vocabs, items, users, {})


# ------------------------------------------------------------------------------------------------ serving


@dataclass
class Vectors:
    items: np.ndarray  # (n_catalogue, dim)
    requests: np.ndarray  # (n_requests, dim)
    histories: list[np.ndarray]  # catalogue rows of each request's training positives (time order)


def request_histories(prep: Prepared) -> list[np.ndarray]:
    """Each request's user's training positives (catalogue rows, time order)."""
    hist = serving_history(prep.split.train_positives, prep.split.requests["user"].to_numpy())
    pos = {x: i for i, x in enumerate(prep.catalogue)}
    return [np.fromiter((pos[i] for i in hist.get(u, [])), dtype=np.int64) for u in prep.split.requests["user"]]


def embed(trained: Trained, prep: Prepared, job: Job, block: int = 4096) -> Vectors:
    """Unit item vectors for the whole catalogue and unit user vectors for every held-out request."""
    model = trained.model
    histories = request_histories(prep)
    req = prep.split.requests
    hist = np.stack([last_items(h.tolist(), job.history) for h in histories]) if len(histories) else np.zeros((0, job.history), np.int64)
    users = trained.users.index(req["user"])
    queries = np.fromiter((prep.query_rows.get(q, 0) for q in req["query"]), dtype=np.int64)
    model.eval()
    with deterministic(job.train.threads), torch.no_grad():
        items = np.concatenate([model.items(torch.arange(s, min(s + block, len(prep.catalogue)))).numpy()
                                for s in range(0, len(prep.catalogue), block)])
        reqs = [model.users(torch.as_tensor(users[s : s + block]), torch.as_tensor(hist[s : s + block]),
                            torch.as_tensor(queries[s : s + block])).numpy() for s in range(0, len(users), block)]
    requests = np.concatenate(reqs) if reqs else np.zeros((0, job.dim), np.float32)
    return Vectors(items.astype(np.float32), requests.astype(np.float32), histories)


# ------------------------------------------------------------------------------------------------ the command


def _describe(job: Job) -> dict[str, Any]:
    return {
        "log_columns": asdict(job.log_spec),
        "items": {**asdict(job.items), "path": str(job.items.path) if job.items.path else None},
        "users": {**asdict(job.users), "path": str(job.users.path) if job.users.path else None},
        "split": asdict(job.split), "text_model": job.text_model,
        "history": job.history, "impressions_per_row": job.impressions_per_row,
        "train": job.train.to_json(),
    }


def _inputs(job: Job, init_from: Path | None) -> dict[str, Any]:
    inputs = {"log": input_entry(Path(job.log).resolve(), digest=sha256_file(job.log))}
    for name, table in (("items", job.items), ("users", job.users)):
        if table.path is not None:
            inputs[name] = input_entry(Path(table.path).resolve(), digest=sha256_file(table.path))
    if init_from is not None:
        inputs["init_from"] = input_entry(Path(init_from).resolve(), read_manifest(init_from, expect=MODEL_TYPE))
    return inputs


def _embeddings_manifest(role: str, fingerprint: str, dim: int, rows: int, model_dir: Path, model_manifest: Manifest) -> Manifest:
    return Manifest(type="embeddings",
                    params={"role": role, "model": {"name": "two-tower", "fingerprint": fingerprint, "dim": dim},
                            "normalize": True, "query_prefix": "", "doc_prefix": "", "dtype": "float32"},
                    inputs={"model": input_entry(model_dir, model_manifest)}, stats={"rows": rows})


def finetune_two_tower(job: Job, out: Path, overwrite: bool = False, init_from: Path | None = None,
                       train_since: int | None = None) -> Manifest:
    """Train on `job` and write the model directory `out` atomically (see the module docstring).

    `train_since` (ns): train only on positives at or after it — with `init_from`, the daily incremental update.
    """
    from safetensors.torch import save_file

    check_out(out, overwrite)
    if init_from is not None:
        read_manifest(init_from, expect=MODEL_TYPE)
    log, items_table, users_table = read_inputs(job)
    t0 = time.perf_counter()
    prep = prepare(job, log, items_table, users_table)
    init = load_model(Path(init_from), prep, job) if init_from is not None else None
    trained = fit(job, prep, init, since_ns=train_since)
    vectors = embed(trained, prep, job)
    state = {k: v.contiguous() for k, v in trained.model.state_dict().items()}
    split = prep.split
    stats = {**split.stats, "duplicates_dropped": log.duplicates, "log_rows": log.rows,
             "catalogue_items": len(prep.catalogue), **{f"catalogue_{k}": v for k, v in prep.catalogue_counts.items()},
             "trained_users": len(trained.vocabs.users.ids), "trained_items": len(trained.vocabs.items.ids),
             "query_texts": len(prep.query_rows), **trained.stats, "seconds": round(time.perf_counter() - t0, 2)}
    params = {**_describe(job), "tower": trained.model.spec.to_json(), "text_encoder": prep.text_encoder,
              "train_since": train_since}
    with atomic_dir(out, overwrite) as tmp:
        save_file(state, str(tmp / WEIGHTS))
        fingerprint = hashlib.sha256((tmp / WEIGHTS).read_bytes()).hexdigest()[:16]
        (tmp / VOCAB).write_text(json.dumps(trained.vocabs.to_json()), encoding="utf-8")
        manifest = Manifest(type=MODEL_TYPE, params={**params, "fingerprint": fingerprint},
                            inputs=_inputs(job, init_from), stats=stats)
        write_dir_manifest(tmp, manifest)
        final = Path(out).resolve()
        for role, name, vecs, ids in (("corpus", "items", vectors.items, pd.DataFrame({"id": prep.catalogue})),
                                      ("queries", "users", vectors.requests,
                                       pd.DataFrame({"id": split.requests["qid"], "user": split.requests["user"]}))):
            (tmp / name).mkdir()
            save_embeddings_from_array(tmp / name, vecs, ids,
                                       _embeddings_manifest(role, fingerprint, job.dim, len(ids), final, manifest))
        split.heldout.rename(columns={"qid": "user_id", "item": "item_id"}).to_csv(tmp / "heldout.csv", index=False)
        seen_frame(prep, vectors.histories).to_csv(tmp / "seen.csv", index=False)
        split.train.to_parquet(tmp / "train.parquet", index=False)
        split.requests.to_parquet(tmp / "requests.parquet", index=False)
        pd.DataFrame({"id": prep.catalogue,
                      "text": item_texts(prep.catalogue, items_table) or [""] * len(prep.catalogue)}
                     ).to_parquet(tmp / "catalog.parquet", index=False)
    return manifest


def seen_frame(prep: Prepared, histories: list[np.ndarray]) -> pd.DataFrame:
    """user_id (= qid), item_id: each request's training positives (what `exclude-seen` removes)."""
    ids = np.asarray(prep.catalogue, dtype=object)
    qids = prep.split.requests["qid"].tolist()
    return pd.DataFrame({"user_id": np.repeat(np.asarray(qids, dtype=object), [len(h) for h in histories]),
                         "item_id": ids[np.concatenate(histories)] if histories else []})
