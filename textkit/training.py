"""The one gradient-descent loop that textkit's torch models train with.

Neural language models (:mod:`textkit.lm.train`) and recurrent classifiers
(:mod:`textkit.classify.rnn`) differ in how they cut data into batches and what a batch's loss is;
the step itself is the same and lives here, written out like the textbook:

1. ``optimizer.zero_grad()``;
2. the caller's ``loss_of(batch)`` (forward pass and loss);
3. a non-finite loss stops training *before* it can reach the weights (:class:`TrainingDiverged`);
4. ``loss.backward()``, ``clip_grad_norm_`` (the global norm, if ``clip``), ``optimizer.step()``.

:class:`EarlyStopping` keeps the best validation figure and counts epochs without improvement;
:func:`log` sends per-epoch lines to stderr (stdout is for results, e.g. ``--json``);
:func:`progress_bar` is a tqdm bar on stderr; :func:`check_writable_folder` fails before training
rather than after it. Checkpoints and data-parallel training are the LM
trainer's (:mod:`textkit.lm.train`, :mod:`textkit.lm.distributed`).

>>> for index, loss, items in train_steps(batches, loss_of, optimizer, model.parameters(), clip=0.25):
...     total += loss * items
"""

from __future__ import annotations

import math
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from textkit.errors import OutputError, TextkitError
from textkit.io import PathLike


class TrainingDiverged(TextkitError):
    """The loss became NaN or infinite."""


def train_steps(
    batches: Iterable[Any],
    loss_of: Callable[[Any], tuple[Tensor, int]],
    optimizer: torch.optim.Optimizer,
    parameters: Iterable[nn.Parameter],
    clip: float | None = None,
    skip: int = 0,
) -> Iterator[tuple[int, float, int]]:
    """Take one optimizer step per batch; yield ``(batch_index, loss_value, items)`` after each.

    ``loss_of(batch)`` returns the mean loss and how many items (tokens, texts) it averages over.
    The first ``skip`` batches are drawn but not trained on (a run resumed mid-epoch). A NaN or
    infinite loss raises :class:`TrainingDiverged` before the step, so the weights stay finite.
    """
    parameters = [p for p in parameters if p.requires_grad]
    for index, batch in enumerate(batches):
        if index < skip:
            continue
        optimizer.zero_grad(set_to_none=True)
        loss, items = loss_of(batch)
        value = float(loss.detach())
        if not math.isfinite(value):
            raise TrainingDiverged(f"the loss became {value} at batch {index + 1}")
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(parameters, clip)
        optimizer.step()
        yield index, value, items


class EarlyStopping:
    """Track a validation figure where lower is better; ``stop`` after ``patience`` epochs without a new best.

    >>> stopper = EarlyStopping(patience=2)
    >>> stopper.update(3.0), stopper.update(4.0), stopper.update(5.0), stopper.stop
    (True, False, False, True)
    """

    def __init__(self, patience: int | None = None):
        self.patience = patience
        self.best = math.inf
        self.bad_epochs = 0

    def update(self, value: float) -> bool:
        """Record one epoch's figure; True if it is the best so far."""
        improved = value < self.best
        self.best = min(self.best, value)
        self.bad_epochs = 0 if improved else self.bad_epochs + 1
        return improved

    @property
    def stop(self) -> bool:
        return self.patience is not None and self.bad_epochs >= self.patience

    def state_dict(self) -> dict:
        return {"best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.bad_epochs = float(state["best"]), int(state["bad_epochs"])


def log(message: str) -> None:
    """A training log line (one per epoch): stderr, so that stdout stays for results."""
    print(message, file=sys.stderr, flush=True)


def progress_bar(total: int, description: str, enabled: bool = True, initial: int = 0):
    """A tqdm bar on stderr that disappears when done."""
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        desc=description,
        unit="batch",
        file=sys.stderr,
        leave=False,
        mininterval=0.5,
        disable=not enabled,
    )


def check_writable_folder(folder: PathLike) -> None:
    """Fail now, before any training, if nothing can be created in ``folder`` (read-only, no permission)."""
    d = Path(folder)
    try:
        d.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=d):  # nameless where the system allows: nothing to leave behind
            pass
    except OSError as e:
        raise OutputError(f"{d}: cannot write there ({e.strerror or e})") from None
