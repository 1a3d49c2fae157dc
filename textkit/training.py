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
:func:`progress_bar` is a tqdm bar on stderr. Checkpoints and data-parallel training are the LM
trainer's (:mod:`textkit.lm.train`, :mod:`textkit.lm.distributed`).

>>> for index, loss, items in train_steps(batches, loss_of, optimizer, model.parameters(), clip=0.25):
...     total += loss * items
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from torch import Tensor, nn

from textkit.errors import TextkitError, UsageError


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


class SGD(torch.optim.Optimizer):
    """Stochastic gradient descent with optional momentum and L2 weight decay, as ``torch.optim.SGD``
    computes it (dampening 0, no Nesterov), with the same ``state_dict`` layout.

    ``torch.optim``'s own optimizers import TorchDynamo on first use, about a second of start-up
    that a short run (and the plain loop it is compared with) never needs; this one does not.
    The update is ``p -= lr * d`` with ``d = grad + weight_decay * p``, or with momentum the buffer
    ``b = momentum * b + d`` (``b = d`` at the first step) in place of ``d``.
    """

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=0,
            weight_decay=weight_decay,
            nesterov=False,
            maximize=False,
            foreach=None,
            differentiable=False,
            fused=None,
        )
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict) -> None:
        params = param_group["params"]
        param_group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for name, value in self.defaults.items():
            param_group.setdefault(name, value)
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.zero_()

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            grads = [p.grad for p in params]
            if not params:
                continue
            if group["weight_decay"]:
                grads = list(torch._foreach_add(grads, params, alpha=group["weight_decay"]))
            if group["momentum"]:
                for i, p in enumerate(params):
                    state = self.state[p]
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = grads[i].detach().clone()
                    else:
                        state["momentum_buffer"].mul_(group["momentum"]).add_(grads[i])
                    grads[i] = state["momentum_buffer"]
            torch._foreach_add_(params, grads, alpha=-group["lr"])
        return loss

    def state_dict(self) -> dict:
        index = {id(p): i for i, p in enumerate(p for g in self.param_groups for p in g["params"])}
        groups = [
            {**{k: v for k, v in g.items() if k != "params"}, "params": [index[id(p)] for p in g["params"]]}
            for g in self.param_groups
        ]
        state = {index[id(p)]: dict(values) for p, values in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
            len(saved["params"]) != len(mine["params"]) for saved, mine in zip(groups, self.param_groups)
        ):
            raise ValueError("the saved optimizer state has another number of parameters")
        by_index = dict(enumerate(p for g in self.param_groups for p in g["params"]))
        self.state.clear()
        for i, values in state_dict["state"].items():
            p = by_index[int(i)]
            self.state[p] = {k: v.to(p.device, p.dtype) if torch.is_tensor(v) else v for k, v in values.items()}
        for saved, mine in zip(groups, self.param_groups):
            mine.update({k: v for k, v in saved.items() if k != "params"})


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


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run a block with ``n`` torch intra-op threads (None: as it is), then restore the previous setting."""
    if n is None:
        yield
        return
    if n < 1:
        raise UsageError(f"threads must be at least 1, not {n}")
    previous = torch.get_num_threads()
    if n == previous:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


# glibc's mallopt parameters and the values keep_freed_memory sets
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD_MAX = 32 << 20  # the largest mmap threshold glibc accepts on 64-bit systems
_TRIM_THRESHOLD = 1 << 30


def keep_freed_memory() -> bool:
    """Make this process's C allocator keep freed memory for reuse instead of handing it back to the
    system (glibc only; elsewhere nothing changes). Returns whether the setting was applied.

    A training step allocates and frees the same large buffers every time (the logits and their
    gradients: batch x bptt x vocabulary floats, megabytes each). By default glibc serves such blocks
    with fresh ``mmap`` calls or trims the top of its heap after they are freed, so each step the
    kernel maps and zeroes those pages again: page faults that cost system time every step and vary
    with how the heap happens to be laid out. With blocks up to 32 MiB taken from the heap and up to
    1 GiB of freed heap kept, the next step reuses the pages it already has. The process's resident
    size then stays near its peak until it exits.

    The setting is process-wide and cannot be undone (glibc stops adapting its mmap threshold), so
    the library never calls this on its own; the ``train-lm`` command does.
    """
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return False
    # glibc only: musl's mallopt does nothing, macOS has none
    if not (hasattr(libc, "gnu_get_libc_version") and hasattr(libc, "mallopt")):
        return False
    mallopt = libc.mallopt
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))


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
