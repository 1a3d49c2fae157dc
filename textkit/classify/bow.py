"""``bow``: TF-IDF (or NB-weighted) word n-grams + logistic regression, the strong linear baseline.

Features come from :class:`textkit.features.BagOfWords` (a textkit tokenizer in front of
scikit-learn's vectorizer); the classifier is scikit-learn's ``LogisticRegression`` with an L2 or L1
penalty. With ``features="nb"`` the binary n-gram indicators are scaled by their naive-Bayes
log-count ratios first (Wang & Manning 2012's NBSVM recipe, with logistic regression in place of
the SVM; two classes only); ``features="tfidf+nb"`` gives the regression both sets of columns side
by side. ``classifier="mnb"`` puts multinomial naive Bayes in place of the regression, over
``binary`` n-gram indicators (or TF-IDF): weaker alone on most data, but it errs on other examples
than the regressions do, which makes it a useful ensemble member on short texts. The checkpoint
holds the n-gram vocabulary (JSON), the IDF weights and the coefficients (or naive Bayes's log
probabilities) as safetensors, from which both halves are rebuilt without pickle.

>>> BagOfWordsClassifier(ngrams=2, penalty="l2").fit(["good", "bad"], ["pos", "neg"]).predict(["good"])
['pos']
"""

from __future__ import annotations

import warnings

import numpy as np

from textkit.classify.base import TextClassifier
from textkit.errors import EmptyCorpusError, UsageError
from textkit.features import BagOfWords
from textkit.tokenize import Tokenizer

FEATURES = ("tfidf", "nb", "tfidf+nb", "binary")
CLASSIFIERS = ("logistic", "mnb")
# C when none is given. TF-IDF: chosen per data set by cross-validation on the training data among
# C_GRID, preferring weak regularisation (see BagOfWordsClassifier). NB-weighted features: 1, where
# they did best on the benchmark corpora (their ratios are learned from the labels, so cross-validating
# on a matrix built from all the labels would flatter weak regularisation).
C_GRID = (10.0, 100.0, 1000.0)
NB_C = 1.0
CV_FOLDS = 3
# Newton-CG's stopping rule (largest gradient entry of the mean loss): tight enough that the fit is
# the optimum of the objective, not an artefact of where the solver stopped.
L2_TOL = 1e-6


class BagOfWordsClassifier(TextClassifier):
    """TF-IDF (sublinear tf) or NB-weighted binary features over word 1..``ngrams``-grams, then
    logistic regression.

    * ``tokenizer`` — a :class:`~textkit.tokenize.Tokenizer` or a spec (``en``, ``zh``, ``spm:PATH``...)
    * ``analyzer`` — ``"word"`` (n-grams of the tokenizer's tokens) or ``"char"`` (character n-grams)
    * ``features`` — ``"tfidf"``, ``"nb"`` (naive-Bayes log-count ratios; binary tasks),
      ``"tfidf+nb"`` (the TF-IDF columns and the NB columns of the same n-grams; binary tasks) or
      ``"binary"`` (0/1 indicators)
    * ``classifier`` — ``"logistic"`` (logistic regression) or ``"mnb"`` (multinomial naive Bayes with
      additive smoothing ``alpha``; ``binary`` or ``tfidf`` features)
    * ``ngrams`` — longest n-gram (words or characters)
    * ``min_freq`` — drop n-grams seen in fewer documents; ``max_vocab`` — keep the most frequent
    * ``penalty`` — ``"l2"`` or ``"l1"``; ``C`` — inverse regularisation strength (scikit-learn's).
      ``None`` (the default): with TF-IDF features and the L2 penalty, chosen by 3-fold
      cross-validation on the training data among 10, 100 and 1000 (a warm-started path, so it costs
      a few fits): the largest C whose accuracy is within one standard error of the best. Otherwise
      1000 for TF-IDF and 1 for NB features. The chosen value is ``C_``.

    The defaults (word 1-2-grams, sublinear TF-IDF, ``min_freq=2``, C as above) were chosen on
    validation splits carved from the training part of six corpora, English and Chinese, short and
    long, two and four classes (``benchmarks/clf_corpora.py``): with the regression solved to its
    optimum, weak regularisation won on average (C=1000 best or within 0.1 point on four corpora), but
    short reviews in both languages wanted C=10 to 30, a point or more better, so the data picks C,
    and weak regularisation wins ties: on 150 speeches the folds cannot tell 300 from 1000 apart.
    ``features="tfidf+nb"`` won on the Chinese novels and is one option away (``--autotune`` tries it).
    * ``weight_decay`` — if given, the L2/L1 strength per example instead: ``C = 1 / (weight_decay * n)``
    """

    kind = "bow"

    def __init__(
        self,
        tokenizer: str | Tokenizer = "en",
        analyzer: str = "word",
        features: str = "tfidf",
        ngrams: int = 2,
        min_freq: int = 2,
        max_vocab: int | None = None,
        penalty: str = "l2",
        C: float | None = None,
        weight_decay: float | None = None,
        max_iter: int = 1000,
        classifier: str = "logistic",
        alpha: float = 1.0,
        seed: int = 0,
    ):
        self.tokenizer = tokenizer
        self.analyzer = analyzer
        self.features = features
        self.ngrams = ngrams
        self.min_freq = min_freq
        self.max_vocab = max_vocab
        self.penalty = penalty
        self.C = C
        self.weight_decay = weight_decay
        self.max_iter = max_iter
        self.classifier = classifier
        self.alpha = alpha
        self.seed = seed

    def _check_params(self) -> None:
        for name in ("ngrams", "min_freq", "max_iter"):
            if getattr(self, name) < 1:
                raise UsageError(f"{name} must be at least 1, not {getattr(self, name)}")
        if self.max_vocab is not None and self.max_vocab < 1:
            raise UsageError(f"max_vocab must be at least 1, not {self.max_vocab}")
        if self.features not in FEATURES:
            raise UsageError(f"features must be one of {', '.join(FEATURES)}, not {self.features!r}")
        if self.analyzer not in ("word", "char"):
            raise UsageError(f"analyzer must be word or char, not {self.analyzer!r}")
        if self.penalty not in ("l1", "l2"):
            raise UsageError(f"penalty must be l1 or l2, not {self.penalty!r}")
        if self.C is not None and not 0 < self.C < float("inf"):
            raise UsageError(f"C must be positive, not {self.C}")
        if self.weight_decay is not None and not self.weight_decay > 0:
            raise UsageError(f"weight_decay must be positive, not {self.weight_decay}")
        if self.classifier not in CLASSIFIERS:
            raise UsageError(f"classifier must be one of {', '.join(CLASSIFIERS)}, not {self.classifier!r}")
        if self.classifier == "mnb" and self.features not in ("binary", "tfidf"):
            raise UsageError(f"naive Bayes needs counts: features binary or tfidf, not {self.features!r}")
        if not 0 < self.alpha < float("inf"):
            raise UsageError(f"alpha must be positive, not {self.alpha}")

    def _features(self) -> BagOfWords:
        weighting = "binary" if self.features in ("nb", "binary") else "tfidf"
        return BagOfWords(
            tokenizer=self.tokenizer,
            analyzer=self.analyzer,
            weighting=weighting,
            ngram_range=(1, self.ngrams),
            min_df=self.min_freq,
            max_features=self.max_vocab,
            sublinear_tf=True,
        )

    def _regression(self, n_examples: int, n_classes: int, C: float | None = None):
        from sklearn.linear_model import LogisticRegression

        if C is None:
            C = self.C if self.weight_decay is None else 1.0 / max(self.weight_decay * n_examples, 1e-12)
        if self.penalty == "l2":
            # Newton-CG reaches the optimum in ~10 Newton steps on sparse n-gram matrices, faster than
            # lbfgs reaches scikit-learn's default tol; lbfgs stopped early enough at large C to move
            # accuracy by most of a point between near-identical feature sets.
            solver, tol = "newton-cg", L2_TOL
        else:  # liblinear is the fast L1 solver but handles two classes only
            solver, tol = ("liblinear" if n_classes == 2 else "saga"), 1e-4
        l1_ratio = 1.0 if self.penalty == "l1" else 0.0
        return LogisticRegression(
            C=C, l1_ratio=l1_ratio, solver=solver, tol=tol, max_iter=self.max_iter, random_state=self.seed
        )

    def _fit(self, texts, y, validation) -> None:
        self._fit_regression(self._fit_features(texts, y), y)

    def _feature_key(self) -> tuple:
        """The parameters the feature matrix depends on: settings that share it differ only in the regression."""
        tokenizer = self.tokenizer if isinstance(self.tokenizer, str) else id(self.tokenizer)
        return (tokenizer, self.analyzer, self.features, self.ngrams, self.min_freq, self.max_vocab)

    def _family(self) -> tuple:
        """What the model reads and how it weighs it: settings of one family differ only in
        regularisation, so they make nearly the same mistakes."""
        return (*self._feature_key(), self.classifier)

    def _fit_features(self, texts, y: np.ndarray):
        """Learn the n-gram vocabulary and column weights; the training matrix, ready for the regression."""
        if self.features in ("nb", "tfidf+nb") and len(self.labels_) != 2:
            raise UsageError(f"NB features need two classes, the data has {len(self.labels_)}; use tfidf features")
        self.features_ = self._features()
        try:
            X = self.features_.fit_transform(texts)
        except ValueError as e:  # scikit-learn: "empty vocabulary; perhaps the documents only contain stop words"
            raise EmptyCorpusError(f"no features left to learn from ({e}); lower min_freq or check the texts") from None
        if self.features in ("nb", "tfidf+nb"):
            self.nb_ratio_ = nb_log_count_ratio(_indicators(X), y)
            X = self._scale(X)
        return X

    def _fit_regression(self, X, y: np.ndarray) -> None:
        from sklearn.exceptions import ConvergenceWarning

        if self.classifier == "mnb":
            from sklearn.naive_bayes import MultinomialNB

            self.regression_, self.C_ = MultinomialNB(alpha=self.alpha).fit(X, y), None
            return
        C = None
        if self.C is None and self.weight_decay is None:
            C = self._cross_validated_c(X, y) if self.features == "tfidf" and self.penalty == "l2" else None
            C = C or (C_GRID[-1] if self.features == "tfidf" else NB_C)
        self.regression_ = self._regression(X.shape[0], len(self.labels_), C)
        self.C_ = float(self.regression_.C)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # saga (L1) may reach max_iter first
            self.regression_.fit(X, y)

    def _cross_validated_c(self, X, y: np.ndarray) -> float | None:
        """The largest C of ``C_GRID`` whose cross-validated accuracy is within one standard error of
        the best one's (None when a class has too few examples to fold).

        Each fold fits the grid from strong to weak regularisation, every fit starting from the
        previous solution. The standard error is that of the per-example difference in correctness
        between the two settings, pooled over the folds' held-out examples."""
        from sklearn.model_selection import StratifiedKFold

        folds = min(CV_FOLDS, int(np.bincount(y).min()))
        if folds < 2:
            return None
        correct = np.zeros((len(C_GRID), len(y)), dtype=np.float64)
        splitter = StratifiedKFold(folds, shuffle=True, random_state=self.seed)
        for train, held_out in splitter.split(np.zeros(len(y)), y):
            regression = self._regression(len(train), len(self.labels_), C_GRID[0])
            regression.set_params(warm_start=True)
            for i, C in enumerate(C_GRID):
                regression.set_params(C=C).fit(X[train], y[train])
                correct[i, held_out] = regression.predict(X[held_out]) == y[held_out]
        accuracy = correct.mean(axis=1)
        best = int(accuracy.argmax())
        for i in reversed(range(len(C_GRID))):
            se = np.std(correct[best] - correct[i]) / np.sqrt(len(y))
            if accuracy[best] - accuracy[i] <= se:
                return C_GRID[i]
        return C_GRID[best]

    def _matrix(self, texts):
        """The feature matrix the regression reads for ``texts`` (after fit)."""
        return self._scale(self.features_.transform(list(texts)))

    def predict_proba(self, texts) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(self.labels_)))
        return self.regression_.predict_proba(self._matrix(texts))

    def _scale(self, X):
        """NB features: each indicator column times its log-count ratio; tfidf+nb: the TF-IDF columns
        followed by those; TF-IDF: unchanged."""
        if self.features in ("tfidf", "binary"):
            return X
        from scipy.sparse import diags, hstack

        nb = _indicators(X) @ diags(self.nb_ratio_)
        return nb.tocsr() if self.features == "nb" else hstack([X, nb], format="csr")

    def _state(self) -> tuple[dict, dict]:
        vocab = self.features_.vocabulary_
        ngrams = [None] * len(vocab)
        for ngram, column in vocab.items():
            ngrams[column] = ngram
        if self.features == "binary":
            weights = np.ones(len(ngrams))
        else:
            weights = self.nb_ratio_ if self.features == "nb" else self.features_.idf_
        if self.classifier == "mnb":  # log P(class | x) = intercept + coef @ x, up to normalisation
            coef, intercept = self.regression_.feature_log_prob_, self.regression_.class_log_prior_
        else:
            coef, intercept = self.regression_.coef_, self.regression_.intercept_
        tensors = {
            "column_weights": np.asarray(weights, dtype=np.float64),
            "coef": np.asarray(coef, dtype=np.float64),
            "intercept": np.asarray(intercept, dtype=np.float64),
        }
        if self.features == "tfidf+nb":
            tensors["nb_ratio"] = np.asarray(self.nb_ratio_, dtype=np.float64)
        return tensors, {"ngrams": ngrams}

    def _restore(self, tensors: dict, config: dict) -> None:
        from sklearn.linear_model import LogisticRegression

        ngrams = config["ngrams"]
        idf, coef, intercept = (np.asarray(tensors[k]) for k in ("column_weights", "coef", "intercept"))
        columns = len(ngrams) * (2 if self.features == "tfidf+nb" else 1)
        if len(idf) != len(ngrams) or coef.shape[1] != columns:
            raise ValueError(f"{len(ngrams)} n-grams but {len(idf)} column weights and {coef.shape[1]} coefficients")
        ratio = idf if self.features == "nb" else tensors["nb_ratio"] if self.features == "tfidf+nb" else None
        if ratio is not None and len(ratio) != len(ngrams):
            raise ValueError(f"{len(ngrams)} n-grams but {len(ratio)} NB ratios")
        self._install_features(ngrams, idf if self.features in ("tfidf", "tfidf+nb") else None, ratio)
        if self.classifier == "mnb":
            from sklearn.naive_bayes import MultinomialNB

            if coef.shape[0] != len(self.labels_) or intercept.shape != (len(self.labels_),):
                raise ValueError(f"{len(self.labels_)} labels but naive-Bayes tables for {coef.shape[0]}")
            regression = MultinomialNB(alpha=self.alpha)
            regression.feature_log_prob_, regression.class_log_prior_ = coef, intercept
        else:
            regression = LogisticRegression()
            regression.coef_, regression.intercept_ = coef, intercept
        regression.classes_ = np.arange(len(self.labels_))
        regression.n_features_in_ = columns
        self.regression_ = regression

    def _install_features(self, ngrams: list[str], idf: np.ndarray | None, nb_ratio: np.ndarray | None) -> None:
        """Set the fitted features from what they learned: the n-gram of each column, the IDF weights
        (TF-IDF features) and the NB log-count ratios (NB features)."""
        features = self._features()
        vectorizer = features._vectorizer()
        vectorizer.vocabulary_ = {ngram: i for i, ngram in enumerate(ngrams)}
        features.vectorizer_, features.vocabulary_ = vectorizer, vectorizer.vocabulary_
        if idf is not None:
            vectorizer.idf_ = features.idf_ = np.asarray(idf, dtype=np.float64)
        if nb_ratio is not None:
            self.nb_ratio_ = np.asarray(nb_ratio, dtype=np.float64)
        self.features_ = features


def _indicators(X):
    """The 0/1 pattern of a sparse matrix: which n-grams each text has."""
    out = X.copy().tocsr()
    out.data = np.ones_like(out.data)
    return out


def nb_log_count_ratio(X, y: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Naive-Bayes log-count ratio per column: log((p / |p|_1) / (q / |q|_1)), p and q the
    ``alpha``-smoothed feature sums of the second and the first class (Wang & Manning 2012)."""
    p = alpha + np.asarray(X[y == 1].sum(axis=0)).ravel()
    q = alpha + np.asarray(X[y == 0].sum(axis=0)).ravel()
    return np.log((p / p.sum()) / (q / q.sum()))
