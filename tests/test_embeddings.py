"""Word vectors: gensim KeyedVectors built from textkit's arrays, word2vec files, folders, evaluation."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from gensim.models import KeyedVectors as GensimKV
from hypothesis import given, settings
from hypothesis import strategies as st

from textkit.corpora import gensim_datapath
from textkit.embeddings import (
    check_words,
    evaluate_analogies,
    evaluate_pairs,
    keyed_vectors,
    load_vectors,
    load_word2vec_format,
    save_vectors,
    word_counts,
    write_word2vec_format,
)
from textkit.errors import InputFileError, ModelFileError, UnknownWordError, UsageError
from textkit.io import iter_lines


def random_kv(words: list[str], dim: int = 6, seed: int = 0, counts: bool = True) -> GensimKV:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(len(words), dim)).astype(np.float32)
    return keyed_vectors(words, vectors, np.arange(len(words), 0, -1) * 10 if counts else None)


def gensim_built(kv: GensimKV) -> GensimKV:
    """The same vectors put together by gensim's own API."""
    g = GensimKV(kv.vector_size)
    g.add_vectors(kv.index_to_key, kv.vectors.copy())
    return g


WORDS = [f"w{i}" for i in range(60)] + ["café", "naïve", "北京"]


@pytest.fixture(scope="module")
def kv() -> GensimKV:
    return random_kv(WORDS)


# ---- building gensim's KeyedVectors from textkit's arrays -----------------------------------------
def test_keyed_vectors_share_the_matrix_and_answer_like_gensims_own(kv):
    matrix = np.random.default_rng(3).normal(size=(4, 3)).astype(np.float32)
    shared = keyed_vectors(["a", "b", "c", "d"], matrix, [4, 3, 2, 1])
    assert isinstance(shared, GensimKV) and shared.vectors is matrix
    assert [shared.get_vecattr(w, "count") for w in "abcd"] == [4, 3, 2, 1]
    own = gensim_built(kv)
    for positive, negative in ((["w1"], []), (["w1", "w7"], ["w3"]), (["café"], ["w2"])):
        assert kv.most_similar(positive=positive, negative=negative, topn=8) == own.most_similar(
            positive=positive, negative=negative, topn=8
        )
    assert kv.doesnt_match(["w1", "w2", "w3", "naïve"]) == own.doesnt_match(["w1", "w2", "w3", "naïve"])
    with pytest.raises(ModelFileError, match="twice"):
        keyed_vectors(["a", "a"], np.zeros((2, 2), np.float32))


def test_unknown_word_names_the_word_and_close_words(kv):
    with pytest.raises(UnknownWordError, match=r"'cafe' is not in the vocabulary.*close words: café"):
        check_words(kv, ["w1", "cafe"])
    check_words(kv, ["w1", "北京"])


# ---- the word2vec formats -----------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".txt", ".bin"])
def test_textkit_files_load_in_gensim_identically(tmp_path, kv, suffix):
    path = tmp_path / f"v{suffix}"
    write_word2vec_format(path, kv.index_to_key, kv.vectors)
    g = GensimKV.load_word2vec_format(str(path), binary=suffix == ".bin")
    assert g.index_to_key == kv.index_to_key
    np.testing.assert_array_equal(g.vectors, kv.vectors)  # 9 significant digits: every float32 exactly


def test_text_rows_are_written_in_blocks_past_the_block_size(tmp_path):
    big = random_kv([f"w{i}" for i in range(5000)], dim=3, counts=False)
    path = tmp_path / "big.txt"
    write_word2vec_format(path, big.index_to_key, big.vectors)
    back = GensimKV.load_word2vec_format(str(path))
    assert back.index_to_key == big.index_to_key
    np.testing.assert_array_equal(back.vectors, big.vectors)


@pytest.mark.parametrize("binary", [False, True])
def test_gensim_files_load_in_textkit_identically(tmp_path, kv, binary):
    path = tmp_path / ("g.bin" if binary else "g.txt")
    gensim_built(kv).save_word2vec_format(str(path), binary=binary)
    ours = load_word2vec_format(path, binary=binary)
    assert isinstance(ours, GensimKV) and ours.index_to_key == kv.index_to_key
    np.testing.assert_array_equal(ours.vectors, kv.vectors)


def test_reads_compressed_files_and_limit(tmp_path, kv):
    path = tmp_path / "v.txt"
    save_vectors(kv, path)
    gz = tmp_path / "v.txt.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    small = load_word2vec_format(gz, limit=5)
    assert small.index_to_key == kv.index_to_key[:5]


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.text(st.characters(blacklist_categories=("Cs", "Zs", "Cc")), min_size=1, max_size=8),
        min_size=1,
        max_size=12,
        unique=True,
    ),
    st.integers(1, 5),
    st.sampled_from([".txt", ".bin", ""]),
)
def test_every_format_round_trips(tmp_path_factory, words, dim, suffix):
    kv = random_kv(words, dim=dim)
    path = tmp_path_factory.mktemp("rt") / f"v{suffix}"
    save_vectors(kv, path)
    back = load_vectors(path)
    assert back.index_to_key == kv.index_to_key
    np.testing.assert_array_equal(back.vectors, kv.vectors)
    if not suffix:  # the folder keeps the counts
        assert word_counts(back) == word_counts(kv)


def test_a_folder_is_safetensors_and_json_and_loads_through_textkit_load(tmp_path, kv):
    import textkit.artifacts

    folder = save_vectors(kv, tmp_path / "model")
    assert sorted(p.name for p in folder.iterdir()) == ["config.json", "vocab.json", "weights.safetensors"]
    back = textkit.artifacts.load(folder)
    assert isinstance(back, GensimKV) and word_counts(back) == word_counts(kv)
    with pytest.raises(Exception, match="exists"):
        save_vectors(kv, tmp_path / "model")
    save_vectors(random_kv(WORDS, seed=5), tmp_path / "model", force=True)
    assert not np.array_equal(load_vectors(tmp_path / "model").vectors, kv.vectors)
    with pytest.raises(UsageError, match="folder"):
        save_vectors(kv, tmp_path / "v.safetensors")


@pytest.mark.parametrize(
    "content,message",
    [
        (b"", "not a word2vec file"),
        (b"hello world\n", "not a word2vec file"),
        (b"3 2\na 1 2\nb 1\n", "line 3 has 1 values, expected 2"),
        (b"3 2\na 1 2\nb 1 2\n", "ends after 2"),
        (b"1 2\na 1 x\n", "not a number"),
    ],
)
def test_corrupt_text_files_raise_model_file_error(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message):
        load_word2vec_format(path)


def test_truncated_binary_and_foreign_folders(tmp_path, kv):
    path = tmp_path / "v.bin"
    save_vectors(kv, path)
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(ModelFileError, match="ends after"):
        load_vectors(path)
    folder = save_vectors(kv, tmp_path / "n")
    (folder / "weights.safetensors").write_bytes(b"garbage")
    with pytest.raises(ModelFileError):
        load_vectors(folder)
    (folder / "config.json").write_text('{"format": "something else"}')
    with pytest.raises(ModelFileError, match="not a textkit model"):
        load_vectors(folder)
    with pytest.raises(InputFileError, match="no such file"):
        load_vectors(tmp_path / "missing.bin")


# ---- evaluation on named sets, against gensim's raw figures --------------------------------------
def evaluation_vocabulary(max_words: int = 400) -> list[str]:
    """Mixed-case words from the analogy and similarity sets, with lower-case duplicates."""
    seen: dict[str, None] = {}
    for name in ("questions-words.txt", "wordsim353.tsv"):
        for line in iter_lines(gensim_datapath(name)):
            if line.startswith((":", "#")):
                continue
            for word in line.split()[:4] if name.startswith("q") else line.split("\t")[:2]:
                seen.setdefault(word, None)
    words = list(seen)[:max_words]
    return words + [w.lower() for w in words[::7] if w.lower() not in seen]


@pytest.fixture(scope="module")
def eval_kv() -> GensimKV:
    return random_kv(evaluation_vocabulary(), dim=4, seed=1)  # few dimensions: some analogies come out right


@pytest.mark.parametrize("restrict,case_insensitive", [(300_000, True), (250, True)])
def test_analogy_evaluation_is_gensims(eval_kv, restrict, case_insensitive):
    ours = evaluate_analogies(eval_kv, "google", restrict_vocab=restrict, case_insensitive=case_insensitive)
    score, sections = gensim_built(eval_kv).evaluate_word_analogies(
        str(gensim_datapath("questions-words.txt")), restrict_vocab=restrict, case_insensitive=case_insensitive
    )
    assert ours["correct"] > 0 and ours["accuracy"] == pytest.approx(score)
    total = sections[-1]
    assert ours["covered"] == len(total["correct"]) + len(total["incorrect"])
    assert ours["total"] == 19544 and ours["oov_ratio"] == pytest.approx(1 - ours["covered"] / 19544)
    assert [(s["section"], s["correct"], s["covered"]) for s in ours["sections"]] == [
        (s["section"], len(s["correct"]), len(s["correct"]) + len(s["incorrect"])) for s in sections[:-1]
    ]


@pytest.mark.parametrize("name,file", [("ws353", "wordsim353.tsv"), ("simlex", "simlex999.txt")])
def test_pair_evaluation_is_gensims(eval_kv, name, file):
    ours = evaluate_pairs(eval_kv, name)
    pearson, spearman, oov = gensim_built(eval_kv).evaluate_word_pairs(str(gensim_datapath(file)))
    assert ours["spearman"] == pytest.approx(spearman[0], abs=1e-9)
    assert ours["pearson"] == pytest.approx(pearson[0], abs=1e-6)
    assert 100 * ours["oov_ratio"] == pytest.approx(oov, abs=0.2)


def test_any_path_in_the_pair_format_works(tmp_path):
    kv = keyed_vectors(["a", "b", "c", "d"], np.array([[1, 0], [1, 0.1], [0, 1], [-1, 0]], dtype=np.float32))
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("# comment\na\tb\t9\na\tc\t5\na\td\t1\na\tzzz\t3\n")
    result = evaluate_pairs(kv, pairs)
    assert result["spearman"] == pytest.approx(1.0) and result["pairs"] == 3 and result["oov"] == 1
    with pytest.raises(InputFileError, match="named evaluation sets"):
        evaluate_pairs(kv, tmp_path / "missing.tsv")


def test_pairs_that_cannot_be_correlated_say_why(tmp_path):
    from textkit.errors import UsageError

    kv = keyed_vectors(["a", "b", "c", "d"], np.array([[1, 0], [1, 0.1], [0, 1], [-1, 0]], dtype=np.float32))
    constant = tmp_path / "constant.tsv"
    constant.write_text("a\tb\t5\na\tc\t5\na\td\t5\n")
    with pytest.raises(UsageError, match="3 pairs found in the vocabulary have constant"):
        evaluate_pairs(kv, constant)
    unknown = tmp_path / "unknown.tsv"
    unknown.write_text("a\tb\t9\nx\ty\t5\nx\tz\t1\n")
    with pytest.raises(UsageError, match="fewer than 2 pairs have both words"):
        evaluate_pairs(kv, unknown)
    unknown.write_text("a\tb\t9\na\tc\t5\nx\tz\t1\n")
    with pytest.raises(UsageError, match="only 2 pairs have both words"):
        evaluate_pairs(kv, unknown)
