"""The fastText kernels against independent references: FNV-1a, n-gram bucketing, one SGD step vs torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from textkit.classify import fasttext_kernel as kernel
from textkit.classify.fasttext import EOS, FastTextClassifier, _hashes
from textkit.vocab import Vocab


def fnv1a_reference(s: str) -> int:
    h = 2166136261
    for b in s.encode("utf-8"):
        h = ((h ^ b) * 16777619) % 2**32
    return h


@pytest.mark.parametrize("word", ["", "a", "foobar", "北京", "</s>"])
def test_fnv1a_matches_the_definition(word):
    assert int(_hashes([word])[0]) == fnv1a_reference(word)


def test_fnv1a_known_value():
    # Published 32-bit FNV-1a test vector: "a" -> 0xe40c292c
    assert int(_hashes(["a"])[0]) == 0xE40C292C


def test_features_are_known_words_eos_then_bigram_buckets():
    model = FastTextClassifier(ngrams=2, buckets=97, progress=False)
    model.vocab_ = Vocab([EOS, "good", "film"], specials=(EOS,), unk_token=None)
    types, offsets, strings = model._tokenize(["good unseen film"])
    features, feature_offsets = model._features(types, offsets, strings)
    tokens = ["good", "unseen", "film", EOS]
    hashes = [fnv1a_reference(t) for t in tokens]
    bigrams = [3 + ((hashes[i] * 116049371 + hashes[i + 1]) % 2**64) % 97 for i in range(3)]
    assert features.tolist() == [1, 2, 0] + bigrams
    assert feature_offsets.tolist() == [0, 6]


def test_trigrams_add_more_rows():
    model = FastTextClassifier(ngrams=3, buckets=1000, progress=False)
    model.vocab_ = Vocab([EOS], specials=(EOS,), unk_token=None)
    types, offsets, strings = model._tokenize(["a b c"])
    features, _ = model._features(types, offsets, strings)
    assert len(features) == 1 + 3 + 2  # EOS, bigrams over 4 tokens, trigrams over 4 tokens


def test_one_sgd_step_equals_torch_gradient_step():
    rng = np.random.default_rng(0)
    dim, classes, rows = 5, 3, 8
    w_in = rng.normal(size=(rows, dim)).astype(np.float32)
    w_out = rng.normal(size=(classes, dim)).astype(np.float32)
    features = np.array([1, 4, 4, 6], dtype=np.int64)
    offsets = np.array([0, 4], dtype=np.int64)
    label, lr = 2, 0.3

    t_in = torch.tensor(w_in, dtype=torch.float64, requires_grad=True)
    t_out = torch.tensor(w_out, dtype=torch.float64, requires_grad=True)
    hidden = t_in[torch.tensor(features)].mean(0)
    loss = torch.nn.functional.cross_entropy((t_out @ hidden)[None], torch.tensor([label]))
    loss.backward()
    expected_in = w_in - lr * t_in.grad.numpy()
    expected_out = w_out - lr * t_out.grad.numpy()

    returned = kernel.train_shard(w_in, w_out, features, offsets, np.array([label]), np.array([0]), lr, 0.0, 0.0, 0.0)
    assert returned == pytest.approx(loss.item(), rel=1e-5)
    np.testing.assert_allclose(w_out, expected_out, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w_in, expected_in, rtol=1e-5, atol=1e-6)


def test_learning_rate_decays_to_zero_at_the_end():
    w_in = np.ones((3, 2), dtype=np.float32)
    w_out = np.ones((2, 2), dtype=np.float32)
    before = (w_in.copy(), w_out.copy())
    kernel.train_shard(
        w_in, w_out, np.array([0, 1]), np.array([0, 2]), np.array([1]), np.array([0]), 0.5, 1.0, 0.0, 0.0
    )
    np.testing.assert_array_equal(w_in, before[0])
    np.testing.assert_array_equal(w_out, before[1])


def test_checkpoint_stores_only_touched_ngram_rows(tmp_path):
    from safetensors.numpy import load_file

    model = FastTextClassifier(buckets=50_000, epochs=2, progress=False).fit(
        ["good film", "bad film"] * 5, ["pos", "neg"] * 5
    )
    model.save(tmp_path / "m")
    stored = load_file(str(tmp_path / "m" / "weights.safetensors"))
    assert 0 < len(stored["ngram_rows"]) <= 3 * 2  # a few bigrams, not 50k rows


def test_single_thread_training_is_reproducible():
    texts, labels = ["good film", "bad film", "fine plot", "dull plot"] * 5, ["pos", "neg", "pos", "neg"] * 5
    a = FastTextClassifier(threads=1, seed=4, buckets=100, progress=False).fit(texts, labels)
    b = FastTextClassifier(threads=1, seed=4, buckets=100, progress=False).fit(texts, labels)
    np.testing.assert_array_equal(a.predict_proba(texts), b.predict_proba(texts))
