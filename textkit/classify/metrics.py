"""Evaluation of a classifier: accuracy, macro-F1, per-class precision/recall/F1, confusion matrix.

The figures come from scikit-learn's metrics. Gold labels the model never saw in training are
kept: they appear as rows of the confusion matrix, can never be predicted, and so count as errors.

>>> report = evaluate(model, test.texts, test.labels)
>>> report["accuracy"], report["macro_f1"], report["n"]
(0.91, 0.90, 2000)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from textkit.errors import EmptyCorpusError
from textkit.io import PathLike


def classification_report(gold: Sequence[str], predicted: Sequence[str], model_labels: Sequence[str]) -> dict[str, Any]:
    """Scores of ``predicted`` against ``gold`` (both strings).

    Returns ``accuracy``, ``macro_f1`` (over every label seen in gold or predictions), ``n``,
    ``labels`` (the order of the matrix), ``per_class`` ({label: precision, recall, f1, support}),
    ``confusion`` (rows gold, columns predicted) and ``unseen_labels`` (gold labels not in the model).
    """
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    from textkit.datasets.labelled import sort_labels

    gold, predicted = [str(x) for x in gold], [str(x) for x in predicted]
    if not gold:
        raise EmptyCorpusError("no examples to evaluate")
    unseen = sort_labels(set(gold) - set(model_labels))
    labels = list(model_labels) + unseen
    precision, recall, f1, support = precision_recall_fscore_support(gold, predicted, labels=labels, zero_division=0)
    return {
        "accuracy": float(accuracy_score(gold, predicted)),
        "macro_f1": float(f1_score(gold, predicted, labels=labels, average="macro", zero_division=0)),
        "n": len(gold),
        "labels": labels,
        "per_class": {
            label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for label, p, r, f, s in zip(labels, precision, recall, f1, support)
        },
        "confusion": confusion_matrix(gold, predicted, labels=labels).tolist(),
        "unseen_labels": unseen,
    }


def evaluate(model, texts: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """Predict ``texts`` with ``model`` and score against ``labels`` (see :func:`classification_report`)."""
    return classification_report(labels, model.predict(list(texts)), model.labels_)


def format_report(report: dict[str, Any]) -> str:
    """A plain-text report: headline figures, per-class table, confusion matrix."""
    labels = report["labels"]
    width = max(8, *(len(x) for x in labels))
    lines = [f"accuracy {report['accuracy']:.4f}   macro-F1 {report['macro_f1']:.4f}   n {report['n']}", ""]
    lines.append(f"{'label':<{width}}  precision  recall     f1  support")
    for label in labels:
        c = report["per_class"][label]
        lines.append(f"{label:<{width}}  {c['precision']:9.4f}  {c['recall']:6.4f}  {c['f1']:.4f}  {c['support']:7d}")
    lines += ["", "confusion matrix (rows: gold, columns: predicted)"]
    cells = max(5, *(len(str(v)) for row in report["confusion"] for v in row), *(len(x) for x in labels))
    lines.append(" " * width + "  " + " ".join(f"{x:>{cells}}" for x in labels))
    for label, row in zip(labels, report["confusion"]):
        lines.append(f"{label:<{width}}  " + " ".join(f"{v:>{cells}d}" for v in row))
    if report["unseen_labels"]:
        lines += ["", f"labels absent from training (always wrong): {', '.join(report['unseen_labels'])}"]
    return "\n".join(lines)


def plot_confusion(report: dict[str, Any], path: PathLike, title: str = "confusion matrix") -> None:
    """Draw the confusion matrix (a PNG, or the format the suffix names), written atomically."""
    from textkit.plotting import figure

    matrix = np.asarray(report["confusion"])
    labels = report["labels"]
    size = 2.5 + 0.45 * len(labels)
    with figure(path, size=(size, size)) as (fig, ax):
        ax.imshow(matrix, cmap="Blues")
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("gold")
        ax.set_title(f"{title} (accuracy {report['accuracy']:.3f})")
        threshold = matrix.max() / 2 if matrix.size else 0
        for (i, j), v in np.ndenumerate(matrix):
            ax.text(j, i, str(v), ha="center", va="center", color="white" if v > threshold else "black", fontsize=8)
