"""ARPA files: textkit → kenlm gives textkit's numbers; a hand-written file scores the same in both."""

from __future__ import annotations

import gzip
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from textkit.errors import ModelFileError, TextkitError
from textkit.lm import load_language_model
from textkit.lm.arpa import read_arpa, write_arpa
from textkit.lm.ngram import NgramLM

kenlm = pytest.importorskip("kenlm")

TRAIN = [
    "the cat sat on the mat",
    "the dog sat on the log",
    "a cat and a dog sat",
    "the cat ate the rat",
    "a rat sat on a cat",
    "the dog ate",
    "on the mat the cat sat",
]
TEST = ["the cat sat on the log", "a dog ate the mat", "the rat sat", "a cow sat on the hat", "dog"]

# Written by hand (as SRILM/KenLM write them): back-offs on some entries and not others, a
# trigram section, and values chosen so each score below can be added up on paper.
HAND_ARPA = """\
\\data\\
ngram 1=5
ngram 2=4
ngram 3=2

\\1-grams:
-1.0\t<unk>
-99\t<s>\t-0.3
-0.7\t</s>
-0.5\ta\t-0.15
-0.5\tb\t-0.2

\\2-grams:
-0.2\t<s> a\t-0.1
-0.4\ta b\t-0.05
-0.3\tb </s>
-0.5\ta </s>

\\3-grams:
-0.1\t<s> a b
-0.25\ta b </s>

\\end\\
"""
HAND_SCORES = {
    "a b": -0.2 - 0.1 - 0.25,  # <s> a | <s> a b | a b </s>: all listed
    "b a b": (-0.3 - 0.5) + (-0.2 - 0.5) + (-0.4) + (-0.25),  # bow(<s>)+p(b); bow(b)+p(a); p(b|a); listed
    "a a": -0.2 + (-0.1 - 0.15 - 0.5) + (-0.5),  # p(a|<s> a) backs off twice: bow(<s> a), bow(a)
    "zz b": (-0.3 - 1.0) + (-0.5) + (-0.3),  # <unk>: bow(<s>)+p(<unk>); p(b); p(</s>|b)
}


def kenlm_total(path, lines):
    model = kenlm.Model(str(path))
    return sum(model.score(line, bos=True, eos=True) for line in lines if line.split())


def textkit_total(lm, lines):
    return sum(lm.score(line) for line in lines if line.split())


@pytest.mark.parametrize("order", [2, 3, 4])
@pytest.mark.parametrize("smoothing", ["kn", "mkn"])
@pytest.mark.parametrize("suffix", [".arpa", ".arpa.gz"])
def test_textkit_arpa_scores_the_same_in_kenlm(tmp_path, order, smoothing, suffix):
    lm = NgramLM(order=order, smoothing=smoothing).fit([line.split() for line in TRAIN])
    path = tmp_path / f"m{suffix}"
    lm.to_arpa(path)
    ours = textkit_total(lm, TEST)  # the in-memory model, float64
    theirs = kenlm_total(path, TEST)
    assert abs(ours - theirs) / abs(theirs) <= 1e-4
    assert abs(ours - theirs) < 1e-5  # in fact: equal up to the 7 digits written
    # per-sentence, and with the sentence markers switched off
    model = kenlm.Model(str(path))
    for line in TEST:
        for bos, eos in [(True, True), (False, False), (True, False)]:
            assert lm.score(line, bos=bos, eos=eos) == pytest.approx(model.score(line, bos=bos, eos=eos), abs=1e-5)


def test_hand_written_arpa_scores_by_hand_in_textkit_and_kenlm(tmp_path):
    path = tmp_path / "hand.arpa"
    path.write_text(HAND_ARPA)
    lm = load_language_model(path)
    model = kenlm.Model(str(path))
    for sentence, expected in HAND_SCORES.items():
        assert lm.score(sentence) == pytest.approx(expected, abs=1e-9)
        assert model.score(sentence) == pytest.approx(expected, abs=1e-5)
    assert lm.logprob("b", ["<s>", "a"]) == pytest.approx(-0.1)
    assert lm.logprob("a", ["b"]) == pytest.approx(-0.7)
    # eval-ppl's figures for that file: ln-probabilities over words + </s>
    total, n_tokens, n_oov = lm.score_lines(list(HAND_SCORES))
    assert n_tokens == 2 + 1 + 3 + 1 + 2 + 1 + 2 + 1 and n_oov == 1
    assert total == pytest.approx(sum(HAND_SCORES.values()) * math.log(10))


def test_arpa_without_unk_gives_unknown_words_kenlms_penalty(tmp_path):
    path = tmp_path / "nounk.arpa"
    path.write_text(HAND_ARPA.replace("ngram 1=5", "ngram 1=4").replace("-1.0\t<unk>\n", ""))
    lm = NgramLM.load(path)
    model = kenlm.Model(str(path))
    assert lm.score("zz b") == pytest.approx(model.score("zz b"), abs=1e-4)
    assert lm.logprob("zz") == pytest.approx(-100.0)


def test_write_read_round_trip_keeps_the_tables(tmp_path):
    lm = NgramLM(order=3, smoothing="mkn").fit([line.split() for line in TRAIN])
    lm.to_arpa(tmp_path / "a.arpa")
    back = read_arpa(tmp_path / "a.arpa")
    t = lm.tables_
    assert back.tokens == t.tokens
    for n in range(t.order):
        np.testing.assert_allclose(back.log10_prob[n], np.maximum(t.log10_prob[n], -99), rtol=1e-6)
    for n in range(t.order - 1):
        np.testing.assert_allclose(back.log10_backoff[n], t.log10_backoff[n], rtol=1e-6, atol=1e-7)
    for a, b in zip(back.keys, t.keys):
        np.testing.assert_array_equal(a, b)
    write_arpa(tmp_path / "b.arpa", back)  # and writing what was read changes nothing
    assert (tmp_path / "b.arpa").read_text() == (tmp_path / "a.arpa").read_text()


@pytest.mark.parametrize("block_bytes", [1, 50, 333])
def test_reading_in_small_blocks_gives_the_same_tables(tmp_path, monkeypatch, block_bytes):
    from textkit.lm import arpa

    lm = NgramLM(order=3, smoothing="mkn").fit([line.split() for line in TRAIN])
    lm.to_arpa(tmp_path / "a.arpa")
    whole = read_arpa(tmp_path / "a.arpa")
    monkeypatch.setattr(arpa, "_BLOCK_BYTES", block_bytes)  # section ends fall on every block position
    blocks = read_arpa(tmp_path / "a.arpa")
    assert blocks.tokens == whole.tokens
    for a, b in zip(
        blocks.keys + blocks.log10_prob + blocks.log10_backoff, whole.keys + whole.log10_prob + whole.log10_backoff
    ):
        np.testing.assert_array_equal(a, b)
    (tmp_path / "hand.arpa").write_text(HAND_ARPA)
    assert NgramLM.load(tmp_path / "hand.arpa").score("b a b") == pytest.approx(HAND_SCORES["b a b"])


@given(st.lists(st.lists(st.sampled_from("abcde"), min_size=1, max_size=6), min_size=1, max_size=10), st.integers(2, 4))
@settings(max_examples=25, deadline=None)
def test_round_trip_scores_match_for_any_corpus(lines, order):
    import tempfile
    from pathlib import Path

    lm = NgramLM(order=order, smoothing="kn", discounts=0.5).fit(lines)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "m.arpa"
        lm.to_arpa(path)
        back = NgramLM.load(path)
        model = kenlm.Model(str(path))
    for words in lines + [["e", "d", "x"]]:
        text = " ".join(words)
        assert back.score(text) == pytest.approx(lm.score(text), abs=1e-5)
        assert model.score(text) == pytest.approx(lm.score(text), abs=1e-4)


# ---- malformed files ---------------------------------------------------------------------------------
BROKEN = {
    "no header": ("just some text\n", "no \\\\data\\\\ header"),
    "truncated section": (HAND_ARPA.split("\\3-grams:")[0] + "\\3-grams:\n-0.1\t<s> a b\n", "declares 2 3-grams"),
    "no end": (HAND_ARPA.replace("\\end\\\n", ""), "no \\\\end\\\\"),
    "bad number": (HAND_ARPA.replace("-0.4\ta b", "minus\ta b"), "not a number"),
    "wrong arity": (HAND_ARPA.replace("-0.3\tb </s>", "-0.3\tb"), "line 16: expected 'log10prob' and 2 words"),
    "unknown word": (HAND_ARPA.replace("-0.5\ta </s>", "-0.5\tq </s>"), "'q', which has no unigram"),
    "missing context": (HAND_ARPA.replace("-0.25\ta b </s>", "-0.25\tb b </s>"), "context"),
    "no <s>": (HAND_ARPA.replace("ngram 1=5", "ngram 1=4").replace("-99\t<s>\t-0.3\n", ""), "no <s> unigram"),
    "empty": ("", "no \\\\data\\\\ header"),
    "bad header": (HAND_ARPA.replace("ngram 2=4", "ngram two=4"), "ngram N=COUNT"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_malformed_arpa_files_raise_model_file_errors(tmp_path, name):
    text, message = BROKEN[name]
    path = tmp_path / "bad.arpa"
    path.write_text(text)
    with pytest.raises(ModelFileError, match=message):
        NgramLM.load(path)


def test_truncated_gzip_arpa(tmp_path):
    data = gzip.compress(HAND_ARPA.encode())
    path = tmp_path / "cut.arpa.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(TextkitError, match="read failed|truncated"):
        NgramLM.load(path)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=1, max_size=50), st.integers(0, 12))
def test_compiled_lines_are_byte_for_byte_pythons_format(values, places):
    """The compiled writer formats numbers exactly as ``format(x, ".7g")``, halfway cases included."""
    from textkit.lm.arpa_text import format_block, token_table

    tokens = ["a", "ß", "<s>"]
    probs = np.array(values)
    ties = (np.arange(len(values)) * 1234567 + 5) / 10.0**places  # digits ending in 5 past the 7th
    backoffs = np.concatenate([ties, [-0.0, 0.5, 9999999.5]])[: len(values)]
    words = np.arange(len(values) * 2, dtype=np.int32).reshape(-1, 2) % 3
    out = bytes(format_block(words, probs, backoffs, *token_table(tokens))).decode()
    expected = "".join(
        f"{p:.7g}\t{tokens[a]} {tokens[b]}\t{o:.7g}\n"
        for p, (a, b), o in zip(probs.tolist(), words.tolist(), backoffs.tolist())
    )
    assert out == expected


def test_reading_arpa_needs_no_compiled_counting():
    import subprocess
    import sys

    code = "import sys, textkit.lm.arpa; print(sorted(m for m in ('numba', 'textkit.lm.counting') if m in sys.modules))"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    )


@pytest.mark.parametrize("order", [1, 2, 4])
def test_native_file_is_memory_mapped_and_scores_as_the_arpa_file(tmp_path, order):
    lm = NgramLM(order=order, smoothing="mkn").fit([line.split() for line in TRAIN])
    lm.save(tmp_path / "native", native=True)
    lm.save(tmp_path / "arpa")
    native, arpa = load_language_model(tmp_path / "native"), load_language_model(tmp_path / "arpa")
    assert all(isinstance(a, np.memmap) for a in native.tables_.log10_prob)
    for a, b in zip(native.tables_.keys + native.tables_.log10_prob, lm.tables_.keys + lm.tables_.log10_prob):
        np.testing.assert_array_equal(a, b)
    assert native.score_lines(TEST) == lm.score_lines(TEST)
    assert math.isclose(native.score_lines(TEST)[0], arpa.score_lines(TEST)[0], rel_tol=1e-6)
    assert native.generate("the", length=5, seed=3) == lm.generate("the", length=5, seed=3)


def test_corrupt_native_file_is_a_model_file_error(tmp_path):
    lm = NgramLM(order=2, smoothing="kn").fit([line.split() for line in TRAIN])
    lm.save(tmp_path / "m", native=True)
    weights = tmp_path / "m" / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:40])
    with pytest.raises(ModelFileError):
        load_language_model(tmp_path / "m")


def test_native_folder_carries_its_words_and_scores_without_vocab_json(tmp_path):
    lm = NgramLM(order=3, smoothing="mkn").fit([line.split() for line in TRAIN + ["naïve café\u00a0déjà vu"]])
    lm.save(tmp_path / "m", native=True)
    (tmp_path / "m" / "vocab.json").unlink()
    native = load_language_model(tmp_path / "m")
    assert native.score_lines(TEST) == lm.score_lines(TEST)
    assert native.vocab_.tokens == lm.vocab_.tokens and native.tables_.tokens == lm.vocab_.tokens
    assert native.generate("the", length=5, seed=3) == lm.generate("the", length=5, seed=3)
    with pytest.raises(ModelFileError, match="vocab.json"):
        native.vocab_.freqs  # noqa: B018  (only the frequencies live in vocab.json alone)


def test_built_native_folder_carries_its_words(tmp_path):
    """train-lm's path (the memory-bounded builder) writes the words file too."""
    lm = NgramLM(order=3, smoothing="kn")
    lm.build_lines(TRAIN, tmp_path / "m", memory="256M", native=True)
    native = load_language_model(tmp_path / "m")
    assert (tmp_path / "m" / "words.safetensors").exists() and native.vocab_.tokens == lm.vocab_.tokens
    reference = NgramLM(order=3, smoothing="kn").fit([line.split() for line in TRAIN])
    assert native.score_lines(TEST) == pytest.approx(reference.score_lines(TEST))


def test_native_folder_without_words_file_takes_them_from_vocab_json(tmp_path):
    """A native folder written before the words file existed."""
    lm = NgramLM(order=3, smoothing="kn").fit([line.split() for line in TRAIN])
    lm.save(tmp_path / "m", native=True)
    (tmp_path / "m" / "words.safetensors").unlink()
    native = load_language_model(tmp_path / "m")
    assert native.tables_.tokens == lm.vocab_.tokens
    assert native.score_lines(TEST) == lm.score_lines(TEST)


@pytest.mark.parametrize(
    "damage",
    [
        lambda a: a["word_starts"].__setitem__(2, 10**9),  # points past the bytes
        lambda a: a["word_starts"].__setitem__(4, 0),  # goes backwards
        lambda a: a["word_starts"].__setitem__(-1, 3),  # does not end at the end
        lambda a: a["words"].__setitem__(1, ord("x")),  # no <unk> <s> </s> first
        lambda a: a.__setitem__("word_starts", a["word_starts"][:-1]),  # one word short of the tables
        lambda a: a.pop("words"),  # not a words file
    ],
)
def test_damaged_words_of_a_native_folder_are_a_model_file_error(tmp_path, damage):
    from textkit.io import save_tensors
    from textkit.lm.native import word_arrays

    lm = NgramLM(order=2, smoothing="kn").fit([line.split() for line in TRAIN])
    lm.save(tmp_path / "m", native=True)
    arrays = word_arrays(lm.vocab_.tokens)
    damage(arrays)
    save_tensors(tmp_path / "m" / "words.safetensors", arrays)
    with pytest.raises(ModelFileError):
        load_language_model(tmp_path / "m").score_lines(TEST)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from(["the", "cat", "sat", "dog", "cow", "<s>", "\u00a0", "\u3000", "é"]), max_size=12).map(
            " ".join
        ),
        max_size=40,
    ),
    st.integers(1, 4),
)
def test_scoring_on_threads_gives_the_one_thread_total(lines, repeat):
    """Blocks cut in halves and scored on several threads: the same total as one thread, and as
    scoring the whole encoded text at once."""
    from textkit.lm.scoring import score_text

    lm = NgramLM(order=3, smoothing="mkn").fit([line.split() for line in TRAIN])
    text = lines * (600 * repeat)  # past the size from which a block is cut in two
    table = lm._word_table()
    one = score_text(table, lm.tables_, text, threads=1)
    assert score_text(table, lm.tables_, iter(text), threads=3) == one
    seq, n_lines, n_words, n_unknown = lm.encode_lines(text)
    assert one[1:] == (n_lines, n_words, n_unknown)
    assert one[0] == pytest.approx(float(lm.log10_probs(seq).sum()), rel=1e-12, abs=1e-9)


def test_native_model_perplexity_equals_kenlms_on_a_real_text(tmp_path):
    """The compiled scoring path (split, word lookup and n-gram lookup in compiled code) against the
    kenlm module on the same model, with unknown words and Unicode spaces in the text."""
    from gensim.test.utils import datapath

    with open(datapath("lee_background.cor"), encoding="utf-8") as f:
        lines = [line.strip() for line in f if line.strip()]
    cut = len(lines) * 4 // 5
    lm = NgramLM(order=5, smoothing="mkn").fit(line.split() for line in lines[:cut])
    lm.save(tmp_path / "native", native=True)
    lm.to_arpa(tmp_path / "m.arpa")
    test = lines[cut:] + ["unheard-of words\u00a0here", "", "the\u3000government said"]
    result = load_language_model(tmp_path / "native").perplexity(test)
    model = kenlm.Model(str(tmp_path / "m.arpa"))
    total = sum(model.score(" ".join(line.split())) for line in test if line.split())
    tokens = sum(len(line.split()) + 1 for line in test if line.split())
    assert result.tokens == tokens and result.oov_rate > 0
    assert abs(result.perplexity - 10 ** (-total / tokens)) < 0.1
    assert result.logprob_nats / math.log(10) == pytest.approx(total, rel=1e-6)
