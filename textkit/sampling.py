"""The two minibatch schemes for truncated BPTT from d2l.ai's language-model chapter.

Both take one long sequence of token ids and yield ``(X, Y)`` LongTensor pairs of shape
``(batch_size, num_steps)`` where ``Y`` is ``X`` shifted one token to the right.

* :func:`random_partition` cuts the text (from a random offset) into non-overlapping subsequences
  of ``num_steps`` and serves them in random order: neighbouring minibatches are not neighbours in the
  text, so the trainer must reset the hidden state for every minibatch.
* :func:`sequential_partition` lays the text (from a random offset) out as ``batch_size`` long rows
  and walks along them, so row ``b`` of minibatch ``i+1`` continues exactly where row ``b`` of
  minibatch ``i`` ended and the hidden state can be carried over (detached).

Both are re-iterable: every ``iter()`` is a new epoch with a new offset (and order), drawn from a
generator seeded once, so a seeded sampler gives the same sequence of epochs every time. ``len()`` is
the number of minibatches per epoch; it does not depend on the offset.

>>> s = sequential_partition(list(range(100)), batch_size=2, num_steps=5, seed=0)
>>> len(s), next(iter(s))[0].shape
(9, torch.Size([2, 5]))
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from textkit.errors import EmptyCorpusError, UsageError


class _Partition:
    def __init__(
        self, ids: Sequence[int] | np.ndarray | torch.Tensor, batch_size: int, num_steps: int, seed: int | None = None
    ):
        if batch_size < 1 or num_steps < 1:
            raise UsageError(f"batch_size and num_steps must be positive, got {batch_size} and {num_steps}")
        self.ids = torch.as_tensor(np.asarray(ids), dtype=torch.long).reshape(-1)
        self.batch_size = batch_size
        self.num_steps = num_steps
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.epoch = 0
        if len(self) == 0:
            raise EmptyCorpusError(
                f"a sequence of {len(self.ids)} tokens is too short for one minibatch of "
                f"batch_size={batch_size} x num_steps={num_steps} (it needs at least {self.min_tokens()} "
                "tokens, counting the random offset and the shifted targets); use a longer text or smaller sizes"
            )

    def state_dict(self) -> dict:
        """JSON-serialisable state (generator and epoch), for resumable training."""
        return {"rng": self.rng.bit_generator.state, "epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.epoch = int(state["epoch"])

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(tokens={len(self.ids)}, batch_size={self.batch_size}, "
            f"num_steps={self.num_steps}, batches={len(self)})"
        )


class RandomPartition(_Partition):
    """See :func:`random_partition`."""

    def min_tokens(self) -> int:
        """The shortest sequence that gives one minibatch at every offset."""
        return self.batch_size * self.num_steps + self.num_steps

    def __len__(self) -> int:
        # Count with the largest offset (num_steps - 1) so that every epoch has the same length.
        usable = len(self.ids) - (self.num_steps - 1) - 1
        return max(usable, 0) // self.num_steps // self.batch_size

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n_batches, b, t = len(self), self.batch_size, self.num_steps
        offset = int(self.rng.integers(0, t))
        starts = offset + t * self.rng.permutation((len(self.ids) - offset - 1) // t)[: n_batches * b]
        self.epoch += 1
        steps = torch.arange(t)
        for i in range(n_batches):
            idx = torch.as_tensor(starts[i * b : (i + 1) * b]).unsqueeze(1) + steps
            yield self.ids[idx], self.ids[idx + 1]


class SequentialPartition(_Partition):
    """See :func:`sequential_partition`."""

    def min_tokens(self) -> int:
        """The shortest sequence that gives one minibatch at every offset (0..num_steps, as in d2l)."""
        return self.batch_size * self.num_steps + self.num_steps + 1

    def __len__(self) -> int:
        row_len = (len(self.ids) - self.num_steps - 1) // self.batch_size  # with the largest offset
        return max(row_len, 0) // self.num_steps

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n_batches, b, t = len(self), self.batch_size, self.num_steps
        offset = int(self.rng.integers(0, t + 1))
        row_len = (len(self.ids) - offset - 1) // b
        xs = self.ids[offset : offset + b * row_len].view(b, row_len)
        ys = self.ids[offset + 1 : offset + 1 + b * row_len].view(b, row_len)
        self.epoch += 1
        for i in range(0, n_batches * t, t):
            yield xs[:, i : i + t], ys[:, i : i + t]


def random_partition(ids, batch_size: int, num_steps: int, seed: int | None = None) -> RandomPartition:
    """Random sampling: shuffled, non-overlapping subsequences; reset the hidden state per batch."""
    return RandomPartition(ids, batch_size, num_steps, seed)


def sequential_partition(ids, batch_size: int, num_steps: int, seed: int | None = None) -> SequentialPartition:
    """Sequential partitioning: rows continue across minibatches; carry the hidden state."""
    return SequentialPartition(ids, batch_size, num_steps, seed)


SAMPLERS = {"random": random_partition, "sequential": sequential_partition}
