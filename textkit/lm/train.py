"""Training a :class:`~textkit.lm.neural.NeuralLM` with truncated backpropagation through time.

The loop is the one of pytorch/examples ``word_language_model``, step by step:

1. the sampler (:mod:`textkit.sampling`) cuts the token stream into ``(batch_size, bptt)`` minibatches;
2. ``sequential``: the hidden state is carried from one minibatch to the next and *detached*, so
   gradients stop at the minibatch boundary (truncated BPTT); ``random``: it starts from zero;
3. forward, cross-entropy, backward, ``clip_grad_norm_`` (global norm), optimizer step;
4. after every epoch: validation perplexity, learning-rate schedule, checkpoint, early stopping.

Everything a run needs to continue exactly is in ``checkpoint.safetensors`` next to the model:
weights, optimizer tensors and the recurrent state as tensors; epoch, position in the epoch,
scheduler, sampler and RNG state as JSON in the safetensors header. Nothing is pickled.

Under ``torchrun`` the same code trains data-parallel (see :mod:`textkit.lm.distributed`): every
process takes its share of the rows of each global minibatch, gradients are averaged by
DistributedDataParallel, evaluation segments are split across processes and summed, and only rank 0
writes files.

>>> trainer = LMTrainer(model, train_ids, valid_ids, TrainConfig(epochs=3), "models/lstm")
>>> result = trainer.fit()
"""

from __future__ import annotations

import json
import math
import signal
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn

from textkit.errors import EmptyCorpusError, ModelFileError, TextkitError, UsageError
from textkit.io import PathLike, load_tensor_metadata, load_tensors, read_json, save_tensors, write_json
from textkit.lm.distributed import Distributed, setup_distributed, shutdown_distributed
from textkit.lm.neural import NeuralLM, build_lm_vocab, encode_token_lists
from textkit.lm.perplexity import perplexity_from_logprob
from textkit.sampling import SAMPLERS
from textkit.tokenize import Tokenizer, get_tokenizer
from textkit.vocab import Vocab

OPTIMIZERS = ("sgd", "adam", "adamw", "adagrad", "rmsprop")
SCHEDULES = ("none", "plateau", "exponential", "step", "cyclic")
DEFAULT_LR = {"sgd": 20.0, "adam": 2e-3, "adamw": 2e-3, "adagrad": 0.1, "rmsprop": 1e-3}
CHECKPOINT = "checkpoint.safetensors"
EVAL_ROWS = 10  # validation is scored as 10 contiguous segments side by side (pytorch/examples)


class TrainingDiverged(TextkitError):
    """The loss became NaN or infinite."""


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
    data: dict = field(default_factory=dict)  # where the text came from, so --resume can read it again

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
        if self.lr <= 0 or self.lr_factor <= 1 or self.weight_decay < 0 or self.momentum < 0:
            raise UsageError("lr must be positive, lr_factor above 1, weight decay and momentum non-negative")
        if self.patience is not None and self.patience < 1:
            raise UsageError(f"patience must be at least 1, got {self.patience}")

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def make_optimizer(params, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer named in ``config`` with its learning rate and weight decay (L2)."""
    lr, wd = config.lr, config.weight_decay
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=config.momentum, weight_decay=wd)
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
        return sched.CyclicLR(optimizer, base_lr=config.lr / 10, max_lr=config.lr,
                              step_size_up=max(1, batches_per_epoch), cycle_momentum=False)
    return None


def detach_state(state):
    """Cut the graph at the minibatch boundary but keep the values (``repackage_hidden``)."""
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


class LMTrainer:
    """Trains ``model`` on ``train_ids`` (one token stream), validates on ``valid_ids``, saves to ``output_dir``."""

    def __init__(self, model: NeuralLM, train_ids: Tensor, valid_ids: Tensor, config: TrainConfig,
                 output_dir: PathLike, dist: Distributed | None = None):
        self.model, self.config, self.output_dir = model, config, Path(output_dir)
        self.dist = dist or Distributed(device=model.device)
        if config.batch_size % self.dist.world_size:
            raise UsageError(f"--batch-size {config.batch_size} must be divisible by the {self.dist.world_size} processes")
        if len(valid_ids) < 1:
            raise EmptyCorpusError("the validation text has no tokens")
        self.valid_stream = torch.cat([torch.tensor([model.vocab.eos_id]), valid_ids])
        self.sampler = SAMPLERS[config.sampler](train_ids, config.batch_size, config.bptt, seed=config.seed)
        self.net = model
        if self.dist.enabled:
            self.net = nn.parallel.DistributedDataParallel(model, device_ids=[self.dist.device] if self.dist.device.type == "cuda" else None)
        self.optimizer = make_optimizer(model.parameters(), config)
        self.scheduler = make_scheduler(self.optimizer, config, len(self.sampler))
        self.criterion = nn.CrossEntropyLoss()
        # progress: everything the checkpoint must hold to continue exactly
        self.epoch = 0  # completed epochs
        self.batch = 0  # completed batches of the current epoch
        self.epoch_sampler_state = self.sampler.state_dict()
        self.running = {"loss_sum": 0.0, "tokens": 0, "seconds": 0.0}
        self.state = None  # carried recurrent state (sequential sampler)
        self.history: list[dict] = []
        self.best_valid = math.inf
        self.bad_epochs = 0
        self.stop_requested = False

    # ---- the loop -------------------------------------------------------------------------------
    def fit(self, on_batch: Callable[["LMTrainer"], None] | None = None) -> dict:
        """Train until ``config.epochs`` (or early stopping); returns the final figures.

        Ctrl-C (or :meth:`request_stop`) finishes the current batch, saves a checkpoint and raises
        KeyboardInterrupt; ``on_batch(trainer)`` is called after every batch.
        """
        previous_handler = self._install_interrupt_handler()
        try:
            while self.epoch < self.config.epochs and not self._early_stop():
                self.train_epoch(on_batch)
                self.end_epoch()
        finally:
            if previous_handler is not None:
                signal.signal(signal.SIGINT, previous_handler)
        if self.dist.is_main:
            plot_history(self.history, self.output_dir / "perplexity.png")
        return self.result()

    def train_epoch(self, on_batch=None) -> None:
        """One pass over the training stream (continuing mid-epoch after a resume)."""
        cfg, model, dist = self.config, self.model, self.dist
        if self.batch == 0:
            self.epoch_sampler_state = self.sampler.state_dict()
            self.state = None
        self.sampler.load_state_dict(self.epoch_sampler_state)  # replays this epoch's offset/order
        rows = self._rows_of_this_process()
        vocab_size = len(model.vocab)
        model.train()
        bar = self._progress_bar()
        start = time.perf_counter() - self.running["seconds"]
        for i, (x, y) in enumerate(self.sampler):
            if i < self.batch:
                continue  # resumed mid-epoch: these batches were already trained
            x, y = x[rows].t().to(dist.device), y[rows].t().to(dist.device)
            if cfg.sampler == "random" or self.state is None:
                self.state = model.init_state(len(rows))
            else:
                self.state = detach_state(self.state)
            self.optimizer.zero_grad(set_to_none=True)
            logits, self.state = self.net(x, self.state)
            loss = self.criterion(logits.view(-1, vocab_size), y.reshape(-1))
            loss.backward()
            if cfg.clip:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
            self.optimizer.step()
            if cfg.schedule == "cyclic":
                self.scheduler.step()
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                self._diverged(i)
            self.batch = i + 1
            self.running["loss_sum"] += loss_value * y.numel()
            self.running["tokens"] += y.numel()
            self.running["seconds"] = time.perf_counter() - start
            self._update_bar(bar, loss_value)
            if on_batch is not None:
                on_batch(self)
            if dist.any(self.stop_requested):
                bar.close()
                self._interrupted()
        bar.close()

    def end_epoch(self) -> None:
        """Validate, log, step the schedule, save the best model and the checkpoint."""
        loss_sum, tokens, seconds = self.dist.sum(self.running["loss_sum"], self.running["tokens"], self.running["seconds"])
        train = perplexity_from_logprob(-loss_sum, int(tokens))
        valid = self.evaluate()
        self.epoch, self.batch = self.epoch + 1, 0
        self.running = {"loss_sum": 0.0, "tokens": 0, "seconds": 0.0}
        entry = {
            "epoch": self.epoch, "train_ppl": train.perplexity, "valid_ppl": valid.perplexity,
            "lr": self.optimizer.param_groups[0]["lr"], "tokens_per_sec": tokens / max(seconds / self.dist.world_size, 1e-9),
            "train_seconds": seconds / self.dist.world_size, "train_tokens": int(tokens),
        }
        self.history.append(entry)
        self._log(f"epoch {self.epoch:3d} | train ppl {train.perplexity:9.2f} | valid ppl {valid.perplexity:9.2f} | "
                  f"lr {entry['lr']:.3g} | {entry['tokens_per_sec']:8.0f} tokens/s")
        if self.scheduler is not None and self.config.schedule == "plateau":
            self.scheduler.step(valid.perplexity)
        elif self.scheduler is not None and self.config.schedule != "cyclic":
            self.scheduler.step()
        improved = valid.perplexity < self.best_valid
        self.best_valid = min(self.best_valid, valid.perplexity)
        self.bad_epochs = 0 if improved else self.bad_epochs + 1
        if improved and self.dist.is_main:  # the model folder always holds the best model so far
            self.model.save(self.output_dir, {"training": asdict(self.config)})
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
            "train_ppl": last.get("train_ppl"), "valid_ppl": last.get("valid_ppl"),
            "best_valid_ppl": self.best_valid, "epochs": self.epoch,
            "tokens_per_sec": sum(h["train_tokens"] for h in self.history) / seconds if seconds else None,
            "early_stopped": self._early_stop() and self.epoch < self.config.epochs,
            "history": self.history,
        }

    # ---- helpers --------------------------------------------------------------------------------
    def _rows_of_this_process(self) -> Tensor:
        """This process's batch rows: a permutation drawn anew every epoch, dealt out round-robin."""
        generator = torch.Generator().manual_seed(self.config.seed * 100_003 + self.epoch)
        order = torch.randperm(self.config.batch_size, generator=generator)
        return order[self.dist.rank :: self.dist.world_size]

    def _early_stop(self) -> bool:
        return self.config.patience is not None and self.bad_epochs >= self.config.patience

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
        if self.dist.is_main:
            self._log(f"interrupted at epoch {self.epoch + 1}, batch {self.batch}: checkpoint saved in "
                      f"{self.output_dir}; continue with --resume")
        self.dist.barrier()
        raise KeyboardInterrupt

    def _diverged(self, batch: int) -> None:
        kept = f"the last good checkpoint (epoch {self.epoch}) is kept in {self.output_dir}" if self.epoch else "no checkpoint was written"
        raise TrainingDiverged(
            f"the loss became NaN or infinite at epoch {self.epoch + 1}, batch {batch + 1}; {kept}; "
            "lower --lr or set --clip"
        )

    def _log(self, message: str) -> None:
        if self.dist.is_main:
            print(message, file=sys.stderr, flush=True)

    def _progress_bar(self):
        from tqdm import tqdm

        return tqdm(total=len(self.sampler), initial=self.batch, desc=f"epoch {self.epoch + 1}", unit="batch",
                    file=sys.stderr, leave=False, mininterval=0.5,
                    disable=not (self.config.progress and self.dist.is_main))

    def _update_bar(self, bar, loss_value: float) -> None:
        bar.update(1)
        if not bar.disable and self.batch % 20 == 0:
            seconds = max(self.running["seconds"], 1e-9)
            bar.set_postfix(loss=f"{loss_value:.3f}", ppl=f"{math.exp(min(loss_value, 700)):.1f}",
                            tokens_per_sec=f"{self.running['tokens'] * self.dist.world_size / seconds:.0f}", refresh=False)

    # ---- checkpoints ----------------------------------------------------------------------------
    def save_checkpoint(self) -> None:
        """Write everything needed to continue into ``checkpoint.safetensors`` (one atomic file).

        Every process must call this (the carried state is gathered from all); only rank 0 writes.
        """
        tensors = {f"model.{k}": v for k, v in self.model.weights().items()}
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
            "epoch": self.epoch, "batch": self.batch, "epoch_sampler_state": self.epoch_sampler_state,
            "running": self.running, "history": self.history, "best_valid": self.best_valid,
            "bad_epochs": self.bad_epochs, "optimizer": optimizer_json,
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "world_size": self.dist.world_size,
        }
        if self.dist.is_main:
            write_json(self.output_dir / "config.json", self.model.config_dict({"training": asdict(self.config)}))
            self.model.vocab.save(self.output_dir / "vocab.json")
            save_tensors(self.output_dir / CHECKPOINT, tensors, {"textkit.trainer": json.dumps(progress)})

    def restore(self, directory: PathLike | None = None) -> None:
        """Continue from the checkpoint in ``directory`` (default: the output folder)."""
        path = Path(directory or self.output_dir) / CHECKPOINT
        tensors = load_tensors(path)
        try:
            progress = json.loads(load_tensor_metadata(path)["textkit.trainer"])
            self.model.load_weights({k[6:]: v for k, v in tensors.items() if k.startswith("model.")}, str(path))
            self.optimizer.load_state_dict(_join_optimizer_state(
                {k[10:]: v for k, v in tensors.items() if k.startswith("optimizer.")}, progress["optimizer"]))
            if self.scheduler is not None and progress["scheduler"] is not None:
                self.scheduler.load_state_dict(progress["scheduler"])
            self.epoch, self.batch = progress["epoch"], progress["batch"]
            self.epoch_sampler_state, self.running = progress["epoch_sampler_state"], progress["running"]
            self.history, self.best_valid = progress["history"], progress["best_valid"]
            self.bad_epochs = progress["bad_epochs"]
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
        ax.plot(epochs, [h["valid_ppl"] for h in history], marker="o", label="valid")
        ax.set(xlabel="epoch", ylabel="perplexity", yscale="log", title="perplexity per epoch")
        ax.legend()


def load_training_run(directory: PathLike) -> tuple[dict, TrainConfig]:
    """The model config and training settings of a run saved in ``directory`` (for ``--resume``)."""
    d = Path(directory)
    if not (d / CHECKPOINT).exists():
        raise ModelFileError(f"{d}: no {CHECKPOINT} to resume from")
    config = read_json(d / "config.json", "model config")
    if not isinstance(config, dict) or not isinstance(config.get("training"), dict):
        raise ModelFileError(f"{d / 'config.json'}: has no training settings to resume with")
    try:
        return config, TrainConfig.from_dict(config["training"])
    except TypeError as e:
        raise ModelFileError(f"{d / 'config.json'}: bad training settings ({e})") from None


def split_lines(lines: list[str], valid_fraction: float = 0.1) -> tuple[list[str], list[str]]:
    """The last ``valid_fraction`` of the non-blank lines for validation, the rest for training."""
    kept = [line for line in lines if line.strip()]
    if len(kept) < 2:
        raise EmptyCorpusError("the corpus needs at least two non-blank lines to hold some out for validation")
    cut = min(len(kept) - 1, max(1, round(len(kept) * (1 - valid_fraction))))
    return kept[:cut], kept[cut:]


def train_language_model(
    train_lines: list[str],
    valid_lines: list[str],
    output_dir: PathLike,
    architecture: dict | None = None,
    config: TrainConfig | None = None,
    tokenizer: str | Tokenizer = "en",
    min_freq: int = 1,
    max_vocab: int | None = None,
    device: str = "auto",
    resume: bool = False,
    on_batch: Callable[[LMTrainer], None] | None = None,
) -> tuple[NeuralLM, dict]:
    """Build the vocabulary and network, train, and save the best model into ``output_dir``.

    ``architecture`` holds :class:`NeuralLM` keyword arguments (model, embed_dim, hidden_dim, layers,
    dropout, tied, impl, init). With ``resume=True`` the architecture and vocabulary come from
    ``output_dir`` and training continues from its checkpoint. Returns the trained model (last
    epoch) and the figures of :meth:`LMTrainer.result`. Runs data-parallel under ``torchrun``.

    >>> model, result = train_language_model(train, valid, "models/lstm", {"model": "lstm"}, TrainConfig(epochs=2))
    """
    config = config or TrainConfig()
    dist = setup_distributed(device)
    try:
        torch.manual_seed(config.seed)  # the same initial weights in every process
        out = Path(output_dir)
        if resume:
            saved, _ = load_training_run(out)
            model = NeuralLM.from_config(saved, Vocab.load(out / "vocab.json"), out)
            token_lists = list(model.tokenizer.tokenize_lines(train_lines))
        else:
            tok = get_tokenizer(tokenizer)
            token_lists = list(tok.tokenize_lines(train_lines))
            vocab = build_lm_vocab(token_lists, min_freq=min_freq, max_size=max_vocab)
            model = NeuralLM(vocab, tok, **(architecture or {}))
        model.to(dist.device)
        train_ids, _ = encode_token_lists(token_lists, model.vocab)
        valid_ids, _ = model.encode_lines(valid_lines)
        torch.manual_seed(config.seed + dist.rank)  # but different dropout masks
        trainer = LMTrainer(model, train_ids, valid_ids, config, out, dist)
        if resume:
            trainer.restore()
        return model, trainer.fit(on_batch)
    finally:
        shutdown_distributed()
