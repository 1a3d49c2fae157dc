"""The one definition of perplexity that every textkit language model is measured with.

A model scores a text as a sum of natural-log probabilities of every *predicted* token: each word and
each end-of-line marker (``</s>`` for n-gram models, ``<eos>`` for neural ones); the start marker is
context only and never predicted. Words outside the model's vocabulary are scored as ``<unk>`` and
counted (KenLM's "including OOVs" figure); ``oov_rate`` says how many there were. A line with no
tokens predicts nothing (no end marker either): it is skipped, as in WikiText's joining rule
(:mod:`textkit.datasets.wikitext`).

    perplexity          = exp(-sum(ln p) / tokens)
    cross_entropy_bits  = -sum(log2 p) / tokens
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from textkit.errors import EmptyCorpusError


@dataclass(frozen=True)
class PerplexityResult:
    perplexity: float
    cross_entropy_bits: float
    tokens: int
    oov_rate: float
    logprob_nats: float

    def to_dict(self) -> dict:
        return asdict(self)


def perplexity_from_logprob(logprob_nats: float, tokens: int, oov_tokens: int = 0) -> PerplexityResult:
    """Turn a total natural-log probability over ``tokens`` predicted tokens into the figures."""
    if tokens <= 0:
        raise EmptyCorpusError("no tokens to evaluate perplexity on")
    nll = -logprob_nats / tokens
    return PerplexityResult(
        perplexity=math.exp(nll) if nll < 700 else math.inf,
        cross_entropy_bits=nll / math.log(2),
        tokens=tokens,
        oov_rate=oov_tokens / tokens,
        logprob_nats=logprob_nats,
    )
