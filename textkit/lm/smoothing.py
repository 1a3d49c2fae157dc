"""Kneser-Ney estimation: from n-gram counts to an ARPA-style back-off model.

Interpolated Kneser-Ney (one discount per order) and interpolated *modified* Kneser-Ney (three
discounts per order, Chen & Goodman 1998), computed the way KenLM's ``lmplz`` does:

* **Adjusted counts.** The top order uses raw counts. A lower-order n-gram uses its continuation
  count N1+(• w1..wn), the number of distinct words seen before it, except an n-gram that starts
  with ``<s>``, which nothing can precede: it keeps its raw count.
* **Discounts** per order from the count-of-counts t_k of the adjusted counts (k = 1..4)::

      Y  = t1 / (t1 + 2 t2)
      D1 = 1 - 2 Y t2/t1      D2 = 2 - 3 Y t3/t2      D3+ = 3 - 4 Y t4/t3      (KN: D = Y)

  If a t_k is 0 or a discount leaves [0, k], the order falls back to (0.5, 1.0, 1.5) (KN: 0.5),
  like ``lmplz --discount_fallback``, and a warning is logged.
* **Probabilities**, with a(hw) the adjusted count, A(h) = Σ_w a(hw), N_k(h) the number of words
  with a(hw) = k (k = 3 meaning 3 or more)::

      p(w | h)  = (a(hw) - D(a(hw))) / A(h)  +  γ(h) p(w | h')          h' = h without its first word
      γ(h)      = (D1 N1(h) + D2 N2(h) + D3+ N3+(h)) / A(h)
      p(w)      = (a(w) - D(a(w))) / A  +  γ / (V - 1)                  V - 1 words besides <s>

  so unigrams are interpolated with the uniform distribution over every word but ``<s>``
  (``<unk>`` included: an unseen ``<unk>`` gets γ/(V-1)). γ(h) is the ARPA back-off weight of h.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from textkit.errors import UsageError
from textkit.lm.arpa import BackoffTables
from textkit.lm.counting import NgramTable

logger = logging.getLogger(__name__)

FALLBACK_MODIFIED = (0.5, 1.0, 1.5)
FALLBACK_PLAIN = 0.5
Discounts = tuple[float, float, float]


def count_of_counts(adjusted: np.ndarray) -> list[int]:
    """t_1..t_4: how many n-grams have adjusted count exactly 1, 2, 3, 4."""
    hist = np.zeros(6, dtype=np.int64)
    for lo in range(0, len(adjusted), _BLOCK):
        hist += np.bincount(np.minimum(adjusted[lo : lo + _BLOCK], 5).astype(np.int64), minlength=6)
    return [int(x) for x in hist[1:5]]


def estimate_discounts(t: Sequence[int], modified: bool) -> Discounts | None:
    """Discounts (D1, D2, D3+) from count-of-counts ``t`` (Chen & Goodman); None if undefined.

    >>> estimate_discounts([10, 4, 2, 1], modified=True)   # Y = 10/18
    (0.5555555555555556, 1.1666666666666667, 1.8888888888888888)
    """
    t1, t2, t3, t4 = t
    if t1 == 0 or (modified and (t2 == 0 or t3 == 0 or t4 == 0)):
        return None
    y = t1 / (t1 + 2 * t2)
    if not modified:
        return (y, y, y) if 0 < y <= 1 else None
    d = (1 - 2 * y * t2 / t1, 2 - 3 * y * t3 / t2, 3 - 4 * y * t4 / t3)
    return d if all(0 <= dj <= j for j, dj in enumerate(d, 1)) else None


def _discounts_for(n: int, adjusted: np.ndarray, modified: bool, given) -> tuple[Discounts, bool]:
    """The discounts of order n: given by the user, estimated, or the fallback. Also: fell back?"""
    if given is not None:
        d = given[n - 1]
        return (tuple(float(x) for x in d) if modified else (float(d),) * 3), False  # type: ignore[return-value]
    return discounts_from_counts(n, count_of_counts(adjusted), modified, None)


def discounts_from_counts(n: int, t: Sequence[int], modified: bool, given) -> tuple[Discounts, bool]:
    """The discounts of order n from its count-of-counts ``t`` (or ``given``), and whether they
    fell back to the defaults."""
    if given is not None:
        d = given[n - 1]
        return (tuple(float(x) for x in d) if modified else (float(d),) * 3), False  # type: ignore[return-value]
    d = estimate_discounts(t, modified)
    if d is not None:
        return d, False
    fallback = FALLBACK_MODIFIED if modified else (FALLBACK_PLAIN,) * 3
    logger.warning("order %d: %s; using the fallback discounts %s", n, _why_no_discounts(t, modified), fallback)
    return fallback, True  # type: ignore[return-value]


def _why_no_discounts(t: Sequence[int], modified: bool) -> str:
    """Why :func:`estimate_discounts` gave None for count-of-counts ``t``, for the fallback warning."""
    needed = t[:4] if modified else t[:1]
    zero = [str(j) for j, tj in enumerate(needed, 1) if tj == 0]
    if zero:
        times = " or ".join(zero) + (" time" if zero == ["1"] else " times")
        return f"no n-gram occurs exactly {times} (count-of-counts {list(t[:4])}), so the discounts are undefined"
    t1, t2, t3, _ = t
    y = t1 / (t1 + 2 * t2)
    if not modified:
        est = [y]
    else:
        est = [1 - 2 * y * t2 / t1, 2 - 3 * y * t3 / t2, 3 - 4 * y * t[3] / t3]
    shown = ", ".join(f"{x:.3f}" for x in est)
    return f"the estimated discounts ({shown}) fall outside [0, 1], [0, 2], [0, 3]"


def check_discounts(discounts, order: int, modified: bool):
    """Validate user discounts: KN one number per order, MKN a (D1, D2, D3+) triple per order.
    A single number or triple is used for every order."""
    if discounts is None:
        return None
    single = (
        isinstance(discounts, (int, float))
        if not modified
        else (len(discounts) == 3 and all(isinstance(x, (int, float)) for x in discounts))
    )
    per_order = [discounts] * order if single else list(discounts)
    if len(per_order) != order:
        raise UsageError(f"give one discount {'triple ' if modified else ''}per order ({order}), not {len(per_order)}")
    for d in per_order:
        triple = tuple(d) if modified else (d, d, d)
        if len(triple) != 3 or not all(0 <= float(x) <= j for j, x in enumerate(triple, 1)):
            raise UsageError(f"discount {d} is out of range: D1 in [0,1], D2 in [0,2], D3+ in [0,3]")
    return per_order


def kneser_ney(
    unigram_counts: np.ndarray,
    tables: list[NgramTable],
    bos_id: int,
    tokens: list[str],
    modified: bool = True,
    discounts=None,
) -> tuple[BackoffTables, list[Discounts], list[int]]:
    """Estimate an interpolated (modified) Kneser-Ney model from counts.

    Returns the back-off tables (log10), the discounts used per order, and the orders that fell
    back to default discounts. Memory: one order at a time; each table's counts and suffixes are
    released (set to None) once they are used, so the peak stays near the size of the model.
    """
    order = len(tables) + 1
    V = len(unigram_counts)
    log10_prob: list[np.ndarray] = []
    log10_backoff: list[np.ndarray] = []
    used: list[Discounts] = []
    fell_back: list[int] = []
    lower = None  # linear probabilities of order n-1
    starts_with_bos = np.arange(V) == bos_id
    for n in range(1, order + 1):
        table = tables[n - 2] if n > 1 else None
        if table is not None:
            starts_with_bos = _by_context(starts_with_bos, table.keys, V)
        raw = unigram_counts if table is None else table.counts
        a = _adjusted(raw, tables[n - 1] if n < order else None, starts_with_bos)
        if n == 1:
            a[bos_id] = 0
        counted = a if n > 1 else np.delete(a, bos_id)
        d, fallback = _discounts_for(n, counted, modified, discounts)
        used.append(d)
        if fallback:
            fell_back.append(n)
        if n == 1:
            p = unigram_probs(a, counted, d, bos_id)
        else:
            total_ctx, gamma_ctx = _context_sums(table.keys, a, d, V, len(lower))
            p = _interpolate(table, a, d, V, total_ctx, gamma_ctx, lower)
            del total_ctx
            table.counts = table.suffix = None  # used up: free them before the next order
            log10_backoff.append(_log10(gamma_ctx))
            log10_prob.append(_log10(lower))
        del a, counted
        lower = p
    log10_prob.append(_log10(lower))
    return BackoffTables(tokens, [t.keys for t in tables], log10_prob, log10_backoff), used, fell_back


def unigram_probs(a: np.ndarray, counted: np.ndarray, d: Discounts, bos_id: int) -> np.ndarray:
    """p(w) for every word from the adjusted unigram counts ``a`` (``counted``: without <s>),
    interpolated with the uniform distribution over the V - 1 words besides <s>."""
    p = a.astype(np.float64)
    p -= np.array([0.0, *d])[np.minimum(a, 3)]  # D(a): 0 for a=0, D1, D2, D3+
    total = counted.sum()
    gamma = sum(dj * nj for dj, nj in zip(d, _count_classes(counted))) / total
    p /= total
    p += gamma / (len(a) - 1)
    p[bos_id] = 0.0
    return p


def _adjusted(raw: np.ndarray, higher: NgramTable | None, starts_with_bos: np.ndarray) -> np.ndarray:
    """Adjusted counts of one order: raw at the top (``higher`` None), else continuation counts,
    except raw counts for n-grams that start with <s>."""
    if higher is None:
        return raw.astype(np.int64)
    a = np.bincount(higher.suffix, minlength=len(raw)).astype(np.int64, copy=False)
    a[starts_with_bos] = raw[starts_with_bos]
    return a


_BLOCK = 1 << 20  # entries per step in the per-order passes: temporaries stay a few MB


def _by_context(per_context: np.ndarray, keys: np.ndarray, V: int) -> np.ndarray:
    """``per_context[key // V]`` for every key, a block at a time."""
    out = np.empty(len(keys), dtype=per_context.dtype)
    for lo in range(0, len(keys), _BLOCK):
        out[lo : lo + _BLOCK] = per_context[keys[lo : lo + _BLOCK] // V]
    return out


def _context_sums(
    keys: np.ndarray, a: np.ndarray, d: Discounts, V: int, n_contexts: int
) -> tuple[np.ndarray, np.ndarray]:
    """A(h) = Σ_w a(hw) and γ(h) = (D1 N1(h) + D2 N2(h) + D3+ N3+(h)) / A(h) per context (γ = 1
    for a context never extended), summed a block of entries at a time; one N_k(h) array at a
    time is held."""
    total = np.zeros(n_contexts)
    mass = None
    for k in range(3):
        n_k = np.zeros(n_contexts, dtype=np.int64)  # N1, N2, N3+ per context
        for lo in range(0, len(keys), _BLOCK):
            prefix = keys[lo : lo + _BLOCK] // V
            block = a[lo : lo + _BLOCK]
            if k == 0:
                total += np.bincount(prefix, weights=block, minlength=n_contexts)
            n_k += np.bincount(prefix[np.minimum(block, 3) == k + 1], minlength=n_contexts)
        if mass is None:
            mass = d[0] * n_k
        else:
            mass += d[k] * n_k
        del n_k
    with np.errstate(divide="ignore", invalid="ignore"):
        mass /= total
    mass[total == 0] = 1.0
    return total, mass


def _interpolate(
    table: NgramTable,
    a: np.ndarray,
    d: Discounts,
    V: int,
    total_ctx: np.ndarray,
    gamma_ctx: np.ndarray,
    lower: np.ndarray,
) -> np.ndarray:
    """p(w|h) = (a(hw) - D(a(hw))) / A(h) + γ(h) p(w|h') for every entry, a block at a time."""
    discount = np.array([0.0, *d])  # D(a): 0 for a=0, D1, D2, D3+
    p = np.empty(len(a))
    for lo in range(0, len(a), _BLOCK):
        hi = lo + _BLOCK
        prefix = table.keys[lo:hi] // V
        block = a[lo:hi].astype(np.float64)
        block -= discount[np.minimum(a[lo:hi], 3)]
        block /= total_ctx[prefix]
        backed_off = gamma_ctx[prefix]
        backed_off *= lower[table.suffix[lo:hi]]
        block += backed_off
        p[lo:hi] = block
    return p


def _log10(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log10(x, out=x)


def _count_classes(a: np.ndarray) -> tuple[int, int, int]:
    return int((a == 1).sum()), int((a == 2).sum()), int((a >= 3).sum())
