"""Automatic model selection: search classifier kind, features and hyperparameters in a time budget.

:func:`autotune` scores candidate settings of ``bow`` and ``fasttext`` on held-out data (k folds
below 50000 examples, else a validation split), keeps the best by ``metric``, and refits it on all
the data. The candidates come in a fixed order drawn from ``seed``: first the defaults and a few
strong starting points, then random settings alternating with small changes to the best so far. After
each trial a weighted average of the trials' held-out probabilities, chosen greedily
(:class:`EnsemblePool`), is scored as an ``ensemble`` candidate (no training needed), which wins when
it beats every single setting. The budget decides how many of them run, so two runs with the same
seed agree on every trial both reached; ``max_trials`` makes a run independent of the machine's speed.

Tokenization happens once: every trial reads tokens from a shared cache, and bow trials read n-gram
counts made once per analyzer (:class:`CountCache`), as does the refit on all the data. A trial that
scores far below the leader on the first fold skips the others (naive Bayes excepted: it is there
to join ensembles). The refit is budgeted from the trials' measured work.

>>> model, report = autotune(texts, labels, tokenizer="zh", duration=120, metric="macro_f1")
>>> report["best"]["kind"], report["best"]["params"], report["best"]["score"]
"""

from __future__ import annotations

import math
import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from textkit.classify.base import TextClassifier, check_texts, classifier_class, encode_labels, make_classifier
from textkit.datasets.labelled import LabelledTexts, k_fold_indices, validation_indices
from textkit.errors import EmptyCorpusError, UsageError
from textkit.tokenize import Tokenizer, get_tokenizer

METRICS = ("accuracy", "macro_f1")
KINDS = ("bow", "fasttext", "ensemble")
# An ensemble is a weighted average of scored settings: this many greedy steps, each adding one
# setting (again, if it is the best step), and the best prefix is kept.
ENSEMBLE_STEPS = 15
# One validation split is too noisy to rank settings that differ by a few tenths of a point unless it
# is large (a fifth of 15k texts: +-0.7 points): below MEDIUM_DATA examples every setting is scored
# on k folds, whose held-out probabilities cover every example (5 folds below SMALL_DATA, else 3,
# which cost two fits of the data per setting).
SMALL_DATA = 2000
FOLDS = 5
MEDIUM_DATA = 50_000
MEDIUM_FOLDS = 3
# A trial whose first split scores this far below the leader's first split skips the other splits.
RACE_MARGIN = 0.02
# A bow feature setting this close to the best score gets its C tuned (cheap: the matrices are cached).
C_SEARCH_MARGIN = 0.01
# The refit is budgeted at this many times the trials' work scaled to all the data.
REFIT_MARGIN = 1.2
_clock = time.perf_counter  # the budget's clock (a test stands in its own)
C_RANGE = (1e-2, 1e4)  # the line search stays inside: beyond, the fit is unregularised or all bias
# Where the C search of a weighting starts when no trial has used it yet.
# (Every bow trial names its C: the search tunes it, rather than the model's cross-validation.)
BOW_START_C = {"tfidf": 1000.0, "nb": 1.0, "tfidf+nb": 1.0}
BOW_FEATURE_PARAMS = ("analyzer", "features", "ngrams", "min_freq")


class CachedTokenizer(Tokenizer):
    """A tokenizer that remembers the tokens of every text it has seen (for repeated trials)."""

    def __init__(self, inner: Tokenizer):
        self.inner = inner
        self.spec = inner.spec
        self.cache: dict[str, list[str]] = {}

    def tokenize(self, text: str) -> list[str]:
        tokens = self.cache.get(text)
        if tokens is None:
            tokens = self.cache[text] = self.inner.tokenize(text)
        return tokens

    def fill(self, texts: Sequence[str], workers: int) -> None:
        """Tokenize the texts not seen yet, in ``workers`` processes when there are many."""
        new = list(dict.fromkeys(t for t in texts if t not in self.cache))
        workers = workers if len(new) >= 2000 else 1
        for text, tokens in zip(new, self.inner.tokenize_lines(new, workers=workers)):
            self.cache[text] = tokens

    def load(self) -> None:
        self.inner.load()


class Search:
    """The seeded order of ``(kind, params)`` proposals, steered by the scores it is told.

    First TF-IDF words (C=1000), character n-grams, fastText's defaults, naive Bayes and NB weights. Every bow
    feature setting that comes within ``C_SEARCH_MARGIN`` of the best score gets a line search over
    ``C`` (x3 and /3, then on in the direction that helped): those trials reuse the feature matrices
    and cost one regression fit. Then random settings alternate with one-parameter changes to the best so far.
    """

    def __init__(self, n_classes: int, lang_hint: str, seed: int, kinds: Sequence[str] = ("bow", "fasttext")):
        self.rng = np.random.default_rng(seed)
        self.binary = n_classes == 2
        self.kinds = list(kinds)
        starts: list[tuple[str, dict]] = []
        if "bow" in kinds:
            # Character n-grams come early: they read text differently from words, which is what an
            # ensemble needs, and they are strong on Chinese.
            starts.append(("bow", {"C": BOW_START_C["tfidf"]}))
            starts.append(("bow", {"analyzer": "char", "ngrams": 4 if lang_hint == "zh" else 5, "C": 100.0}))
        if "fasttext" in kinds:
            starts.append(("fasttext", {}))
        if "bow" in kinds and self.binary:
            starts.append(("bow", {"features": "tfidf+nb", "C": 1.0}))
            starts.append(("bow", {"features": "nb", "ngrams": 3, "C": 1.0}))
        if "bow" in kinds:  # naive Bayes (on the counts just made): weak alone, a member that errs elsewhere
            mnb = {"classifier": "mnb", "features": "binary", "ngrams": 3, "min_freq": 1, "alpha": 0.3}
            starts.append(("bow", mnb))
        self.queue = list(starts)
        self.seen = {_key(*start) for start in starts}
        self.best: tuple[str, dict, float] | None = None
        self.by_features: dict[tuple, tuple[float, float]] = {}  # bow feature setting -> (best score, its C)
        self.step = 0
        self.bow_defaults = {**classifier_class("bow")().get_params(), "C": BOW_START_C["tfidf"]}

    def propose(self) -> tuple[str, dict]:
        if self.queue:
            return self.queue.pop(0)
        while True:
            self.step += 1
            if self.step % 2 == 0 and self.best is not None:
                kind, params = _mutate(self.best[0], self.best[1], self.rng, self.binary)
            else:
                kind = self.kinds[int(self.rng.integers(len(self.kinds)))]
                params = _sample(kind, self.rng, self.binary)
            if kind == "bow" and params.get("classifier") != "mnb":  # a new weighting starts from its best C so far
                source = self.best[1] if self.best is not None and self.best[0] == "bow" else {}
                weighting = params.get("features", self.bow_defaults["features"])
                if "C" not in params or weighting != source.get("features", self.bow_defaults["features"]):
                    params["C"] = self._best_c(weighting)
            if self._fresh(kind, params):
                return kind, params

    def tell(self, kind: str, params: dict, score: float) -> None:
        if self.best is None or score > self.best[2]:
            self.best = (kind, params, score)
        if kind != "bow" or params.get("classifier") == "mnb":
            return
        full = {**self.bow_defaults, **params}
        features = tuple(full[name] for name in BOW_FEATURE_PARAMS)
        C = float(params.get("C", self.bow_defaults["C"]))
        previous = self.by_features.get(features)
        if previous is not None and score <= previous[0]:
            return
        self.by_features[features] = (score, C)
        if score < self.best[2] - C_SEARCH_MARGIN:
            return
        if previous is None:
            steps = [C * 3, C / 3]
        else:  # keep going the way that helped
            steps = [C * 3 if C > previous[1] else C / 3]
        for c in steps:
            candidate = {**params, "C": float(np.round(c, 4))}
            if C_RANGE[0] <= c <= C_RANGE[1] and self._fresh("bow", candidate):
                self.queue.insert(0, ("bow", candidate))

    def _best_c(self, weighting: str) -> float:
        scored = [(score, c) for key, (score, c) in self.by_features.items() if key[1] == weighting]
        return max(scored)[1] if scored else BOW_START_C[weighting]

    def _fresh(self, kind: str, params: dict) -> bool:
        key = _key(kind, params)
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


def _key(kind: str, params: dict) -> tuple:
    return (kind, tuple(sorted(params.items())))


def _sample(kind: str, rng: np.random.Generator, binary: bool, classifier: str | None = None) -> dict:
    if kind == "bow":
        classifier = classifier or ("mnb" if rng.random() < 0.2 else "logistic")
        analyzer = "char" if rng.random() < 0.35 else "word"
        if classifier == "mnb":
            return {
                "classifier": "mnb",
                "analyzer": analyzer,
                "ngrams": int(rng.choice([2, 3, 4] if analyzer == "char" else [1, 2, 3])),
                "features": str(rng.choice(["binary", "tfidf"])),
                "min_freq": int(rng.choice([1, 2])),
                "alpha": float(rng.choice([0.1, 0.3, 1.0])),
            }
        return {
            "analyzer": analyzer,
            "ngrams": int(rng.choice([2, 3, 4, 5] if analyzer == "char" else [1, 2, 3])),
            "features": str(rng.choice(["tfidf", "nb", "tfidf+nb"])) if binary else "tfidf",
            "min_freq": int(rng.choice([1, 2, 3])),
        }
    return {
        "ngrams": int(rng.choice([1, 2, 3])),
        "epochs": int(rng.choice([5, 10, 20, 30, 50])),
        "lr": float(np.round(math.exp(rng.uniform(math.log(0.1), math.log(2.0))), 3)),
        "embed_dim": int(rng.choice([10, 30, 100])),
        "min_freq": int(rng.choice([1, 2])),
    }


def _mutate(kind: str, params: dict, rng: np.random.Generator, binary: bool) -> tuple[str, dict]:
    """The best setting with one parameter moved a notch (bow: a feature parameter; C follows by line
    search; the classifier stays)."""
    fresh = _sample(kind, rng, binary, params.get("classifier", "logistic") if kind == "bow" else None)
    fresh.pop("classifier", None)
    out = dict(params)
    name = list(fresh)[int(rng.integers(len(fresh)))]
    if name == "lr":
        base = params.get(name, classifier_class(kind)().get_params()[name])
        out[name] = float(np.round(base * math.exp(rng.normal(0, 0.7)), 3))
    elif name == "ngrams" and params.get("analyzer", "word") != fresh.get("analyzer", "word"):
        out.update(analyzer=fresh["analyzer"], ngrams=fresh["ngrams"])
    else:
        out[name] = fresh[name]
    return kind, out


class EnsemblePool:
    """The held-out class probabilities of every trial, and the best weighted average of them.

    Averaging the probabilities of settings that err on different examples (word and character
    n-grams, NB weights, naive Bayes, fastText) beats each of them; the held-out probabilities are
    at hand, so an ensemble is scored without training anything. Members are chosen by greedy
    forward selection with replacement (Caruana et al. 2004): starting from the best trial, each
    step adds the trial that makes the running average score best, possibly one already in (which
    raises its weight); after ``ENSEMBLE_STEPS`` steps the best prefix is kept. A setting weak
    alone (naive Bayes) can join when it corrects the others.
    """

    def __init__(self, held_out_labels: list[list[str]], classes: list[str], metric: str):
        index = {c: i for i, c in enumerate(classes)}
        self.y = [np.array([index[x] for x in labels]) for labels in held_out_labels]
        self.classes = classes
        self.metric = metric
        self.probas: dict[int, list[np.ndarray]] = {}
        self.scores: dict[int, float] = {}
        self.families: dict[int, tuple] = {}

    def score(self, proba: np.ndarray, split: int) -> float:
        """``metric`` of the most probable classes on held-out split ``split`` (the figures of
        :func:`~textkit.classify.metrics.classification_report`, counted on class indices: the greedy
        search scores thousands of mixes)."""
        return score_indices(self.y[split], proba.argmax(axis=1), len(self.classes), self.metric)

    def _sum_score(self, sums: list[np.ndarray]) -> float:
        return float(np.mean([self.score(total, s) for s, total in enumerate(sums)]))

    def add(self, trial: int, probas: list[np.ndarray], family: tuple) -> None:
        """Record a trial; ``family`` names what it reads and how (a bow feature setting and its
        classifier, or a fastText trial): only the best trial of a family is a candidate, as settings
        that differ only in regularisation make the same mistakes."""
        self.probas[trial] = probas
        self.scores[trial] = self._sum_score(probas)
        self.families[trial] = family

    def best_ensemble(self) -> tuple[list[int], list[int], float] | None:
        """(member trials, their weights, score) of the greedy ensemble, or None when no mix of two
        or more trials beats the best trial."""
        best_of_family: dict[tuple, int] = {}
        for t in sorted(self.scores, key=lambda t: (-self.scores[t], t)):
            best_of_family.setdefault(self.families[t], t)
        pool = sorted(best_of_family.values(), key=lambda t: (-self.scores[t], t))
        if len(pool) < 2:
            return None
        chosen = [pool[0]]
        sums = self.probas[pool[0]]
        best_score, best_length = self.scores[pool[0]], 1
        for _ in range(ENSEMBLE_STEPS - 1):
            top, pick = -math.inf, pool[0]
            for t in pool:  # ties go to the better single trial
                score = self._sum_score([total + p for total, p in zip(sums, self.probas[t])])
                if score > top:
                    top, pick = score, t
            chosen.append(pick)
            sums = [total + p for total, p in zip(sums, self.probas[pick])]
            if top > best_score:
                best_score, best_length = top, len(chosen)
        members = list(dict.fromkeys(chosen[:best_length]))
        if len(members) < 2:
            return None
        weights = [chosen[:best_length].count(t) for t in members]
        return members, weights, best_score


def score_indices(gold: np.ndarray, predicted: np.ndarray, n_classes: int, metric: str) -> float:
    """Accuracy, or the macro-F1 over all ``n_classes`` classes (0 for a class neither in gold nor
    predicted, as scikit-learn's ``zero_division=0``), of class-index arrays."""
    right = predicted == gold
    if metric == "accuracy":
        return float(right.mean())
    true_positives = np.bincount(gold[right], minlength=n_classes)
    totals = np.bincount(gold, minlength=n_classes) + np.bincount(predicted, minlength=n_classes)
    f1 = np.divide(2.0 * true_positives, totals, out=np.zeros(n_classes), where=totals > 0)
    return float(f1.mean())


class CountCache:
    """The n-gram counts of every text, one matrix per (analyzer, longest n-gram), and the feature
    matrices of each bow setting on each split, derived from them.

    Counting is the slow part of a bow trial (the regression is a few Newton steps); the counts do not
    depend on the labels or the split, so each analyzer is counted once over all the texts and every
    split's TF-IDF or NB matrices are column operations on its rows (:func:`split_features`). Holds
    the ``max_counts`` most recently used count matrices and ``max_settings`` feature settings.
    """

    def __init__(self, texts: Sequence[str], tokenizer: Tokenizer, max_counts: int = 2, max_settings: int = 4):
        self.texts = list(texts)
        self.tokenizer = tokenizer
        self.max_counts = max_counts
        self.max_settings = max_settings
        self.counts: OrderedDict[tuple, Any] = OrderedDict()
        self.vocabularies: dict[tuple, dict[str, int]] = {}  # n-gram -> column, of each held count matrix
        self.entries: OrderedDict[tuple, dict[int, tuple]] = OrderedDict()
        self.count_seconds: dict[tuple, float] = {}  # time to count each (analyzer, n-grams) once
        self.build_seconds: dict[tuple, dict[int, float]] = {}  # time to derive a setting's matrices, per split
        self.spent = 0.0  # seconds spent counting and deriving so far

    def has(self, model) -> bool:
        return model._feature_key() in self.entries

    def _counts(self, analyzer: str, ngrams: int):
        key = (analyzer, ngrams)
        counts = self.counts.pop(key, None)
        if counts is None:
            from textkit.features import BagOfWords

            t0 = time.perf_counter()
            counter = BagOfWords(self.tokenizer, analyzer=analyzer, weighting="count", ngram_range=(1, ngrams))
            counts = counter.fit_transform(self.texts).tocsr()
            counts.sort_indices()
            self.vocabularies[key] = counter.vocabulary_
            self.count_seconds[key] = time.perf_counter() - t0
            self.spent += self.count_seconds[key]
        self.counts[key] = counts  # most recently used last
        while len(self.counts) > self.max_counts:
            self.vocabularies.pop(self.counts.popitem(last=False)[0])
        return counts

    def counted(self, model) -> bool:
        """Whether the counts ``model``'s features come from are held."""
        return (model.analyzer, model.ngrams) in self.counts

    def fit_all(self, model, labels: Sequence[str]):
        """Fit bow ``model`` on every text (the rows of the counts) without counting again: the same
        model as ``model.fit(texts, labels)``, its vocabulary in another column order."""
        model._check_params()
        if model.max_vocab is not None:
            raise ValueError("autotune derives bow matrices without a vocabulary limit")
        counts = self._counts(model.analyzer, model.ngrams)
        names = np.empty(counts.shape[1], dtype=object)
        for ngram, column in self.vocabularies[(model.analyzer, model.ngrams)].items():
            names[column] = ngram
        model.labels_, y = encode_labels(labels)
        if model.features in ("nb", "tfidf+nb") and len(model.labels_) != 2:
            raise UsageError(f"NB features need two classes, the data has {len(model.labels_)}; use tfidf features")
        every = np.arange(counts.shape[0])
        X, _, (keep, idf, ratio) = _split_features(counts, every, every[:0], y, model.features, model.min_freq)
        model._install_features(list(names[keep]), idf, ratio)
        model._fit_regression(X, y)
        return model

    def matrices(self, model, index: int, split: tuple[list[int], list[int]], labels: list[str]) -> tuple:
        """(X train, X held-out, y train, classes) of ``model``'s feature setting on split ``index``."""
        if model.max_vocab is not None:
            raise ValueError("autotune derives bow matrices without a vocabulary limit")
        key = model._feature_key()
        per_split = self.entries.pop(key, {})
        self.entries[key] = per_split
        while len(self.entries) > self.max_settings:
            self.entries.popitem(last=False)
        if index not in per_split:
            counts = self._counts(model.analyzer, model.ngrams)
            t0 = time.perf_counter()
            train, held_out = split
            classes, y = encode_labels([labels[i] for i in train])
            if model.features in ("nb", "tfidf+nb") and len(classes) != 2:
                raise UsageError(f"NB features need two classes, the data has {len(classes)}; use tfidf features")
            X, X_held = split_features(counts, train, held_out, y, model.features, model.min_freq)
            per_split[index] = (X, X_held, y, classes)
            self.build_seconds.setdefault(key, {})[index] = time.perf_counter() - t0
            self.spent += self.build_seconds[key][index]
        return per_split[index]


def split_features(counts, train: Sequence[int], held_out: Sequence[int], y: np.ndarray, features: str, min_freq: int):
    """The bow matrices of one split from n-gram counts over all the texts (rows = texts).

    The same matrices, up to the order of the columns, as fitting :class:`~textkit.classify.bow.BagOfWordsClassifier`'s
    features on the ``train`` rows and transforming the ``held_out`` rows: the vocabulary is the n-grams
    in at least ``min_freq`` training texts; TF-IDF is sublinear tf times smoothed idf (training
    document frequencies), rows scaled to unit length; NB is the 0/1 pattern times the log-count
    ratios of the training rows; tfidf+nb is both, side by side; binary is the 0/1 pattern.
    """
    X, X_held, _ = _split_features(counts, train, held_out, y, features, min_freq)
    return X, X_held


def _split_features(counts, train, held_out, y: np.ndarray, features: str, min_freq: int):
    """:func:`split_features`, and what it learned: (kept count columns, IDF or None, NB ratios or None)."""
    from scipy.sparse import diags, hstack
    from sklearn.preprocessing import normalize

    from textkit.classify.bow import _indicators, nb_log_count_ratio

    X, X_held = counts[np.asarray(train, dtype=np.int64)], counts[np.asarray(held_out, dtype=np.int64)]
    df = np.bincount(X.indices, minlength=counts.shape[1])
    keep = np.flatnonzero(df >= min_freq)
    if not len(keep):
        raise EmptyCorpusError(f"no n-gram is in {min_freq} training texts; lower min_freq or check the texts")
    X, X_held = X[:, keep], X_held[:, keep]
    if features == "binary":
        return _indicators(X), _indicators(X_held), (keep, None, None)
    ratio = nb_log_count_ratio(_indicators(X), y) if features in ("nb", "tfidf+nb") else None
    if features == "nb":
        scale = diags(ratio)
        return (_indicators(X) @ scale).tocsr(), (_indicators(X_held) @ scale).tocsr(), (keep, None, ratio)
    idf = np.log((1.0 + X.shape[0]) / (1.0 + df[keep])) + 1.0

    def tfidf(M):
        M = M.astype(np.float64)
        M.data = 1.0 + np.log(M.data)
        M = M @ diags(idf)
        return normalize(M) if M.shape[0] else M  # (no held-out rows when fitting on all the data)

    T, T_held = tfidf(X), tfidf(X_held)
    if features == "tfidf":
        return T.tocsr(), T_held.tocsr(), (keep, idf, None)
    scale = diags(ratio)
    return (
        hstack([T, _indicators(X) @ scale], format="csr"),
        hstack([T_held, _indicators(X_held) @ scale], format="csr"),
        (keep, idf, ratio),
    )


def autotune(
    texts: Sequence[str],
    labels: Sequence,
    tokenizer: str | Tokenizer = "en",
    duration: float = 180.0,
    metric: str = "accuracy",
    seed: int = 0,
    validation_fraction: float = 0.2,
    folds: int | None = None,
    kinds: Sequence[str] = KINDS,
    max_trials: int | None = None,
    threads: int | None = None,
    log: Callable[[str], None] | None = None,
) -> tuple[TextClassifier, dict[str, Any]]:
    """Search ``kinds`` x features x hyperparameters for ``duration`` seconds; refit the best on all data.

    Settings are scored by ``metric`` (``accuracy`` or ``macro_f1``) by ``folds``-fold
    cross-validation or, with ``folds=0``, on a seeded stratified ``validation_fraction`` split. The
    default (``folds=None``) is 5 folds below 2000 examples, 3 below 50000 and the split above. With
    folds, ensembles are chosen on held-out probabilities of every example. ``log`` receives one line
    per trial (default: stderr).

    Returns the refitted model and a report: ``metric``, ``protocol``, ``trials`` (each with kind,
    params, score, seconds and, with folds, ``split_scores``; a trial stopped before the last split,
    far behind the leader or out of time, has score None and says why in ``stopped``), ``best``,
    ``refit_seconds`` and ``total_seconds``.
    """
    if metric not in METRICS:
        raise UsageError(f"metric must be one of {', '.join(METRICS)}, not {metric!r}")
    if not duration > 0:
        raise UsageError(f"duration must be positive, not {duration}")
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown or not set(kinds) - {"ensemble"}:
        raise UsageError(f"kinds must be among {', '.join(KINDS)}, not {list(kinds)}")
    if max_trials is not None and max_trials < 1:
        raise UsageError(f"max_trials must be at least 1, not {max_trials}")
    say = log or (lambda line: print(line, file=sys.stderr, flush=True))
    texts = check_texts(texts, len(labels))
    classes, _ = encode_labels(labels)
    data = LabelledTexts(list(texts), [str(x) for x in labels])
    start = _clock()
    if folds is None:
        folds = FOLDS if len(data) < SMALL_DATA else MEDIUM_FOLDS if len(data) < MEDIUM_DATA else 0
        folds = min(folds, min(data.labels.count(c) for c in classes))
        folds = folds if folds >= 2 else 0
    if folds:
        split_indices = k_fold_indices(data.labels, folds, seed=seed)
        protocol = f"{folds}-fold cross-validation"
    else:
        split_indices = [validation_indices(data.labels, validation_fraction, seed=seed)]
        protocol = f"validation split ({validation_fraction:g})"
    splits = [(data.subset(train), data.subset(held_out)) for train, held_out in split_indices]
    original = get_tokenizer(tokenizer)
    cached = CachedTokenizer(original)
    import os

    workers = threads or os.cpu_count() or 1
    cached.fill(data.texts, workers)
    say(f"autotune: {len(data)} examples, {len(classes)} classes; {protocol}; tokenized in {_clock() - start:.1f} s")
    trials: list[dict[str, Any]] = []
    best: dict[str, Any] | None = None
    slowest_seconds: dict[str, float] = {}
    search = Search(len(classes), original.spec, seed, [k for k in kinds if k != "ensemble"])
    # Feature matrices of about four splits in memory, as many as a held-out split's four settings.
    cache = CountCache(data.texts, cached, max_settings=max(1, 4 // len(splits)))
    pool = EnsemblePool([held_out.labels for _, held_out in splits], classes, metric)
    tried: set[tuple] = set()  # member lists already reported
    skipped_kinds: set[str] = set()
    leader_first = -math.inf  # the best first-split score of a trial scored on every split
    # Refitting on all the data: each trial's fitting work (per split, scaled from a split's training
    # part to all the data), and the counts it reads (bow), made again if no longer held.
    refit_work: dict[int, tuple[float, tuple | None]] = {}
    scale = folds / (folds - 1) if folds else 1 / (1 - validation_fraction)

    def refit_seconds(members: list[int]) -> float:
        recount = {refit_work[t][1] for t in members} - {None} - set(cache.counts)
        return REFIT_MARGIN * (sum(refit_work[t][0] for t in members) + sum(cache.count_seconds[k] for k in recount))

    while max_trials is None or len(trials) < max_trials:
        kind, params = search.propose()
        elapsed = _clock() - start
        # Stop before a trial that would not finish, leaving time for the refit on all the data.
        model = _make(kind, params, cached, seed, threads)
        timing = "bow, cached features" if kind == "bow" and cache.has(model) else kind
        expected = slowest_seconds.get(timing, 0.0)
        if kind == "fasttext":  # its settings change its cost by 100x: scale the costliest rate seen
            expected = max(expected, slowest_seconds.get("fasttext per unit", 0.0) * _fasttext_units(model))
        refit = refit_seconds([] if best is None else best.get("members", [best["trial"]]))
        if trials and elapsed + expected + refit > duration:
            skipped_kinds.add(kind)
            if skipped_kinds >= set(search.kinds):
                break
            continue
        t0 = _clock()
        spent_before = cache.spent
        scores, probas, stopped = [], [], None
        # Naive Bayes is there to join ensembles, where a setting weak alone can still help: it runs
        # every split (cheap: a pass over the counts).
        race = len(splits) > 1 and not (kind == "bow" and params.get("classifier") == "mnb" and "ensemble" in kinds)
        for index, (train, held_out) in enumerate(splits):
            model = _make(kind, params, cached, seed, threads)
            if kind == "bow":
                model._check_params()
                X, X_held, y, model.labels_ = cache.matrices(model, index, split_indices[index], data.labels)
                model._fit_regression(X, y)
                proba = model.regression_.predict_proba(X_held)
            else:
                proba = model.fit(train.texts, train.labels).predict_proba(held_out.texts)
            proba = proba[:, [model.labels_.index(c) for c in classes]]  # columns in one order for all trials
            probas.append(proba)
            scores.append(pool.score(proba, index))
            if index == 0 and race and scores[0] < leader_first - RACE_MARGIN:
                stopped = f"{RACE_MARGIN:g} or more behind the leader on the first split"
                break  # clearly behind on the first split: not worth the others
            left = len(splits) - index - 1
            per_split = (_clock() - t0) / (index + 1)
            if left and best is not None and _clock() - start + per_split * left + refit > duration:
                stopped = "out of time"  # a setting slower than its kind's earlier ones: the budget holds
                break
        seconds = _clock() - t0
        complete = len(scores) == len(splits)
        # What a trial of this kind may cost, for the check before the next one (a stopped trial's splits
        # tell it too).
        slowest_seconds[timing] = max(seconds / len(scores) * len(splits), slowest_seconds.get(timing, 0.0))
        if kind == "fasttext":
            rate = seconds / len(scores) * len(splits) / _fasttext_units(model)
            slowest_seconds["fasttext per unit"] = max(rate, slowest_seconds.get("fasttext per unit", 0.0))
        if complete:
            leader_first = max(leader_first, scores[0])
        # The refit on all the data: the splits' work, scaled to all the data, plus counting where the
        # counts are no longer held (bow); a bow trial may have found its matrices made.
        work = seconds - (cache.spent - spent_before)  # fitting alone
        if kind == "bow":  # and deriving the matrices of every split (perhaps made by an earlier trial)
            work += sum(cache.build_seconds.get(model._feature_key(), {}).values())
        refit_work[len(trials) + 1] = (
            max(work, 0.0) / len(splits) * scale,
            (model.analyzer, model.ngrams) if kind == "bow" else None,
        )
        trial = {
            "trial": len(trials) + 1,
            "kind": kind,
            "params": params,
            "score": float(np.mean(scores)) if complete else None,  # None: not scored on every split
            "seconds": round(seconds, 3),
        }
        if len(splits) > 1:
            trial["split_scores"] = [float(x) for x in scores]
        if not complete:
            trial["stopped"] = stopped
        trials.append(trial)
        improved = complete and (best is None or trial["score"] > best["score"])
        if improved:
            best = trial
        if not complete:
            say(
                f"autotune: trial {trial['trial']:3d} {kind:8s} {metric} {np.mean(scores):.4f} on {len(scores)} of "
                f"{len(splits)} splits, stopped: {stopped} ({seconds:.1f} s) {_describe(params)}"
            )
            continue
        search.tell(kind, params, trial["score"])
        say(
            f"autotune: trial {trial['trial']:3d} {kind:8s} {metric} {trial['score']:.4f}{' *' if improved else '  '} "
            f"({seconds:.1f} s) {_describe(params)}"
        )
        if "ensemble" not in kinds:
            continue
        pool.add(trial["trial"], probas, model._family() if kind == "bow" else (trial["trial"],))
        ensemble = pool.best_ensemble()
        if ensemble is not None and ensemble[2] > best["score"] and (key := tuple(zip(*ensemble[:2]))) not in tried:
            members, weights, score = ensemble
            tried.add(key)
            if _clock() - start + refit_seconds(members) > duration:
                continue  # no time left to refit this many members
            member_trials = [trials[i - 1] for i in members]
            trial = {
                "trial": len(trials) + 1,
                "kind": "ensemble",
                "params": {
                    "members": [{"model": t["kind"], **t["params"]} for t in member_trials],
                    "weights": [float(w) for w in weights],
                },
                "members": members,
                "score": score,
                "seconds": 0.0,
            }
            trials.append(trial)
            best = trial
            say(
                f"autotune: trial {trial['trial']:3d} ensemble {metric} {score:.4f} * (held-out probabilities of "
                f"trials {', '.join(f'{t} x{w}' if w > 1 else str(t) for t, w in zip(members, weights))} averaged)"
            )
    assert best is not None
    t0 = _clock()
    model = _make(best["kind"], best["params"], cached, seed, threads)
    if best["kind"] == "ensemble":  # members that read held counts first, then by the counts they read
        model._check_params()
        model.labels_, _ = encode_labels(data.labels)
        members = [model._member(spec) for spec in model.members]
        order = sorted(range(len(members)), key=lambda i: _count_order(members[i], cache))
        fitted = {i: _refit(members[i], data, cache) for i in order}
        model._set_members([fitted[i] for i in range(len(members))])
    else:
        _refit(model, data, cache)
    _swap_tokenizer(model, tokenizer if isinstance(tokenizer, Tokenizer) else original.spec, original)
    refit_seconds = _clock() - t0
    say(
        f"autotune: best {best['kind']} {_describe(best['params'])}: {metric} {best['score']:.4f}; "
        f"refit on {len(data)} examples in {refit_seconds:.1f} s"
    )
    report = {
        "metric": metric,
        "protocol": protocol,
        "seed": seed,
        "duration": duration,
        "n": len(data),
        "trials": trials,
        "best": best,
        "refit_seconds": round(refit_seconds, 3),
        "total_seconds": round(_clock() - start, 3),
    }
    return model, report


def _refit(model: TextClassifier, data: LabelledTexts, cache: CountCache) -> TextClassifier:
    """Fit ``model`` on all the data; bow reads the counts the trials made instead of counting again."""
    if model.kind == "bow":
        return cache.fit_all(model, data.labels)
    return model.fit(data.texts, data.labels)


def _fasttext_units(model: TextClassifier) -> float:
    """What a fastText fit's time grows with: passes, embedding size and the n-grams each word adds."""
    return float(model.epochs * model.embed_dim * model.ngrams)


def _count_order(model: TextClassifier, cache: CountCache) -> tuple:
    if model.kind != "bow":
        return (2,)
    return (0 if cache.counted(model) else 1, model.analyzer, model.ngrams)


def _make(kind: str, params: dict, tokenizer: Tokenizer, seed: int, threads: int | None) -> TextClassifier:
    extra: dict[str, Any] = {"tokenizer": tokenizer, "seed": seed}
    if kind == "fasttext":
        extra.update(progress=False, threads=threads)
    if kind == "ensemble" and threads is not None:
        members = [{**m, "threads": threads} if m["model"] == "fasttext" else m for m in params["members"]]
        params = {**params, "members": members}
    return make_classifier(kind, **extra, **params)


def _swap_tokenizer(model: TextClassifier, spec: str | Tokenizer, tokenizer: Tokenizer) -> None:
    """Point a model fitted through the token cache back at the plain tokenizer (what it saves)."""
    for member in getattr(model, "members_", []):
        _swap_tokenizer(member, spec, tokenizer)
    model.set_params(tokenizer=spec)
    features = getattr(model, "features_", None)
    if features is not None:
        features.set_params(tokenizer=spec)
        analyzer = features.vectorizer_.analyzer
        if hasattr(analyzer, "tokenizer"):
            analyzer.tokenizer = tokenizer


def _describe(params: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(params.items())) or "(defaults)"
