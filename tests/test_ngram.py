"""N-gram models: counting, the four smoothings, oracles (NLTK, hand-worked modified KN), files."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from textkit.errors import EmptyCorpusError, ModelFileError, TextkitError, UsageError
from textkit.lm import evaluate, load_language_model
from textkit.lm.counting import count_ngrams, wrap_lines
from textkit.lm.ngram import NgramLM
from textkit.lm.smoothing import count_of_counts, estimate_discounts
from textkit.vocab import Vocab

TRAIN = [
    "the cat sat on the mat",
    "the dog sat on the log",
    "a cat and a dog sat",
    "the cat ate the rat",
    "a rat sat on a cat",
    "the dog ate",
]
TEST = ["the cat sat on the log", "a dog ate the mat", "the rat sat", "a cow sat"]  # cow: unknown


def tokens(lines):
    return [line.split() for line in lines]


def padded(words):
    return ["<s>"] + words + ["</s>"]


def naive_ngrams(lines, order):
    """Every n-gram (n ≤ order) of ``<s> w.. </s>`` not ending in <s>: the counting convention."""
    counts = Counter()
    for words in tokens(lines):
        s = padded(words)
        for n in range(1, order + 1):
            for i in range(len(s) - n + 1):
                if s[i + n - 1] != "<s>":
                    counts[tuple(s[i : i + n])] += 1
    return counts


# ---- counting -------------------------------------------------------------------------------------
def test_counting_matches_a_naive_counter():
    lm = NgramLM(order=4, smoothing="mle").fit(tokens(TRAIN))
    words = lm.vocab_.tokens
    V = len(words)
    got = Counter()
    for w, c in enumerate(lm.counts_[0]):
        if c:
            got[(words[w],)] = int(c)
    grams = [(w,) for w in range(V)]
    for n in range(2, 5):
        keys = lm.keys_[n - 2]
        grams = [grams[k // V] + (k % V,) for k in keys.tolist()]
        for g, c in zip(grams, lm.counts_[n - 1].tolist()):
            got[tuple(words[i] for i in g)] = c
    assert got == naive_ngrams(TRAIN, 4)


@given(st.lists(st.lists(st.sampled_from("abcd"), min_size=0, max_size=7), min_size=1, max_size=8), st.integers(1, 4))
@settings(max_examples=40, deadline=None)
def test_counting_invariants(lines, order):
    vocab_ids = {"<unk>": 0, "<s>": 1, "</s>": 2, "a": 3, "b": 4, "c": 5, "d": 6}
    lines = [line for line in lines if line]
    if not lines:
        return
    seq = wrap_lines(np.array([vocab_ids[w] for line in lines for w in line], np.int32), [len(x) for x in lines], 1, 2)
    unigram, tables = count_ngrams(seq, order, len(vocab_ids), bos_id=1)
    n_tokens = sum(len(x) + 1 for x in lines)
    assert unigram.sum() == n_tokens
    for n, table in enumerate(tables, 2):
        assert np.all(np.diff(table.keys) > 0)  # sorted and distinct
        assert table.counts.sum() == sum(max(0, len(x) + 2 - n + 1) for x in lines)


@given(
    st.lists(st.integers(0, 2**64 - 1), max_size=300),
    st.sampled_from([1000, 2**11, 2**32, 2**40, 2**64]),
    st.booleans(),
)
@settings(max_examples=80, deadline=None)
def test_radix_sort_equals_stable_argsort(values, modulus, narrow):
    from textkit.lm.counting import radix_sort

    keys = np.array([v % modulus for v in values], dtype=np.uint64)
    if narrow and modulus <= 2**32:
        keys = keys.astype(np.uint32)
    before = keys.copy()
    payload = np.arange(len(keys), dtype=np.int32) * 7
    sorted_keys, sorted_payload = radix_sort(keys, payload)
    order = np.argsort(keys, kind="stable")  # ties keep their order
    np.testing.assert_array_equal(sorted_keys, keys[order])
    np.testing.assert_array_equal(sorted_payload, payload[order])
    np.testing.assert_array_equal(keys, before)  # the input is left alone unless overwrite=True


@given(st.integers(1, 3000), st.integers(0, 3000), st.sampled_from([50, 2**20]), st.integers(0, 2**32 - 1))
@settings(max_examples=40, deadline=None)
def test_lookup_order_finds_each_ngram_in_the_table(n_positions, n_table, vocab_size, seed):
    from textkit.lm.counting import lookup_order

    # batches over 1024 n-grams are looked up in key order (radix sort + galloping search)
    rng = np.random.default_rng(seed)
    seq = rng.integers(0, vocab_size, n_positions).astype(np.int32)
    seq[rng.random(n_positions) < 0.05] = 1  # <s>
    prev_index = np.where(rng.random(n_positions) < 0.2, -1, rng.integers(0, 5000, n_positions)).astype(np.int32)
    keys = [
        int(prev_index[p - 1]) * vocab_size + int(seq[p])
        for p in range(1, n_positions)
        if prev_index[p - 1] >= 0 and seq[p] != 1
    ]
    pool = np.array(keys + list(rng.integers(0, 5000 * vocab_size, n_table)), dtype=np.int64)
    table = (
        np.unique(rng.choice(pool, size=min(n_table, len(pool)), replace=False)) if len(pool) else np.zeros(0, np.int64)
    )
    where = {int(k): i for i, k in enumerate(table)}
    expected = np.full(n_positions, -1)
    for p in range(1, n_positions):
        if prev_index[p - 1] >= 0 and seq[p] != 1:
            expected[p] = where.get(int(prev_index[p - 1]) * vocab_size + int(seq[p]), -1)
    np.testing.assert_array_equal(lookup_order(prev_index, 5000, seq, 1, vocab_size, table), expected)


@given(st.lists(st.lists(st.sampled_from("abcdefgh"), max_size=6), max_size=30), st.integers(1, 7))
@settings(max_examples=60, deadline=None)
def test_collect_ids_first_occurrence_ids_across_chunks(lines, chunk_lines):
    from textkit.lm.counting import collect_ids

    flat = [w for line in lines for w in line]
    if not flat:
        with pytest.raises(EmptyCorpusError):
            collect_ids(lines, chunk_lines=chunk_lines)
        return
    ids, lengths, index = collect_ids(lines, chunk_lines=chunk_lines)
    words = list(index)
    assert words == list(dict.fromkeys(flat)) and list(index.values()) == list(range(len(words)))
    assert list(ids) == [words.index(w) for w in flat]
    assert list(lengths) == [len(line) for line in lines if line]
    text_ids, text_lengths, _ = collect_ids(
        [" ".join(line) for line in lines], split_lines=True, chunk_lines=chunk_lines
    )
    np.testing.assert_array_equal(text_ids, ids)
    np.testing.assert_array_equal(text_lengths, lengths)


@pytest.mark.parametrize("tokenizer", ["whitespace", "en"])
@pytest.mark.parametrize("vocab", [False, True])
def test_fit_lines_equals_fit_on_tokenized_lines(tokenizer, vocab):
    from textkit.tokenize import get_tokenizer

    lines = TRAIN + ["", "  spaced\tout\u3000words  ", "The CAT, sat."]
    given = Vocab.build(tokens(TRAIN[:2]), specials=("<unk>",)) if vocab else None
    tok = get_tokenizer(tokenizer)
    by_lines = NgramLM(order=3, smoothing="mkn", vocab=given, tokenizer=tokenizer).fit_lines(iter(lines))
    by_tokens = NgramLM(order=3, smoothing="mkn", vocab=given, tokenizer=tokenizer).fit(tok.tokenize_lines(lines))
    assert by_lines.vocab_.tokens == by_tokens.vocab_.tokens and by_lines.train_tokens_ == by_tokens.train_tokens_
    for a, b in zip(by_lines.tables_.log10_prob, by_tokens.tables_.log10_prob):
        np.testing.assert_array_equal(a, b)
    assert by_lines.perplexity(TEST).perplexity == by_tokens.perplexity(TEST).perplexity


# ---- every model is a distribution --------------------------------------------------------------
@pytest.mark.parametrize("smoothing", ["addk", "kn", "mkn", "mle"])
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_distributions_sum_to_one(smoothing, order):
    lm = NgramLM(order=order, smoothing=smoothing, k=0.5).fit(tokens(TRAIN))
    stoi = lm.vocab_.stoi
    for context in [[], ["<s>"], ["the"], ["<s>", "the"], ["the", "cat"], ["on", "the", "mat"], ["zebra", "cat"]]:
        dist = 10 ** lm.next_log10_probs([stoi.get(w, 0) for w in context])
        if smoothing == "mle" and dist.sum() == 0:  # unseen context: MLE has no distribution
            continue
        assert dist.sum() == pytest.approx(1.0, abs=1e-9)
        # logprob agrees with the dense distribution
        for w in ["cat", "</s>", "<unk>"]:
            assert 10 ** lm.logprob(w, context) == pytest.approx(dist[stoi[w]], abs=1e-12)


# ---- oracle: NLTK ---------------------------------------------------------------------------------
def nltk_ngrams(lines, order):
    """The n-grams textkit counts, in NLTK's format: NLTK then counts exactly what textkit counts.

    (NLTK's own padded_everygram_pipeline pads with order-1 <s> and </s> and counts n-grams ending
    in <s>; that is a different model, see the module docstring of textkit.lm.ngram.)"""
    out = []
    for words in tokens(lines):
        s = padded(words)
        out.append(
            [tuple(s[i : i + n]) for n in range(1, order + 1) for i in range(len(s) - n + 1) if s[i + n - 1] != "<s>"]
        )
    return out


def nltk_model(cls, order, **kwargs):
    # vocabulary: the words, <s> and </s> (NLTK adds <UNK>). Without <s> NLTK would map <s> to <UNK>
    # and merge line-start contexts with unknown-word contexts.
    model = cls(order=order, **kwargs)
    vocab_text = [w for line in tokens(TRAIN) for w in line] + ["<s>", "</s>"]
    model.fit(nltk_ngrams(TRAIN, order), vocabulary_text=vocab_text)
    return model


def predicted_positions(order):
    """(word, truncated context) for every predicted token of TEST, as NLTK wants them."""
    for words in tokens(TEST):
        s = padded(words)
        for i in range(1, len(s)):
            yield s[i], tuple(s[max(0, i - order + 1) : i])


def nltk_word(model, w):
    return w if w in model.vocab else "<UNK>"


@pytest.mark.parametrize("order", [1, 2, 3])
def test_mle_equals_nltk(order):
    from nltk.lm import MLE

    ref = nltk_model(MLE, order)
    lm = NgramLM(order=order, smoothing="mle").fit(tokens(TRAIN))
    ours, theirs = [], []
    for w, ctx in predicted_positions(order):
        theirs.append(ref.score(nltk_word(ref, w), [nltk_word(ref, c) for c in ctx] or None))
        ours.append(10 ** lm.logprob(w, list(ctx)))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    assert 0.0 in ours  # the test text has unseen events: MLE perplexity is infinite in both
    assert lm.perplexity(TEST).perplexity == math.inf


@pytest.mark.parametrize("order", [1, 2, 3])
@pytest.mark.parametrize("k", [1.0, 0.3])
def test_add_k_differs_from_nltk_only_by_counting_s_in_the_vocabulary(order, k):
    """NLTK's Lidstone/Laplace divide by c(h•) + k|V| with <s> in V (it can be predicted there);
    textkit divides by c(h•) + k(|V| - 1): <s> is never predicted, so the distribution sums to 1 over
    the words that can follow. With NLTK's own counts, each side is exactly its formula."""
    from nltk.lm import Laplace, Lidstone

    ref = nltk_model(Laplace, order) if k == 1.0 else nltk_model(Lidstone, order, gamma=k)
    lm = NgramLM(order=order, smoothing="addk", k=k).fit(tokens(TRAIN))
    V = len(lm.vocab_)
    assert len(ref.vocab) == V  # words + <s> + </s> + <UNK>
    log_ours = 0.0
    for w, ctx in predicted_positions(order):
        w_n, ctx_n = nltk_word(ref, w), tuple(nltk_word(ref, c) for c in ctx)
        counts = ref.counts[len(ctx_n) + 1][ctx_n] if ctx_n else ref.counts.unigrams
        assert ref.score(w_n, ctx_n or None) == pytest.approx((counts[w_n] + k) / (counts.N() + k * V), rel=1e-12)
        assert 10 ** lm.logprob(w, list(ctx)) == pytest.approx(
            (counts[w_n] + k) / (counts.N() + k * (V - 1)), rel=1e-12
        )
        log_ours += lm.logprob(w, list(ctx)) * math.log(10)
    n_predicted = sum(1 for _ in predicted_positions(order))
    assert lm.perplexity(TEST).perplexity == pytest.approx(math.exp(-log_ours / n_predicted), rel=1e-12)


@pytest.mark.parametrize("order", [2, 3])
def test_kneser_ney_equals_nltk_where_conventions_agree(order):
    """NLTK's KneserNeyInterpolated uses one fixed discount for every order above 1 and does not
    discount unigrams (p(w) = N1+(•w)/N1+(••), so unseen words get 0). textkit with discounts
    [0, D, D] is the same model, except for contexts that start with <s> at a middle order: textkit
    (like KenLM) keeps raw counts for n-grams starting with <s>, which nothing can precede; NLTK uses
    their continuation counts, which are 0 (it divides by zero there). Everything else is equal."""
    from nltk.lm import KneserNeyInterpolated

    ref = nltk_model(KneserNeyInterpolated, order, discount=0.1)
    lm = NgramLM(order=order, smoothing="kn", discounts=[0.0] + [0.1] * (order - 1)).fit(tokens(TRAIN))
    compared = 0
    for w, ctx in predicted_positions(order):
        ctx_n = [nltk_word(ref, c) for c in ctx]
        middle_order_bos = order == 3 and ctx == ("<s>",)
        if middle_order_bos:
            with pytest.raises(ZeroDivisionError):
                ref.score(nltk_word(ref, w), ctx_n)
            continue
        assert 10 ** lm.logprob(w, list(ctx)) == pytest.approx(
            ref.score(nltk_word(ref, w), ctx_n), rel=1e-10, abs=1e-15
        )
        compared += 1
    assert compared >= 15


def test_kneser_ney_unigram_difference_is_exactly_the_discount():
    """With estimated discounts textkit's unigrams are (a(w) - D1)/A + γ/(V-1); NLTK's are a(w)/A."""
    from nltk.lm import KneserNeyInterpolated

    ref = nltk_model(KneserNeyInterpolated, 2)
    lm = NgramLM(order=2, smoothing="kn").fit(tokens(TRAIN))
    d = lm.discounts_[0][0]
    counts = naive_ngrams(TRAIN, 2)
    left = Counter(g[1] for g in counts if len(g) == 2)  # continuation counts N1+(•w)
    total = sum(left.values())
    gamma = d * len(left) / total
    V = len(lm.vocab_)
    for w in ["the", "cat", "</s>", "ate"]:
        assert ref.score(w) == pytest.approx(left[w] / total, rel=1e-12)
        assert 10 ** lm.logprob(w) == pytest.approx((left[w] - d) / total + gamma / (V - 1), rel=1e-12)
    assert 10 ** lm.logprob("<unk>") == pytest.approx(gamma / (V - 1), rel=1e-12)
    assert ref.score("<UNK>") == 0.0


# ---- modified Kneser-Ney by hand ------------------------------------------------------------------
HAND = [["a", "b"], ["a", "b"], ["b", "a"]]


def test_discounts_from_count_of_counts_by_hand():
    # Y = 10/18; D1 = 1 - 2Y·4/10 = 5/9; D2 = 2 - 3Y·2/4 = 7/6; D3+ = 3 - 4Y·1/2 = 17/9
    assert estimate_discounts([10, 4, 2, 1], modified=True) == pytest.approx((5 / 9, 7 / 6, 17 / 9))
    assert estimate_discounts([10, 4, 2, 1], modified=False) == pytest.approx((5 / 9,) * 3)
    assert estimate_discounts([10, 0, 2, 1], modified=True) is None  # KenLM needs --discount_fallback
    assert count_of_counts(np.array([1, 1, 2, 7, 4, 0, 3])) == [2, 1, 1, 1]


def test_fallback_warning_says_why(caplog):
    from textkit.lm.smoothing import FALLBACK_MODIFIED, discounts_from_counts

    with caplog.at_level("WARNING", logger="textkit.lm.smoothing"):
        assert discounts_from_counts(3, [10, 0, 0, 1], True, None) == (FALLBACK_MODIFIED, True)
        assert discounts_from_counts(4, [10, 4, 2, 100], True, None) == (FALLBACK_MODIFIED, True)
    undefined, out_of_range = (r.getMessage() for r in caplog.records)
    assert "order 3" in undefined and "exactly 2 or 3 times" in undefined
    assert "order 4" in out_of_range and "-108.111" in out_of_range and "outside" in out_of_range


def test_modified_kneser_ney_bigram_by_hand():
    """<s> a b </s> ×2, <s> b a </s>. Unigram adjusted counts a=b=</s>=2 (two left neighbours each),
    A=6, every count is 2 so D2=1: p(w) = 1/6 + (3·1/6)/4 = 7/24, p(<unk>) = 3/24. Context a:
    c(a b)=2, c(a </s>)=1, A=3, γ = (0.6+1.2)/3 = 0.6, p(b|a) = 0.8/3 + 0.6·7/24 = 53/120."""
    lm = NgramLM(order=2, smoothing="mkn", discounts=[(0.5, 1.0, 1.5), (0.6, 1.2, 1.8)]).fit(HAND)
    assert 10 ** lm.logprob("a") == pytest.approx(7 / 24)
    assert 10 ** lm.logprob("<unk>") == pytest.approx(3 / 24)
    assert 10 ** lm.logprob("b", ["a"]) == pytest.approx(53 / 120)
    assert 10 ** lm.logprob("</s>", ["a"]) == pytest.approx(37 / 120)
    assert 10 ** lm.logprob("a", ["a"]) == pytest.approx(21 / 120)  # unseen: γ(a) p(a)
    assert 10 ** lm.logprob("a", ["<s>"]) == pytest.approx(53 / 120)
    assert 10 ** lm.logprob("</s>", ["b"]) == pytest.approx(53 / 120)
    assert lm.score("a b") == pytest.approx(3 * math.log10(53 / 120))


def test_modified_kneser_ney_trigram_by_hand():
    """Middle order: <s> a and <s> b keep raw counts (2, 1); a b, a </s>, b a, b </s> have one left
    neighbour each. Context a: A=2, γ=0.6, p(b|a) = 0.4/2 + 0.6·7/24 = 0.375. Top order: c(<s> a b)=2,
    γ(<s> a) = 1.0/2, p(b|<s> a) = (2-1)/2 + 0.5·0.375 = 0.6875."""
    lm = NgramLM(order=3, smoothing="mkn", discounts=[(0.5, 1.0, 1.5), (0.6, 1.2, 1.8), (0.5, 1.0, 1.5)]).fit(HAND)
    assert 10 ** lm.logprob("a", ["<s>"]) == pytest.approx(53 / 120)
    assert 10 ** lm.logprob("b", ["a"]) == pytest.approx(0.375)
    assert 10 ** lm.logprob("b", ["<s>", "a"]) == pytest.approx(0.6875)
    assert 10 ** lm.logprob("</s>", ["a", "b"]) == pytest.approx(0.6875)
    assert 10 ** lm.logprob("a", ["<s>", "b"]) == pytest.approx(0.6875)
    assert 10 ** lm.logprob("a", ["a", "b"]) == pytest.approx(0.5 * 0.375)  # back-off γ(a b) p(a|b)
    assert lm.score("a b") == pytest.approx(math.log10(53 / 120 * 0.6875 * 0.6875))


def test_estimated_discounts_use_adjusted_count_of_counts():
    rng = np.random.default_rng(0)
    p = 1 / np.arange(1, 301)
    lines = [" ".join(f"w{i}" for i in rng.choice(300, size=rng.integers(2, 9), p=p / p.sum())) for _ in range(300)]
    lm = NgramLM(order=2, smoothing="mkn").fit(tokens(lines))
    counts = naive_ngrams(lines, 2)
    bigram = [c for g, c in counts.items() if len(g) == 2]
    left = Counter(g[1] for g in counts if len(g) == 2)
    for n, adjusted in [(1, list(left.values())), (2, bigram)]:
        hist = Counter(min(c, 5) for c in adjusted)
        assert estimate_discounts([hist[k] for k in (1, 2, 3, 4)], True) is not None
        assert lm.discounts_[n - 1] == pytest.approx(estimate_discounts([hist[k] for k in (1, 2, 3, 4)], True))


# ---- vocabulary and unknown words ------------------------------------------------------------------
def test_min_freq_maps_rare_words_to_unk():
    lm = NgramLM(order=2, smoothing="kn", min_freq=2).fit(tokens(TRAIN))
    assert "mat" not in lm.vocab_ and "cat" in lm.vocab_
    assert lm.logprob("mat", ["the"]) == lm.logprob("<unk>", ["the"]) == lm.logprob("zebra", ["the"])
    assert lm.counts_ is None and 10 ** lm.logprob("<unk>") > 1 / len(lm.vocab_) / 10


def test_model_vocabulary_is_vocab_from_counter_with_the_three_markers_first():
    lines = tokens(TRAIN) + [["<unk>", "<s>", "zebra"]]
    lm = NgramLM(order=2, smoothing="mle", min_freq=2).fit(lines)
    counter = Counter(w for line in lines for w in line)
    assert lm.vocab_ == Vocab.from_counter(counter, min_freq=2, specials=("<unk>", "<s>", "</s>"))
    # rare words, a literal <unk> and a literal <s> (never the model's start marker) count as <unk>
    unknown = sum(c for w, c in counter.items() if c < 2 or w in ("<unk>", "<s>"))
    assert lm.counts_[0][lm.vocab_.stoi["<unk>"]] == unknown and lm.counts_[0][lm.vocab_.stoi["<s>"]] == 0


def test_given_vocab_is_used():
    vocab = Vocab.build(tokens(["the cat sat"]), specials=("<unk>", "<pad>"))
    lm = NgramLM(order=2, smoothing="addk", vocab=vocab).fit(tokens(TRAIN))
    assert lm.vocab_.tokens == ["<unk>", "<s>", "</s>", "the", "cat", "sat"]
    _, n_tokens, n_oov = lm.score_lines(["the dog sat"])
    assert (n_tokens, n_oov) == (4, 1)


def test_oov_rate_and_token_count():
    lm = NgramLM(order=3).fit(tokens(TRAIN))
    result = lm.perplexity(TEST)
    words = sum(len(x) for x in tokens(TEST))
    assert result.tokens == words + len(TEST)
    assert result.oov_rate == pytest.approx(1 / result.tokens)  # "cow"
    assert lm.perplexity(TEST + ["", "   "]).tokens == result.tokens  # empty lines are skipped


def test_literal_unk_in_text_is_the_vocabulary_unk():
    lm = NgramLM(order=2).fit(tokens(["a <unk> b", "a b"]))
    _, _, n_oov = lm.score_lines(["a <unk> b"])
    assert n_oov == 0


# ---- generation ------------------------------------------------------------------------------------
def test_generate_is_seeded_and_top_k_1_is_greedy():
    lm = NgramLM(order=3, smoothing="mkn").fit(tokens(TRAIN))
    assert lm.generate("the", 8, seed=3) == lm.generate("the", 8, seed=3)
    greedy = lm.generate("the", 6, top_k=1, seed=0).split()
    context = [lm._bos, lm.vocab_.stoi["the"]]
    for word in greedy[1:]:
        dist = lm.next_log10_probs(context)
        dist[lm._unk] = -np.inf
        assert dist[lm.vocab_.stoi[word]] == dist.max()  # ties are broken at random
        context.append(lm.vocab_.stoi[word])
    assert "<unk>" not in lm.generate("", 50, temperature=3.0, seed=1).split()


# ---- files -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("smoothing", ["mle", "addk", "kn", "mkn"])
def test_save_load_round_trip(tmp_path, smoothing):
    lm = NgramLM(order=3, smoothing=smoothing, k=0.5, tokenizer="en").fit(tokens(TRAIN))
    lm.save(tmp_path / "m", gzip=smoothing == "mkn")
    loaded = load_language_model(tmp_path / "m")
    assert isinstance(loaded, NgramLM) and loaded.smoothing == smoothing
    a, b = evaluate(lm, TEST[:3]), evaluate(loaded, TEST[:3])
    assert b.perplexity == pytest.approx(a.perplexity, rel=1e-6)
    assert loaded.tokenizer_.spec == "en"


def test_folder_is_written_in_one_transaction_and_loads_through_textkit_load(tmp_path, monkeypatch):
    import textkit
    from textkit.artifacts import ArtifactExistsError, read_config
    from textkit.tokenize import EnglishTokenizer

    lm = NgramLM(order=3, smoothing="kn", tokenizer=EnglishTokenizer(lowercase=False)).fit(tokens(TRAIN))
    lm.save(tmp_path / "m")
    assert read_config(tmp_path / "m")["kind"] == "lm.ngram"
    loaded = textkit.load(tmp_path / "m")
    assert isinstance(loaded, NgramLM) and loaded.tokenizer_.lowercase is False
    with pytest.raises(ArtifactExistsError):
        lm.save(tmp_path / "m")
    before = sorted(p.name for p in (tmp_path / "m").iterdir())

    def broken(path, tables):
        raise OSError("disk full")

    monkeypatch.setattr("textkit.lm.ngram.write_arpa", broken)
    with pytest.raises(OSError):
        NgramLM(order=2, smoothing="kn").fit(tokens(TRAIN[:2])).save(tmp_path / "m", force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # no temporary folder left
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == before
    assert textkit.load(tmp_path / "m").score("the cat sat") == pytest.approx(lm.score("the cat sat"), rel=1e-6)


@pytest.mark.parametrize("smoothing", ["mle", "kn"])
def test_folders_written_by_textkit_0_1_still_load(tmp_path, smoothing):
    import json

    from safetensors.numpy import save_file

    from textkit.lm.arpa import write_arpa

    lm = NgramLM(order=2, smoothing=smoothing).fit(tokens(TRAIN))
    folder = tmp_path / "old"
    folder.mkdir()
    lm.vocab_.save(folder / "vocab.json")
    if smoothing == "kn":
        data_file = "model.arpa"
        write_arpa(folder / data_file, lm.tables_)
    else:
        data_file = "counts.safetensors"
        save_file(
            {"counts_1": lm.counts_[0], "keys_2": lm.keys_[0], "counts_2": lm.counts_[1]}, str(folder / data_file)
        )
    config = {
        "format": "textkit.lm",
        "version": 1,
        "kind": "ngram",
        "order": 2,
        "smoothing": smoothing,
        "min_freq": 1,
        "tokenizer": {"spec": "en", "options": {"lowercase": True}},
        "file": data_file,
        "vocab": "vocab.json",
    }
    (folder / "config.json").write_text(json.dumps(config))
    loaded = load_language_model(folder)
    assert loaded.tokenizer_.lowercase and loaded.score_lines(TEST[:2]) == pytest.approx(lm.score_lines(TEST[:2]))


def test_a_model_read_from_an_arpa_file_saves_and_loads(tmp_path):
    NgramLM(order=2, smoothing="kn").fit(tokens(TRAIN)).to_arpa(tmp_path / "m.arpa")
    lm = NgramLM.load(tmp_path / "m.arpa")
    lm.save(tmp_path / "f", native=True)
    loaded = NgramLM.load(tmp_path / "f")
    assert loaded.smoothing == "arpa" and loaded.score_lines(TEST) == lm.score_lines(TEST)


def test_mixed_up_model_files_are_refused(tmp_path):
    NgramLM(order=2, smoothing="kn").fit(tokens(TRAIN)).save(tmp_path / "a")
    NgramLM(order=2, smoothing="kn").fit(tokens(TRAIN[:2])).save(tmp_path / "b")
    (tmp_path / "a" / "vocab.json").write_bytes((tmp_path / "b" / "vocab.json").read_bytes())
    with pytest.raises(ModelFileError, match="does not match"):
        NgramLM.load(tmp_path / "a")


# ---- bad input ---------------------------------------------------------------------------------------
def test_bad_input_raises_clear_errors():
    with pytest.raises(EmptyCorpusError):
        NgramLM(order=2).fit([[], []])
    with pytest.raises(UsageError, match="at least 1"):
        NgramLM(order=0)
    with pytest.raises(UsageError, match="smoothing"):
        NgramLM(order=2, smoothing="witten-bell")
    with pytest.raises(UsageError, match="out of range"):
        NgramLM(order=2, smoothing="mkn", discounts=(0.5, 2.5, 1.0))
    lm = NgramLM(order=2).fit(tokens(TRAIN))
    with pytest.raises(TextkitError, match="outside the model's vocabulary"):
        lm.score_lines(["zebra yak", "gnu"])
    with pytest.raises(EmptyCorpusError):
        lm.score_lines(["", ""])
    with pytest.raises(TextkitError, match="not been trained"):
        NgramLM(order=2).score("a b")


@given(
    st.lists(st.lists(st.sampled_from("abcdef"), min_size=1, max_size=8), min_size=1, max_size=12),
    st.integers(1, 4),
    st.sampled_from(["kn", "mkn", "addk"]),
    st.lists(st.sampled_from(["a", "b", "f", "zz"]), max_size=4),
)
@settings(max_examples=40, deadline=None)
def test_any_corpus_gives_normalised_consistent_models(lines, order, smoothing, sentence):
    """Every next-word distribution sums to 1, and scoring a sentence in one vectorised pass equals
    the chain rule over logprob() calls."""
    import logging

    logging.getLogger("textkit.lm.smoothing").setLevel(logging.ERROR)  # tiny corpora: fallback discounts
    lm = NgramLM(order=order, smoothing=smoothing, k=0.5).fit(lines)
    padded_sentence = ["<s>"] + sentence + ["</s>"]
    chain = 0.0
    for i in range(1, len(padded_sentence)):
        context = padded_sentence[max(0, i - order + 1) : i]
        dist = 10 ** lm.next_log10_probs([lm.vocab_.stoi.get(w, 0) for w in context])
        assert dist.sum() == pytest.approx(1.0, abs=1e-9)
        chain += lm.logprob(padded_sentence[i], context)
    assert lm.score(sentence) == pytest.approx(chain, abs=1e-9)
