"""Vocabulary-derived tables word2vec trains with.

* :func:`keep_probabilities` — subsampling of frequent words (the word2vec formula, as gensim);
* :func:`negative_sampler` — the unigram distribution raised to 3/4, as alias tables;
* :func:`huffman_tree` — binary codes and inner-node paths for hierarchical softmax.

>>> [round(float(p), 3) for p in keep_probabilities(np.array([1000, 1]), sample=1e-3)]
[0.033, 1.0]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from textkit.errors import UsageError


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """Probability of keeping each occurrence of a word (word2vec's subsampling of frequent words).

    With ``t = sample * total``, a word seen ``c`` times is kept with probability
    ``(sqrt(c / t) + 1) * t / c``, capped at 1. ``sample=0`` keeps everything.
    """
    counts = np.asarray(counts, dtype=np.float64)
    total = counts.sum()
    if sample < 0:
        raise UsageError(f"sample must be >= 0, not {sample}")
    threshold = total if sample == 0 else (sample * total if sample < 1 else sample * (3 + np.sqrt(5)) / 2)
    keep = (np.sqrt(counts / threshold) + 1) * (threshold / counts)
    return np.minimum(keep, 1.0).astype(np.float32)


def negative_sampler(counts: np.ndarray, exponent: float = 0.75) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias tables for drawing words with probability ``counts**exponent / Z``.

    Returns ``(accept, alias)``: draw a slot ``i`` uniformly, keep ``i`` with probability
    ``accept[i]``, else take ``alias[i]``. Exact, O(1) per draw, and only two arrays the size of
    the vocabulary, so draws stay in cache (a 10^8-slot table like the C tool's does not).

    >>> accept, alias = negative_sampler(np.array([3, 1]), exponent=1.0)
    >>> accept.tolist(), alias.tolist()
    ([1.0, 0.5], [0, 0])
    """
    weights = np.asarray(counts, dtype=np.float64) ** exponent
    if len(weights) == 0 or not np.all(weights > 0):
        raise UsageError("negative sampling needs a non-empty vocabulary with positive counts")
    from textkit.word2vec.compiled import compiled_kernels

    return compiled_kernels().vose_alias(weights * (len(weights) / weights.sum()))


def huffman_tree(counts: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Huffman codes over the vocabulary for hierarchical softmax.

    Returns ``(codes, points, lengths)``: word ``w`` has the path ``points[w, :lengths[w]]`` of
    inner-node rows (root first; rows index the ``len(counts) - 1`` inner nodes) and the branch
    taken at each, ``codes[w, :lengths[w]]`` (0 or 1). Frequent words get short codes. Codes and
    points follow gensim's conventions (the first of the two merged nodes takes branch 0, inner
    node ``i`` is the ``i``-th merge); where counts tie, the lower index is merged first, while
    gensim's heap compares counts alone, so the trees can differ between tied words.

    >>> codes, points, lengths = huffman_tree([5, 3, 1, 1])
    >>> lengths.tolist()
    [1, 2, 3, 3]
    """
    n = len(counts)
    if n < 2:
        raise UsageError("hierarchical softmax needs at least 2 words in the vocabulary")
    from textkit.word2vec.compiled import compiled_kernels

    return compiled_kernels().huffman_codes(np.asarray(counts, dtype=np.int64))
