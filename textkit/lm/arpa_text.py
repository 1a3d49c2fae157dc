"""ARPA n-gram lines formatted in compiled code, a block of entries at a time.

A model of 10^8 n-grams cannot afford a Python string per line, so each block of entries becomes
one bytes buffer: ``log10p<TAB>w1 w2 .. wn[<TAB>log10backoff]\\n``. Numbers are written exactly as
Python's ``format(x, ".7g")`` writes them, so the file is byte for byte what a Python writer would
give:

1. :func:`_decimal_digits` finds the 7 significant digits and the decimal exponent of each value
   in floating point. Where the value lies so close to a rounding boundary (a half unit of the
   7th digit) that the floating-point scaling might round the wrong way, it says so, and Python's
   own correctly rounded conversion decides those few values (:func:`decimal_parts`).
2. :func:`_format_lines` lays the digits out by the ``%g`` rules (fixed notation for exponents
   -4..6, else ``d.dddddde±XX``; trailing zeros and a bare point dropped) between the words.

>>> block = format_block(words, np.array([-1.5]), np.array([-0.25]), token_bytes, token_starts)
"""

from __future__ import annotations

import numpy as np

from textkit.lm.compiled import NGRAM

PRECISION = 7
_TIE_MARGIN = 1e-6  # |fraction - 0.5| below this (in units of the 7th digit): let Python decide
_LONGEST_NUMBER = 16  # "-1.234567e-308" and "-inf" fit


@NGRAM.kernel("void(f8[::1], i8[::1], i4[::1], b1[::1])")
def _decimal_digits(values, mantissa, exponent, doubtful):
    """For each finite non-zero value: ``|value| ≈ mantissa × 10^(exponent - 6)`` with a 7-digit
    ``mantissa``; ``doubtful`` where floating-point scaling cannot be trusted to round it."""
    for i in range(len(values)):
        a = abs(values[i])
        mantissa[i] = 0
        exponent[i] = 0
        doubtful[i] = False
        if a == 0.0 or not np.isfinite(a):
            continue
        if a < 1e-290 or a > 1e290:  # 10^k below would lose precision: Python decides
            doubtful[i] = True
            continue
        e = int(np.floor(np.log10(a)))
        for _ in range(2):  # log10 may be one off next to a power of ten
            shift = 6 - e
            scaled = a * 10.0**shift if shift >= 0 else a / 10.0 ** (-shift)
            if scaled < 1e6:
                e -= 1
            elif scaled >= 1e7:
                e += 1
            else:
                break
        shift = 6 - e
        scaled = a * 10.0**shift if shift >= 0 else a / 10.0 ** (-shift)
        whole = np.floor(scaled)
        fraction = scaled - whole
        if abs(fraction - 0.5) < _TIE_MARGIN or scaled < 1e6 or scaled >= 1e7:
            doubtful[i] = True
            continue
        m = np.int64(whole) + (1 if fraction > 0.5 else 0)
        if m == 10_000_000:
            m = 1_000_000
            e += 1
        mantissa[i] = m
        exponent[i] = e


def decimal_parts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """7-digit mantissas and decimal exponents of ``values`` (0 and 0 for zeros and non-finite),
    correctly rounded as ``format(x, ".7g")`` rounds them."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    mantissa = np.empty(len(values), dtype=np.int64)
    exponent = np.empty(len(values), dtype=np.int32)
    doubtful = np.empty(len(values), dtype=np.bool_)
    _decimal_digits(values, mantissa, exponent, doubtful)
    for i in np.flatnonzero(doubtful).tolist():
        digits, _, power = f"{abs(float(values[i])):.{PRECISION - 1}e}".partition("e")
        mantissa[i] = int(digits.replace(".", ""))
        exponent[i] = int(power)
    return mantissa, exponent


@NGRAM.kernel()
def _put_number(out, at, value, m, e, digits):
    """Write ``value`` as ``%.7g`` from its digits ``m`` (7 of them) and exponent ``e``; return
    the position after it. ``digits``: scratch space for 7 bytes."""
    if value != value:
        out[at : at + 3] = np.array([110, 97, 110], dtype=np.uint8)  # nan
        return at + 3
    if value < 0 or (value == 0.0 and np.signbit(value)):
        out[at] = 45  # -
        at += 1
    if np.isinf(value):
        out[at : at + 3] = np.array([105, 110, 102], dtype=np.uint8)  # inf
        return at + 3
    if value == 0.0:
        out[at] = 48
        return at + 1
    for k in range(PRECISION - 1, -1, -1):
        digits[k] = 48 + m % 10
        m //= 10
    kept = PRECISION  # significant digits left after dropping trailing zeros
    while kept > 1 and digits[kept - 1] == 48:
        kept -= 1
    if -4 <= e < PRECISION:  # fixed notation
        if e >= 0:
            for k in range(e + 1):
                out[at] = digits[k]
                at += 1
            if kept > e + 1:
                out[at] = 46  # .
                at += 1
                for k in range(e + 1, kept):
                    out[at] = digits[k]
                    at += 1
        else:
            out[at] = 48
            out[at + 1] = 46
            at += 2
            for _ in range(-e - 1):
                out[at] = 48
                at += 1
            for k in range(kept):
                out[at] = digits[k]
                at += 1
        return at
    out[at] = digits[0]
    at += 1
    if kept > 1:
        out[at] = 46
        at += 1
        for k in range(1, kept):
            out[at] = digits[k]
            at += 1
    out[at] = 101  # e
    out[at + 1] = 45 if e < 0 else 43
    at += 2
    power = -e if e < 0 else e
    if power >= 100:
        out[at] = 48 + power // 100
        at += 1
    out[at] = 48 + (power // 10) % 10
    out[at + 1] = 48 + power % 10
    return at + 2


@NGRAM.kernel("i8(u1[::1], i4[:, ::1], f8[::1], i8[::1], i4[::1], f8[::1], i8[::1], i4[::1], u1[::1], i8[::1])")
def _format_lines(out, words, probs, prob_m, prob_e, backoffs, backoff_m, backoff_e, token_bytes, token_starts):
    """The ARPA lines of one block of entries into ``out``; returns the bytes written."""
    at = 0
    with_backoff = len(backoffs) > 0
    digits = np.empty(PRECISION, dtype=np.uint8)
    for i in range(len(probs)):
        at = _put_number(out, at, probs[i], prob_m[i], prob_e[i], digits)
        out[at] = 9
        at += 1
        for j in range(words.shape[1]):
            if j:
                out[at] = 32
                at += 1
            w = words[i, j]
            for b in range(token_starts[w], token_starts[w + 1]):
                out[at] = token_bytes[b]
                at += 1
        if with_backoff:
            out[at] = 9
            at += 1
            at = _put_number(out, at, backoffs[i], backoff_m[i], backoff_e[i], digits)
        out[at] = 10
        at += 1
    return at


def token_table(tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """All tokens' UTF-8 bytes in one array, and where each starts (one entry more, the end)."""
    encoded = [t.encode("utf-8") for t in tokens]
    starts = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)), out=starts[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8), starts


def format_block(
    words: np.ndarray, probs: np.ndarray, backoffs: np.ndarray | None, token_bytes: np.ndarray, token_starts: np.ndarray
) -> memoryview:
    """ARPA lines for entries with word ids ``words`` (entries × n), log10 ``probs`` and (below the
    top order) log10 ``backoffs``, as one buffer."""
    words = np.ascontiguousarray(words, dtype=np.int32)
    probs = np.ascontiguousarray(probs, dtype=np.float64)
    prob_m, prob_e = decimal_parts(probs)
    if backoffs is None:
        backoffs = np.zeros(0)
        backoff_m, backoff_e = np.zeros(0, np.int64), np.zeros(0, np.int32)
    else:
        backoffs = np.ascontiguousarray(backoffs, dtype=np.float64)
        backoff_m, backoff_e = decimal_parts(backoffs)
    lengths = token_starts[1:] - token_starts[:-1]
    size = int(lengths[words].sum()) + len(probs) * (words.shape[1] + 3 + 2 * _LONGEST_NUMBER)
    out = np.empty(size, dtype=np.uint8)
    used = _format_lines(out, words, probs, prob_m, prob_e, backoffs, backoff_m, backoff_e, token_bytes, token_starts)
    return memoryview(out[:used])
