"""textkit.sampling: the two d2l.ai minibatch schemes, checked as properties with hypothesis."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from textkit.errors import EmptyCorpusError, UsageError
from textkit.sampling import SAMPLERS, random_partition, sequential_partition

# Token ids are their own positions (0, 1, 2, ...), so every value says where in the text it lies.
shapes = st.tuples(st.integers(1, 400), st.integers(1, 6), st.integers(1, 9), st.integers(0, 2**32 - 1))


def _sampler_or_none(kind, n, b, t, seed):
    try:
        return SAMPLERS[kind](list(range(n)), b, t, seed=seed)
    except EmptyCorpusError:
        # refused only when some offset (0..t-1 for random, 0..t for sequential, as in d2l) would
        # leave less than one minibatch plus the one-token shift for Y
        assert n < b * t + t + (kind == "sequential")
        return None


def _check_batch(X, Y, n, b, t):
    assert X.dtype == torch.long and Y.dtype == torch.long
    assert X.shape == Y.shape == (b, t)
    assert int(X.min()) >= 0 and int(Y.max()) < n  # every token lies in the text...
    steps = torch.arange(t)
    assert torch.equal(X, X[:, :1] + steps)  # ...as a contiguous stretch of it,
    assert torch.equal(Y, X + 1)  # and Y is X shifted by one token


@settings(max_examples=150, deadline=None)
@given(shapes, st.sampled_from(["random", "sequential"]))
def test_every_x_token_is_in_the_text_and_y_is_x_shifted(shape, kind):
    n, b, t, seed = shape
    sampler = _sampler_or_none(kind, n, b, t, seed)
    if sampler is None:
        return
    assert n >= sampler.min_tokens()
    for _epoch in range(2):
        batches = list(sampler)
        assert len(batches) == len(sampler) >= 1
        for X, Y in batches:
            _check_batch(X, Y, n, b, t)


@settings(max_examples=150, deadline=None)
@given(shapes, st.sampled_from(["random", "sequential"]))
def test_no_subsequence_repeats_within_an_epoch(shape, kind):
    n, b, t, seed = shape
    sampler = _sampler_or_none(kind, n, b, t, seed)
    if sampler is None:
        return
    rows = torch.cat([X for X, _ in sampler])
    starts = rows[:, 0].tolist()
    assert len(set(starts)) == len(starts)
    ordered = sorted(starts)  # non-overlapping, too: starts lie at least num_steps apart
    assert all(b2 - a2 >= t for a2, b2 in zip(ordered, ordered[1:]))


@settings(max_examples=150, deadline=None)
@given(shapes)
def test_sequential_rows_continue_across_minibatches(shape):
    n, b, t, seed = shape
    sampler = _sampler_or_none("sequential", n, b, t, seed)
    if sampler is None:
        return
    batches = list(sampler)
    for (X0, Y0), (X1, _) in zip(batches, batches[1:]):
        assert torch.equal(X1[:, 0], X0[:, -1] + 1)  # row b of batch i+1 starts where row b of batch i ended
        assert torch.equal(X1[:, 0], Y0[:, -1])


def test_random_partition_batches_are_not_neighbours():
    sampler = random_partition(np.arange(10_000), batch_size=4, num_steps=5, seed=0)
    batches = list(sampler)
    follows = sum(bool(torch.equal(X1[:, 0], X0[:, -1] + 1)) for (X0, _), (X1, _) in zip(batches, batches[1:]))
    assert follows == 0


@pytest.mark.parametrize("kind", ["random", "sequential"])
def test_len_is_the_number_of_batches_for_every_offset(kind):
    for n in range(1, 80):
        for b, t in [(1, 1), (2, 3), (3, 5), (4, 2)]:
            try:
                sampler = SAMPLERS[kind](list(range(n)), b, t, seed=n)
            except EmptyCorpusError:
                continue
            counts = {sum(1 for _ in sampler) for _ in range(12)}  # 12 epochs, various offsets
            assert counts == {len(sampler)}


def test_len_matches_d2l_formulae():
    # d2l.ai: random has (n - 1 - offset) // t subsequences; sequential has (n - offset - 1) // b // t batches
    assert len(random_partition(range(35), 2, 5)) == (35 - 4 - 1) // 5 // 2
    assert len(sequential_partition(range(35), 2, 5)) == (35 - 5 - 1) // 2 // 5


@pytest.mark.parametrize("kind", ["random", "sequential"])
def test_new_offsets_each_epoch_and_reproducible_with_seed(kind):
    ids = np.arange(1000)
    a = SAMPLERS[kind](ids, 3, 7, seed=42)
    b = SAMPLERS[kind](ids, 3, 7, seed=42)
    epochs_a = [[X.clone() for X, _ in a] for _ in range(6)]
    epochs_b = [[X.clone() for X, _ in b] for _ in range(6)]
    assert all(torch.equal(torch.stack(p), torch.stack(q)) for p, q in zip(epochs_a, epochs_b))
    first_tokens = {
        int(epoch[0][0, 0]) % 7 if kind == "sequential" else tuple(epoch[0][:, 0].tolist()) for epoch in epochs_a
    }
    assert len(first_tokens) > 1  # the offset (and for random, the order) changes between epochs
    c = SAMPLERS[kind](ids, 3, 7, seed=43)
    assert any(not torch.equal(torch.stack([X for X, _ in c]), torch.stack(e)) for e in epochs_a[:1] for _ in [0])


def test_sequential_offsets_cover_the_whole_range():
    sampler = sequential_partition(np.arange(500), 2, 4, seed=1)
    offsets = {int(next(iter(sampler))[0][0, 0]) for _ in range(200)}
    assert offsets == set(range(5))  # d2l: offset drawn from 0..num_steps inclusive


def test_unseeded_samplers_differ():
    a = [next(iter(random_partition(np.arange(5000), 8, 5)))[0] for _ in range(3)]
    b = [next(iter(random_partition(np.arange(5000), 8, 5)))[0] for _ in range(3)]
    assert not all(torch.equal(x, y) for x, y in zip(a, b))


@pytest.mark.parametrize("kind", ["random", "sequential"])
def test_state_dict_round_trip_resumes_the_same_epochs(kind):
    ids = torch.arange(2000)
    sampler = SAMPLERS[kind](ids, 4, 6, seed=7)
    list(sampler)
    state = json.loads(json.dumps(sampler.state_dict()))  # JSON-serialisable
    expected = [[X for X, _ in sampler] for _ in range(2)]
    resumed = SAMPLERS[kind](ids, 4, 6, seed=999)
    resumed.load_state_dict(state)
    assert resumed.epoch == 1
    got = [[X for X, _ in resumed] for _ in range(2)]
    assert all(torch.equal(torch.stack(p), torch.stack(q)) for p, q in zip(expected, got))


@pytest.mark.parametrize("kind", ["random", "sequential"])
def test_too_short_corpus_is_a_clear_error(kind):
    with pytest.raises(EmptyCorpusError, match="too short for one minibatch"):
        SAMPLERS[kind](list(range(10)), batch_size=2, num_steps=5)
    with pytest.raises(EmptyCorpusError):
        SAMPLERS[kind]([], batch_size=1, num_steps=1)


@pytest.mark.parametrize("kind", ["random", "sequential"])
def test_bad_sizes(kind):
    with pytest.raises(UsageError, match="positive"):
        SAMPLERS[kind](list(range(100)), batch_size=0, num_steps=5)
    with pytest.raises(UsageError, match="positive"):
        SAMPLERS[kind](list(range(100)), batch_size=2, num_steps=-1)


def test_accepts_lists_arrays_and_tensors():
    for ids in (list(range(100)), np.arange(100, dtype=np.int32), torch.arange(100)):
        X, Y = next(iter(sequential_partition(ids, 2, 5, seed=0)))
        assert X.dtype == torch.long and torch.equal(Y, X + 1)
    assert "batches=" in repr(sequential_partition(range(100), 2, 5))


@pytest.mark.parametrize("kind,extra", [("random", 0), ("sequential", 1)])
def test_minimum_length_is_exact(kind, extra):
    b, t = 3, 4
    shortest = b * t + t + extra
    assert len(SAMPLERS[kind](range(shortest), b, t)) == 1
    with pytest.raises(EmptyCorpusError, match=f"at least {shortest} tokens"):
        SAMPLERS[kind](range(shortest - 1), b, t)
