"""Tiny random-init models built inside tests (nothing is downloaded): a cross-encoder and a bi-encoder that reuse
the bundled MiniLM tokenizer with a 2-layer, 32-wide BERT."""

from __future__ import annotations

import shutil
from pathlib import Path

TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def _tiny_bert_config(hidden_size: int = 32):
    from transformers import BertConfig

    return BertConfig(vocab_size=30522, hidden_size=hidden_size, num_hidden_layers=2, num_attention_heads=2,
                      intermediate_size=2 * hidden_size, max_position_embeddings=128)


def _copy_tokenizer(dest: Path) -> None:
    from vecrecall.encoders import default_model_path

    src = default_model_path()
    for name in TOKENIZER_FILES:
        if (src / name).exists():
            shutil.copy(src / name, dest / name)


def make_tiny_cross_encoder(dest: Path, seed: int = 0, initializer_range: float = 0.02) -> Path:
    """Save a random-init BertForSequenceClassification (1 label) that sentence-transformers loads as a CrossEncoder.
    At BERT's initializer_range 0.02 its logits barely vary between pairs; 0.5 spreads them (for agreement tests)."""
    import torch
    from transformers import BertForSequenceClassification

    torch.manual_seed(seed)
    config = _tiny_bert_config()
    config.num_labels = 1
    config.initializer_range = initializer_range
    dest.mkdir(parents=True, exist_ok=True)
    BertForSequenceClassification(config).save_pretrained(dest)
    _copy_tokenizer(dest)
    return dest


def make_tiny_bi_encoder(dest: Path, seed: int = 0, hidden_size: int = 32) -> Path:
    """Save a random-init tiny BERT with mean pooling as a sentence-transformers model directory (hidden_size 48 makes
    model.safetensors about 5.9 MB, over the 4 MiB above which older fingerprints sampled a file)."""
    import torch
    from sentence_transformers import SentenceTransformer

    try:  # sentence-transformers ≥ 6 moved the module classes
        from sentence_transformers.sentence_transformer import modules as models
    except ImportError:
        from sentence_transformers import models
    from transformers import BertModel

    torch.manual_seed(seed)
    raw = dest.parent / f".{dest.name}-bert"
    raw.mkdir(parents=True, exist_ok=True)
    BertModel(_tiny_bert_config(hidden_size)).save_pretrained(raw)
    _copy_tokenizer(raw)
    word = models.Transformer(str(raw), max_seq_length=64)
    pool = models.Pooling(word.get_embedding_dimension(), pooling_mode="mean")
    SentenceTransformer(modules=[word, pool], device="cpu").save(str(dest))
    shutil.rmtree(raw)
    return dest
