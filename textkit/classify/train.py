"""Training recipes on top of the models: a held-out validation split, and k-fold cross-validation.

>>> model, info = train_classifier("fasttext", data, validation_fraction=0.1, seed=0, epochs=5)
>>> info["validation"]["accuracy"]
>>> cross_validate("bow", small_data, folds=5)["accuracy_mean"]
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from textkit.classify.base import TextClassifier, make_classifier
from textkit.classify.metrics import classification_report, evaluate
from textkit.datasets.labelled import LabelledTexts, k_folds, train_validation_split


def train_classifier(
    kind: str, data: LabelledTexts, validation_fraction: float = 0.1, seed: int = 0, **params
) -> tuple[TextClassifier, dict[str, Any]]:
    """Fit a ``kind`` model on ``data`` less a seeded validation split, which drives early stopping
    (models with epochs) and is scored. ``validation_fraction=0`` trains on everything.

    Returns the model and ``{n_train, n_validation, train_seconds, validation: report, history}``.
    """
    valid = None
    train = data
    if validation_fraction > 0:
        train, valid = train_validation_split(data, validation_fraction, seed=seed)
    model = make_classifier(kind, seed=seed, **params)
    start = time.perf_counter()
    model.fit(train.texts, train.labels, validation=(valid.texts, valid.labels) if valid is not None else None)
    info: dict[str, Any] = {
        "n_train": len(train),
        "n_validation": len(valid) if valid is not None else 0,
        "train_seconds": time.perf_counter() - start,
    }
    if valid is not None:
        proba = getattr(model, "validation_proba_", None)  # kept by models that scored it already
        if proba is not None and len(proba) == len(valid):
            predicted = [model.labels_[i] for i in proba.argmax(axis=1)]
            info["validation"] = _headline(classification_report(valid.labels, predicted, model.labels_))
        else:
            info["validation"] = _headline(evaluate(model, valid.texts, valid.labels))
    if hasattr(model, "history_"):
        info["history"] = model.history_
    return model, info


def cross_validate(kind: str, data: LabelledTexts, folds: int = 5, seed: int = 0, **params) -> dict[str, Any]:
    """Seeded, stratified ``folds``-fold cross-validation: each fold trains on the rest, scores itself.

    Returns per-fold ``accuracy`` and ``macro_f1`` lists and their mean and standard deviation.
    """
    scores = []
    for train, held_out in k_folds(data, folds, seed=seed):
        model = make_classifier(kind, seed=seed, **params).fit(train.texts, train.labels)
        scores.append(_headline(evaluate(model, held_out.texts, held_out.labels)))
    out: dict[str, Any] = {"folds": folds, "n": len(data)}
    for key in ("accuracy", "macro_f1"):
        values = [s[key] for s in scores]
        out[key] = values
        out[f"{key}_mean"] = float(np.mean(values))
        out[f"{key}_std"] = float(np.std(values))
    return out


def _headline(report: dict[str, Any]) -> dict[str, Any]:
    return {k: report[k] for k in ("accuracy", "macro_f1", "n")}
