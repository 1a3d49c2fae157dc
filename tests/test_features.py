"""textkit.features: one-hot tensors and the BagOfWords transformer, checked against scikit-learn."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from textkit.corpora import read_corpus
from textkit.errors import UsageError
from textkit.features import BagOfWords, one_hot
from textkit.tokenize import get_tokenizer


def test_one_hot_sequence_and_batch():
    x = one_hot([2, 0, 1], 3)
    assert x.dtype == torch.float32 and torch.equal(x, torch.eye(3)[[2, 0, 1]])
    batch = one_hot(torch.tensor([[1, 2], [0, 0]]), 4)
    assert batch.shape == (2, 2, 4)
    assert torch.equal(batch.argmax(-1), torch.tensor([[1, 2], [0, 0]]))
    assert torch.equal(batch.sum(-1), torch.ones(2, 2))
    assert one_hot([], 5).shape == (0, 5)


def test_one_hot_errors():
    with pytest.raises(UsageError, match=r"ids must lie in \[0, 3\)"):
        one_hot([0, 3], 3)
    with pytest.raises(UsageError, match="ids must lie"):
        one_hot([-1], 3)
    with pytest.raises(UsageError, match="vocab_size must be positive"):
        one_hot([0], 0)


EN_DOCS = list(read_corpus("en_sample"))[:120]
ZH_DOCS = list(read_corpus("zh_sample"))[:80]


def _oracle(kind, spec, **kw):
    """scikit-learn's own word analyzer on the same tokens: its n-grams, counts and weighting."""
    tok = get_tokenizer(spec)
    common = dict(tokenizer=tok.tokenize, lowercase=False, token_pattern=None, **kw)
    if kind == "tfidf":
        return TfidfVectorizer(**common)
    return CountVectorizer(binary=kind == "binary", **common)


def _same_matrix(ours, vocab_ours, theirs, vocab_theirs):
    assert sp.isspmatrix_csr(ours) or isinstance(ours, sp.csr_array)
    assert vocab_ours == vocab_theirs
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours.toarray(), theirs.toarray(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("weighting", ["count", "binary", "tfidf"])
@pytest.mark.parametrize("ngram_range", [(1, 1), (1, 2), (2, 3)])
def test_bag_of_words_equals_sklearn_english(weighting, ngram_range):
    bow = BagOfWords(tokenizer="en", weighting=weighting, ngram_range=ngram_range)
    X = bow.fit_transform(EN_DOCS[:100])
    oracle = _oracle(weighting, "en", ngram_range=ngram_range)
    Y = oracle.fit_transform(EN_DOCS[:100])
    _same_matrix(X, bow.vocabulary_, Y, oracle.vocabulary_)
    _same_matrix(bow.transform(EN_DOCS[100:]), bow.vocabulary_, oracle.transform(EN_DOCS[100:]), oracle.vocabulary_)
    assert list(bow.get_feature_names_out()) == list(oracle.get_feature_names_out())
    if weighting == "tfidf":
        np.testing.assert_allclose(bow.idf_, oracle.idf_)


@pytest.mark.parametrize("weighting", ["count", "tfidf"])
def test_bag_of_words_equals_sklearn_chinese(weighting):
    bow = BagOfWords(tokenizer="zh", weighting=weighting, ngram_range=(1, 2), min_df=2)
    oracle = _oracle(weighting, "zh", ngram_range=(1, 2), min_df=2)
    _same_matrix(bow.fit_transform(ZH_DOCS), bow.vocabulary_, oracle.fit_transform(ZH_DOCS), oracle.vocabulary_)


def test_bag_of_words_options_pass_through():
    kw = dict(min_df=2, max_df=0.5, max_features=50, sublinear_tf=True, norm="l1")
    bow = BagOfWords(tokenizer="en", weighting="tfidf", **kw)
    oracle = _oracle("tfidf", "en", **kw)
    _same_matrix(bow.fit_transform(EN_DOCS), bow.vocabulary_, oracle.fit_transform(EN_DOCS), oracle.vocabulary_)
    assert len(bow.vocabulary_) == 50


def test_counts_by_hand():
    bow = BagOfWords(tokenizer="whitespace", weighting="count", ngram_range=(1, 2))
    X = bow.fit_transform(["a b a", "b c"])
    col = bow.vocabulary_
    assert X[0, col["a"]] == 2 and X[0, col["a b"]] == 1 and X[0, col["b a"]] == 1 and X[1, col["b c"]] == 1
    assert X[0, col["c"]] == 0


def test_pipeline_clone_and_grid_search():
    texts = [
        "great film, loved it",
        "wonderful and moving",
        "a great story",
        "loved the acting",
        "terrible film, hated it",
        "boring and slow",
        "a dull story",
        "hated the acting",
    ] * 3
    labels = [1, 1, 1, 1, 0, 0, 0, 0] * 3
    pipe = make_pipeline(BagOfWords(tokenizer="en"), LogisticRegression())
    pipe.fit(texts, labels)
    assert pipe.score(texts, labels) == 1.0
    assert list(pipe.predict(["loved it, wonderful", "boring and terrible"])) == [1, 0]
    bow = BagOfWords(tokenizer="zh", weighting="binary", ngram_range=(1, 2), min_df=2)
    copy = clone(bow)
    assert copy.get_params() == bow.get_params() and not hasattr(copy, "vocabulary_")
    grid = GridSearchCV(
        make_pipeline(BagOfWords(tokenizer="en"), LogisticRegression()),
        {"bagofwords__weighting": ["count", "tfidf"], "bagofwords__ngram_range": [(1, 1), (1, 2)]},
        cv=3,
    )
    grid.fit(texts, labels)
    assert grid.best_score_ == 1.0 and set(grid.best_params_) == {"bagofwords__weighting", "bagofwords__ngram_range"}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_fitted_transformer_pickles(lang):
    docs = ZH_DOCS if lang == "zh" else EN_DOCS
    bow = BagOfWords(tokenizer=lang, weighting="tfidf", ngram_range=(1, 2)).fit(docs)
    copy = pickle.loads(pickle.dumps(bow))
    assert (copy.transform(docs[:10]) != bow.transform(docs[:10])).nnz == 0


def test_parameter_errors_and_not_fitted():
    with pytest.raises(UsageError, match="weighting must be"):
        BagOfWords(weighting="bm25").fit(["a"])
    with pytest.raises(UsageError, match="ngram_range"):
        BagOfWords(ngram_range=(2, 1)).fit(["a b"])
    with pytest.raises(UsageError, match="unknown tokenizer"):
        BagOfWords(tokenizer="xx").fit(["a"])
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        BagOfWords().transform(["a"])
    with pytest.raises(NotFittedError):
        BagOfWords().get_feature_names_out()
