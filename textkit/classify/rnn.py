"""``rnn`` / ``lstm`` / ``gru``: bidirectional recurrent encoders with pooling, in torch.

Texts become token ids (a textkit :class:`~textkit.vocab.Vocab`), batches are padded and *packed*
so the recurrence never reads padding, the outputs of every step are max- or mean-pooled (padding
masked out), and a linear layer gives class logits. Adam with L2 weight decay, gradient clipping,
early stopping on a validation split (the best epoch's weights are kept); embeddings can start from
word2vec vectors (``vectors=PATH``), frozen or fine-tuned.

>>> RecurrentClassifier(cell="gru", hidden_dim=64, pooling="mean", epochs=3).fit(texts, labels)
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from textkit.classify.base import TextClassifier, validation_scores
from textkit.errors import EmptyCorpusError, UsageError
from textkit.tokenize import Tokenizer, get_tokenizer
from textkit.training import EarlyStopping, log, progress_bar, torch_threads, train_steps
from textkit.vocab import Vocab

SPECIALS = ("<unk>", "<pad>")
CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentEncoder(nn.Module):
    """ids (batch, time) + lengths -> class logits (batch, classes)."""

    def __init__(
        self, vocab_size, n_classes, cell, embed_dim, hidden_dim, layers, bidirectional, pooling, dropout, pad_id
    ):
        super().__init__()
        self.pooling = pooling
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.rnn = CELLS[cell](
            embed_dim,
            hidden_dim,
            num_layers=layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if layers > 1 else 0.0,
        )
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(hidden_dim * (2 if bidirectional else 1), n_classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.dropout(self.embedding(ids))
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        states, _ = self.rnn(packed)
        states, _ = pad_packed_sequence(states, batch_first=True, total_length=ids.size(1))
        mask = (torch.arange(ids.size(1), device=ids.device)[None, :] < lengths[:, None])[:, :, None]
        if self.pooling == "max":
            pooled = states.masked_fill(~mask, float("-inf")).max(dim=1).values
        else:
            pooled = (states * mask).sum(dim=1) / lengths[:, None].to(states.dtype)
        return self.output(self.dropout(pooled))


class RecurrentClassifier(TextClassifier):
    """Bidirectional RNN / LSTM / GRU text classifier.

    * ``tokenizer`` — a :class:`~textkit.tokenize.Tokenizer` or a spec such as ``en``, ``zh``, ``spm:PATH``
    * ``cell`` — ``rnn``, ``lstm`` or ``gru``; ``layers``; ``bidirectional``; ``pooling`` — ``max`` or ``mean``
    * ``embed_dim``, ``hidden_dim``, ``dropout``; ``min_freq``, ``max_vocab`` — vocabulary limits
    * ``max_len`` — tokens kept per text (the start); ``epochs``, ``lr``, ``batch_size``, ``weight_decay``
    * ``patience`` — epochs without a lower validation loss before stopping (best weights kept)
    * ``vectors`` — word vectors to initialise embeddings: word2vec text/binary or textkit's native
      format, read by :func:`textkit.embeddings.load_vectors` (their dimension wins over
      ``embed_dim``); ``freeze_vectors`` — keep them fixed
    * ``device`` — ``cpu``, ``cuda``...; ``threads`` — torch CPU threads while training and
      predicting (``None``: torch's setting; small recurrent batches often run fastest on 1, and
      on a busy machine extra threads can make them many times slower); ``seed``
    """

    weights_framework = "pt"

    def __init__(
        self,
        cell: str = "lstm",
        tokenizer: str | Tokenizer = "en",
        embed_dim: int = 100,
        hidden_dim: int = 128,
        layers: int = 1,
        bidirectional: bool = True,
        pooling: str = "max",
        dropout: float = 0.3,
        min_freq: int = 1,
        max_vocab: int | None = 50_000,
        max_len: int = 400,
        epochs: int = 5,
        lr: float = 2e-3,
        batch_size: int = 32,
        weight_decay: float = 0.0,
        patience: int = 2,
        vectors: str | None = None,
        freeze_vectors: bool = False,
        device: str = "cpu",
        threads: int | None = None,
        seed: int = 0,
        progress: bool = True,
    ):
        self.cell = cell
        self.tokenizer = tokenizer
        self.embed_dim = embed_dim
        self.hidden_dim = hidden_dim
        self.layers = layers
        self.bidirectional = bidirectional
        self.pooling = pooling
        self.dropout = dropout
        self.min_freq = min_freq
        self.max_vocab = max_vocab
        self.max_len = max_len
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.patience = patience
        self.vectors = vectors
        self.freeze_vectors = freeze_vectors
        self.device = device
        self.threads = threads
        self.seed = seed
        self.progress = progress

    @property
    def kind(self) -> str:  # type: ignore[override]
        return self.cell

    def _check_params(self) -> None:
        if self.cell not in CELLS:
            raise UsageError(f"cell must be one of {', '.join(CELLS)}, not {self.cell!r}")
        if self.pooling not in ("max", "mean"):
            raise UsageError(f"pooling must be max or mean, not {self.pooling!r}")
        for name in ("embed_dim", "hidden_dim", "layers", "max_len", "epochs", "batch_size", "min_freq"):
            if getattr(self, name) < 1:
                raise UsageError(f"{name} must be at least 1, not {getattr(self, name)}")
        if not 0 <= self.dropout < 1:
            raise UsageError(f"dropout must lie in [0, 1), not {self.dropout}")
        if self.lr <= 0 or self.weight_decay < 0:
            raise UsageError("lr must be positive and weight_decay non-negative")

    def _device(self) -> torch.device:
        try:
            device = torch.device(self.device)
            torch.empty(0, device=device)
        except (RuntimeError, AssertionError) as e:
            raise UsageError(f"device {self.device!r} is not available here ({str(e).splitlines()[0]})") from None
        return device

    def _module(self, embed_dim: int) -> RecurrentEncoder:
        return RecurrentEncoder(
            len(self.vocab_),
            len(self.labels_),
            self.cell,
            embed_dim,
            self.hidden_dim,
            self.layers,
            self.bidirectional,
            self.pooling,
            self.dropout,
            self.vocab_.pad_id,
        )

    def _ids(self, texts: Sequence[str]) -> list[list[int]]:
        tokenize = get_tokenizer(self.tokenizer).tokenize
        unk = self.vocab_.unk_id
        # An empty text becomes one <unk>: packing needs at least one step per sequence.
        return [self.vocab_.encode(tokenize(t)[: self.max_len]) or [unk] for t in texts]

    def _fit(self, texts, y, validation) -> None:
        with torch_threads(self.threads):
            self._train(texts, y, validation)

    def _train(self, texts, y, validation) -> None:
        torch.manual_seed(self.seed)
        device = self._device()
        tokenize = get_tokenizer(self.tokenizer).tokenize
        token_lists = [tokenize(t)[: self.max_len] for t in texts]
        self.vocab_ = Vocab.build(token_lists, min_freq=self.min_freq, max_size=self.max_vocab, specials=SPECIALS)
        if len(self.vocab_) <= len(SPECIALS):
            raise EmptyCorpusError(f"no token occurs at least {self.min_freq} times; lower min_freq")
        ids = [self.vocab_.encode(tokens) or [self.vocab_.unk_id] for tokens in token_lists]
        embed_dim = self.embed_dim
        pretrained = None
        if self.vectors:
            embed_dim, pretrained = self._pretrained()
        self.embed_dim_ = embed_dim
        self.module_ = self._module(embed_dim).to(device)
        if pretrained is not None:
            rows, matrix = pretrained
            with torch.no_grad():
                self.module_.embedding.weight[torch.as_tensor(rows)] = torch.as_tensor(matrix).to(device)
            self.module_.embedding.weight.requires_grad_(not self.freeze_vectors)
        params = [p for p in self.module_.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)
        valid_ids = self._ids(validation[0]) if validation is not None else None
        rng = np.random.default_rng(self.seed)
        stopper, best_state = EarlyStopping(self.patience), None
        self.history_ = []

        def loss_of(batch):
            x, lengths = _pad([ids[i] for i in batch], self.vocab_.pad_id, device)
            target = torch.as_tensor(y[batch], device=device)
            return nn.functional.cross_entropy(self.module_(x, lengths), target), len(batch)

        for epoch in range(self.epochs):
            self.module_.train()
            batches = _length_bucketed_batches(ids, self.batch_size, rng)
            total = 0.0
            bar = progress_bar(len(batches), f"{self.cell} epoch {epoch + 1}/{self.epochs}", self.progress)
            # clip 5: long reviews make recurrent gradients spike
            for _, loss, items in train_steps(batches, loss_of, optimizer, params, clip=5.0):
                total += loss * items
                bar.update(1)
            bar.close()
            record = {"epoch": epoch + 1, "train_loss": total / len(ids)}
            if valid_ids is not None:
                record.update(validation_scores(self._proba_ids(valid_ids), validation[1]))
                if stopper.update(record["valid_loss"]):
                    best_state = copy.deepcopy(self.module_.state_dict())
            self.history_.append(record)
            if self.progress:
                log(
                    f"{self.cell} epoch {epoch + 1}: "
                    + ", ".join(f"{k} {v:.4f}" for k, v in record.items() if k != "epoch")
                )
            if valid_ids is not None and stopper.stop:
                break
        if best_state is not None:
            self.module_.load_state_dict(best_state)
        self.module_.eval()

    def _pretrained(self) -> tuple[int, tuple[list[int], np.ndarray]]:
        """(dimension, (vocabulary rows, their vectors)) from the ``vectors`` file (textkit.embeddings)."""
        from textkit.embeddings import load_vectors

        kv = load_vectors(self.vectors)
        rows = [i for i, word in enumerate(self.vocab_.tokens) if word in kv]
        if not rows:
            raise EmptyCorpusError(
                f"{self.vectors}: none of the training words has a vector (wrong language or tokenizer?)"
            )
        matrix = np.stack([kv[self.vocab_.tokens[i]] for i in rows]).astype(np.float32)
        return kv.vector_size, (rows, matrix)

    def _proba_ids(self, ids: list[list[int]]) -> np.ndarray:
        device = next(self.module_.parameters()).device
        self.module_.eval()
        out = []
        with torch.no_grad():
            for start in range(0, len(ids), 256):
                x, lengths = _pad(ids[start : start + 256], self.vocab_.pad_id, device)
                out.append(torch.softmax(self.module_(x, lengths), dim=1).cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.labels_)), dtype=np.float32)

    def predict_proba(self, texts) -> np.ndarray:
        with torch_threads(self.threads):
            return self._proba_ids(self._ids(list(texts)))

    def _state(self) -> tuple[dict, dict]:
        return dict(self.module_.state_dict()), {"embed_dim": self.embed_dim_}

    def _restore(self, tensors: dict, config: dict) -> None:
        if "vocab" in config:  # textkit 0.1 kept the vocabulary in the config
            self.vocab_ = Vocab.from_dict(config["vocab"], source="classifier config")
        self.embed_dim_ = int(config["embed_dim"])
        self.module_ = self._module(self.embed_dim_)
        self.module_.load_state_dict(tensors)
        self.module_.to(self._device()).eval()


def _pad(seqs: list[list[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
    x = torch.full((len(seqs), int(lengths.max())), pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        x[i, : len(s)] = torch.as_tensor(s, dtype=torch.long)
    return x.to(device), lengths.to(device)


def _length_bucketed_batches(ids: list[list[int]], batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of similar lengths: shuffle, sort within chunks of 50 batches, shuffle batches.

    Padding then stays small without giving up randomness across epochs.
    """
    order = rng.permutation(len(ids))
    chunk = batch_size * 50
    batches = []
    for start in range(0, len(order), chunk):
        part = order[start : start + chunk]
        part = part[np.argsort([len(ids[i]) for i in part], kind="stable")]
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches
