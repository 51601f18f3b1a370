"""Readers and writers for the formats users already have: BEIR, TREC, JSONL/CSV/Parquet."""
