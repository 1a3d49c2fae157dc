"""``fasttext``: the fastText classifier (Joulin et al. 2016), written in textkit.

A document is the average of the embeddings of its words and of its hashed word n-grams (bigrams by
default, in ``buckets`` rows as fastText's ``-bucket``); a linear layer and a softmax give the class
probabilities. Training is plain SGD with the learning rate decaying linearly to zero, run by
``threads`` Python threads on shared weights (:func:`textkit.hogwild.run_hogwild`) inside a compiled,
GIL-free numba kernel.

Differences from the C++ tool, on purpose: n-gram rows start at zero instead of small random values
(an n-gram seen only at test time then adds nothing, and the checkpoint stores only the rows that
training touched), and the training order is reshuffled every epoch.

>>> model = FastTextClassifier(ngrams=2, epochs=5, lr=0.1).fit(texts, labels)
>>> model.predict(["a tedious, silly film"])
['neg']
"""

from __future__ import annotations

import os
from array import array
from collections.abc import Sequence
from multiprocessing import get_context

import numpy as np

from textkit.classify.base import TextClassifier, validation_scores
from textkit.errors import EmptyCorpusError, UsageError
from textkit.hogwild import run_hogwild
from textkit.tokenize import Tokenizer
from textkit.vocab import Vocab

EOS = "</s>"


class FastTextClassifier(TextClassifier):
    """fastText supervised model.

    * ``tokenizer`` — a :class:`~textkit.tokenize.Tokenizer` or a spec (``whitespace`` reproduces
      fastText's own splitting); long inputs are tokenized by ``threads`` worker processes
    * ``embed_dim`` — embedding size (10 as in the paper's bigram models; fastText's CLI says 100)
    * ``ngrams`` — longest word n-gram (fastText's ``-wordNgrams``); ``buckets`` — hash rows for them
    * ``min_freq`` / ``max_vocab`` — word vocabulary limits (fastText's ``-minCount``)
    * ``epochs``, ``lr`` — SGD schedule; ``weight_decay`` — L2 shrinkage of touched rows per step.
      The defaults (20 epochs, lr 1.0 decaying to 0) were chosen on six corpora (see
      ``benchmarks/clf_corpora.py``): fastText's own 5 epochs at lr 0.1 leave small or long-text
      sets (a few hundred documents) at the majority class, and more epochs cost little next to
      tokenizing
    * ``patience`` — with a validation set, stop after this many epochs without a lower validation
      loss (the best epoch's weights are kept, and their validation probabilities as
      ``validation_proba_``)
    * ``threads`` — Hogwild threads (``None``: all cores); ``seed`` — initialisation and order
    """

    kind = "fasttext"

    def __init__(
        self,
        tokenizer: str | Tokenizer = "en",
        embed_dim: int = 10,
        ngrams: int = 2,
        buckets: int = 2_000_000,
        min_freq: int = 1,
        max_vocab: int | None = None,
        epochs: int = 20,
        lr: float = 1.0,
        weight_decay: float = 0.0,
        patience: int = 2,
        threads: int | None = None,
        seed: int = 0,
        progress: bool = True,
    ):
        self.tokenizer = tokenizer
        self.embed_dim = embed_dim
        self.ngrams = ngrams
        self.buckets = buckets
        self.min_freq = min_freq
        self.max_vocab = max_vocab
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.threads = threads
        self.seed = seed
        self.progress = progress

    def _check_params(self) -> None:
        for name in ("embed_dim", "ngrams", "buckets", "min_freq", "epochs", "patience"):
            if getattr(self, name) < 1:
                raise UsageError(f"{name} must be at least 1, not {getattr(self, name)}")
        if not 0 < self.lr < float("inf"):
            raise UsageError(f"lr must be positive, not {self.lr}")
        if not 0 <= self.weight_decay < float("inf"):
            raise UsageError(f"weight_decay must be non-negative, not {self.weight_decay}")
        if self.max_vocab is not None and self.max_vocab < 1:
            raise UsageError(f"max_vocab must be at least 1, not {self.max_vocab}")
        if self.threads is not None and self.threads < 1:
            raise UsageError(f"threads must be at least 1, not {self.threads}")

    # --- text -> feature rows ------------------------------------------------------------------

    def _tokenize(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Flatten the documents into type ids (``types``, ``offsets``) and the list of distinct types."""
        return tokenize_to_types(list(texts), self.tokenizer_object(), self._n_threads(len(texts)))

    def _n_threads(self, n_items: int) -> int:
        return max(1, min(self.threads or os.cpu_count() or 1, n_items))

    def _features(
        self, types: np.ndarray, offsets: np.ndarray, type_strings: list[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        from textkit.classify import fasttext_kernel as kernel

        stoi = self.vocab_.stoi
        type_word = np.array([stoi.get(t, -1) for t in type_strings] or [0], dtype=np.int64)
        type_hash = _hashes(type_strings) if type_strings else np.zeros(1, dtype=np.uint64)
        eos_hash = _hashes([EOS])[0]
        return kernel.build_features(
            types, offsets, type_word, type_hash, stoi[EOS], eos_hash, len(self.vocab_), self.ngrams, self.buckets
        )

    def _build_vocab(self, types: np.ndarray, type_strings: list[str]) -> None:
        counts = np.bincount(types, minlength=len(type_strings))
        # Dict order is first occurrence, so ties in frequency keep the order of the data.
        self.vocab_ = Vocab.from_counter(
            dict(zip(type_strings, counts.tolist())), min_freq=self.min_freq, max_size=self.max_vocab, specials=(EOS,)
        )
        if len(self.vocab_) == 1:
            raise EmptyCorpusError(f"no word occurs at least {self.min_freq} times; lower min_freq")

    # --- training --------------------------------------------------------------------------------

    def _fit(self, texts, y, validation) -> None:
        from tqdm import tqdm

        types, offsets, type_strings = self._tokenize(texts)
        if not len(types):
            raise EmptyCorpusError("the training texts hold no tokens")
        self._build_vocab(types, type_strings)
        features, feature_offsets = self._features(types, offsets, type_strings)
        rng = np.random.default_rng(self.seed)
        n_words, dim = len(self.vocab_), self.embed_dim
        self.w_in_ = np.zeros((n_words + self.buckets, dim), dtype=np.float32)
        self.w_in_[:n_words] = rng.uniform(-1.0 / dim, 1.0 / dim, size=(n_words, dim))
        self.w_out_ = np.zeros((len(self.labels_), dim), dtype=np.float32)
        labels = np.ascontiguousarray(y, dtype=np.int64)
        valid = trained_rows = None
        if validation is not None:
            valid = (self._encode(validation[0]), validation[1])
            # Only rows the training features name ever change: the best epoch is kept by copying
            # those, not the whole bucket table (tens of MB an epoch).
            touched = np.zeros(len(self.w_in_), dtype=bool)
            touched[features] = True
            trained_rows = np.flatnonzero(touched)
        n_threads = self._n_threads(len(texts))
        n = len(texts)
        best, best_weights, since_best = np.inf, None, 0
        self.history_ = []
        bar = tqdm(range(self.epochs), desc="fasttext", unit="epoch", disable=not self.progress, leave=False)
        for epoch in bar:
            order = rng.permutation(n)
            shards = np.array_split(order, n_threads)
            step = n_threads / (self.epochs * n)
            loss = self._epoch(features, feature_offsets, labels, shards, epoch / self.epochs, step, n_threads)
            record = {"epoch": epoch + 1, "train_loss": loss / n}
            if valid is not None:
                proba = self._proba_encoded(*valid[0])
                record.update(validation_scores(proba, valid[1]))
                if record["valid_loss"] < best:
                    best, since_best = record["valid_loss"], 0
                    best_weights = (self.w_in_[trained_rows], self.w_out_.copy())
                    self.validation_proba_ = proba
                else:
                    since_best += 1
            self.history_.append(record)
            bar.set_postfix({k: round(v, 4) for k, v in record.items() if k != "epoch"})
            if valid is not None and since_best >= self.patience:
                break
        if best_weights is not None:
            self.w_in_[trained_rows], self.w_out_ = best_weights

    def _epoch(
        self, features, offsets, labels, shards, progress_start: float, progress_step: float, workers: int
    ) -> float:
        """One pass: each shard of examples is one Hogwild job; returns the summed training loss."""
        from textkit.classify import fasttext_kernel as kernel

        losses: list[float] = []
        lr, weight_decay = float(self.lr), float(self.weight_decay)

        def work(shard: np.ndarray) -> float:
            return kernel.train_shard(
                self.w_in_,
                self.w_out_,
                features,
                offsets,
                labels,
                shard,
                lr,
                progress_start,
                progress_step,
                weight_decay,
            )

        run_hogwild(shards, work, workers, on_result=lambda _, loss: losses.append(loss))
        return sum(losses)

    def _encode(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        types, offsets, type_strings = self._tokenize(list(texts))
        return self._features(types, offsets, type_strings)

    def _proba_encoded(self, features: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        from textkit.classify import fasttext_kernel as kernel

        return kernel.predict_scores(self.w_in_, self.w_out_, features, offsets)

    def predict_proba(self, texts) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, len(self.labels_)), dtype=np.float32)
        return self._proba_encoded(*self._encode(texts))

    # --- checkpoints: words + touched n-gram rows only ------------------------------------------

    def _state(self) -> tuple[dict, dict]:
        n_words = len(self.vocab_)
        buckets = self.w_in_[n_words:]
        touched = np.flatnonzero(np.any(buckets != 0, axis=1))
        tensors = {
            "word_vectors": np.ascontiguousarray(self.w_in_[:n_words]),
            "ngram_rows": touched.astype(np.int64),
            "ngram_vectors": np.ascontiguousarray(buckets[touched]),
            "output": self.w_out_,
        }
        return tensors, {}

    def _restore(self, tensors: dict, config: dict) -> None:
        if "words" in config:  # textkit 0.1: a plain word list in the config, end of text first
            self.vocab_ = Vocab(config["words"], specials=(EOS,), unk_token=None)
        words, rows, vectors, out = (
            np.asarray(tensors[k]) for k in ("word_vectors", "ngram_rows", "ngram_vectors", "output")
        )
        dim = self.embed_dim
        if (
            words.shape != (len(self.vocab_), dim)
            or out.shape != (len(self.labels_), dim)
            or vectors.shape != (len(rows), dim)
        ):
            raise ValueError("tensor shapes do not match the vocabulary, labels and embed_dim")
        if len(rows) and (rows.min() < 0 or rows.max() >= self.buckets):
            raise ValueError("n-gram rows outside the bucket range")
        self.w_in_ = np.zeros((len(self.vocab_) + self.buckets, dim), dtype=np.float32)
        self.w_in_[: len(self.vocab_)] = words
        self.w_in_[len(self.vocab_) + rows] = vectors
        self.w_out_ = np.ascontiguousarray(out, dtype=np.float32)


def _hashes(strings: list[str]) -> np.ndarray:
    """fastText's 32-bit FNV-1a hash of each string's UTF-8 bytes, computed in one compiled pass."""
    from textkit.classify import fasttext_kernel as kernel

    encoded = [s.encode("utf-8") for s in strings]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8) if offsets[-1] else np.zeros(0, dtype=np.uint8)
    return kernel.fnv1a_hashes(data, offsets)


def intern_tokens(texts: Sequence[str], tokenize) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Tokenize ``texts`` into flat type ids: ``(types, offsets, type_strings)``, where document ``d``
    is ``types[offsets[d]:offsets[d + 1]]`` and ids number the distinct tokens by first occurrence."""
    index: dict[str, int] = {}
    types = array("i")  # 4 bytes a token: a Python list would cost ~36 on corpora of 10^8 tokens
    offsets = np.empty(len(texts) + 1, dtype=np.int64)
    offsets[0] = 0
    for d, text in enumerate(texts):
        for token in tokenize(text):
            i = index.get(token)
            if i is None:
                i = index[token] = len(index)
            types.append(i)
        offsets[d + 1] = len(types)
    return np.frombuffer(types, dtype=np.int32) if types else np.zeros(0, dtype=np.int32), offsets, list(index)


# Tokenizing on one core is most of the time fastText mode takes on a corpus like a few thousand
# reviews (jieba segments ~1 MB/s); above this estimated time the rest goes to worker processes.
_PARALLEL_SECONDS = 0.4
_SAMPLE_TEXTS = 256
_forked_texts: Sequence[str] = ()
_forked_tokenize = None


def _intern_range(bounds: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    start, stop = bounds
    return intern_tokens(_forked_texts[start:stop], _forked_tokenize)


def tokenize_to_types(
    texts: Sequence[str], tokenizer: Tokenizer, workers: int = 1
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """:func:`intern_tokens` with ``tokenizer``, using up to ``workers`` processes when tokenizing on
    one would take long (estimated from the first texts). The result is the same either way.

    The workers are forked, so they share the texts and the loaded tokenizer (a jieba dictionary)
    with this process instead of receiving copies; only the compact type arrays come back.
    """
    import time

    global _forked_texts, _forked_tokenize

    tokenizer.load()
    tokenize = tokenizer.tokenize
    n = len(texts)
    head = min(n, _SAMPLE_TEXTS)
    began = time.perf_counter()
    parts = [intern_tokens(texts[:head], tokenize)]
    estimate = (time.perf_counter() - began) * (n - head) / max(head, 1)
    workers = min(workers, n - head)
    import multiprocessing

    if workers > 1 and estimate > _PARALLEL_SECONDS and "fork" in multiprocessing.get_all_start_methods():
        bounds = np.linspace(head, n, 4 * workers + 1).astype(int)  # several pieces a worker: even finish
        _forked_texts, _forked_tokenize = texts, tokenize
        try:
            with get_context("fork").Pool(workers) as pool:
                parts += pool.map(_intern_range, list(zip(bounds[:-1], bounds[1:])), chunksize=1)
        finally:
            _forked_texts, _forked_tokenize = (), None
    elif head < n:
        parts.append(intern_tokens(texts[head:], tokenize))
    return _merge_types(parts)


def _merge_types(parts: list[tuple[np.ndarray, np.ndarray, list[str]]]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Concatenate interned pieces (in order), renumbering each piece's types into one shared index."""
    if len(parts) == 1:
        return parts[0]
    index: dict[str, int] = {}
    all_types, all_offsets, base = [], [np.zeros(1, dtype=np.int64)], 0
    for types, offsets, strings in parts:
        remap = np.fromiter((index.setdefault(t, len(index)) for t in strings), dtype=np.int32, count=len(strings))
        all_types.append(remap[types] if len(types) else types)
        all_offsets.append(offsets[1:] + base)
        base += int(offsets[-1])
    return np.concatenate(all_types), np.concatenate(all_offsets), list(index)
