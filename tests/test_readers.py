"""Readers: the one id rule across every reader, gzip everywhere, headerless CSV/TSV, MS MARCO runs, and every kind
of unreadable input as one line naming the file and line (no traceback, nothing written)."""

from __future__ import annotations

import decimal
import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import FAST_MODEL, SAMPLE, assert_user_error
from vecrecall.errors import UserError
from vecrecall.io.ids import norm_id, norm_ids
from vecrecall.io.interactions import read_interactions, read_plain_vectors
from vecrecall.io.qrels import read_qrels
from vecrecall.io.runs import read_run
from vecrecall.io.texts import FieldSpec, load_texts

CASES = Path(__file__).resolve().parent.parent.parent / "shared" / "cases"


def case(name: str) -> Path:
    d = CASES / name
    if not d.is_dir():
        pytest.skip(f"the shared failing-input case {d} is not present (only beside the repository checkout)")
    return d


def gz(path: Path) -> Path:
    out = path.with_name(path.name + ".gz")
    out.write_bytes(gzip.compress(path.read_bytes(), mtime=0))
    return out


# ---------------------------------------------------------------------------------------------------------------
# The id rule
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value,expected", [
    ("d17", "d17"), ("  d17\t", "d17"), ("17.0", "17.0"), ("007", "007"),  # text is text
    (17, "17"), (-5, "-5"), (np.int64(17), "17"), (np.uint8(3), "3"),
    (17.0, "17"), (np.float64(17.0), "17"), (np.float32(18.0), "18"), (1e3, "1000"), (-0.0, "0"), (1e20, "100000000000000000000"),
    (18.5, "18.5"), (np.float32(0.1), "0.1"), (np.float64(2.25), "2.25"),  # non-integral floats: shortest text
    (decimal.Decimal("17.00"), "17"), (decimal.Decimal("1.50"), "1.5"),
    (None, ""), (float("nan"), ""), (np.nan, ""), (pd.NA, ""), (pd.NaT, ""),
])
def test_norm_id(value, expected):
    assert norm_id(value) == expected


def test_norm_ids_columns():
    assert norm_ids(pd.Series([17.0, 18.0, np.nan])) == ["17", "18", ""]
    assert norm_ids(pd.Series([1, 2], dtype="Int64")) == ["1", "2"]
    assert norm_ids(pd.Series([1, None], dtype="Int64")) == ["1", ""]
    assert norm_ids(np.array([3, 4])) == ["3", "4"]
    assert norm_ids(pd.Series([" a ", "b"], dtype="string")) == ["a", "b"]
    assert norm_ids([17, "17", 17.0, " 17 "]) == ["17"] * 4


def test_every_reader_applies_the_id_rule(tmp_path):
    """Typed ids (float64 columns, JSON numbers) read the same through corpus, queries, runs, qrels, interaction logs
    and user-vector ids."""
    pd.DataFrame({"id": [17.0, 1000.0], "text": ["a", "b"]}).to_parquet(tmp_path / "c.parquet")
    assert load_texts(tmp_path / "c.parquet", "corpus")["id"].tolist() == ["17", "1000"]
    (tmp_path / "q.jsonl").write_text('{"_id": 17.0, "text": "a"}\n{"_id": 1e3, "text": "b"}\n{"_id": -5, "text": "c"}\n'
                                      '{"_id": " 7 ", "text": "d"}\n')
    assert load_texts(tmp_path / "q.jsonl", "queries")["id"].tolist() == ["17", "1000", "-5", "7"]
    pd.DataFrame({"qid": [7.0, 7.0], "docid": [17.0, 1000.0], "score": [2.0, 1.0]}).to_parquet(tmp_path / "r.parquet")
    run = read_run(tmp_path / "r.parquet")
    assert run[["qid", "docid", "rank"]].values.tolist() == [["7", "17", 1], ["7", "1000", 2]]
    pd.DataFrame({"qid": [7.0], "docid": [np.float32(17)], "rel": [1.0]}).to_parquet(tmp_path / "qrels.parquet")
    assert read_qrels(tmp_path / "qrels.parquet").values.tolist() == [["7", "17", 1]]
    pd.DataFrame({"user_id": [7.0, 8.0], "item_id": [17.0, np.nan]}).iloc[:1].to_parquet(tmp_path / "log.parquet")
    assert read_interactions(tmp_path / "log.parquet")[["qid", "docid"]].values.tolist() == [["7", "17"]]
    np.save(tmp_path / "users.npy", np.zeros((2, 2), dtype=np.float32))
    pd.DataFrame({"id": [7.0, 1e3]}).to_parquet(tmp_path / "users.ids.parquet")
    assert read_plain_vectors(tmp_path / "users.npy").ids == ["7", "1000"]


def test_float_typed_ids_case_bm25_end_to_end(vr, tmp_path):
    """../shared/cases/float-typed-ids: both README commands give nDCG@10 = 1.0 (was 0.0)."""
    c = case("float-typed-ids")
    assert vr("build-index", "--corpus", c / "corpus_float.parquet", "--backend", "bm25", "--out", tmp_path / "bf").exit_code == 0
    r = vr("query", "--index", tmp_path / "bf", "--queries", c / "queries.jsonl", "-k", 4, "--out", tmp_path / "bf.run")
    assert r.exit_code == 0, r.stderr
    assert {line.split()[2] for line in (tmp_path / "bf.run").read_text().splitlines()} == {"17", "18", "19", "1000"}
    for run in (tmp_path / "bf.run", c / "run_float.parquet"):
        r = vr("eval", "--qrels", c / "qrels.tsv", run, "-m", "nDCG@10", "--json")
        assert r.exit_code == 0, r.stderr
        assert json.loads(r.stdout)[run.name]["nDCG@10"] == pytest.approx(1.0), run
        assert "warning" not in r.stderr


# ---------------------------------------------------------------------------------------------------------------
# Non-finite scores: refused where runs are read
# ---------------------------------------------------------------------------------------------------------------


def test_nonfinite_case(vr, tmp_path):
    c = case("nonfinite-scores")
    r = vr("eval", "--qrels", c / "qrels.txt", c / "nan.run", "-m", "nDCG@10", "-m", "RR")
    assert_user_error(r, "nan.run line 1", "score NaN", "query 'q1'", "document 'd1'")
    assert_user_error(vr("eval", "--qrels", c / "qrels.txt", c / "nan.parquet", "-m", "nDCG@10"),
                      "nan.parquet row 1", "query 'q1'", "document 'd1'")
    r = vr("fuse", c / "nan.run", c / "other.run", "--method", "combsum", "--out", tmp_path / "f.run")
    assert_user_error(r, "nan.run line 1", "document 'd1'")
    assert not (tmp_path / "f.run").exists()
    r = vr("eval", "--qrels", c / "qrels.txt", c / "other.run", "-m", "nDCG@10", "--json")  # the clean run still scores
    assert r.exit_code == 0, r.stderr


@pytest.mark.parametrize("score", ["inf", "-inf", "nan", "-Infinity"])
def test_fuse_decay_rerank_refuse_nonfinite(vr, tmp_path, score):
    bad = tmp_path / "bad.run"
    bad.write_text(f"0 Q0 d1 1 2.0 t\n0 Q0 d2 2 {score} t\n")
    good = tmp_path / "good.run"
    good.write_text("0 Q0 d1 1 2.0 t\n0 Q0 d2 2 1.0 t\n")
    out = tmp_path / "out.run"
    frags = ("bad.run line 2", "query '0'", "document 'd2'", "not a finite number")
    assert_user_error(vr("fuse", good, bad, "--method", "combsum", "--out", out), *frags)
    assert_user_error(vr("decay", "--run", bad, "--corpus", SAMPLE, "--decay-field", "date", "--out", out), *frags)
    assert_user_error(vr("rerank", "--run", bad, "--corpus", SAMPLE, "--queries", SAMPLE, "--scorer", "biencoder",
                         "--model", FAST_MODEL, "-k", 1, "--out", out), *frags)
    assert not out.exists()
    pd.DataFrame({"qid": ["0", "0"], "docid": ["d1", "d2"], "score": [1.0, float(score.replace("Infinity", "inf"))]}).to_parquet(tmp_path / "bad.parquet")
    assert_user_error(vr("fuse", good, tmp_path / "bad.parquet", "--out", out), "bad.parquet row 2", "document 'd2'")
    assert not out.exists()


def test_read_run_inf_allowed_only_when_asked(tmp_path):
    (tmp_path / "r.run").write_text("1 Q0 a 1 inf t\n1 Q0 b 2 -inf t\n")
    assert read_run(tmp_path / "r.run", allow_inf=True)["score"].tolist() == [np.inf, -np.inf]
    with pytest.raises(UserError, match="line 1: score \\+inf"):
        read_run(tmp_path / "r.run")


# ---------------------------------------------------------------------------------------------------------------
# Formats: headerless CSV/TSV, MS MARCO runs, gzip
# ---------------------------------------------------------------------------------------------------------------


def test_headerless_tsv_queries_and_corpus(tmp_path):
    (tmp_path / "queries.tsv").write_text("1048578\tcost of endless pools/swim spa\n1048579\twhat is pcnt\n")
    q = load_texts(tmp_path / "queries.tsv", "queries")
    assert q["id"].tolist() == ["1048578", "1048579"]  # the first query is a query, not a header
    assert q["text"].tolist() == ["cost of endless pools/swim spa", "what is pcnt"]
    (tmp_path / "topics.txt").write_text("q1\tcrabs\nq2\tsea vents\n")  # word ids, any extension with tabs
    assert load_texts(tmp_path / "topics.txt", "queries")["id"].tolist() == ["q1", "q2"]
    (tmp_path / "corpus.tsv").write_text('d1\tfirst "quoted" text\tAlpha\nd2\tsecond text\tBeta\n')
    c = load_texts(tmp_path / "corpus.tsv", "corpus")
    assert c["id"].tolist() == ["d1", "d2"] and c["text"].tolist() == ['Alpha first "quoted" text', "Beta second text"]
    (tmp_path / "c.csv").write_text('7,"a, b"\n8,c\n')
    assert load_texts(tmp_path / "c.csv", "corpus")["text"].tolist() == ["a, b", "c"]


def test_header_detection_and_no_header(tmp_path):
    (tmp_path / "h.tsv").write_text("docid\ttext\nd1\thello\n")
    assert load_texts(tmp_path / "h.tsv", "corpus")["id"].tolist() == ["d1"]
    (tmp_path / "upper.tsv").write_text("ID\tText\nd1\thello\n")  # names in other case still name columns
    assert load_texts(tmp_path / "upper.tsv", "corpus")["text"].tolist() == ["hello"]
    # a word above numeric ids is a header; its names are not known ones, so the user is asked to name them
    (tmp_path / "pid.tsv").write_text("pid\tpassage\n1\thello\n2\tworld\n")
    with pytest.raises(UserError, match="pid.tsv line 2: no id .*fields: pid, passage.*set --id-field"):
        load_texts(tmp_path / "pid.tsv", "corpus")
    assert load_texts(tmp_path / "pid.tsv", "corpus", FieldSpec("pid", "passage"))["id"].tolist() == ["1", "2"]
    # --no-header: a first line that looks like a header is data
    (tmp_path / "odd.tsv").write_text("id\ttext\n5\tfive\n")
    got = load_texts(tmp_path / "odd.tsv", "corpus", FieldSpec(header=False))
    assert got["id"].tolist() == ["id", "5"]


def test_no_header_flag_through_cli(vr, tmp_path):
    (tmp_path / "c.tsv").write_text("text\tthe word text\n1\tone\n")  # 'text' looks like a header name
    r = vr("encode", "--corpus", tmp_path / "c.tsv", "--out", tmp_path / "e", "--model", FAST_MODEL, "--no-header", "--json")
    assert r.exit_code == 0, r.stderr
    assert pd.read_parquet(tmp_path / "e" / "ids.parquet")["id"].tolist() == ["text", "1"]


def test_bm25_chain_on_headerless_msmarco_files(vr, tmp_path):
    (tmp_path / "collection.tsv").write_text("0\ttidal energy turbines\n1\tcrabs in a tidal pool\n2\twind farms\n")
    (tmp_path / "queries.dev.tsv").write_text("10\ttidal energy\n11\tcrabs\n")
    (tmp_path / "qrels.dev.tsv").write_text("10\t0\t0\t1\n11\t0\t1\t1\n")  # MS MARCO qrels: qid 0 pid 1
    assert vr("build-index", "--corpus", tmp_path / "collection.tsv", "--backend", "bm25", "--out", tmp_path / "b").exit_code == 0
    r = vr("query", "--index", tmp_path / "b", "--queries", tmp_path / "queries.dev.tsv", "-k", 2, "--out", tmp_path / "r.run")
    assert r.exit_code == 0, r.stderr
    r = vr("eval", "--qrels", tmp_path / "qrels.dev.tsv", tmp_path / "r.run", "-m", "RR", "--json")
    assert json.loads(r.stdout)["r.run"]["RR"] == 1.0


def test_msmarco_run_layout(tmp_path, vr):
    (tmp_path / "qrels.txt").write_text("1 0 b 1\n2 0 c 1\n")
    (tmp_path / "m.tsv").write_text("1\ta\t1\n1\tb\t2\n2\tc\t1\n")
    run = read_run(tmp_path / "m.tsv")
    assert run[["qid", "docid", "rank"]].values.tolist() == [["1", "a", 1], ["1", "b", 2], ["2", "c", 1]]
    assert run["score"].tolist() == [1.0, 0.5, 1.0]  # 1/rank, as Anserini's MS MARCO → TREC converter
    (tmp_path / "t.run").write_text("1 Q0 a 1 9 x\n1 Q0 b 2 8 x\n2 Q0 c 1 9 x\n")
    a = json.loads(vr("eval", "--qrels", tmp_path / "qrels.txt", tmp_path / "m.tsv", "-m", "RR", "-m", "nDCG@10", "--json").stdout)
    b = json.loads(vr("eval", "--qrels", tmp_path / "qrels.txt", tmp_path / "t.run", "-m", "RR", "-m", "nDCG@10", "--json").stdout)
    assert a["m.tsv"] == b["t.run"] and a["m.tsv"]["RR"] == pytest.approx(0.75)
    (tmp_path / "zero.tsv").write_text("1\ta\t0\n")
    with pytest.raises(UserError, match="zero.tsv line 1: rank must be a whole number"):
        read_run(tmp_path / "zero.tsv")


def test_gzip_everywhere(tmp_path, vr):
    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    for name in ("corpus.jsonl", "queries.jsonl"):
        gz(SAMPLE / name).rename(beir / f"{name}.gz")
    gz(SAMPLE / "qrels" / "test.tsv").rename(beir / "qrels" / "test.tsv.gz")
    assert load_texts(beir, "corpus").equals(load_texts(SAMPLE, "corpus"))
    assert load_texts(beir, "queries").equals(load_texts(SAMPLE, "queries"))
    assert read_qrels(beir).equals(read_qrels(SAMPLE))
    docs = load_texts(SAMPLE, "corpus").head(50)
    docs[["id", "text"]].to_csv(tmp_path / "c.tsv", sep="\t", index=False)
    docs[["id", "text"]].to_csv(tmp_path / "c.csv", index=False)
    for name in ("c.tsv", "c.csv"):
        got = load_texts(gz(tmp_path / name), "corpus")
        assert got["id"].tolist() == docs["id"].tolist() and got["text"].tolist() == docs["text"].tolist(), name
    (tmp_path / "r.run").write_text("q1 Q0 d1 1 2.0 t\n")
    assert read_run(gz(tmp_path / "r.run")).equals(read_run(tmp_path / "r.run"))
    (tmp_path / "log.csv").write_text("user_id,item_id\nu1,a\n")
    assert read_qrels(gz(tmp_path / "log.csv")).values.tolist() == [["u1", "a", 1]]
    # the whole chain from gzipped BEIR files
    assert vr("build-index", "--corpus", beir, "--backend", "bm25", "--out", tmp_path / "b").exit_code == 0
    assert vr("query", "--index", tmp_path / "b", "--queries", beir, "-k", 10, "--out", tmp_path / "b.run").exit_code == 0
    r = vr("eval", "--qrels", beir, gz(tmp_path / "b.run"), "-m", "nDCG@10", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["b.run.gz"]["nDCG@10"] > 0.3


# ---------------------------------------------------------------------------------------------------------------
# Unreadable inputs: one line naming file and line, exit 2, nothing written
# ---------------------------------------------------------------------------------------------------------------

LATIN1 = "caf\xe9".encode("latin-1")


def _write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


@pytest.mark.parametrize("name,data,fragments", [
    ("c.jsonl", b'{"_id": "a", "text": "x"}\n{"_id": "b", "text": "' + LATIN1 + b'"}\n', ["c.jsonl line 2", "not valid UTF-8", "0xe9"]),
    ("c.tsv", b"id\ttext\na\t" + LATIN1 + b"\n", ["c.tsv line 2", "not valid UTF-8"]),
    ("c.csv", b"id,text\na,ok\nb," + LATIN1 + b"\n", ["c.csv line 3", "not valid UTF-8"]),
    ("c.trec", b"<DOC>\n<DOCNO>a</DOCNO>\n" + LATIN1 + b"\n</DOC>\n", ["c.trec line 3", "not valid UTF-8"]),
    ("c.csv", "id,text,title\na,x,t\nb,y\n", ["c.csv line 3", "2 field(s) but the header has 3 (id, text, title)"]),
    ("c.csv", "id,text\na,x\nb,y,z\n", ["c.csv line 3", "3 field(s) but the header has 2"]),
    ("c.tsv", "id\ttext\na\tx\tz\n", ["c.tsv line 2", "a TSV field cannot contain a tab"]),
    ("c.csv", 'id,text\na,"unclosed\nb,y\n', ["c.csv line 2", "not valid CSV"]),
    ("c.parquet", b"PAR1 this is not parquet", ["c.parquet", "not a readable Parquet file"]),
    ("c.jsonl.gz", gzip.compress(b'{"_id": "a", "text": "x"}\n' * 50)[:-20], ["c.jsonl.gz", "cannot read", "download complete"]),
    ("c.jsonl.gz", b'{"_id": "a", "text": "x"}\n', ["c.jsonl.gz", "not gzip-compressed"]),
    ("c.tsv", "a\tb\tc\td\te\n1\t2\t3\t4\t5\n", ["c.tsv line 2", "no id", "fields: a, b, c, d, e"]),  # wide and nameless: read as a header, then no id column
    ("c.tsv", "1\ttext\tt\tx\n", ["c.tsv line 1", "4 field(s); a headerless file holds id<TAB>text[<TAB>title]"]),
])
def test_unreadable_texts(vr, tmp_path, name, data, fragments):
    path = _write(tmp_path / name, data)
    r = vr("encode", "--corpus", path, "--out", tmp_path / "e", "--model", FAST_MODEL)
    assert_user_error(r, *fragments)
    assert not (tmp_path / "e").exists()


def test_bom_is_stripped(tmp_path):
    _write(tmp_path / "c.tsv", "\ufeffid\ttext\nd1\thello\n")
    assert load_texts(tmp_path / "c.tsv", "corpus")["id"].tolist() == ["d1"]
    _write(tmp_path / "c.csv", "\ufeffdocid,text\nd1,hello\n")
    assert load_texts(tmp_path / "c.csv", "corpus")["id"].tolist() == ["d1"]
    _write(tmp_path / "c.jsonl", '\ufeff{"_id": "d1", "text": "hello"}\n')
    assert load_texts(tmp_path / "c.jsonl", "corpus")["id"].tolist() == ["d1"]
    _write(tmp_path / "q.tsv", "\ufeffquery-id\tcorpus-id\tscore\nq1\td1\t1\n")
    assert read_qrels(tmp_path / "q.tsv").values.tolist() == [["q1", "d1", 1]]
    _write(tmp_path / "log.csv", "\ufeffuser_id,item_id\nu1,i1\n")
    assert read_qrels(tmp_path / "log.csv").values.tolist() == [["u1", "i1", 1]]
    _write(tmp_path / "r.run", "\ufeffq1 Q0 d1 1 1.0 t\n")
    assert read_run(tmp_path / "r.run")["qid"].tolist() == ["q1"]


@pytest.mark.parametrize("qrels,fragments", [
    ("q1 0 d1 1 extra\n", ["q.txt line 1", "5 fields", "'qid iter docno rel' (TREC, 4 fields)", "(BEIR, 3 fields)"]),
    ("q1 d1\n", ["q.txt line 1", "2 fields"]),
    ("q1 0 d1 1\nq1 d2 1\n", ["q.txt line 2", "like line 1", "got 3"]),
    ("q1 0 d1 1\nq1 0 d1 2\n", ["q.txt line 2", "duplicate judgement", "'q1'", "'d1'"]),
    ("q1 0 d1 high\n", ["q.txt line 1", "relevance grade 'high'"]),
    (b"q1 0 d1 1\nq2 0 " + LATIN1 + b" 1\n", ["q.txt line 2", "not valid UTF-8"]),
])
def test_bad_qrels(vr, tmp_path, qrels, fragments):
    _write(tmp_path / "q.txt", qrels)
    (tmp_path / "r.run").write_text("q1 Q0 d1 1 1.0 t\n")
    assert_user_error(vr("eval", "--qrels", tmp_path / "q.txt", tmp_path / "r.run"), *fragments)


def test_qrels_layouts(tmp_path):
    (tmp_path / "beir.tsv").write_text("q1\td1\t2\n")  # BEIR without its header
    (tmp_path / "spaces.txt").write_text("q1 d1 2\n")
    (tmp_path / "trec.txt").write_text("q1 0 d1 2\n")
    assert all(read_qrels(tmp_path / f).values.tolist() == [["q1", "d1", 2]] for f in ("beir.tsv", "spaces.txt", "trec.txt"))
    (tmp_path / "qid.txt").write_text("qid 0 d1 1\n")  # a query literally named 'qid', read with --no-header
    assert read_qrels(tmp_path / "qid.txt", header=False).values.tolist() == [["qid", "d1", 1]]


@pytest.mark.parametrize("run,fragments", [
    ("q1 Q0 d1 1 1.0\n", ["r.run line 1", "5 field(s)", "(TREC, 6 fields)", "(MS MARCO, 3 fields)"]),
    ("q1 Q0 d1 1 1.0 t extra\n", ["r.run line 1", "7 field(s)"]),
    ("q1 d1 1 1.0\n", ["r.run line 1", "4 field(s)"]),
    ("q1 Q0 d1 1 1.0 t\nq1 d2 2\n", ["r.run line 2", "like line 1", "got 3"]),
    ("q1 Q0 d1 one 1.0 t\n", ["r.run line 1", "rank must be an integer"]),
    ("q1 Q0 d1 1 high t\n", ["r.run line 1", "score a number"]),
    ("q1\td1\tx\n", ["r.run line 1", "rank must be a whole number"]),
    (b"q1 Q0 d1 1 1.0 t\nq1 Q0 " + LATIN1 + b" 2 0.5 t\n", ["r.run line 2", "not valid UTF-8"]),
])
def test_bad_runs(vr, tmp_path, run, fragments):
    (tmp_path / "q.txt").write_text("q1 0 d1 1\n")
    _write(tmp_path / "r.run", run)
    assert_user_error(vr("eval", "--qrels", tmp_path / "q.txt", tmp_path / "r.run"), *fragments)
    assert_user_error(vr("fuse", tmp_path / "r.run", tmp_path / "r.run", "--out", tmp_path / "f.run"), *fragments)
    assert not (tmp_path / "f.run").exists()


def test_corrupt_parquet_everywhere(vr, tmp_path):
    bad = _write(tmp_path / "x.parquet", b"PAR1 truncated")
    (tmp_path / "q.txt").write_text("q1 0 d1 1\n")
    (tmp_path / "r.run").write_text("q1 Q0 d1 1 1.0 t\n")
    assert_user_error(vr("eval", "--qrels", bad, tmp_path / "r.run"), "x.parquet", "not a readable Parquet file")
    assert_user_error(vr("eval", "--qrels", tmp_path / "q.txt", bad), "x.parquet", "not a readable Parquet file")
    pd.DataFrame({"qid": ["q1"], "docid": ["d1"], "score": ["high"]}).to_parquet(tmp_path / "s.parquet")
    assert_user_error(vr("eval", "--qrels", tmp_path / "q.txt", tmp_path / "s.parquet"), "s.parquet", "'score' must hold numbers")


def test_bad_interaction_log_rows(vr, tmp_path):
    (tmp_path / "run").write_text("u1 Q0 a 1 1.0 x\n")
    _write(tmp_path / "log.csv", "user_id,item_id\nu1,a\nu2,b,c\n")
    assert_user_error(vr("eval", "--qrels", tmp_path / "log.csv", tmp_path / "run"), "log.csv line 3", "3 field(s)")
    _write(tmp_path / "log.csv", b"user_id,item_id\nu1," + LATIN1 + b"\n")
    assert_user_error(vr("eval", "--qrels", tmp_path / "log.csv", tmp_path / "run"), "log.csv line 2", "not valid UTF-8")


def test_bad_dates(vr, sample_chain, tmp_path):
    run = tmp_path / "flat.run"
    assert vr("query", "--index", sample_chain["flat"], "--queries", sample_chain["qemb"], "-k", "5", "--out", run).exit_code == 0
    out = tmp_path / "x.run"
    for now in ("2020-13-01", "yesterday", "2020-02-30", "now"):
        assert_user_error(vr("decay", "--run", run, "--corpus", SAMPLE, "--decay-field", "date", "--now", now, "--out", out),
                          f"--now '{now}'", "YYYY-MM-DD")
        assert_user_error(vr("fuse", run, run, "--decay-field", "date", "--corpus", SAMPLE, "--now", now, "--out", out),
                          f"--now '{now}'")
    r = vr("decay", "--run", run, "--corpus", SAMPLE, "--decay-field", "date", "--now", "2030-01-01", "--out", out)
    assert r.exit_code == 0, r.stderr
    out.unlink()
    for expr in ("date >= '2020-13-45'", "date in ('2021-01-01', '2021-02-30')"):
        r = vr("query", "--index", sample_chain["flat"], "--queries", sample_chain["qemb"], "--filter", expr, "--out", out)
        assert_user_error(r, "--filter", "is not a date", "position")
    assert not out.exists()


def test_split_default_is_shared(vr, tmp_path):
    """eval and fuse read qrels/test.tsv of a BEIR directory by default; fuse --optimize warns it tunes on test."""
    import typer

    from vecrecall.cli import eval as eval_cli, fuse as fuse_cli

    for fn in (eval_cli.eval_cmd, fuse_cli.fuse_cmd):
        import inspect

        opt = inspect.signature(fn).parameters["split"].default
        assert isinstance(opt, typer.models.OptionInfo) and opt.default == "test", fn
    (tmp_path / "a.run").write_text("".join(f"{q} Q0 {d} {i + 1} {9 - i} a\n" for q in ("0", "1") for i, d in enumerate(["d1", "d2"])))
    shutil.copy(tmp_path / "a.run", tmp_path / "b.run")
    beir = tmp_path / "beir"
    (beir / "qrels").mkdir(parents=True)
    (beir / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n0\td1\t1\n")
    r = vr("fuse", tmp_path / "a.run", tmp_path / "b.run", "--optimize", "--qrels", beir, "-m", "RR", "--grid-steps", 2,
           "--out", tmp_path / "f.run")
    assert r.exit_code == 0, r.stderr
    assert "tunes the weights on the test split" in r.stderr
