"""The compiled inner loop of word2vec (numba, no GIL, so ``workers`` threads train in parallel).

One call of :func:`train_chunk` trains on a chunk of about 10k words: subsampling, the random
reduced window, and the skip-gram or CBOW updates with negative sampling and/or hierarchical
softmax. Threads share the weight matrices without locks (Hogwild, like the C tool). Each chunk has
its own random generator seeded by the caller, so one worker gives the same vectors every run.

The update rules, written plainly with autograd, are in :mod:`textkit.word2vec.reference`; the
tests check that :func:`logistic_step`, :func:`sg_pair` and :func:`cbow_center` match them.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

_MULT = np.uint64(0x2545F4914F6CDD1D)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S12, _S25, _S27, _S11 = np.uint64(12), np.uint64(25), np.uint64(27), np.uint64(11)
_S30, _S31, _S32 = np.uint64(30), np.uint64(31), np.uint64(32)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53
_TO_UNIT32 = 1.0 / 4294967296.0  # 2**-32
_LOW32 = np.uint64(0xFFFFFFFF)
TABLE_RANGE = 8.0
TABLE_SIZE = 1024
MAX_EXP = 6.0  # hierarchical softmax leaves a node alone when its score is this large either way (word2vec)


@njit(nogil=True, cache=True)
def seed_state(seed: int) -> np.uint64:
    """splitmix64 of ``seed``: a well-mixed, non-zero xorshift state."""
    z = np.uint64(seed) + _GOLDEN
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    z = z ^ (z >> _S31)
    return z if z != np.uint64(0) else _GOLDEN


@njit(nogil=True, cache=True, inline="always")
def _next(state):
    """xorshift64*: returns (new_state, random 64-bit output)."""
    state ^= state >> _S12
    state ^= state << _S25
    state ^= state >> _S27
    return state, state * _MULT


@njit(nogil=True, cache=True)
def sigmoid_tables():
    """σ(x) and -log σ(x) sampled on [-TABLE_RANGE, TABLE_RANGE] for linear interpolation.

    With 1024 steps the interpolation error is below 1e-5 (the curvature of both is at most 1/4),
    far under float32 training noise, and it costs two loads instead of an ``exp`` and a ``log``.
    """
    xs = np.linspace(-TABLE_RANGE, TABLE_RANGE, TABLE_SIZE + 1)
    sig = 1.0 / (1.0 + np.exp(-xs))
    return sig.astype(np.float32), np.log1p(np.exp(-xs)).astype(np.float32)


@njit(nogil=True, fastmath=True, cache=True, error_model="numpy", inline="always")
def _interpolate(table, x):
    pos = (x + TABLE_RANGE) * (TABLE_SIZE / (2 * TABLE_RANGE))
    i = min(int(pos), TABLE_SIZE - 1)
    frac = pos - i
    return table[i] + frac * (table[i + 1] - table[i])


@njit(nogil=True, fastmath=True, cache=True, error_model="numpy", inline="always")
def logistic_step(l1, out, row, label, alpha, neu1e, sig_table, loss_table, compute_loss, skip_saturated):
    """One binary logistic unit: ``σ(l1·out[row])`` should be ``label``.

    Accumulates the input's update into ``neu1e``, applies the output row's update in place, and
    returns ``-log σ(±l1·out[row])`` (0 when ``compute_loss`` is false). Both updates are
    ``alpha`` times minus the gradient, using ``out[row]`` from before its update, as word2vec.
    With ``skip_saturated`` a score of at least ``MAX_EXP`` in size changes nothing (word2vec's
    hierarchical softmax).
    """
    size = l1.shape[0]
    f = np.float32(0.0)
    for k in range(size):
        f += l1[k] * out[row, k]
    inside = -TABLE_RANGE < f < TABLE_RANGE
    if not (skip_saturated and (f <= -MAX_EXP or f >= MAX_EXP)):
        sig = _interpolate(sig_table, f) if inside else 1.0 / (1.0 + math.exp(-f))
        g = np.float32((label - sig) * alpha)
        for k in range(size):  # one pass: the input's step uses the output row from before its update
            o = out[row, k]
            neu1e[k] += g * o
            out[row, k] = o + g * l1[k]
    if not compute_loss:
        return 0.0
    z = f if label > 0.5 else -f  # loss = -log σ(z) = log(1 + e^-z)
    if inside:
        return _interpolate(loss_table, z)
    return math.log1p(math.exp(-z)) if z > 0 else -z + math.log1p(math.exp(z))


@njit(nogil=True, fastmath=True, cache=True, error_model="numpy", inline="always")
def _output_layer(
    l1,
    target,
    syn1,
    syn1neg,
    codes,
    points,
    lengths,
    neg_accept,
    neg_alias,
    negatives,
    hs,
    negative,
    alpha,
    neu1e,
    state,
    sig_table,
    loss_table,
    compute_loss,
):
    """All output units for one (input vector, target word) example; returns (loss, state)."""
    loss = 0.0
    if hs:
        for d in range(lengths[target]):
            loss += logistic_step(
                l1,
                syn1,
                points[target, d],
                1.0 - codes[target, d],
                alpha,
                neu1e,
                sig_table,
                loss_table,
                compute_loss,
                True,
            )
    if negative > 0:
        loss += logistic_step(l1, syn1neg, target, 1.0, alpha, neu1e, sig_table, loss_table, compute_loss, False)
        for d in range(negative):
            if negatives.shape[0] > 0:
                w = np.int64(negatives[d])
            else:
                state, r = _next(state)
                slot = ((r >> _S32) * np.uint64(neg_accept.shape[0])) >> _S32  # multiply-shift: no division
                w = np.int64(slot) if (r & _LOW32) * _TO_UNIT32 < neg_accept[slot] else np.int64(neg_alias[slot])
            if w == target:  # word2vec skips a draw of the target itself
                continue
            loss += logistic_step(l1, syn1neg, w, 0.0, alpha, neu1e, sig_table, loss_table, compute_loss, False)
    return loss, state


@njit(nogil=True, fastmath=True, cache=True, error_model="numpy")
def sg_pair(
    syn0,
    syn1,
    syn1neg,
    context,
    target,
    codes,
    points,
    lengths,
    neg_accept,
    neg_alias,
    negatives,
    hs,
    negative,
    alpha,
    neu1e,
    compute_loss,
):
    """Skip-gram example: the context word's input vector predicts ``target``. Returns the loss.

    ``negatives`` gives the negative words explicitly (tests); an empty array draws them.
    """
    neu1e[:] = 0.0
    sig_table, loss_table = sigmoid_tables()
    loss, _ = _output_layer(
        syn0[context],
        target,
        syn1,
        syn1neg,
        codes,
        points,
        lengths,
        neg_accept,
        neg_alias,
        negatives,
        hs,
        negative,
        alpha,
        neu1e,
        seed_state(0),
        sig_table,
        loss_table,
        compute_loss,
    )
    for k in range(syn0.shape[1]):
        syn0[context, k] += neu1e[k]
    return loss


@njit(nogil=True, fastmath=True, cache=True, error_model="numpy")
def cbow_center(
    syn0,
    syn1,
    syn1neg,
    context_words,
    target,
    codes,
    points,
    lengths,
    neg_accept,
    neg_alias,
    negatives,
    hs,
    negative,
    alpha,
    neu1,
    neu1e,
    compute_loss,
):
    """CBOW example: the mean of the context vectors predicts ``target``. Returns the loss.

    Every context word then receives the whole input update (not divided by the window size):
    the convention of the C tool and gensim, which learns faster than the exact mean gradient.
    """
    neu1[:] = 0.0
    for w in context_words:
        for k in range(syn0.shape[1]):
            neu1[k] += syn0[w, k]
    inv = np.float32(1.0 / context_words.shape[0])
    for k in range(syn0.shape[1]):
        neu1[k] *= inv
    neu1e[:] = 0.0
    sig_table, loss_table = sigmoid_tables()
    loss, _ = _output_layer(
        neu1,
        target,
        syn1,
        syn1neg,
        codes,
        points,
        lengths,
        neg_accept,
        neg_alias,
        negatives,
        hs,
        negative,
        alpha,
        neu1e,
        seed_state(0),
        sig_table,
        loss_table,
        compute_loss,
    )
    for w in context_words:
        for k in range(syn0.shape[1]):
            syn0[w, k] += neu1e[k]
    return loss


@njit(nogil=True, fastmath=True, cache=True, error_model="numpy", inline="always")
def batch_step(inputs, n_in, out, rows, labels, n_out, alpha, grads, scores, sig_table, loss_table, compute_loss):
    """Logistic units for several inputs that share one set of output rows (HogBatch).

    ``inputs[:n_in]`` (copies of the input vectors) against ``out[rows[:n_out]]`` with targets
    ``labels``: one small dense product ``(n_in x dim) · (dim x n_out)`` gives every score, then
    ``grads[:n_in]`` receives each input's step and the output rows are moved in place, both from
    the values before this call (so the result does not depend on the order of the units).
    Returns the summed ``-log σ(±score)`` (0 when ``compute_loss`` is false).
    """
    size = inputs.shape[1]
    loss = 0.0
    for b in range(n_in):
        for m in range(n_out):
            r = rows[m]
            f = np.float32(0.0)
            for k in range(size):
                f += inputs[b, k] * out[r, k]
            label = labels[m]
            if -TABLE_RANGE < f < TABLE_RANGE:  # one table position serves σ and the loss
                pos = (f + TABLE_RANGE) * (TABLE_SIZE / (2 * TABLE_RANGE))
                i = min(int(pos), TABLE_SIZE - 1)
                frac = pos - i
                sig = sig_table[i] + frac * (sig_table[i + 1] - sig_table[i])
                if compute_loss:  # -log σ(f) for label 1; -log σ(-f) = -log σ(f) + f for label 0
                    loss += loss_table[i] + frac * (loss_table[i + 1] - loss_table[i]) + (1.0 - label) * f
            else:
                sig = 1.0 / (1.0 + math.exp(-f))
                if compute_loss:
                    z = f if label > 0.5 else -f
                    loss += math.log1p(math.exp(-z)) if z > 0 else -z + math.log1p(math.exp(z))
            scores[b, m] = np.float32((label - sig) * alpha)
    for b in range(n_in):
        for k in range(size):
            grads[b, k] = 0.0
        for m in range(n_out):
            g = scores[b, m]
            r = rows[m]
            for k in range(size):
                grads[b, k] += g * out[r, k]
    for m in range(n_out):
        r = rows[m]
        for b in range(n_in):
            g = scores[b, m]
            for k in range(size):
                out[r, k] += g * inputs[b, k]
    return loss


@njit(nogil=True, fastmath=True, cache=True, error_model="numpy", inline="always")
def path_step(inputs, n_in, syn1, rows, labels, n_out, alpha, grads, coef, gram, sig_table, loss_table, compute_loss):
    """Hierarchical softmax for inputs that share one Huffman path (skip-gram: the context words of
    one center word), with the result of training them one after another, as word2vec does.

    Input ``b`` meets the path rows as inputs ``0..b-1`` left them, ``row_m + Σ_c g[c,m] x_c``, so
    its score is ``x_b·row_m + Σ_c g[c,m] (x_b·x_c)`` and its step is ``Σ_m g[b,m] row_m +
    Σ_c (Σ_m g[b,m] g[c,m]) x_c`` (sums over ``c < b``). The products with the path rows are thus
    taken once for the whole window against the rows as they were, and the small ``x_b·x_c``
    products carry the order. A node whose score is at least ``MAX_EXP`` in size is left alone,
    as word2vec and gensim do. ``grads[:n_in]`` receives each input's step, the path rows of
    ``syn1`` move in place; ``coef`` and ``gram`` are scratch. Inputs go two at a time through each
    pass over a path row, and path rows two at a time into each input's step (half the loads and
    stores of the rows). Returns the summed ``-log σ(±score)``
    (0 when ``compute_loss`` is false).
    """
    size = inputs.shape[1]
    loss = 0.0
    for m in range(n_out):  # scores against the rows as they were; two inputs per pass over a row
        r = rows[m]
        for b in range(0, n_in - 1, 2):
            f0 = np.float32(0.0)
            f1 = np.float32(0.0)
            for k in range(size):
                o = syn1[r, k]
                f0 += inputs[b, k] * o
                f1 += inputs[b + 1, k] * o
            coef[b, m] = f0
            coef[b + 1, m] = f1
        if n_in % 2 == 1:
            b = n_in - 1
            f = np.float32(0.0)
            for k in range(size):
                f += inputs[b, k] * syn1[r, k]
            coef[b, m] = f
    for b in range(1, n_in):
        for c in range(b):
            f = np.float32(0.0)
            for k in range(size):
                f += inputs[b, k] * inputs[c, k]
            gram[b, c] = f
    for b in range(n_in):  # in order: coef[c, m] holds input c's g once c is done
        for m in range(n_out):
            f = coef[b, m]
            for c in range(b):
                f += coef[c, m] * gram[b, c]
            label = labels[m]
            g = np.float32(0.0)
            if -TABLE_RANGE < f < TABLE_RANGE:
                pos = (f + TABLE_RANGE) * (TABLE_SIZE / (2 * TABLE_RANGE))
                i = min(int(pos), TABLE_SIZE - 1)
                frac = pos - i
                if -MAX_EXP < f < MAX_EXP:
                    g = np.float32((label - (sig_table[i] + frac * (sig_table[i + 1] - sig_table[i]))) * alpha)
                if compute_loss:  # -log σ(f) for label 1; -log σ(-f) = -log σ(f) + f for label 0
                    loss += loss_table[i] + frac * (loss_table[i + 1] - loss_table[i]) + (1.0 - label) * f
            elif compute_loss:
                z = f if label > 0.5 else -f
                loss += math.log1p(math.exp(-z)) if z > 0 else -z + math.log1p(math.exp(z))
            coef[b, m] = g
    for b in range(n_in):
        for k in range(size):
            grads[b, k] = 0.0
        for m in range(0, n_out - 1, 2):
            g0 = coef[b, m]
            g1 = coef[b, m + 1]
            r0 = rows[m]
            r1 = rows[m + 1]
            if g0 != 0.0 or g1 != 0.0:
                for k in range(size):
                    grads[b, k] += g0 * syn1[r0, k] + g1 * syn1[r1, k]
        if n_out % 2 == 1:
            g = coef[b, n_out - 1]
            r = rows[n_out - 1]
            for k in range(size):
                grads[b, k] += g * syn1[r, k]
        for c in range(b):
            h = np.float32(0.0)
            for m in range(n_out):
                h += coef[b, m] * coef[c, m]
            if h != 0.0:
                for k in range(size):
                    grads[b, k] += h * inputs[c, k]
    for m in range(n_out):
        r = rows[m]
        for b in range(0, n_in - 1, 2):
            g0 = coef[b, m]
            g1 = coef[b + 1, m]
            if g0 != 0.0 or g1 != 0.0:
                for k in range(size):
                    syn1[r, k] += g0 * inputs[b, k] + g1 * inputs[b + 1, k]
        if n_in % 2 == 1:
            g = coef[n_in - 1, m]
            for k in range(size):
                syn1[r, k] += g * inputs[n_in - 1, k]
    return loss


@njit(nogil=True, fastmath=True, cache=True, error_model="numpy", inline="always")
def _draw_negatives(target, negative, neg_accept, neg_alias, rows, labels, start, state):
    """Fill ``rows[start:]`` with the target (label 1) and up to ``negative`` draws (label 0; a
    draw of the target itself is skipped, as word2vec). Returns (rows filled, state)."""
    n = start
    rows[n] = target
    labels[n] = 1.0
    n += 1
    for _ in range(negative):
        state, r = _next(state)
        slot = ((r >> _S32) * np.uint64(neg_accept.shape[0])) >> _S32
        w = np.int32(slot) if (r & _LOW32) * _TO_UNIT32 < neg_accept[slot] else neg_alias[slot]
        if w == target:
            continue
        rows[n] = w
        labels[n] = 0.0
        n += 1
    return n, state


@njit(nogil=True, fastmath=True, cache=True, error_model="numpy")
def train_chunk(
    syn0,
    syn1,
    syn1neg,
    words,
    sentence_ends,
    keep_prob,
    neg_accept,
    neg_alias,
    codes,
    points,
    lengths,
    sg,
    hs,
    negative,
    window,
    alpha_start,
    alpha_end,
    seed,
    compute_loss,
    shared,
):
    """Train on one chunk: ``words`` (vocabulary ids, -1 for unknown words, which are dropped)
    split into sentences ending at ``sentence_ends``.

    ``shared`` (the default kernel) trains skip-gram window by window: the context words of one
    target share its negative samples (HogBatch, Ji et al. 2016), so each update is one small
    dense product (:func:`batch_step`), and they share its Huffman path, whose products are
    taken once for the window with the result of word2vec's pair-by-pair order
    (:func:`path_step`); CBOW has one input per target and goes through the same routines.
    Without ``shared`` every (context, target) pair draws its own negatives and is applied in
    turn, as the C tool and gensim do.
    The learning rate falls linearly from ``alpha_start`` to ``alpha_end`` across the chunk.
    Returns ``(loss, examples, words_trained)``: the summed ``-log σ`` terms, the number of
    (input, target) examples, and the words left after subsampling.
    """
    if shared:
        return _train_chunk_shared(
            syn0,
            syn1,
            syn1neg,
            words,
            sentence_ends,
            keep_prob,
            neg_accept,
            neg_alias,
            codes,
            points,
            lengths,
            sg,
            hs,
            negative,
            window,
            alpha_start,
            alpha_end,
            seed,
            compute_loss,
        )
    return _train_chunk_classic(
        syn0,
        syn1,
        syn1neg,
        words,
        sentence_ends,
        keep_prob,
        neg_accept,
        neg_alias,
        codes,
        points,
        lengths,
        sg,
        hs,
        negative,
        window,
        alpha_start,
        alpha_end,
        seed,
        compute_loss,
    )


@njit(nogil=True, fastmath=True, cache=True, error_model="numpy", inline="always")
def _subsample(words, start, end, keep_prob, kept, state):
    """Copy the known words of ``words[start:end]`` that survive subsampling into ``kept``."""
    n = 0
    for i in range(start, end):
        w = words[i]
        if w < 0:
            continue
        p = keep_prob[w]
        if p < 1.0:
            state, r = _next(state)
            if p < (r >> _S11) * _TO_UNIT:
                continue
        kept[n] = w
        n += 1
    return n, state


@njit(nogil=True, fastmath=True, cache=True, error_model="numpy")
def _train_chunk_shared(
    syn0,
    syn1,
    syn1neg,
    words,
    sentence_ends,
    keep_prob,
    neg_accept,
    neg_alias,
    codes,
    points,
    lengths,
    sg,
    hs,
    negative,
    window,
    alpha_start,
    alpha_end,
    seed,
    compute_loss,
):
    size = syn0.shape[1]
    state = seed_state(seed)
    sig_table, loss_table = sigmoid_tables()
    max_out = max(negative + 1, codes.shape[1])
    inputs = np.empty((2 * window, size), dtype=np.float32)
    grads = np.empty((2 * window, size), dtype=np.float32)
    hs_grads = np.empty((2 * window, size), dtype=np.float32)  # with both layers: the HS part of the step
    scores = np.empty((2 * window, max_out), dtype=np.float32)
    gram = np.empty((2 * window, 2 * window), dtype=np.float32)
    context = np.empty(2 * window, dtype=np.int32)
    rows = np.empty(max_out, dtype=np.int32)
    labels = np.empty(max_out, dtype=np.float32)
    kept = np.empty(words.shape[0], dtype=np.int32)
    total = max(words.shape[0], 1)
    loss = 0.0
    examples = 0
    trained = 0
    start = 0
    for s in range(sentence_ends.shape[0]):
        end = sentence_ends[s]
        n, state = _subsample(words, start, end, keep_prob, kept, state)
        alpha = alpha_start + (alpha_end - alpha_start) * (start / total)
        start = end
        trained += n
        for i in range(n):
            state, r = _next(state)
            b = np.int64(((r >> _S32) * np.uint64(window)) >> _S32)  # uniform in [0, window)
            lo = max(0, i - window + b)
            hi = min(n, i + window + 1 - b)
            target = kept[i]
            n_in = 0
            if sg:
                for j in range(lo, hi):
                    if j != i:
                        w = kept[j]
                        context[n_in] = w
                        for k in range(size):
                            inputs[n_in, k] = syn0[w, k]
                        n_in += 1
                if n_in == 0:
                    continue
            else:
                count = 0
                for k in range(size):
                    inputs[0, k] = 0.0
                for j in range(lo, hi):
                    if j != i:
                        w = kept[j]
                        context[count] = w
                        count += 1
                        for k in range(size):
                            inputs[0, k] += syn0[w, k]
                if count == 0:
                    continue
                inv = np.float32(1.0 / count)
                for k in range(size):
                    inputs[0, k] *= inv
                n_in = 1
            # both output layers see the inputs from before this window's update
            if hs:
                n_out = lengths[target]
                for d in range(n_out):
                    rows[d] = points[target, d]
                    labels[d] = 1.0 - codes[target, d]
                loss += path_step(
                    inputs,
                    n_in,
                    syn1,
                    rows,
                    labels,
                    n_out,
                    alpha,
                    grads,
                    scores,
                    gram,
                    sig_table,
                    loss_table,
                    compute_loss,
                )
                if negative > 0:
                    for b2 in range(n_in):
                        for k in range(size):
                            hs_grads[b2, k] = grads[b2, k]
            if negative > 0:
                n_out, state = _draw_negatives(target, negative, neg_accept, neg_alias, rows, labels, 0, state)
                loss += batch_step(
                    inputs,
                    n_in,
                    syn1neg,
                    rows,
                    labels,
                    n_out,
                    alpha,
                    grads,
                    scores,
                    sig_table,
                    loss_table,
                    compute_loss,
                )
                if hs:
                    for b2 in range(n_in):
                        for k in range(size):
                            grads[b2, k] += hs_grads[b2, k]
            if sg:
                for b2 in range(n_in):
                    w = context[b2]
                    for k in range(size):
                        syn0[w, k] += grads[b2, k]
                examples += n_in
            else:
                for c in range(count):
                    w = context[c]
                    for k in range(size):
                        syn0[w, k] += grads[0, k]
                examples += 1
    return loss, examples, trained


@njit(nogil=True, fastmath=True, cache=True, error_model="numpy")
def _train_chunk_classic(
    syn0,
    syn1,
    syn1neg,
    words,
    sentence_ends,
    keep_prob,
    neg_accept,
    neg_alias,
    codes,
    points,
    lengths,
    sg,
    hs,
    negative,
    window,
    alpha_start,
    alpha_end,
    seed,
    compute_loss,
):
    """One pair at a time (the C tool's order); see :func:`train_chunk`."""
    size = syn0.shape[1]
    state = seed_state(seed)
    sig_table, loss_table = sigmoid_tables()
    neu1 = np.zeros(size, dtype=np.float32)
    neu1e = np.zeros(size, dtype=np.float32)
    kept = np.empty(words.shape[0], dtype=np.int32)
    no_negatives = np.empty(0, dtype=np.int32)
    total = max(words.shape[0], 1)
    loss = 0.0
    examples = 0
    trained = 0
    start = 0
    for s in range(sentence_ends.shape[0]):
        end = sentence_ends[s]
        n = 0
        for i in range(start, end):
            w = words[i]
            if w < 0:
                continue
            p = keep_prob[w]
            if p < 1.0:
                state, r = _next(state)
                if p < (r >> _S11) * _TO_UNIT:
                    continue
            kept[n] = w
            n += 1
        alpha = alpha_start + (alpha_end - alpha_start) * (start / total)
        start = end
        trained += n
        for i in range(n):
            state, r = _next(state)
            b = np.int64(((r >> _S32) * np.uint64(window)) >> _S32)  # uniform in [0, window)
            lo = max(0, i - window + b)
            hi = min(n, i + window + 1 - b)
            target = kept[i]
            if sg:
                for j in range(lo, hi):
                    if j == i:
                        continue
                    for k in range(size):
                        neu1e[k] = 0.0
                    l1 = syn0[kept[j]]
                    part, state = _output_layer(
                        l1,
                        target,
                        syn1,
                        syn1neg,
                        codes,
                        points,
                        lengths,
                        neg_accept,
                        neg_alias,
                        no_negatives,
                        hs,
                        negative,
                        alpha,
                        neu1e,
                        state,
                        sig_table,
                        loss_table,
                        compute_loss,
                    )
                    for k in range(size):
                        l1[k] += neu1e[k]
                    loss += part
                    examples += 1
            else:
                count = hi - lo - 1
                if count <= 0:
                    continue
                neu1[:] = 0.0
                for j in range(lo, hi):
                    if j != i:
                        w = kept[j]  # a local, or every store below would reload it (no aliasing info)
                        for k in range(size):
                            neu1[k] += syn0[w, k]
                inv = np.float32(1.0 / count)
                for k in range(size):
                    neu1[k] *= inv
                neu1e[:] = 0.0
                part, state = _output_layer(
                    neu1,
                    target,
                    syn1,
                    syn1neg,
                    codes,
                    points,
                    lengths,
                    neg_accept,
                    neg_alias,
                    no_negatives,
                    hs,
                    negative,
                    alpha,
                    neu1e,
                    state,
                    sig_table,
                    loss_table,
                    compute_loss,
                )
                for j in range(lo, hi):
                    if j != i:
                        w = kept[j]
                        for k in range(size):
                            syn0[w, k] += neu1e[k]
                loss += part
                examples += 1
    return loss, examples, trained


@njit(nogil=True, cache=True)
def vose_alias(scaled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias tables (Vose's method) for weights ``scaled`` to mean 1; see ``negative_sampler``."""
    n = scaled.shape[0]
    accept = np.ones(n, dtype=np.float32)
    alias = np.arange(n).astype(np.int32)
    small = np.empty(n, dtype=np.int64)
    large = np.empty(n, dtype=np.int64)
    n_small = n_large = 0
    for i in range(n):
        if scaled[i] < 1.0:
            small[n_small] = i
            n_small += 1
        else:
            large[n_large] = i
            n_large += 1
    while n_small > 0 and n_large > 0:
        n_small -= 1
        s = small[n_small]
        big = large[n_large - 1]
        accept[s] = scaled[s]
        alias[s] = big
        scaled[big] = scaled[big] + scaled[s] - 1.0  # the large slot gives away what fills the small one
        if scaled[big] < 1.0:
            n_large -= 1
            small[n_small] = big
            n_small += 1
    return accept, alias


@njit(nogil=True, cache=True, inline="always")
def _sift_down(keys, nodes, start, pos):
    """heapq's ``_siftdown`` on the heap ``keys``/``nodes``, ordered by (count, node)."""
    key, node = keys[pos], nodes[pos]
    while pos > start:
        up = (pos - 1) >> 1
        if key < keys[up] or (key == keys[up] and node < nodes[up]):
            keys[pos], nodes[pos] = keys[up], nodes[up]
            pos = up
        else:
            break
    keys[pos], nodes[pos] = key, node


@njit(nogil=True, cache=True, inline="always")
def _sift_up(keys, nodes, pos, end):
    """heapq's ``_siftup``: the smaller child moves up to a leaf, then the item sifts down."""
    start = pos
    key, node = keys[pos], nodes[pos]
    child = 2 * pos + 1
    while child < end:
        right = child + 1
        if right < end and (keys[right] < keys[child] or (keys[right] == keys[child] and nodes[right] < nodes[child])):
            child = right
        keys[pos], nodes[pos] = keys[child], nodes[child]
        pos = child
        child = 2 * pos + 1
    keys[pos], nodes[pos] = key, node
    _sift_down(keys, nodes, start, pos)


@njit(nogil=True, cache=True)
def huffman_codes(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The Huffman tree over ``counts`` (at least 2) as ``(codes, points, lengths)``; see
    :func:`textkit.word2vec.tables.huffman_tree`.

    The two lightest nodes are merged in turn (the first taken on branch 0) into inner node
    ``n, n+1, ...``; the root is the last. Between equal counts the lower node number goes first
    (words before inner nodes), so the tree does not depend on the heap's layout.
    """
    n = counts.shape[0]
    keys = counts.copy()
    nodes = np.arange(n).astype(np.int64)
    for i in range(n // 2 - 1, -1, -1):  # heapify
        _sift_up(keys, nodes, i, n)
    parent = np.zeros(2 * n - 1, dtype=np.int64)
    branch = np.zeros(2 * n - 1, dtype=np.int8)
    size = n
    pair = np.empty(2, dtype=np.int64)
    for new in range(n, 2 * n - 1):
        total = np.int64(0)
        for side in range(2):  # heappop
            size -= 1
            top_key, top_node = keys[0], nodes[0]
            if size > 0:
                keys[0], nodes[0] = keys[size], nodes[size]
                _sift_up(keys, nodes, 0, size)
            pair[side] = top_node
            total += top_key
        parent[pair[0]] = new
        parent[pair[1]] = new
        branch[pair[1]] = 1
        keys[size], nodes[size] = total, new  # heappush
        _sift_down(keys, nodes, 0, size)
        size += 1
    root = 2 * n - 2
    lengths = np.zeros(n, dtype=np.int32)
    for w in range(n):
        node = w
        while node != root:
            lengths[w] += 1
            node = parent[node]
    codes = np.zeros((n, lengths.max()), dtype=np.int8)
    points = np.zeros((n, lengths.max()), dtype=np.int32)
    for w in range(n):  # filled from the word up, so the root comes first
        node = w
        for d in range(lengths[w] - 1, -1, -1):
            codes[w, d] = branch[node]
            points[w, d] = parent[node] - n
            node = parent[node]
    return codes, points, lengths
