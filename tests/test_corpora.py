"""textkit.corpora: named corpora, lazy reading, re-iterable tokenized corpora."""

from __future__ import annotations

import gzip
import re

import pytest

from textkit.corpora import (
    NAMED,
    TokenizedCorpus,
    check_nonempty,
    gensim_datapath,
    read_corpus,
    resolve_corpus,
)
from textkit.errors import EmptyCorpusError, InputFileError
from textkit.tokenize import get_tokenizer


def test_project_samples_exist_and_are_clean():
    for name, low, high in [("en_sample", 300, 400), ("zh_sample", 300, 400)]:
        path = resolve_corpus(name)
        assert path.name == f"{name}.txt" and path.is_file()
        raw = path.read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf") and b"\r" not in raw
        lines = list(read_corpus(name))
        assert low <= len(lines) <= high
        assert all(line.strip() for line in lines), "no blank lines"
        assert len(set(lines)) == len(lines), "no repeated lines"


def test_zh_sample_mixes_in_english_and_numbers():
    text = "\n".join(read_corpus("zh_sample"))
    assert len(re.findall(r"[\u4e00-\u9fff]", text)) > 5000
    for needle in ("iPhone", "COVID-19", "Wi-Fi", "Python", "2023"):
        assert needle in text


def test_en_sample_has_what_a_tokenizer_must_handle():
    text = "\n".join(read_corpus("en_sample"))
    for pattern in (r"\w+'\w+", r"\w+-\w+", r"\d+,\d{3}", r"\d+\.\d+"):
        assert re.search(pattern, text), pattern


def test_every_named_corpus_resolves():
    assert set(NAMED) == {"en_sample", "zh_sample", "wiki", "lee"}
    lee = resolve_corpus("lee")
    assert lee == gensim_datapath("lee_background.cor") and lee.exists()
    assert sum(1 for _ in read_corpus("lee")) == 300


def test_wiki_sample_is_extracted_once_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("TEXTKIT_CACHE", str(tmp_path))
    path = resolve_corpus("wiki")
    assert path.parent.parent == tmp_path
    words = sum(len(line.split()) for line in read_corpus("wiki"))
    assert 300_000 < words < 700_000
    mtime = path.stat().st_mtime_ns
    assert resolve_corpus("wiki").stat().st_mtime_ns == mtime


def test_paths_and_unknown_names(tmp_path):
    path = tmp_path / "my.txt"
    path.write_text("a b\n")
    assert resolve_corpus(path) == path
    assert list(read_corpus(str(path))) == ["a b"]
    with pytest.raises(InputFileError, match="no such file or named corpus"):
        resolve_corpus("en_sampel")
    with pytest.raises(InputFileError, match="no such file"):
        list(read_corpus(tmp_path / "missing.txt"))
    with pytest.raises(InputFileError, match="is a directory"):
        list(read_corpus(tmp_path))


def test_read_corpus_compressed_and_errors(tmp_path):
    path = tmp_path / "c.txt.gz"
    with gzip.open(path, "wb") as f:
        f.write(b"one\r\n\xe9two\r\n")
    with pytest.raises(InputFileError, match="line 2"):
        list(read_corpus(path))
    assert list(read_corpus(path, errors="replace")) == ["one", "\ufffdtwo"]


def test_tokenized_corpus_is_reiterable_and_skips_blank_lines(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("Hello, world!\n\n   \nIt's me.\n")
    corpus = TokenizedCorpus(path, get_tokenizer("en"))
    first = list(corpus)
    assert first == [["hello", ",", "world", "!"], ["it's", "me", "."]]
    assert list(corpus) == first
    assert list(TokenizedCorpus(path)) == [["Hello,", "world!"], ["It's", "me."]]  # whitespace by default


def test_tokenized_corpus_with_workers_matches_one_worker():
    one = list(TokenizedCorpus("zh_sample", get_tokenizer("zh")))
    two = list(TokenizedCorpus("zh_sample", get_tokenizer("zh"), workers=2))
    assert one == two and len(one) == sum(1 for _ in read_corpus("zh_sample"))


def test_check_nonempty():
    check_nonempty([[], ["a"]])
    with pytest.raises(EmptyCorpusError, match="no tokens"):
        check_nonempty([[], []], "empty.txt")
