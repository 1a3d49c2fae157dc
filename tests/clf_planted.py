"""A planted-signal classification set for the classifier tests: filler words plus one class word."""

from __future__ import annotations

import random

FILLER = "the a of film story plot actor scene time people movie one was is and it this that".split()
SIGNAL = {
    "pos": ["wonderful", "superb", "delight"],
    "neg": ["dreadful", "awful", "tedious"],
    "mid": ["average", "passable", "okay"],
}


def planted(n: int, seed: int, length: tuple[int, int] = (4, 10)) -> tuple[list[str], list[str]]:
    """``n`` texts whose label is given by exactly one signal word among random filler (chance: 1/3)."""
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(n):
        label = rng.choice(sorted(SIGNAL))
        words = [rng.choice(FILLER) for _ in range(rng.randint(*length))]
        words.insert(rng.randrange(len(words) + 1), rng.choice(SIGNAL[label]))
        texts.append(" ".join(words))
        labels.append(label)
    return texts, labels
