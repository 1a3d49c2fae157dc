"""word2vec: the compiled updates against autograd, the tables, training behaviour, bad input."""

from __future__ import annotations

import heapq
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from textkit.embeddings import word_counts
from textkit.errors import EmptyCorpusError, UsageError
from textkit.word2vec import LineCorpus, Word2Vec, kernels
from textkit.word2vec.model import TrainingDivergedError
from textkit.word2vec.reference import reference_step
from textkit.word2vec.tables import huffman_tree, keep_probabilities, negative_sampler

V, D = 9, 7
COUNTS = np.array([50, 30, 20, 12, 9, 7, 4, 3, 2])


def _weights(seed: int = 0):
    rng = np.random.default_rng(seed)
    syn0 = rng.normal(0, 0.5, (V, D)).astype(np.float32)
    syn1 = rng.normal(0, 0.5, (V, D)).astype(np.float32)
    syn1neg = rng.normal(0, 0.5, (V, D)).astype(np.float32)
    return syn0, syn1, syn1neg


# ---- the fast path computes the reference updates ------------------------------------------
@pytest.mark.parametrize("sg", [1, 0], ids=["skipgram", "cbow"])
@pytest.mark.parametrize(
    "hs,negatives",
    [(0, [5, 1, 7]), (1, None), (1, [2, 8]), (0, [4, 3, 3])],
    ids=["ns", "hs", "hs+ns", "ns-skip-target"],
)
def test_kernel_updates_match_autograd(sg, hs, negatives):
    syn0, syn1, syn1neg = _weights()
    codes, points, lengths = huffman_tree(COUNTS)
    accept, alias = negative_sampler(COUNTS)
    target, alpha = 3, 0.05
    context = [6] if sg else [6, 0, 2, 6]  # CBOW: a repeated context word gets the step twice
    # the last case draws the target itself as a negative: word2vec skips it
    neg = np.array(negatives if negatives is not None else [], dtype=np.int32)
    n_neg = len(neg)
    fast = [m.copy() for m in (syn0, syn1, syn1neg)]
    neu1, neu1e = np.zeros(D, np.float32), np.zeros(D, np.float32)
    if sg:
        loss = kernels.sg_pair(
            *fast, context[0], target, codes, points, lengths, accept, alias, neg, hs, n_neg, alpha, neu1e, True
        )
    else:
        loss = kernels.cbow_center(
            *fast,
            np.array(context, np.int32),
            target,
            codes,
            points,
            lengths,
            accept,
            alias,
            neg,
            hs,
            n_neg,
            alpha,
            neu1,
            neu1e,
            True,
        )
    path = slice(0, lengths[target])
    ref = reference_step(
        syn0,
        syn1,
        syn1neg,
        context,
        target,
        alpha,
        negatives=negatives,
        codes=codes[target, path] if hs else (),
        points=points[target, path] if hs else (),
    )
    for got, want in zip(fast, ref[:3]):
        np.testing.assert_allclose(got, want, atol=2e-6)
    assert loss == pytest.approx(ref[3], rel=1e-4)
    assert not np.allclose(fast[0], syn0)  # the step did something


@pytest.mark.parametrize(
    "n_in,labels",
    [(1, [1, 0, 0]), (4, [1, 0, 0, 0, 0, 0]), (3, [0, 1, 1, 0])],
    ids=["one-input", "sg-window", "hs-path"],
)
def test_shared_output_step_is_the_gradient_of_the_summed_loss(n_in, labels):
    """HogBatch: every input and output row moves by -alpha times the gradient of the loss summed
    over all (input, output) units, taken at the values before the step."""
    import torch

    rng = np.random.default_rng(1)
    inputs = rng.normal(0, 0.5, (n_in, D)).astype(np.float32)
    out = rng.normal(0, 0.5, (V, D)).astype(np.float32)
    rows = np.array([3, 5, 1, 7, 0, 2][: len(labels)], dtype=np.int32)
    labels = np.array(labels, dtype=np.float32)
    alpha = 0.1
    grads = np.zeros((n_in, D), np.float32)
    scores = np.zeros((n_in, len(rows)), np.float32)
    sig, loss_table = kernels.sigmoid_tables()
    new_out = out.copy()
    loss = kernels.batch_step(
        inputs, n_in, new_out, rows, labels, len(rows), alpha, grads, scores, sig, loss_table, True
    )
    h = torch.tensor(inputs, dtype=torch.float64, requires_grad=True)
    o = torch.tensor(out[rows], dtype=torch.float64, requires_grad=True)
    z = (h @ o.T) * torch.tensor(2 * labels - 1, dtype=torch.float64)
    want = -torch.nn.functional.logsigmoid(z).sum()
    want.backward()
    np.testing.assert_allclose(grads, -alpha * h.grad.numpy(), atol=2e-6)
    np.testing.assert_allclose(new_out[rows], out[rows] - alpha * o.grad.numpy(), atol=2e-6)
    untouched = np.setdiff1d(np.arange(V), rows)
    np.testing.assert_array_equal(new_out[untouched], out[untouched])
    assert loss == pytest.approx(float(want.detach()), rel=1e-4)


@settings(max_examples=60, deadline=None)
@given(
    n_in=st.integers(1, 10),
    path=st.integers(1, 6),
    scale=st.sampled_from([0.3, 1.0, 2.0]),
    seed=st.integers(0, 2**16),
)
def test_a_shared_path_step_equals_the_inputs_one_after_another(n_in, path, scale, seed):
    """Skip-gram HS: the window's context words against one center's path, batched, give what
    word2vec's pair-by-pair updates give (saturated nodes skipped in both)."""
    rng = np.random.default_rng(seed)
    inputs = rng.normal(0, scale, (10, D)).astype(np.float32)
    syn1 = rng.normal(0, scale, (V, D)).astype(np.float32)
    rows = rng.permutation(V)[:path].astype(np.int32)
    labels = rng.integers(0, 2, path).astype(np.float32)
    sig, loss_table = kernels.sigmoid_tables()
    alpha = 0.3
    batched = syn1.copy()
    grads = np.zeros((10, D), np.float32)
    loss = kernels.path_step(
        inputs,
        n_in,
        batched,
        rows,
        labels,
        path,
        alpha,
        grads,
        np.zeros((10, 8), np.float32),
        np.zeros((10, 10), np.float32),
        sig,
        loss_table,
        True,
    )
    one_by_one = syn1.copy()
    want_loss = 0.0
    for b in range(n_in):
        step = np.zeros(D, np.float32)
        for m in range(path):
            want_loss += kernels.logistic_step(
                inputs[b], one_by_one, rows[m], labels[m], alpha, step, sig, loss_table, True, True
            )
        np.testing.assert_allclose(grads[b], step, atol=5e-5)
    np.testing.assert_allclose(batched, one_by_one, atol=5e-5)
    assert loss == pytest.approx(want_loss, rel=1e-4, abs=1e-4)


def test_hierarchical_softmax_leaves_saturated_nodes_alone():
    """word2vec and gensim skip a node whose score is beyond ±6; negative sampling still moves."""
    syn0, syn1, syn1neg = (np.full((V, D), 1.0, np.float32) for _ in range(3))
    codes, points, lengths = huffman_tree(COUNTS)
    accept, alias = negative_sampler(COUNTS)
    neu1e = np.zeros(D, np.float32)
    args = (codes, points, lengths, accept, alias)
    fast = [m.copy() for m in (syn0, syn1, syn1neg)]  # every score is 7: beyond 6
    kernels.sg_pair(*fast, 2, 3, *args, np.empty(0, np.int32), 1, 0, 0.1, neu1e, False)
    np.testing.assert_array_equal(fast[1], syn1)
    np.testing.assert_array_equal(fast[0], syn0)
    kernels.sg_pair(*fast, 2, 3, *args, np.array([5], np.int32), 0, 1, 0.1, neu1e, False)
    assert not np.array_equal(fast[2], syn1neg)


def test_loss_tables_are_accurate():
    sig, loss = kernels.sigmoid_tables()
    xs = np.linspace(-kernels.TABLE_RANGE, kernels.TABLE_RANGE, len(sig))
    np.testing.assert_allclose(sig, 1 / (1 + np.exp(-xs)), atol=1e-7)
    np.testing.assert_allclose(loss, np.log1p(np.exp(-xs)), rtol=1e-6)


# ---- tables ---------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 1000), min_size=2, max_size=60))
def test_huffman_codes_are_optimal_prefix_codes(counts):
    codes, points, lengths = huffman_tree(counts)
    words = ["".join(map(str, codes[w, : lengths[w]])) for w in range(len(counts))]
    for a in words:  # prefix-free
        assert sum(b.startswith(a) for b in words) == 1
    assert points.max() <= len(counts) - 2 and points.min() >= 0
    heap = list(counts)  # optimal total cost = sum of the merged weights
    heapq.heapify(heap)
    best = 0
    while len(heap) > 1:
        merged = heapq.heappop(heap) + heapq.heappop(heap)
        best += merged
        heapq.heappush(heap, merged)
    assert int(np.dot(lengths, counts)) == best


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=2, max_size=300))
def test_huffman_tree_merges_ties_lowest_index_first(counts):
    """The compiled tree is Python's heapq over (count, node) pairs, ties (frequent here) included."""
    codes, points, lengths = huffman_tree(counts)
    n = len(counts)
    heap = [(c, i) for i, c in enumerate(counts)]
    heapq.heapify(heap)
    parent, branch = {}, {}
    for node in range(n, 2 * n - 1):
        (c1, a), (c2, b) = heapq.heappop(heap), heapq.heappop(heap)
        parent[a], parent[b], branch[a], branch[b] = node, node, 0, 1
        heapq.heappush(heap, (c1 + c2, node))
    for w in range(n):
        path, node = [], w
        while node != 2 * n - 2:
            path.append((branch[node], parent[node] - n))
            node = parent[node]
        assert [(int(c), int(p)) for c, p in zip(codes[w, : lengths[w]], points[w, : lengths[w]])] == path[::-1]


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=2, max_size=20, unique=True))
def test_huffman_codes_and_points_follow_gensim(exponents):
    """Counts that are distinct powers of 3 never tie (every sum of them is unique), so the tree is
    gensim's, and so must be the codes and points."""
    from gensim.models.keyedvectors import KeyedVectors
    from gensim.models.word2vec import _assign_binary_codes

    counts = [3**e for e in exponents]
    codes, points, lengths = huffman_tree(counts)
    kv = KeyedVectors(2, count=len(counts))
    for i, c in enumerate(counts):
        kv.set_vecattr(i, "count", c)
    _assign_binary_codes(kv)
    for w in range(len(counts)):
        assert codes[w, : lengths[w]].tolist() == kv.get_vecattr(w, "code").tolist()
        assert points[w, : lengths[w]].tolist() == kv.get_vecattr(w, "point").tolist()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 10_000), min_size=1, max_size=50))
def test_alias_tables_give_the_unigram_power_distribution(counts):
    accept, alias = negative_sampler(np.array(counts))
    n = len(counts)
    prob = accept.astype(np.float64) / n
    np.add.at(prob, alias, (1 - accept.astype(np.float64)) / n)
    want = np.array(counts, dtype=np.float64) ** 0.75
    np.testing.assert_allclose(prob, want / want.sum(), atol=1e-6)


def test_keep_probabilities_match_gensim():
    from gensim.models import Word2Vec as GensimWord2Vec

    rng = random.Random(0)
    words = [f"w{i}" for i in range(40)]
    sentences = [[rng.choice(words[: rng.randint(1, 40)]) for _ in range(30)] for _ in range(200)]
    g = GensimWord2Vec(min_count=1, sample=1e-2)
    g.build_vocab(sentences)
    counts = np.array([g.wv.get_vecattr(w, "count") for w in g.wv.index_to_key])
    keep = keep_probabilities(counts, 1e-2)
    gensim_keep = np.array([g.wv.get_vecattr(w, "sample_int") for w in g.wv.index_to_key]) / 2**32
    np.testing.assert_allclose(keep, gensim_keep, rtol=1e-6, atol=1e-9)
    assert keep.min() < 1  # the frequent words are subsampled


def test_max_vocab_size_prunes_like_word2vec():
    sentences = [["a"] * 5 + ["b"] * 2 + [f"rare{i}" for i in range(10)]]
    model = Word2Vec(vector_size=4, min_count=1, max_vocab_size=5, workers=1, progress=False)
    model.build_vocab(sentences)
    assert model.corpus_total_words == 17 and dict(zip(model.vocab.tokens, model.vocab.freqs)) == {"a": 5, "b": 2}


def test_a_vocabulary_bound_that_keeps_no_word_is_a_clear_error():
    with pytest.raises(EmptyCorpusError, match="max_vocab_size=1"):
        Word2Vec([["a", "b", "c"]], min_count=1, max_vocab_size=1, progress=False)
    model = Word2Vec([["a", "b", "a"]] * 3, vector_size=4, min_count=1, max_vocab_size=1, workers=1, progress=False)
    assert model.vocab.tokens == ["a"]


# ---- training ---------------------------------------------------------------------------------
def planted_corpus(n_sentences: int = 600, seed: int = 0) -> tuple[list[list[str]], list[list[str]]]:
    """Four topics of six words; a sentence uses words of one topic only."""
    rng = random.Random(seed)
    groups = [[f"{topic}{i}" for i in range(6)] for topic in ("fruit", "metal", "bird", "tool")]
    topics = (rng.choice(groups) for _ in range(n_sentences))
    sentences = [[rng.choice(g) for _ in range(rng.randint(6, 10))] for g in topics]
    return sentences, groups


@pytest.mark.parametrize("kernel", ["hogbatch", "classic"])
@pytest.mark.parametrize(
    "sg,hs,negative",
    [(1, 0, 5), (0, 0, 5), (1, 1, 0), (0, 1, 0), (1, 1, 3)],
    ids=["sg-ns", "cbow-ns", "sg-hs", "cbow-hs", "sg-hs+ns"],
)
def test_planted_topics_are_nearest_neighbours(sg, hs, negative, kernel):
    sentences, groups = planted_corpus()
    model = Word2Vec(
        sentences,
        vector_size=16,
        window=3,
        min_count=1,
        sample=0,
        sg=sg,
        hs=hs,
        negative=negative,
        epochs=10,
        workers=2,
        seed=3,
        kernel=kernel,
        progress=False,
    )
    hits = 0
    for group in groups:
        for word in group:
            neighbours = {w for w, _ in model.wv.most_similar(word, topn=5)}
            hits += len(neighbours & set(group))
    assert hits / (24 * 5) >= 0.9
    loss = model.report.epoch_mean_loss
    assert len(loss) == 10
    if hs and not negative:  # a full softmax can do no better than the entropy of "another word of my topic": log 6
        assert loss[-1] == pytest.approx(np.log(6), abs=0.1)
    else:
        assert loss[-1] < loss[0]


@pytest.mark.parametrize("kernel", ["hogbatch", "classic"])
def test_one_worker_with_a_seed_is_reproducible(kernel):
    sentences, _ = planted_corpus(200)
    runs = [
        Word2Vec(
            sentences, vector_size=8, min_count=1, workers=1, seed=s, epochs=2, sg=1, kernel=kernel, progress=False
        )
        for s in (5, 5, 6)
    ]
    np.testing.assert_array_equal(runs[0].wv.vectors, runs[1].wv.vectors)
    assert runs[0].report.epoch_loss == runs[1].report.epoch_loss
    assert not np.array_equal(runs[0].wv.vectors, runs[2].wv.vectors)


def test_reads_the_corpus_once(tmp_path):
    sentences, _ = planted_corpus(100)

    class CountingCorpus:
        passes = 0

        def __iter__(self):
            CountingCorpus.passes += 1
            return iter(sentences)

    a = Word2Vec(CountingCorpus(), vector_size=8, min_count=1, epochs=3, workers=1, progress=False)
    assert CountingCorpus.passes == 1  # every epoch replays the ids that pass wrote
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(" ".join(s) for s in sentences) + "\n", encoding="utf-8")
    b = Word2Vec(corpus_file=path, vector_size=8, min_count=1, epochs=3, workers=1, progress=False)
    assert a.wv.index_to_key == b.wv.index_to_key
    np.testing.assert_array_equal(a.wv.vectors, b.wv.vectors)  # same words, same seed, same vectors
    assert a.report.words == 3 * sum(map(len, sentences))


def test_learning_rate_decays_linearly_to_min_alpha():
    model = Word2Vec(alpha=0.05, min_alpha=0.001)
    assert model._alpha_at(0) == 0.05
    assert model._alpha_at(0.5) == pytest.approx(0.0255)
    assert model._alpha_at(1) == pytest.approx(0.001)


def test_max_vocab_size_and_min_count_shape_the_vocabulary():
    sentences = [["a"] * 10 + ["b"] * 5 + ["c"] * 2 + ["d"]]
    model = Word2Vec(sentences, vector_size=4, min_count=2, epochs=1, workers=1, progress=False)
    assert model.wv.index_to_key == ["a", "b", "c"]
    assert word_counts(model.wv) == [10, 5, 2]


# ---- bad input ----------------------------------------------------------------------------------
def test_empty_corpus_is_a_clear_error(tmp_path):
    with pytest.raises(EmptyCorpusError, match="no words"):
        Word2Vec([[], []], progress=False)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(EmptyCorpusError):
        Word2Vec(corpus_file=empty, progress=False)


def test_every_word_below_min_count_is_a_clear_error():
    with pytest.raises(EmptyCorpusError, match="min_count=5.*lower min_count"):
        Word2Vec([["a", "b", "a"]], min_count=5, progress=False)


@pytest.mark.parametrize(
    "corpus,kwargs,message",
    [
        (["a b c"], {}, "lists of tokens"),
        ([["a"]], {"alpha": float("inf")}, "alpha must be a positive finite number"),
        ([["a"]], {"min_alpha": float("nan")}, "min_alpha"),
        ([["a"]], {"kernel": "fast"}, "kernel must be one of"),
        ([["a"]], {"hs": 0, "negative": 0}, "hierarchical softmax"),
        ([["a"]], {"window": 0}, "window"),
    ],
)
def test_bad_arguments_are_usage_errors(corpus, kwargs, message):
    with pytest.raises(UsageError, match=message):
        Word2Vec(corpus, min_count=1, progress=False, **kwargs)


def test_a_one_shot_iterator_is_enough():
    sentences, _ = planted_corpus(100)
    model = Word2Vec(iter(sentences), vector_size=8, min_count=1, epochs=2, workers=1, progress=False)
    assert model.report.words == 2 * sum(map(len, sentences))


@pytest.mark.parametrize("kwargs", [{"alpha": 1e30}, {"min_alpha": 1e30}], ids=["alpha", "min_alpha"])
def test_a_diverging_run_stops_with_a_clear_error(kwargs):
    sentences, _ = planted_corpus(300)
    with pytest.raises(TrainingDivergedError, match="learning rate is too high"):
        Word2Vec(sentences, vector_size=8, min_count=1, epochs=3, workers=2, progress=False, **kwargs)


def test_very_long_sentences_are_cut_into_pieces(tmp_path):
    path = tmp_path / "long.txt"
    path.write_text(" ".join(f"w{i % 7}" for i in range(25_000)) + "\n")
    model = Word2Vec(vector_size=4, min_count=1, workers=1, progress=False)
    model.build_vocab(LineCorpus(path))
    assert model._spool.sentences == 3 and model.corpus_total_words == 25_000
    ends = [e[-1] for _, e, _ in model._spool.chunks(batch_words=10**6)]
    assert ends == [25_000]


# ---- vocabulary, compiled kernels, folders -------------------------------------------------------
@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 6), min_size=1, max_size=30), st.integers(1, 4))
def test_vocab_from_counts_orders_like_from_counter(counts, min_freq):
    from collections import Counter

    from textkit.vocab import Vocab

    tokens = [f"t{i}" for i in range(len(counts))]
    counter = Counter(dict(zip(tokens, counts)))
    if max(counts) < min_freq:
        with pytest.raises(EmptyCorpusError):
            Vocab.from_counts(tokens, counts, min_freq=min_freq)
        return
    fast = Vocab.from_counts(tokens, np.array(counts), min_freq=min_freq)
    assert fast == Vocab.from_counter(counter, min_freq=min_freq, specials=())


def test_the_compiled_module_trains_like_the_jit_kernel():
    from textkit.word2vec.compiled import _jit_kernels, compiled_kernels

    model = Word2Vec(vector_size=8, min_count=1, workers=1, sg=1, hs=1, negative=3, progress=False)
    model.build_vocab(planted_corpus(100)[0])
    ids, ends, _ = next(model._spool.chunks(10_000))
    results = []
    for kernels_ in (compiled_kernels(), _jit_kernels()):
        arrays = [a.copy() for a in (model.vectors, model._syn1, model._syn1neg)]
        loss = kernels_.train_chunk(
            *arrays,
            ids,
            ends,
            model._keep_prob,
            model._neg_accept,
            model._neg_alias,
            model._codes,
            model._points,
            model._lengths,
            1,
            1,
            3,
            5,
            0.025,
            0.02,
            7,
            True,
            True,
        )
        results.append((arrays, loss))
    (a, loss_a), (b, loss_b) = results
    assert loss_a[1:] == loss_b[1:] and loss_a[0] == pytest.approx(loss_b[0], rel=1e-5)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, atol=1e-6)


def test_training_in_a_fresh_process_does_not_import_numba_or_gensim(tmp_path):
    import subprocess
    import sys

    from textkit.word2vec.compiled import compiled_kernels

    compiled_kernels()  # built (or found) here, so the child only loads it
    path = tmp_path / "c.txt"
    path.write_text("\n".join(" ".join(s) for s in planted_corpus(50)[0]) + "\n")
    code = (
        "import sys; from textkit.word2vec import Word2Vec; from textkit.embeddings import save_vectors; "
        f"m = Word2Vec(corpus_file={str(path)!r}, vector_size=8, min_count=1, workers=2, progress=False); "
        f"save_vectors(m, {str(tmp_path / 'v.bin')!r}); "
        "print(sorted(n for n in ('numba', 'gensim', 'torch', 'scipy') if n in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_saved_model_loads_with_its_tokenizer_and_trains_further(tmp_path):
    import textkit

    path = tmp_path / "c.txt"
    path.write_text("\n".join(" ".join(s).upper() for s in planted_corpus(100)[0]) + "\n")
    model = Word2Vec(corpus_file=path, tokenizer="en", vector_size=8, min_count=1, workers=1, epochs=1, progress=False)
    assert model.vocab.tokens[0].islower()  # the English tokenizer lowercases
    model.save(tmp_path / "m")
    back = textkit.load(tmp_path / "m")
    assert isinstance(back, Word2Vec) and back.tokenizer.spec == "en" and back.get_params() == model.get_params()
    np.testing.assert_array_equal(back.wv.vectors, model.wv.vectors)
    np.testing.assert_array_equal(back._syn1neg, model._syn1neg)
    report = back.train(corpus_file=path, epochs=1)
    assert report.words == model.corpus_total_words and report.words_trained > 0
    with pytest.raises(Exception, match="exists"):
        model.save(tmp_path / "m")
