"""Labelled texts and their seeded splits: what classifiers train on, whatever loaded it.

This module holds the data type and the splits only, so that training code can use them without
importing the dataset loaders (hub, release layouts, file formats) in
:mod:`textkit.datasets.classification`.

>>> data = LabelledTexts(["good film", "dull film", "fine"], ["pos", "neg", "pos"])
>>> train, valid = train_validation_split(data, 0.34, seed=0)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from textkit.errors import UsageError


@dataclass
class LabelledTexts:
    """Parallel lists: ``texts[i]`` carries label ``labels[i]`` (a string)."""

    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: Sequence[int]) -> LabelledTexts:
        """The examples at ``indices``, in that order."""
        return LabelledTexts([self.texts[i] for i in indices], [self.labels[i] for i in indices])

    def label_set(self) -> list[str]:
        """The distinct labels, sorted (numerically when all labels are integers)."""
        return sort_labels(set(self.labels))


def sort_labels(labels) -> list[str]:
    """Sort label strings, numerically when every one is an integer ("2" before "10")."""
    labels = list(labels)
    if labels and all(is_int(x) for x in labels):
        return sorted(labels, key=int)
    return sorted(labels)


def is_int(s: str) -> bool:
    try:
        int(s)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------- validation splits and folds


def train_validation_split(data: LabelledTexts, fraction: float, seed: int = 0) -> tuple[LabelledTexts, LabelledTexts]:
    """Carve a seeded, stratified validation split of ``fraction`` of the examples from ``data``.

    Stratification falls back to a plain shuffle when some class has a single example.

    >>> train, valid = train_validation_split(data, 0.1, seed=1)
    """
    train_idx, valid_idx = validation_indices(data.labels, fraction, seed)
    return data.subset(train_idx), data.subset(valid_idx)


def validation_indices(labels: Sequence[str], fraction: float, seed: int = 0) -> tuple[list[int], list[int]]:
    """The (train, validation) example indices of :func:`train_validation_split`."""
    from sklearn.model_selection import train_test_split

    if not 0 < fraction < 1:
        raise UsageError(f"validation fraction must lie in (0, 1), not {fraction}")
    n = len(labels)
    n_valid = max(1, round(n * fraction))
    if n - n_valid < 2:
        raise UsageError(f"{n} examples are too few to hold out a validation split")
    counts = _label_counts(labels)
    stratify = list(labels) if min(counts.values()) >= 2 and n_valid >= len(counts) else None
    train_idx, valid_idx = train_test_split(range(n), test_size=n_valid, random_state=seed, stratify=stratify)
    return list(train_idx), list(valid_idx)


def k_folds(data: LabelledTexts, k: int, seed: int = 0) -> Iterator[tuple[LabelledTexts, LabelledTexts]]:
    """Yield ``k`` (train, held-out) pairs of seeded, stratified folds (plain folds if a class is too small).

    >>> accuracies = [fit_and_score(tr, te) for tr, te in k_folds(data, 5)]
    """
    for train_idx, test_idx in k_fold_indices(data.labels, k, seed):
        yield data.subset(train_idx), data.subset(test_idx)


def k_fold_indices(labels: Sequence[str], k: int, seed: int = 0) -> list[tuple[list[int], list[int]]]:
    """The (train, held-out) example indices of the folds of :func:`k_folds`."""
    from sklearn.model_selection import KFold, StratifiedKFold

    if k < 2:
        raise UsageError(f"k-fold cross-validation needs at least 2 folds, not {k}")
    if k > len(labels):
        raise UsageError(f"{k} folds are more than the {len(labels)} examples")
    counts = _label_counts(labels)
    splitter = (
        StratifiedKFold(k, shuffle=True, random_state=seed)
        if min(counts.values()) >= k
        else KFold(k, shuffle=True, random_state=seed)
    )
    return [(list(tr), list(te)) for tr, te in splitter.split(list(range(len(labels))), list(labels))]


def _label_counts(labels: Sequence[str]) -> dict[str, int]:
    from collections import Counter

    return dict(Counter(labels))
