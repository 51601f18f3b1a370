"""Loaders: every input form gives the same (id, text, metadata) rows; malformed input names its file and line."""

import json

import pandas as pd
import pytest

from conftest import FAST_MODEL, assert_user_error
from vecrecall.errors import UserError
from vecrecall.io.qrels import read_qrels
from vecrecall.io.runs import read_run, write_run
from vecrecall.io.texts import FieldSpec, load_texts

DOCS = [{"_id": "d1", "title": "Alpha", "text": "first doc", "year": 2001},
        {"_id": "d2", "title": "", "text": "second doc", "year": 2002}]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_beir_directory(sample):
    corpus = load_texts(sample, "corpus")
    queries = load_texts(sample, "queries")
    assert len(corpus) == 2000 and len(queries) == 40
    assert {"id", "text", "year", "date", "lang"} <= set(corpus.columns)
    assert corpus["id"].map(type).eq(str).all()


def test_title_is_prepended_and_metadata_kept(tmp_path):
    df = load_texts(write_jsonl(tmp_path / "c.jsonl", DOCS), "corpus")
    assert df["text"].tolist() == ["Alpha first doc", "second doc"]
    assert df["year"].tolist() == [2001, 2002]
    no_title = load_texts(tmp_path / "c.jsonl", "corpus", FieldSpec(title_field=""))
    assert no_title["text"].tolist() == ["first doc", "second doc"]


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet"])
def test_tables_match_jsonl(tmp_path, suffix):
    df = pd.DataFrame(DOCS).rename(columns={"_id": "docno", "text": "body"})
    path = tmp_path / f"c{suffix}"
    if suffix == ".parquet":
        df.to_parquet(path)
    else:
        df.to_csv(path, sep="\t" if suffix == ".tsv" else ",", index=False)
    got = load_texts(path, "corpus", FieldSpec(text_field="body"))
    assert got["id"].tolist() == ["d1", "d2"]
    assert got["text"].tolist() == ["Alpha first doc", "second doc"]


def test_trec_sgml_documents_and_topics(tmp_path):
    docs = tmp_path / "docs.trec"
    docs.write_text("<DOC>\n<DOCNO> A-1 </DOCNO>\n<TEXT>hello\nworld</TEXT>\n</DOC>\n<DOC>\n<DOCNO>A-2</DOCNO>\nplain body\n</DOC>\n")
    df = load_texts(docs, "corpus")
    assert df["id"].tolist() == ["A-1", "A-2"]
    assert df["text"].tolist() == ["hello world", "plain body"]
    topics = tmp_path / "topics.trec"
    topics.write_text("<top>\n<num> Number: 401\n<title> Topic: foreign minorities\n<desc> Description:\nlong text\n</top>\n"
                      "<top>\n<num>402</num><title>\nBEHAVIORAL GENETICS\n</title>\n</top>\n")
    q = load_texts(topics, "queries")
    assert q["id"].tolist() == ["401", "402"]
    assert q["text"].tolist() == ["foreign minorities", "BEHAVIORAL GENETICS"]
    with pytest.raises(UserError, match="line 7: topic 402 has no <desc>; set --text-field"):
        load_texts(topics, "queries", FieldSpec(text_field="desc"))
    topics.write_text(topics.read_text().split("<top>\n<num>402")[0])
    assert load_texts(topics, "queries", FieldSpec(text_field="desc"))["text"].tolist() == ["long text"]


def test_vaswani_trec_and_beir_agree(vaswani):
    trec = load_texts(vaswani / "trec" / "query-text.trec", "queries")
    beir = load_texts(vaswani / "beir", "queries")
    assert trec["id"].tolist() == beir["id"].tolist()
    assert [t.lower() for t in trec["text"]] == beir["text"].tolist()
    assert read_qrels(vaswani / "trec" / "qrels").sort_values(["qid", "docid"]).reset_index(drop=True).equals(
        read_qrels(vaswani / "beir").sort_values(["qid", "docid"]).reset_index(drop=True))


@pytest.mark.parametrize("rows,fragment", [
    ([{"_id": "a", "text": "x"}, {"_id": "a", "text": "y"}], "line 2: duplicate id 'a' (first on line 1)"),
    ([{"_id": "a", "text": "x"}, {"text": "y"}], "line 2: no id"),
    ([{"_id": "a", "text": "x"}, {"_id": "b", "words": "y"}], "line 2: no text"),
])
def test_bad_jsonl_rows(tmp_path, rows, fragment):
    with pytest.raises(UserError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        load_texts(write_jsonl(tmp_path / "c.jsonl", rows), "corpus")


def test_encode_bad_inputs_through_cli(vr, tmp_path):
    bad = write_jsonl(tmp_path / "dup.jsonl", [{"_id": "a", "text": "x"}, {"_id": "a", "text": "y"}])
    r = vr("encode", "--corpus", bad, "--out", tmp_path / "e", "--model", FAST_MODEL)
    assert_user_error(r, "dup.jsonl line 2", "duplicate id 'a'")
    assert not (tmp_path / "e").exists()
    (tmp_path / "empty.jsonl").write_text("")
    assert_user_error(vr("encode", "--corpus", tmp_path / "empty.jsonl", "--out", tmp_path / "e", "--model", FAST_MODEL), "empty")
    assert_user_error(vr("encode", "--corpus", tmp_path / "nope.jsonl", "--out", tmp_path / "e"), "nope.jsonl", "no such file")
    (tmp_path / "c.xyz").write_text("id,text\n")
    assert_user_error(vr("encode", "--corpus", tmp_path / "c.xyz", "--out", tmp_path / "e", "--model", FAST_MODEL), "unknown format")
    assert_user_error(vr("encode", "--corpus", tmp_path, "--out", tmp_path / "e", "--model", FAST_MODEL), "not a BEIR directory")
    (tmp_path / "broken.jsonl").write_text('{"_id": "a", "text": "x"}\n{"_id": \n')
    assert_user_error(vr("encode", "--corpus", tmp_path / "broken.jsonl", "--out", tmp_path / "e", "--model", FAST_MODEL), "broken.jsonl line 2", "not valid JSON")
    assert not (tmp_path / "e").exists()


def test_qrels_forms_and_errors(tmp_path):
    (tmp_path / "q.trec").write_text("1 0 d1 1\n1 0 d2 0\n2 0 d3 2\n")
    (tmp_path / "q.tsv").write_text("query-id\tcorpus-id\tscore\n1\td1\t1\n1\td2\t0\n2\td3\t2\n")
    a, b = read_qrels(tmp_path / "q.trec"), read_qrels(tmp_path / "q.tsv")
    assert a.equals(b) and a["rel"].tolist() == [1, 0, 2]
    a.to_parquet(tmp_path / "q.parquet")
    assert read_qrels(tmp_path / "q.parquet").equals(a)
    (tmp_path / "short.trec").write_text("1 0 d1 1\n1 d2 1\n")
    with pytest.raises(UserError, match="short.trec line 2: expected 'qid iter docno rel' \\(4 fields\\) like line 1, got 3 field"):
        read_qrels(tmp_path / "short.trec")
    (tmp_path / "grade.trec").write_text("1 0 d1 yes\n")
    with pytest.raises(UserError, match="grade.trec line 1: relevance grade 'yes' is not an integer"):
        read_qrels(tmp_path / "grade.trec")


def test_run_round_trip_and_duplicates(tmp_path):
    run = pd.DataFrame({"qid": ["1", "1", "2"], "docid": ["a", "b", "a"], "rank": [1, 2, 1], "score": [0.5, 0.25, 1 / 3]})
    for name in ("r.trec", "r.parquet"):
        write_run(run, tmp_path / name)
        back = read_run(tmp_path / name)
        assert back.equals(run), name
    (tmp_path / "dup.run").write_text("1 Q0 a 1 2.0 t\n1 Q0 b 2 1.0 t\n1 Q0 a 3 0.5 t\n")
    with pytest.raises(UserError, match="dup.run line 3: document 'a' appears twice for query '1'"):
        read_run(tmp_path / "dup.run")
