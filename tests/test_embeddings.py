"""KeyedVectors: queries, formats and evaluation, with gensim as the oracle."""

from __future__ import annotations

import numpy as np
import pytest
from gensim.models import KeyedVectors as GensimKV
from hypothesis import given, settings
from hypothesis import strategies as st

from textkit.corpora import gensim_datapath
from textkit.embeddings import KeyedVectors, load_vectors, save_vectors
from textkit.errors import InputFileError, ModelFileError, UnknownWordError, UsageError
from textkit.io import iter_lines


def random_kv(words: list[str], dim: int = 6, seed: int = 0) -> KeyedVectors:
    rng = np.random.default_rng(seed)
    return KeyedVectors(words, rng.normal(size=(len(words), dim)).astype(np.float32),
                        counts=np.arange(len(words), 0, -1) * 10)


def as_gensim(kv: KeyedVectors) -> GensimKV:
    g = GensimKV(kv.vector_size)
    g.add_vectors(kv.index_to_key, kv.vectors)
    return g


WORDS = [f"w{i}" for i in range(60)] + ["café", "naïve", "北京"]


@pytest.fixture(scope="module")
def kv() -> KeyedVectors:
    return random_kv(WORDS)


# ---- queries against gensim -------------------------------------------------------------------
@pytest.mark.parametrize("positive,negative,restrict", [(["w1"], [], None), (["w1", "w7"], ["w3"], None),
                                                         (["café"], ["w2"], 20), ([], ["w5"], None)])
def test_most_similar_matches_gensim(kv, positive, negative, restrict):
    ours = kv.most_similar(positive=positive, negative=negative, topn=8, restrict_vocab=restrict)
    theirs = as_gensim(kv).most_similar(positive=positive, negative=negative, topn=8, restrict_vocab=restrict)
    assert [w for w, _ in ours] == [w for w, _ in theirs]
    np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], atol=1e-5)


def test_similarity_3cosmul_and_doesnt_match_match_gensim(kv):
    g = as_gensim(kv)
    assert kv.similarity("w1", "北京") == pytest.approx(float(g.similarity("w1", "北京")), abs=1e-6)
    ours = kv.analogy("w1", "w2", "w3", method="3cosmul", topn=5)
    theirs = g.most_similar_cosmul(positive=["w2", "w3"], negative=["w1"], topn=5)
    assert [w for w, _ in ours] == [w for w, _ in theirs]
    np.testing.assert_allclose([s for _, s in ours], [s for _, s in theirs], rtol=1e-5)
    words = ["w1", "w2", "w3", "w4", "naïve"]
    assert kv.doesnt_match(words) == g.doesnt_match(words)


def test_analogy_3cosadd_is_the_vector_offset():
    kv = KeyedVectors(["man", "woman", "king", "queen", "apple"],
                      np.array([[1, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1], [0, 0, -1]], dtype=np.float32))
    assert kv.analogy("man", "king", "woman")[0][0] == "queen"
    assert kv.analogy("man", "king", "woman", method="3cosmul")[0][0] == "queen"
    with pytest.raises(UsageError, match="3cosadd or 3cosmul"):
        kv.analogy("man", "king", "woman", method="cos")


def test_unknown_word_names_the_word_and_close_words(kv):
    with pytest.raises(UnknownWordError, match=r"'cafe' is not in the vocabulary.*close words: café"):
        kv.most_similar("cafe")
    with pytest.raises(UnknownWordError, match="'zzz'"):
        kv.similarity("w1", "zzz")


# ---- formats ------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".txt", ".bin"])
def test_textkit_files_load_in_gensim_identically(tmp_path, kv, suffix):
    path = tmp_path / f"v{suffix}"
    kv.save_word2vec_format(path)
    g = GensimKV.load_word2vec_format(str(path), binary=suffix == ".bin")
    assert g.index_to_key == kv.index_to_key
    np.testing.assert_array_equal(g.vectors, kv.vectors)


@pytest.mark.parametrize("binary", [False, True])
def test_gensim_files_load_in_textkit_identically(tmp_path, kv, binary):
    path = tmp_path / ("g.bin" if binary else "g.txt")
    as_gensim(kv).save_word2vec_format(str(path), binary=binary)
    ours = KeyedVectors.load_word2vec_format(path, binary=binary)
    assert ours.index_to_key == kv.index_to_key
    np.testing.assert_array_equal(ours.vectors, kv.vectors)


def test_reads_compressed_files_and_limit(tmp_path, kv):
    import gzip

    path = tmp_path / "v.txt"
    kv.save_word2vec_format(path)
    gz = tmp_path / "v.txt.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    small = KeyedVectors.load_word2vec_format(gz, limit=5)
    assert small.index_to_key == kv.index_to_key[:5]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.text(st.characters(blacklist_categories=("Cs", "Zs", "Cc")), min_size=1, max_size=8),
                min_size=1, max_size=12, unique=True),
       st.integers(1, 5), st.sampled_from([".txt", ".bin", ".safetensors"]))
def test_every_format_round_trips(tmp_path_factory, words, dim, suffix):
    kv = random_kv(words, dim=dim)
    path = tmp_path_factory.mktemp("rt") / f"v{suffix}"
    save_vectors(kv, path)
    back = load_vectors(path)
    assert back.index_to_key == kv.index_to_key
    np.testing.assert_array_equal(back.vectors, kv.vectors)
    if suffix == ".safetensors":
        assert back.counts.tolist() == kv.counts.tolist()


def test_native_folder_keeps_counts(tmp_path, kv):
    save_vectors(kv, tmp_path / "model")
    assert (tmp_path / "model" / "vectors.safetensors").exists()
    back = load_vectors(tmp_path / "model")
    assert back.counts.tolist() == kv.counts.tolist()


@pytest.mark.parametrize("content,message", [
    (b"", "not a word2vec file"),
    (b"hello world\n", "not a word2vec file"),
    (b"3 2\na 1 2\nb 1\n", "line 3 has 1 values, expected 2"),
    (b"3 2\na 1 2\nb 1 2\n", "ends after 2"),
    (b"1 2\na 1 x\n", "not a number"),
])
def test_corrupt_text_files_raise_model_file_error(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message):
        KeyedVectors.load_word2vec_format(path)


def test_truncated_binary_and_foreign_native_files(tmp_path, kv):
    path = tmp_path / "v.bin"
    kv.save_word2vec_format(path)
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(ModelFileError, match="ends after"):
        KeyedVectors.load_word2vec_format(path)
    kv.save(tmp_path / "n.safetensors")
    (tmp_path / "n.json").write_text('{"format": "something else"}')
    with pytest.raises(ModelFileError, match="not a textkit vectors file"):
        load_vectors(tmp_path / "n.safetensors")
    (tmp_path / "n.safetensors").write_bytes(b"garbage")
    with pytest.raises(ModelFileError):
        KeyedVectors.load(tmp_path / "n.safetensors")
    with pytest.raises(InputFileError, match="no such file"):
        load_vectors(tmp_path / "missing.bin")


# ---- evaluation against gensim ---------------------------------------------------------------
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
def eval_kv() -> KeyedVectors:
    return random_kv(evaluation_vocabulary(), dim=4, seed=1)  # few dimensions: some analogies come out right


@pytest.mark.parametrize("restrict,case_insensitive", [(300_000, True), (250, True), (300_000, False)])
def test_analogy_evaluation_matches_gensim(eval_kv, restrict, case_insensitive):
    ours = eval_kv.evaluate_word_analogies("google", restrict_vocab=restrict, case_insensitive=case_insensitive)
    score, sections = as_gensim(eval_kv).evaluate_word_analogies(
        str(gensim_datapath("questions-words.txt")), restrict_vocab=restrict, case_insensitive=case_insensitive)
    assert ours.correct > 0
    assert ours.accuracy == pytest.approx(score)
    total = sections[-1]
    assert ours.covered == len(total["correct"]) + len(total["incorrect"])
    assert [(s["section"], s["correct"], s["covered"]) for s in ours.sections] == \
        [(s["section"], len(s["correct"]), len(s["correct"]) + len(s["incorrect"])) for s in sections[:-1]]


@pytest.mark.parametrize("name,file", [("ws353", "wordsim353.tsv"), ("simlex", "simlex999.txt")])
def test_pair_evaluation_matches_gensim(eval_kv, name, file):
    ours = eval_kv.evaluate_word_pairs(name)
    pearson, spearman, oov = as_gensim(eval_kv).evaluate_word_pairs(str(gensim_datapath(file)))
    assert ours.spearman == pytest.approx(spearman[0], abs=1e-9)
    assert ours.pearson == pytest.approx(pearson[0], abs=1e-6)
    assert 100 * ours.oov_ratio == pytest.approx(oov)


def test_any_path_in_the_pair_format_works(tmp_path):
    kv = KeyedVectors(["a", "b", "c", "d"], np.array([[1, 0], [1, 0.1], [0, 1], [-1, 0]], dtype=np.float32))
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("# comment\na\tb\t9\na\tc\t5\na\td\t1\na\tzzz\t3\n")
    result = kv.evaluate_word_pairs(pairs)
    assert result.spearman == pytest.approx(1.0) and result.pairs == 3 and result.oov == 1
    with pytest.raises(InputFileError, match="named evaluation sets"):
        kv.evaluate_word_pairs(tmp_path / "missing.tsv")
