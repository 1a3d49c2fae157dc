"""Training a :class:`~textkit.lm.neural.NeuralLM` with truncated backpropagation through time.

The loop is the one of pytorch/examples ``word_language_model``, step by step:

1. the sampler (:mod:`textkit.sampling`) cuts the token stream into ``(batch_size, bptt)`` minibatches;
2. ``sequential``: the hidden state is carried from one minibatch to the next and *detached*, so
   gradients stop at the minibatch boundary (truncated BPTT); ``random``: it starts from zero;
3. forward, cross-entropy, backward, ``clip_grad_norm_`` (global norm), optimizer step;
4. after every epoch: validation perplexity, learning-rate schedule, checkpoint, early stopping.

The step itself (clip, non-finite loss check, optimizer step) is :func:`textkit.training.train_steps`,
shared with the recurrent classifiers. Without validation text every epoch is kept in turn (the
model ends as the last epoch left it); with it, the model ends with its best epoch's weights.

Checkpoints are optional (``checkpoint_dir``): everything a run needs to continue exactly is in
``checkpoint.safetensors`` there, beside ``config.json`` and ``vocab.json``: weights (current and
best), optimizer tensors and the recurrent state as tensors; epoch, position in the epoch,
scheduler, sampler and RNG state and a fingerprint of the training tokens as JSON in the
safetensors header. Nothing is pickled. :func:`train_language_model` keeps them in
``NAME.checkpoint/`` beside the model folder ``NAME`` while it trains, so an interrupted run never
touches an existing model, and moves them into the finished folder at the end.

Under ``torchrun`` the same code trains data-parallel (see :mod:`textkit.lm.distributed`): every
process takes its share of the rows of each global minibatch, gradients are averaged by
DistributedDataParallel, evaluation segments are split across processes and summed, and only rank 0
writes files.

>>> trainer = LMTrainer(model, train_ids, valid_ids, TrainConfig(epochs=3))
>>> result = trainer.fit()          # model now holds the best epoch's weights
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
from torch import Tensor, nn

from textkit.artifacts import artifact_transaction, read_config, write_config
from textkit.errors import EmptyCorpusError, ModelFileError, UsageError
from textkit.io import PathLike, check_writable, load_tensor_metadata, load_tensors, save_tensors
from textkit.lm.distributed import Distributed, setup_distributed, shutdown_distributed
from textkit.lm.neural import ARCHITECTURE, ARCHITECTURE_DEFAULTS, KIND, NeuralLM, build_lm_vocab, encode_token_lists
from textkit.lm.perplexity import perplexity_from_logprob
from textkit.sampling import SAMPLERS
from textkit.tokenize import Tokenizer, get_tokenizer
from textkit.training import (
    SGD,
    EarlyStopping,
    TrainingDiverged,
    log,
    progress_bar,
    train_steps,
)
from textkit.vocab import Vocab

OPTIMIZERS = ("sgd", "adam", "adamw", "adagrad", "rmsprop")
SCHEDULES = ("none", "plateau", "exponential", "step", "cyclic")
DEFAULT_LR = {"sgd": 20.0, "adam": 2e-3, "adamw": 2e-3, "adagrad": 0.1, "rmsprop": 1e-3}
CHECKPOINT = "checkpoint.safetensors"
EVAL_ROWS = 10  # validation is scored as 10 contiguous segments side by side (pytorch/examples)
__all__ = ["CHECKPOINT", "LMTrainer", "TrainConfig", "TrainingDiverged", "split_lines", "train_language_model"]


@dataclass
class TrainConfig:
    """Optimisation settings (the architecture lives in the model's own config)."""

    bptt: int = 35
    batch_size: int = 20
    lr: float | None = None  # None: DEFAULT_LR of the optimizer
    clip: float | None = 0.25  # None or 0: no clipping
    epochs: int = 6
    optimizer: str = "sgd"
    momentum: float = 0.0
    schedule: str = "plateau"
    lr_factor: float = 4.0  # plateau and step: divide the rate by this
    lr_decay: float = 0.5  # exponential: lr0 * exp(-lr_decay * epoch)
    step_epochs: int = 2  # step: divide every this many epochs
    weight_decay: float = 0.0
    sampler: str = "sequential"
    seed: int = 0
    patience: int | None = None  # early stopping: epochs without a better validation perplexity
    progress: bool = True

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise UsageError(f"unknown optimizer {self.optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise UsageError(f"unknown schedule {self.schedule!r}; choose one of {', '.join(SCHEDULES)}")
        if self.sampler not in SAMPLERS:
            raise UsageError(f"unknown sampler {self.sampler!r}; choose one of {', '.join(SAMPLERS)}")
        if min(self.bptt, self.batch_size, self.epochs, self.step_epochs) < 1:
            raise UsageError("bptt, batch size, epochs and step epochs must be positive")
        if self.lr is None:
            self.lr = DEFAULT_LR[self.optimizer]
        numbers = {
            "lr": self.lr,
            "lr_factor": self.lr_factor,
            "lr_decay": self.lr_decay,
            "weight_decay": self.weight_decay,
            "momentum": self.momentum,
            "clip": self.clip or 0.0,
        }
        bad = [name for name, value in numbers.items() if not math.isfinite(value)]
        if bad:
            raise UsageError(f"{', '.join(bad)} must be a finite number")
        if self.lr <= 0 or self.lr_factor <= 1 or self.weight_decay < 0 or self.momentum < 0 or (self.clip or 0) < 0:
            raise UsageError("lr must be positive, lr_factor above 1, weight decay, momentum and clip non-negative")
        if self.patience is not None and self.patience < 1:
            raise UsageError(f"patience must be at least 1, got {self.patience}")

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def make_optimizer(params, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer named in ``config`` with its learning rate and weight decay (L2)."""
    lr, wd = config.lr, config.weight_decay
    if config.optimizer == "sgd":
        return SGD(params, lr=lr, momentum=config.momentum, weight_decay=wd)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    if config.optimizer == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, weight_decay=wd)
    return torch.optim.RMSprop(params, lr=lr, momentum=config.momentum, weight_decay=wd)


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, batches_per_epoch: int):
    """The learning-rate schedule; ``cyclic`` is stepped every batch, the others every epoch."""
    sched = torch.optim.lr_scheduler
    if config.schedule == "plateau":  # the classic recipe: divide when validation stops improving
        return sched.ReduceLROnPlateau(optimizer, mode="min", factor=1 / config.lr_factor, patience=0, threshold=0)
    if config.schedule == "exponential":  # lr0 * e^(-k t), t in epochs
        return sched.ExponentialLR(optimizer, gamma=math.exp(-config.lr_decay))
    if config.schedule == "step":
        return sched.StepLR(optimizer, step_size=config.step_epochs, gamma=1 / config.lr_factor)
    if config.schedule == "cyclic":  # triangular between lr/10 and lr, one cycle every two epochs
        return sched.CyclicLR(
            optimizer,
            base_lr=config.lr / 10,
            max_lr=config.lr,
            step_size_up=max(1, batches_per_epoch),
            cycle_momentum=False,
        )
    return None


def detach_state(state):
    """Cut the graph at the minibatch boundary but keep the values (``repackage_hidden``)."""
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


def token_fingerprint(ids: Tensor) -> str:
    """A short hash of a token-id stream: a resumed run must train on the same tokens."""
    return hashlib.sha256(ids.to(torch.int64).cpu().numpy().tobytes()).hexdigest()[:16]


class LMTrainer:
    """Trains ``model`` on ``train_ids`` (one token stream), validating on ``valid_ids`` if given.

    ``checkpoint_dir``: where to keep a checkpoint after every epoch (and on Ctrl-C); None keeps
    none. ``run_info`` is stored in the checkpoint untouched (e.g. where the text came from).
    """

    def __init__(
        self,
        model: NeuralLM,
        train_ids: Tensor,
        valid_ids: Tensor | None = None,
        config: TrainConfig | None = None,
        checkpoint_dir: PathLike | None = None,
        dist: Distributed | None = None,
        run_info: dict | None = None,
    ):
        config = config or TrainConfig()
        self.model, self.config = model, config
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
        self.run_info = run_info or {}
        self.dist = dist or Distributed(device=model.device)
        if config.batch_size % self.dist.world_size:
            raise UsageError(
                f"the batch size {config.batch_size} must be divisible by the {self.dist.world_size} processes"
            )
        self.valid_stream = None
        if valid_ids is not None:
            if len(valid_ids) < 1:
                raise EmptyCorpusError("the validation text has no tokens")
            self.valid_stream = torch.cat([torch.tensor([model.vocab.eos_id]), valid_ids])
        self.fingerprint = token_fingerprint(train_ids)
        self.sampler = SAMPLERS[config.sampler](train_ids, config.batch_size, config.bptt, seed=config.seed)
        self.net = model
        if self.dist.enabled:
            device_ids = [self.dist.device] if self.dist.device.type == "cuda" else None
            # the adaptive head evaluates only the clusters a batch's targets fall in
            unused = model.config["softmax"] == "adaptive"
            self.net = nn.parallel.DistributedDataParallel(model, device_ids=device_ids, find_unused_parameters=unused)
        self.optimizer = make_optimizer(model.parameters(), config)
        self.scheduler = make_scheduler(self.optimizer, config, len(self.sampler))
        # progress: everything the checkpoint must hold to continue exactly
        self.epoch = 0  # completed epochs
        self.batch = 0  # completed batches of the current epoch
        self.epoch_sampler_state = self.sampler.state_dict()
        self.running = {"loss_sum": 0.0, "tokens": 0, "seconds": 0.0}
        self.state = None  # carried recurrent state (sequential sampler)
        self.history: list[dict] = []
        self.stopper = EarlyStopping(config.patience)
        self.best_weights: dict[str, Tensor] | None = None
        self.stop_requested = False

    @property
    def best_valid(self) -> float:
        return self.stopper.best

    # ---- the loop -------------------------------------------------------------------------------
    def fit(self, on_batch: Callable[[LMTrainer], None] | None = None) -> dict:
        """Train until ``config.epochs`` (or early stopping); returns the final figures.

        Afterwards the model holds the best validation epoch's weights (the last epoch's without
        validation text). Ctrl-C (or :meth:`request_stop`) finishes the current batch, saves a
        checkpoint if there is a checkpoint folder and raises KeyboardInterrupt;
        ``on_batch(trainer)`` is called after every batch.
        """
        previous_handler = self._install_interrupt_handler()
        try:
            while self.epoch < self.config.epochs and not self.stopper.stop:
                self.train_epoch(on_batch)
                self.end_epoch()
        finally:
            if previous_handler is not None:
                signal.signal(signal.SIGINT, previous_handler)
        if self.best_weights is not None:
            self.model.load_weights(self.best_weights, "the best epoch's weights")
        return self.result()

    def train_epoch(self, on_batch=None) -> None:
        """One pass over the training stream (continuing mid-epoch after a resume)."""
        cfg, model, dist = self.config, self.model, self.dist
        if self.batch == 0:
            self.epoch_sampler_state = self.sampler.state_dict()
            self.state = None
        self.sampler.load_state_dict(self.epoch_sampler_state)  # replays this epoch's offset/order
        rows = self._rows_of_this_process()
        model.train()
        bar = progress_bar(len(self.sampler), f"epoch {self.epoch + 1}", cfg.progress and dist.is_main, self.batch)
        start = time.perf_counter() - self.running["seconds"]

        def loss_of(batch):
            x, y = batch
            if rows is not None:
                x, y = x[rows], y[rows]
            x, y = x.t().to(dist.device), y.t().to(dist.device)
            if cfg.sampler == "random" or self.state is None:
                self.state = model.init_state(x.shape[1])
            else:
                self.state = detach_state(self.state)
            loss, self.state = self.net(x, self.state, y)
            return loss, y.numel()

        steps = train_steps(self.sampler, loss_of, self.optimizer, model.parameters(), cfg.clip, skip=self.batch)
        try:
            for i, loss_value, tokens in steps:
                if cfg.schedule == "cyclic":
                    self.scheduler.step()
                self.batch = i + 1
                self.running["loss_sum"] += loss_value * tokens
                self.running["tokens"] += tokens
                self.running["seconds"] = time.perf_counter() - start
                self._update_bar(bar, loss_value)
                if on_batch is not None:
                    on_batch(self)
                if dist.any(self.stop_requested):
                    bar.close()
                    self._interrupted()
        except TrainingDiverged:
            bar.close()
            self._diverged(self.batch)
        bar.close()

    def end_epoch(self) -> None:
        """Validate, log, step the schedule, remember the best weights, save the checkpoint."""
        loss_sum, tokens, seconds = self.dist.sum(
            self.running["loss_sum"], self.running["tokens"], self.running["seconds"]
        )
        train = perplexity_from_logprob(-loss_sum, int(tokens))
        valid = self.evaluate() if self.valid_stream is not None else None
        self.epoch, self.batch = self.epoch + 1, 0
        self.running = {"loss_sum": 0.0, "tokens": 0, "seconds": 0.0}
        entry = {
            "epoch": self.epoch,
            "train_ppl": train.perplexity,
            "valid_ppl": valid.perplexity if valid else None,
            "lr": self.optimizer.param_groups[0]["lr"],
            "tokens_per_sec": tokens / max(seconds / self.dist.world_size, 1e-9),
            "train_seconds": seconds / self.dist.world_size,
            "train_tokens": int(tokens),
        }
        self.history.append(entry)
        if self.dist.is_main:
            shown = f"{valid.perplexity:9.2f}" if valid else "        -"
            log(
                f"epoch {self.epoch:3d} | train ppl {train.perplexity:9.2f} | valid ppl {shown} | "
                f"lr {entry['lr']:.3g} | {entry['tokens_per_sec']:8.0f} tokens/s"
            )
        if valid is not None:
            if self.scheduler is not None and self.config.schedule == "plateau":
                self.scheduler.step(valid.perplexity)
            if self.stopper.update(valid.perplexity):
                self.best_weights = {k: v.detach().clone() for k, v in self.model.weights().items()}
        if self.scheduler is not None and self.config.schedule not in ("plateau", "cyclic"):
            self.scheduler.step()
        self.save_checkpoint()
        self.dist.barrier()

    def evaluate(self, stream: Tensor | None = None):
        """Perplexity of the validation stream (or ``stream``), shared out over the processes."""
        stream = self.valid_stream if stream is None else stream
        rows = range(self.dist.rank, EVAL_ROWS, self.dist.world_size)
        logprob, tokens = self.model.stream_logprob(stream, rows=EVAL_ROWS, row_subset=rows)
        logprob, tokens = self.dist.sum(logprob, tokens)
        return perplexity_from_logprob(logprob, int(tokens))

    def result(self) -> dict:
        last = self.history[-1] if self.history else {}
        seconds = sum(h["train_seconds"] for h in self.history)
        return {
            "train_ppl": last.get("train_ppl"),
            "valid_ppl": last.get("valid_ppl"),
            "best_valid_ppl": self.stopper.best if math.isfinite(self.stopper.best) else None,
            "epochs": self.epoch,
            "tokens_per_sec": sum(h["train_tokens"] for h in self.history) / seconds if seconds else None,
            "early_stopped": self.stopper.stop and self.epoch < self.config.epochs,
            "history": self.history,
        }

    # ---- helpers --------------------------------------------------------------------------------
    def _rows_of_this_process(self) -> Tensor | None:
        """This process's batch rows: a permutation drawn anew every epoch, dealt out round-robin.

        One process takes every row in order (None), exactly as a plain loop does.
        """
        if not self.dist.enabled:
            return None
        generator = torch.Generator().manual_seed(self.config.seed * 100_003 + self.epoch)
        order = torch.randperm(self.config.batch_size, generator=generator)
        return order[self.dist.rank :: self.dist.world_size]

    def request_stop(self) -> None:
        """Stop after the current batch with a checkpoint (what Ctrl-C does)."""
        self.stop_requested = True

    def _install_interrupt_handler(self):
        import threading

        if threading.current_thread() is not threading.main_thread():
            return None
        return signal.signal(signal.SIGINT, lambda signum, frame: self.request_stop())

    def _interrupted(self) -> None:
        self.save_checkpoint()
        if self.dist.is_main and self.checkpoint_dir is not None:
            log(f"interrupted at epoch {self.epoch + 1}, batch {self.batch}: checkpoint saved in {self.checkpoint_dir}")
        self.dist.barrier()
        raise KeyboardInterrupt

    def _diverged(self, batch: int) -> None:
        if self.epoch and self.checkpoint_dir is not None:
            kept = f"the last good checkpoint (epoch {self.epoch}) is kept in {self.checkpoint_dir}"
        else:
            kept = "nothing was written"
        raise TrainingDiverged(
            f"the loss became NaN or infinite at epoch {self.epoch + 1}, batch {batch + 1}; {kept}; "
            "a lower learning rate or gradient clipping may help"
        )

    def _update_bar(self, bar, loss_value: float) -> None:
        bar.update(1)
        if not bar.disable and self.batch % 20 == 0:
            seconds = max(self.running["seconds"], 1e-9)
            bar.set_postfix(
                loss=f"{loss_value:.3f}",
                ppl=f"{math.exp(min(loss_value, 700)):.1f}",
                tokens_per_sec=f"{self.running['tokens'] * self.dist.world_size / seconds:.0f}",
                refresh=False,
            )

    # ---- checkpoints ----------------------------------------------------------------------------
    def save_checkpoint(self) -> None:
        """Write ``config.json``, ``vocab.json`` and ``checkpoint.safetensors`` into the checkpoint folder.

        Every process must call this (the carried state is gathered from all); only rank 0 writes.
        Without a checkpoint folder it does nothing.
        """
        if self.checkpoint_dir is None:
            return
        tensors = {f"model.{k}": v for k, v in self.model.weights().items()}
        if self.best_weights is not None:
            tensors.update({f"best.{k}": v for k, v in self.best_weights.items()})
        optimizer_tensors, optimizer_json = _split_optimizer_state(self.optimizer.state_dict())
        tensors.update({f"optimizer.{k}": v for k, v in optimizer_tensors.items()})
        # every process has its own dropout stream: keep one RNG state per rank
        tensors["rng.torch"] = self.dist.gather_rows(torch.get_rng_state().unsqueeze(0), dim=0)
        if torch.cuda.is_available() and self.dist.device.type == "cuda":
            tensors["rng.cuda"] = torch.cuda.get_rng_state(self.dist.device)
        if self.batch and self.state is not None:  # mid-epoch: the carried state is part of the position
            for name, s in zip("hc", self.state if isinstance(self.state, tuple) else (self.state,)):
                tensors[f"state.{name}"] = self.dist.gather_rows(s.detach(), dim=1)
        progress = {
            "epoch": self.epoch,
            "batch": self.batch,
            "epoch_sampler_state": self.epoch_sampler_state,
            "running": self.running,
            "history": self.history,
            "early_stopping": self.stopper.state_dict(),
            "optimizer": optimizer_json,
            "fingerprint": self.fingerprint,
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "world_size": self.dist.world_size,
        }
        if self.dist.is_main:
            # one transaction: an interrupt leaves the previous checkpoint folder whole, or none
            with artifact_transaction(self.checkpoint_dir, force=True) as d:
                write_config(
                    d,
                    KIND,
                    self.model.config_params({"training": asdict(self.config), "run": self.run_info}),
                    self.model.tokenizer,
                )
                self.model.vocab.save(d / "vocab.json")
                save_tensors(d / CHECKPOINT, tensors, {"textkit.trainer": json.dumps(progress)})

    def restore(self, directory: PathLike | None = None) -> None:
        """Continue from the checkpoint in ``directory`` (default: the checkpoint folder).

        The training tokens must be the ones the checkpoint was trained on (a fingerprint is compared).
        """
        path = Path(directory or self.checkpoint_dir) / CHECKPOINT
        tensors = load_tensors(path)
        try:
            progress = json.loads(load_tensor_metadata(path)["textkit.trainer"])
        except (KeyError, ValueError, TypeError) as e:
            raise ModelFileError(f"{path}: not a usable training checkpoint ({e})") from None
        saved_fingerprint = progress.get("fingerprint")
        if saved_fingerprint is not None and saved_fingerprint != self.fingerprint:
            raise UsageError(f"{path}: the training text differs from the one this checkpoint was trained on")
        try:
            self.model.load_weights({k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, str(path))
            best = {k[5:]: v for k, v in tensors.items() if k.startswith("best.")}
            self.best_weights = best or None
            self.optimizer.load_state_dict(
                _join_optimizer_state(
                    {k[10:]: v for k, v in tensors.items() if k.startswith("optimizer.")}, progress["optimizer"]
                )
            )
            if self.scheduler is not None and progress["scheduler"] is not None:
                self.scheduler.load_state_dict(progress["scheduler"])
            self.epoch, self.batch = progress["epoch"], progress["batch"]
            self.epoch_sampler_state, self.running = progress["epoch_sampler_state"], progress["running"]
            self.history = progress["history"]
            self.stopper.load_state_dict(
                progress.get("early_stopping") or {"best": progress["best_valid"], "bad_epochs": progress["bad_epochs"]}
            )
            rng_states = tensors["rng.torch"]
            # clone: set_rng_state misreads a row view that does not start its storage
            torch.set_rng_state(rng_states[self.dist.rank if self.dist.rank < len(rng_states) else 0].clone())
            if "rng.cuda" in tensors and self.dist.device.type == "cuda":
                torch.cuda.set_rng_state(tensors["rng.cuda"], self.dist.device)
        except (KeyError, ValueError, TypeError, RuntimeError) as e:
            raise ModelFileError(f"{path}: not a usable training checkpoint ({e})") from None
        self.sampler.load_state_dict(self.epoch_sampler_state)
        if "state.h" in tensors:
            self._restore_carried_state(tensors, path)

    def _restore_carried_state(self, tensors: dict, path: Path) -> None:
        mine = slice(self.dist.rank, None, self.dist.world_size)
        parts = [tensors[f"state.{n}"][:, mine].to(self.dist.device) for n in "hc" if f"state.{n}" in tensors]
        expected = self.model.init_state(self.config.batch_size // self.dist.world_size)
        expected = expected if isinstance(expected, tuple) else (expected,)
        if len(parts) != len(expected) or any(p.shape != e.shape for p, e in zip(parts, expected)):
            raise ModelFileError(f"{path}: the saved recurrent state does not fit this model and batch size")
        self.state = tuple(parts) if len(parts) == 2 else parts[0]


def _split_optimizer_state(state: dict) -> tuple[dict[str, Tensor], dict]:
    """Optimizer state as tensors (for safetensors) plus a JSON part (param groups, plain numbers)."""
    tensors, scalars = {}, {}
    for param_id, values in state["state"].items():
        for name, value in values.items():
            if torch.is_tensor(value):
                tensors[f"{param_id}.{name}"] = value
            else:
                scalars.setdefault(str(param_id), {})[name] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _join_optimizer_state(tensors: dict[str, Tensor], json_part: dict) -> dict:
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        param_id, name = key.split(".", 1)
        state.setdefault(int(param_id), {})[name] = value
    for param_id, values in json_part["scalars"].items():
        state.setdefault(int(param_id), {}).update(values)
    return {"state": state, "param_groups": json_part["param_groups"]}


def plot_history(history: list[dict], path: Path) -> None:
    """Train and validation perplexity per epoch as a PNG (log scale), written atomically."""
    if not history:
        return
    from textkit.plotting import figure

    epochs = [h["epoch"] for h in history]
    with figure(path, size=(6, 4)) as (fig, ax):
        ax.plot(epochs, [h["train_ppl"] for h in history], marker="o", label="train")
        if any(h["valid_ppl"] is not None for h in history):
            ax.plot(epochs, [h["valid_ppl"] for h in history], marker="o", label="valid")
        ax.set(xlabel="epoch", ylabel="perplexity", yscale="log", title="perplexity per epoch")
        ax.legend()


def checkpoint_folder(output_dir: PathLike) -> Path:
    """Where a run writing the model folder ``NAME`` keeps its checkpoints: ``NAME.checkpoint`` beside it."""
    out = Path(output_dir)
    return out.parent / f"{out.name}.checkpoint"


def find_checkpoint(output_dir: PathLike) -> Path:
    """The folder to resume a run for ``output_dir`` from: an interrupted run's ``NAME.checkpoint``
    beside it, else the checkpoint a finished run left inside the model folder."""
    for d in (checkpoint_folder(output_dir), Path(output_dir)):
        if (d / CHECKPOINT).exists():
            return d
    raise ModelFileError(
        f"{output_dir}: no training checkpoint to resume from (looked in "
        f"{checkpoint_folder(output_dir)} and {output_dir})"
    )


def load_training_run(directory: PathLike) -> tuple[dict, TrainConfig]:
    """The model config and training settings of the run checkpointed for ``directory``.

    ``config["run"]`` holds what the caller stored with the run (``run_info``).
    """
    d = find_checkpoint(directory)
    config = read_config(d, family="lm")
    if not isinstance(config, dict) or not isinstance(config.get("training"), dict):
        raise ModelFileError(f"{d / 'config.json'}: has no training settings to resume with")
    try:
        return config, TrainConfig.from_dict(config["training"])
    except TypeError as e:
        raise ModelFileError(f"{d / 'config.json'}: bad training settings ({e})") from None


def architecture_differences(saved: dict, requested: dict) -> list[str]:
    """``name saved -> requested`` for every architecture setting in ``requested`` that differs."""
    saved = {**ARCHITECTURE_DEFAULTS, **saved}
    return [
        f"{k} {saved.get(k)!r} -> {v!r}"
        for k, v in requested.items()
        if k in ARCHITECTURE and saved.get(k) != v and not (k == "cutoffs" and v is None)
    ]


def split_lines(lines: list[str], valid_fraction: float = 0.1) -> tuple[list[str], list[str]]:
    """The last ``valid_fraction`` of the non-blank lines for validation, the rest for training.

    ``valid_fraction=0`` keeps every line for training and returns no validation lines.
    """
    if not 0 <= valid_fraction < 1:  # also refuses NaN
        raise UsageError(f"the validation fraction must be in [0, 1), got {valid_fraction}")
    kept = [line for line in lines if line.strip()]
    if valid_fraction == 0:
        if not kept:
            raise EmptyCorpusError("the corpus has no non-blank lines")
        return kept, []
    if len(kept) < 2:
        raise EmptyCorpusError("the corpus needs at least two non-blank lines to hold some out for validation")
    cut = min(len(kept) - 1, max(1, round(len(kept) * (1 - valid_fraction))))
    return kept[:cut], kept[cut:]


def train_language_model(
    train_lines: list[str],
    valid_lines: list[str] | None = None,
    output_dir: PathLike | None = None,
    architecture: dict | None = None,
    config: TrainConfig | None = None,
    tokenizer: str | Tokenizer = "en",
    min_freq: int = 1,
    max_vocab: int | None = None,
    device: str = "auto",
    resume: bool = False,
    on_batch: Callable[[LMTrainer], None] | None = None,
    force: bool = False,
    run_info: dict | None = None,
) -> tuple[NeuralLM, dict]:
    """Build the vocabulary and network, train, and (with ``output_dir``) save the model there.

    ``architecture`` holds :class:`NeuralLM` keyword arguments (model, embed_dim, hidden_dim, layers,
    dropout, tied, impl, init, softmax, cutoffs). Without ``valid_lines`` every line trains and the
    last epoch is kept; with them the best validation epoch is. While training, checkpoints live in
    :func:`checkpoint_folder` beside ``output_dir``; the model folder is written once, at the end,
    replacing an existing one only with ``force`` (or ``resume``). ``resume=True`` continues from
    :func:`find_checkpoint`: the vocabulary and architecture come from there, ``architecture`` settings
    that differ are refused, and ``config``'s epochs, patience and learning rate apply.
    Returns the trained model and the figures of :meth:`LMTrainer.result`. Runs data-parallel under
    ``torchrun`` (only rank 0 writes).

    >>> model, result = train_language_model(train, valid, "models/lstm", {"model": "lstm"}, TrainConfig(epochs=2))
    """
    config = config or TrainConfig()
    out = Path(output_dir) if output_dir is not None else None
    if out is not None and out.exists() and not (force or resume):
        raise UsageError(f"{out} already exists")
    dist = setup_distributed(device)
    try:
        torch.manual_seed(config.seed)  # the same initial weights in every process
        if resume:
            if out is None:
                raise UsageError("resuming needs the model folder whose run to continue")
            source = find_checkpoint(out)
            saved, saved_training = load_training_run(out)
            differences = architecture_differences(saved, architecture or {})
            if differences:
                raise UsageError(f"{source}: the checkpoint's model differs: {'; '.join(differences)}")
            model = NeuralLM.from_config(saved, Vocab.load(source / "vocab.json"), source)
            token_lists = list(model.tokenizer.tokenize_lines(train_lines))
        else:
            tok = get_tokenizer(tokenizer)
            token_lists = list(tok.tokenize_lines(train_lines))
            vocab = build_lm_vocab(token_lists, min_freq=min_freq, max_size=max_vocab)
            model = NeuralLM(vocab, tok, **(architecture or {}))
        if out is not None and dist.is_main:
            check_writable(out)
        model.to(dist.device)
        train_ids, _ = encode_token_lists(token_lists, model.vocab)
        valid_ids = model.encode_lines(valid_lines)[0] if valid_lines else None
        torch.manual_seed(config.seed + dist.rank)  # but different dropout masks
        checkpoints = checkpoint_folder(out) if out is not None else None
        trainer = LMTrainer(model, train_ids, valid_ids, config, checkpoints, dist, run_info)
        if resume:
            trainer.restore(source)
            if config.lr != saved_training.lr:  # a new rate for the rest of the run
                for group in trainer.optimizer.param_groups:
                    group["lr"] = config.lr
        result = trainer.fit(on_batch)
        if out is not None and dist.is_main:
            _publish(model, trainer, out)
        dist.barrier()
        return model, result
    finally:
        shutdown_distributed()


def _publish(model: NeuralLM, trainer: LMTrainer, out: Path) -> None:
    """Write the finished model folder in one transaction, the run's checkpoint inside it."""
    checkpoints = trainer.checkpoint_dir
    extra = {"training": asdict(trainer.config), "run": trainer.run_info}
    with artifact_transaction(out, force=True) as tmp:
        model.write_files(tmp, extra)
        if checkpoints is not None and (checkpoints / CHECKPOINT).exists():
            try:  # a second name for the same file: no copy, and the original stays if this fails
                os.link(checkpoints / CHECKPOINT, tmp / CHECKPOINT)
            except OSError:
                shutil.copyfile(checkpoints / CHECKPOINT, tmp / CHECKPOINT)
        if len(trainer.history) > 1:  # one epoch is one point: no plot, and no matplotlib import
            plot_history(trainer.history, tmp / "perplexity.png")
    if checkpoints is not None:
        shutil.rmtree(checkpoints, ignore_errors=True)
