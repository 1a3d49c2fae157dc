"""Automatic model selection: search classifier kind, features and hyperparameters in a time budget.

:func:`autotune` scores candidate settings of ``bow`` and ``fasttext`` on held-out data (a
validation split, or k folds when the data is small), keeps the best by ``metric``, and refits it on
all the data. The candidates come in a fixed order drawn from ``seed``: first the defaults and a few
strong starting points, then random settings alternating with small changes to the best so far. The
budget decides how many of them run, so two runs with the same seed agree on every trial both
reached; ``max_trials`` makes a run independent of the machine's speed.

Tokenization happens once: every trial reads tokens from a shared cache.

>>> model, report = autotune(texts, labels, tokenizer="zh", duration=120, metric="macro_f1")
>>> report["best"]["kind"], report["best"]["params"], report["best"]["score"]
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from textkit.classify.base import TextClassifier, check_texts, classifier_class, encode_labels, make_classifier
from textkit.classify.metrics import classification_report
from textkit.datasets.labelled import LabelledTexts, k_folds, train_validation_split
from textkit.errors import UsageError
from textkit.tokenize import Tokenizer, get_tokenizer

METRICS = ("accuracy", "macro_f1")
KINDS = ("bow", "fasttext")
# Below this many examples one validation split is too noisy to rank settings: use k folds.
SMALL_DATA = 2000
FOLDS = 5


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


def candidates(n_classes: int, lang_hint: str, seed: int, kinds: Sequence[str] = KINDS):
    """Endless, seeded sequence of ``(kind, params)``; ``best()`` (set by the caller) steers exploitation."""
    rng = np.random.default_rng(seed)
    binary = n_classes == 2
    chinese = lang_hint == "zh"
    starts: list[tuple[str, dict]] = []
    if "bow" in kinds:
        starts.append(("bow", {}))
        if binary:
            starts.append(("bow", {"features": "nb", "ngrams": 3}))
        if chinese:
            starts.append(("bow", {"analyzer": "char", "ngrams": 3}))
    if "fasttext" in kinds:
        starts.append(("fasttext", {}))
    seen = {_key(*start) for start in starts}
    state = {"best": starts[0]}
    for start in starts:
        best = yield start
        if best is not None:
            state["best"] = best
    step = 0
    while True:
        step += 1
        if step % 2 == 0:
            kind, params = _mutate(*state["best"], rng, binary)
        else:
            kind = kinds[int(rng.integers(len(kinds)))]
            params = _sample(kind, rng, binary)
        key = _key(kind, params)
        if key in seen:
            continue
        seen.add(key)
        best = yield kind, params
        if best is not None:
            state["best"] = best


def _key(kind: str, params: dict) -> tuple:
    return (kind, tuple(sorted(params.items())))


def _sample(kind: str, rng: np.random.Generator, binary: bool) -> dict:
    if kind == "bow":
        analyzer = "char" if rng.random() < 0.35 else "word"
        return {
            "analyzer": analyzer,
            "ngrams": int(rng.choice([2, 3, 4, 5] if analyzer == "char" else [1, 2, 3])),
            "features": "nb" if binary and rng.random() < 0.5 else "tfidf",
            "min_freq": int(rng.choice([1, 2, 3])),
            "C": float(np.round(math.exp(rng.uniform(math.log(3), math.log(300))), 2)),
        }
    return {
        "ngrams": int(rng.choice([1, 2, 3])),
        "epochs": int(rng.choice([5, 10, 20, 30, 50])),
        "lr": float(np.round(math.exp(rng.uniform(math.log(0.1), math.log(2.0))), 3)),
        "embed_dim": int(rng.choice([10, 30, 100])),
        "min_freq": int(rng.choice([1, 2])),
    }


def _mutate(kind: str, params: dict, rng: np.random.Generator, binary: bool) -> tuple[str, dict]:
    """The best setting with one parameter moved a notch."""
    fresh = _sample(kind, rng, binary)
    out = dict(params)
    name = list(fresh)[int(rng.integers(len(fresh)))]
    if name == "C" or name == "lr":
        base = params.get(name, classifier_class(kind)().get_params()[name])
        out[name] = float(np.round(base * math.exp(rng.normal(0, 0.7)), 3))
    elif name == "ngrams" and params.get("analyzer", "word") != fresh.get("analyzer", "word"):
        out.update(analyzer=fresh["analyzer"], ngrams=fresh["ngrams"])
    else:
        out[name] = fresh[name]
    return kind, out


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

    Settings are scored by ``metric`` (``accuracy`` or ``macro_f1``) on a seeded stratified
    ``validation_fraction`` split, or by ``folds``-fold cross-validation (the default below
    2000 examples). ``log`` receives one line per trial (default: stderr).

    Returns the refitted model and a report: ``metric``, ``protocol``, ``trials`` (each with kind,
    params, score, seconds), ``best`` and ``refit_seconds``.
    """
    if metric not in METRICS:
        raise UsageError(f"metric must be one of {', '.join(METRICS)}, not {metric!r}")
    if not duration > 0:
        raise UsageError(f"duration must be positive, not {duration}")
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown or not kinds:
        raise UsageError(f"kinds must be among {', '.join(KINDS)}, not {list(kinds)}")
    if max_trials is not None and max_trials < 1:
        raise UsageError(f"max_trials must be at least 1, not {max_trials}")
    say = log or (lambda line: print(line, file=sys.stderr, flush=True))
    texts = check_texts(texts, len(labels))
    classes, _ = encode_labels(labels)
    data = LabelledTexts(list(texts), [str(x) for x in labels])
    start = time.perf_counter()
    if folds is None and len(data) < SMALL_DATA:
        folds = min(FOLDS, min(data.labels.count(c) for c in classes))
        folds = folds if folds >= 2 else None
    if folds:
        splits = list(k_folds(data, folds, seed=seed))
        protocol = f"{folds}-fold cross-validation"
    else:
        splits = [train_validation_split(data, validation_fraction, seed=seed)]
        protocol = f"validation split ({validation_fraction:g})"
    original = get_tokenizer(tokenizer)
    cached = CachedTokenizer(original)
    import os

    workers = threads or os.cpu_count() or 1
    cached.fill(data.texts, workers)
    say(
        f"autotune: {len(data)} examples, {len(classes)} classes; {protocol}; "
        f"tokenized in {time.perf_counter() - start:.1f} s"
    )
    trials: list[dict[str, Any]] = []
    best: dict[str, Any] | None = None
    slowest_seconds: dict[str, float] = {}
    generator = candidates(len(classes), original.spec, seed, kinds)
    proposal = next(generator)
    skipped_kinds: set[str] = set()
    while True:
        kind, params = proposal
        elapsed = time.perf_counter() - start
        # Stop before a trial that would not finish, leaving time for the refit on all the data.
        expected = slowest_seconds.get(kind, 0.0)
        refit = (best or {}).get("seconds", 0.0) / max(len(splits), 1) * 1.25
        if max_trials is not None and len(trials) >= max_trials:
            break
        if trials and elapsed + expected + refit > duration:
            skipped_kinds.add(kind)
            if skipped_kinds >= set(kinds):
                break
            proposal = generator.send(None)
            continue
        t0 = time.perf_counter()
        scores = []
        for train, held_out in splits:
            model = _make(kind, params, cached, seed, threads)
            model.fit(train.texts, train.labels)
            report = classification_report(held_out.labels, model.predict(held_out.texts), model.labels_)
            scores.append(report[metric])
        seconds = time.perf_counter() - t0
        slowest_seconds[kind] = max(seconds, slowest_seconds.get(kind, 0.0))
        trial = {
            "trial": len(trials) + 1,
            "kind": kind,
            "params": params,
            "score": float(np.mean(scores)),
            "seconds": round(seconds, 3),
        }
        if len(scores) > 1:
            trial["score_std"] = float(np.std(scores))
        trials.append(trial)
        improved = best is None or trial["score"] > best["score"]
        if improved:
            best = trial
        say(
            f"autotune: trial {trial['trial']:3d} {kind:8s} {metric} {trial['score']:.4f}{' *' if improved else '  '} "
            f"({seconds:.1f} s) {_describe(params)}"
        )
        proposal = generator.send((best["kind"], best["params"]) if improved else None)
    assert best is not None
    t0 = time.perf_counter()
    model = _make(best["kind"], best["params"], cached, seed, threads)
    model.fit(data.texts, data.labels)
    _swap_tokenizer(model, tokenizer if isinstance(tokenizer, Tokenizer) else original.spec, original)
    refit_seconds = time.perf_counter() - t0
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
        "total_seconds": round(time.perf_counter() - start, 3),
    }
    return model, report


def _make(kind: str, params: dict, tokenizer: Tokenizer, seed: int, threads: int | None) -> TextClassifier:
    extra: dict[str, Any] = {"tokenizer": tokenizer, "seed": seed}
    if kind == "fasttext":
        extra.update(progress=False, threads=threads)
    return make_classifier(kind, **extra, **params)


def _swap_tokenizer(model: TextClassifier, spec: str | Tokenizer, tokenizer: Tokenizer) -> None:
    """Point a model fitted through the token cache back at the plain tokenizer (what it saves)."""
    model.set_params(tokenizer=spec)
    features = getattr(model, "features_", None)
    if features is not None:
        features.set_params(tokenizer=spec)
        analyzer = features.vectorizer_.analyzer
        if hasattr(analyzer, "tokenizer"):
            analyzer.tokenizer = tokenizer


def _describe(params: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(params.items())) or "(defaults)"
