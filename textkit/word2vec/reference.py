"""The word2vec update rules, written plainly with torch autograd (for reading and for tests).

One training example has an *input* vector ``h`` and a *target* word:

* skip-gram: ``h`` is the input vector of one context word (``syn0[context]``);
* CBOW: ``h`` is the mean of the context words' input vectors.

The output side is a set of binary logistic units ``(row, label)``:

* negative sampling: the target's row of ``syn1neg`` with label 1, and each negative word's row
  with label 0 (a negative equal to the target is skipped);
* hierarchical softmax: the inner nodes on the target's Huffman path, rows of ``syn1``, with label
  ``1 - code`` (the branch taken).

The loss is ``L = -Σ log σ(±h·row)`` (sign + for label 1). One SGD step with rate ``alpha``
moves each output row by ``-alpha ∂L/∂row`` and the input by ``-alpha ∂L/∂h``; in CBOW every
context word receives that whole input step (the C tool's and gensim's convention). The compiled
kernel (:mod:`textkit.word2vec.kernels`) must produce exactly these updates; the tests check it.

>>> import numpy as np
>>> syn0, syn1neg = np.full((3, 2), 0.1, np.float32), np.zeros((3, 2), np.float32)
>>> new_syn0, _, new_syn1neg, loss = reference_step(syn0, None, syn1neg, [0], 1, 0.5, negatives=[2])
>>> round(loss, 4)  # 2 log 2: both units start at σ(0) = 1/2
1.3863
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def output_units(
    target: int, negatives: Sequence[int] = (), codes: Sequence[int] = (), points: Sequence[int] = ()
) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """``(hs_units, ns_units)``: the ``(row, label)`` pairs one example trains."""
    hs_units = [(int(p), 1.0 - float(c)) for c, p in zip(codes, points)]
    ns_units = [(int(target), 1.0)] if negatives is not None else []
    ns_units += [(int(w), 0.0) for w in (negatives or []) if w != target]
    return hs_units, ns_units


def reference_step(
    syn0: np.ndarray,
    syn1: np.ndarray | None,
    syn1neg: np.ndarray | None,
    context: Sequence[int],
    target: int,
    alpha: float,
    negatives: Sequence[int] | None = None,
    codes: Sequence[int] = (),
    points: Sequence[int] = (),
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, float]:
    """One SGD step for one example; returns new copies ``(syn0, syn1, syn1neg, loss)``.

    ``context`` is one word for skip-gram, the window's words for CBOW (``h`` is their mean).
    Pass ``negatives`` for negative sampling and ``codes``/``points`` for hierarchical softmax.
    Output rows are assumed distinct (the kernel updates repeated rows one after another).
    """
    h = torch.tensor(syn0[list(context)].astype(np.float64).mean(axis=0), requires_grad=True)
    hs_units, ns_units = output_units(target, negatives, codes, points)
    loss = torch.zeros((), dtype=torch.float64)
    leaves = []
    for matrix, units in ((syn1, hs_units), (syn1neg, ns_units)):
        rows = torch.tensor(
            matrix[[r for r, _ in units]] if units else np.zeros((0, syn0.shape[1])),
            dtype=torch.float64,
            requires_grad=True,
        )
        labels = torch.tensor([y for _, y in units], dtype=torch.float64)
        scores = rows @ h
        loss = loss - torch.nn.functional.logsigmoid(torch.where(labels > 0.5, scores, -scores)).sum()
        leaves.append((matrix, units, rows))
    loss.backward()
    step_h = (-alpha * h.grad).numpy().astype(np.float32)  # the whole step, to every context word
    new_syn0 = syn0.copy()
    for w in context:
        new_syn0[w] += step_h
    new_outputs = []
    for matrix, units, rows in leaves:
        if matrix is None:
            new_outputs.append(None)
            continue
        new = matrix.copy()
        for (r, _), g in zip(units, rows.grad):
            new[r] -= (alpha * g).numpy().astype(np.float32)
        new_outputs.append(new)
    return new_syn0, new_outputs[0], new_outputs[1], float(loss.detach())
