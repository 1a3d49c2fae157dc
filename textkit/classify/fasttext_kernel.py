"""Compiled inner loops of the fastText classifier (numba, ``nogil`` so Python threads run them
side by side on shared weights, the lock-free "Hogwild" scheme of fastText's C++ trainer).

Documents arrive flattened: ``features[offsets[d]:offsets[d + 1]]`` are the rows of document ``d``
in the input matrix (word ids, then hashed word n-gram buckets after the words).
"""

from __future__ import annotations

import numpy as np
from numba import njit

_FNV_OFFSET = np.uint64(2166136261)
_FNV_PRIME = np.uint64(16777619)
_MASK32 = np.uint64(0xFFFFFFFF)
_NGRAM_PRIME = np.uint64(116049371)  # fastText's multiplier for combining word hashes into an n-gram hash


@njit(nogil=True, cache=True)
def fnv1a_hashes(data: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """32-bit FNV-1a hash of each byte string ``data[offsets[i]:offsets[i + 1]]`` (fastText's word hash)."""
    n = len(offsets) - 1
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        h = _FNV_OFFSET
        for j in range(offsets[i], offsets[i + 1]):
            h = ((h ^ np.uint64(data[j])) * _FNV_PRIME) & _MASK32
        out[i] = h
    return out


@njit(nogil=True, cache=True)
def build_features(types, offsets, type_word, type_hash, eos_word, eos_hash, n_words, ngrams, buckets):
    """Input rows for each document: its in-vocabulary words, an end-of-text word, and the buckets of
    all its word 2..``ngrams``-grams (hashed from every token, known or not, as fastText does).

    Returns ``(features, feature_offsets)``.
    """
    n_docs = len(offsets) - 1
    counts = np.empty(n_docs + 1, dtype=np.int64)
    counts[0] = 0
    for d in range(n_docs):
        length = offsets[d + 1] - offsets[d] + 1  # + end of text
        known = 1
        for t in range(offsets[d], offsets[d + 1]):
            if type_word[types[t]] >= 0:
                known += 1
        n_grams = 0
        for n in range(2, ngrams + 1):
            if length >= n:
                n_grams += length - n + 1
        counts[d + 1] = counts[d] + known + n_grams
    features = np.empty(counts[n_docs], dtype=np.int32)  # row ids < 2**31; halves the memory of int64
    bucket_count = np.uint64(buckets)
    for d in range(n_docs):
        pos = counts[d]
        start, stop = offsets[d], offsets[d + 1]
        for t in range(start, stop):
            w = type_word[types[t]]
            if w >= 0:
                features[pos] = w
                pos += 1
        features[pos] = eos_word
        pos += 1
        length = stop - start + 1
        for i in range(length):
            h = type_hash[types[start + i]] if start + i < stop else eos_hash
            for j in range(i + 1, min(i + ngrams, length)):
                hj = type_hash[types[start + j]] if start + j < stop else eos_hash
                h = h * _NGRAM_PRIME + hj  # wraps modulo 2**64, like fastText's uint64 arithmetic
                features[pos] = n_words + np.int32(h % bucket_count)
                pos += 1
    return features, counts


@njit(nogil=True, fastmath=True, cache=True)
def train_shard(w_in, w_out, features, offsets, labels, order, lr, progress_start, progress_step, weight_decay):
    """One epoch of SGD over the documents in ``order`` (one thread's share); returns the summed loss.

    For each document: hidden = mean of its input rows; p = softmax(w_out @ hidden); the output rows
    move by ``alpha = lr_t * (1[y == k] - p_k)``; the input rows by the gradient divided by their count.
    ``lr_t = lr * (1 - progress)`` decays linearly to zero over the whole run, as in fastText.
    """
    n_classes, dim = w_out.shape
    hidden = np.empty(dim, dtype=np.float32)
    grad = np.empty(dim, dtype=np.float32)
    scores = np.empty(n_classes, dtype=np.float32)
    loss = 0.0
    for step in range(len(order)):
        d = order[step]
        start, stop = offsets[d], offsets[d + 1]
        n = stop - start
        if n == 0:
            continue
        lr_t = lr * max(0.0, 1.0 - (progress_start + step * progress_step))
        hidden[:] = 0.0
        for f in range(start, stop):
            hidden += w_in[features[f]]
        hidden /= n
        best = -1e30
        for k in range(n_classes):
            s = 0.0
            for i in range(dim):
                s += w_out[k, i] * hidden[i]
            scores[k] = s
            best = max(best, s)
        total = 0.0
        for k in range(n_classes):
            scores[k] = np.exp(scores[k] - best)
            total += scores[k]
        y = labels[d]
        loss -= np.log(scores[y] / total + 1e-10)
        grad[:] = 0.0
        for k in range(n_classes):
            alpha = lr_t * ((1.0 if k == y else 0.0) - scores[k] / total)
            for i in range(dim):
                grad[i] += alpha * w_out[k, i]
                w_out[k, i] += alpha * hidden[i]
        if weight_decay > 0.0:
            shrink = 1.0 - lr_t * weight_decay
            w_out *= shrink
        grad /= n
        for f in range(start, stop):
            row = features[f]
            if weight_decay > 0.0:
                w_in[row] *= 1.0 - lr_t * weight_decay
            w_in[row] += grad
    return loss


@njit(nogil=True, fastmath=True, cache=True)
def predict_scores(w_in, w_out, features, offsets) -> np.ndarray:
    """Softmax probabilities, one row per document (a document with no features gets uniform ones)."""
    n_docs = len(offsets) - 1
    n_classes, dim = w_out.shape
    out = np.empty((n_docs, n_classes), dtype=np.float32)
    hidden = np.empty(dim, dtype=np.float32)
    for d in range(n_docs):
        start, stop = offsets[d], offsets[d + 1]
        hidden[:] = 0.0
        for f in range(start, stop):
            hidden += w_in[features[f]]
        if stop > start:
            hidden /= stop - start
        best = -1e30
        for k in range(n_classes):
            s = 0.0
            for i in range(dim):
                s += w_out[k, i] * hidden[i]
            out[d, k] = s
            best = max(best, s)
        total = 0.0
        for k in range(n_classes):
            out[d, k] = np.exp(out[d, k] - best)
            total += out[d, k]
        for k in range(n_classes):
            out[d, k] /= total
    return out
