"""Features for linear models: one-hot tensors and a bag-of-words / TF-IDF vectorizer.

:class:`BagOfWords` is a scikit-learn estimator (it drops into ``Pipeline``, ``clone`` and
``GridSearchCV``) that tokenizes with a textkit tokenizer and leaves counting, n-grams, vocabulary
limits and TF-IDF weighting to scikit-learn's own vectorizers, which do them well.

>>> from sklearn.pipeline import make_pipeline
>>> from sklearn.linear_model import LogisticRegression
>>> clf = make_pipeline(BagOfWords(tokenizer="en", weighting="tfidf", ngram_range=(1, 2)), LogisticRegression())
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

from textkit.errors import UsageError
from textkit.tokenize import Tokenizer, get_tokenizer


def one_hot(ids: Sequence[int] | torch.Tensor, vocab_size: int) -> torch.Tensor:
    """One-hot float tensor: shape ``(*ids.shape, vocab_size)``; works for a sequence or a batch.

    >>> one_hot([2, 0], 3)
    tensor([[0., 0., 1.],
            [1., 0., 0.]])
    """
    ids = torch.as_tensor(ids, dtype=torch.long)
    if vocab_size < 1:
        raise UsageError(f"vocab_size must be positive, not {vocab_size}")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise UsageError(f"ids must lie in [0, {vocab_size}), got values from {int(ids.min())} to {int(ids.max())}")
    return torch.nn.functional.one_hot(ids, vocab_size).float()


class _Analyzer:
    """Picklable callable: text -> tokens, then word n-grams in scikit-learn's order."""

    def __init__(self, tokenizer: Tokenizer, ngram_range: tuple[int, int]):
        self.tokenizer = tokenizer
        self.ngram_range = ngram_range

    def __call__(self, text: str) -> list[str]:
        return word_ngrams(self.tokenizer.tokenize(text), self.ngram_range)


class _CharAnalyzer:
    """Picklable callable: text -> character n-grams of the lowercased text, whitespace runs as one space."""

    def __init__(self, ngram_range: tuple[int, int]):
        self.ngram_range = ngram_range

    def __call__(self, text: str) -> list[str]:
        chars = " ".join(text.lower().split())
        lo, hi = self.ngram_range
        out: list[str] = []
        for n in range(lo, min(hi, len(chars)) + 1):
            out.extend(chars[i : i + n] for i in range(len(chars) - n + 1))
        return out


def word_ngrams(tokens: list[str], ngram_range: tuple[int, int]) -> list[str]:
    """The ``lo..hi``-grams of ``tokens`` (space-joined), shortest first, as scikit-learn lists them."""
    lo, hi = ngram_range
    if hi == 1:
        return tokens
    out = list(tokens) if lo == 1 else []
    n_tokens = len(tokens)
    for n in range(max(lo, 2), min(hi, n_tokens) + 1):
        out.extend(" ".join(tokens[i : i + n]) for i in range(n_tokens - n + 1))
    return out


class BagOfWords(TransformerMixin, BaseEstimator):
    """Counts, binary indicators or TF-IDF weights of word (or character) n-grams, as scipy CSR matrices.

    Parameters are stored untouched (scikit-learn convention); ``fit`` learns ``vocabulary_``
    (n-gram -> column) and, for TF-IDF, ``idf_``.

    * ``tokenizer`` — a :class:`~textkit.tokenize.Tokenizer` or a spec (``en``, ``zh``, ``char``,
      ``whitespace``, ``spm:PATH``)
    * ``analyzer`` — ``"word"`` (n-grams of the tokenizer's tokens) or ``"char"`` (n-grams of the
      lowercased characters, whatever the tokenizer; strong for Chinese, which has no spaces)
    * ``weighting`` — ``"count"``, ``"binary"`` or ``"tfidf"``
    * ``ngram_range`` — ``(1, 2)`` for unigrams and bigrams
    * ``min_df``, ``max_df``, ``max_features`` — as in scikit-learn
    * ``sublinear_tf``, ``norm`` — TF-IDF options, as in scikit-learn
    """

    def __init__(
        self,
        tokenizer: str | Tokenizer = "en",
        analyzer: str = "word",
        weighting: str = "tfidf",
        ngram_range: tuple[int, int] = (1, 1),
        min_df: int | float = 1,
        max_df: int | float = 1.0,
        max_features: int | None = None,
        sublinear_tf: bool = False,
        norm: str | None = "l2",
    ):
        self.tokenizer = tokenizer
        self.analyzer = analyzer
        self.weighting = weighting
        self.ngram_range = ngram_range
        self.min_df = min_df
        self.max_df = max_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.norm = norm

    def _vectorizer(self):
        if self.weighting not in ("count", "binary", "tfidf"):
            raise UsageError(f"weighting must be count, binary or tfidf, not {self.weighting!r}")
        if self.analyzer not in ("word", "char"):
            raise UsageError(f"analyzer must be word or char, not {self.analyzer!r}")
        lo, hi = self.ngram_range
        if not 1 <= lo <= hi:
            raise UsageError(f"ngram_range must satisfy 1 <= min <= max, got {self.ngram_range}")
        if self.analyzer == "word":
            analyzer = _Analyzer(get_tokenizer(self.tokenizer), (lo, hi))
        else:
            analyzer = _CharAnalyzer((lo, hi))
        common = dict(analyzer=analyzer, min_df=self.min_df, max_df=self.max_df, max_features=self.max_features)
        if self.weighting == "tfidf":
            return TfidfVectorizer(sublinear_tf=self.sublinear_tf, norm=self.norm, **common)
        return CountVectorizer(binary=self.weighting == "binary", **common)

    def fit(self, texts, y=None) -> BagOfWords:
        self.fit_transform(texts)
        return self

    def fit_transform(self, texts, y=None):
        self.vectorizer_ = self._vectorizer()
        X = self.vectorizer_.fit_transform(texts)
        self.vocabulary_ = self.vectorizer_.vocabulary_
        if self.weighting == "tfidf":
            self.idf_ = self.vectorizer_.idf_
        return X

    def transform(self, texts):
        check_is_fitted(self, "vectorizer_")
        return self.vectorizer_.transform(texts)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "vectorizer_")
        return self.vectorizer_.get_feature_names_out()
