"""Word2Vec: skip-gram and CBOW with negative sampling and/or hierarchical softmax.

The corpus is read once. That pass looks every word up in a growing dictionary, counts it, and
writes its id to an anonymous temporary file (4 bytes a word; it has no name, so nothing is left
behind if the process dies). The vocabulary is then sorted by frequency and every epoch replays
the ids, mapped to the final vocabulary with one array lookup, in chunks of about ``batch_words``
words that ``workers`` threads train on with the compiled kernel (:mod:`textkit.word2vec.kernels`)
without the GIL (:func:`textkit.hogwild.run_hogwild`). Parameter names follow gensim; ``model.wv``
is a gensim ``KeyedVectors``.

>>> model = Word2Vec([["the", "cat", "sat"], ["the", "dog", "sat"]] * 50, vector_size=16, min_count=1)
>>> model.wv.most_similar("cat", topn=2)  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from array import array
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from itertools import count, repeat
from pathlib import Path

import numpy as np

from textkit.errors import EmptyCorpusError, TextkitError, UsageError
from textkit.hogwild import run_hogwild
from textkit.io import PathLike, check_readable, iter_lines
from textkit.vocab import Vocab
from textkit.word2vec.tables import huffman_tree, keep_probabilities, negative_sampler

MAX_SENTENCE_WORDS = 10_000  # longer lines are cut into pieces this long, as gensim does
KERNELS = ("hogbatch", "classic")
KIND = "vectors.word2vec"  # the model folder's kind (textkit.artifacts)
_BLOCK_WORDS = 1 << 16  # ids buffered in memory between writes to the spool (and vocabulary prunings)


class TrainingDivergedError(TextkitError):
    """The loss or the weights stopped being finite numbers (the learning rate is too high)."""


class LineCorpus:
    """A text file read as whitespace-separated tokens, one sentence per line (re-iterable).

    >>> corpus = LineCorpus("corpus.txt")  # doctest: +SKIP
    """

    def __init__(self, path: PathLike, errors: str = "strict"):
        self.path = check_readable(path)
        self.errors = errors

    def __iter__(self) -> Iterator[list[str]]:
        for line in iter_lines(self.path, errors=self.errors):
            yield line.split()


@dataclass
class TrainingReport:
    """What one :meth:`Word2Vec.train` call did; ``epoch_loss[e]`` sums ``-log σ`` over epoch e."""

    epochs: int
    words: int  # raw corpus words read, all epochs (the words/s numerator, as gensim reports)
    words_trained: int  # words left after min_count and subsampling
    examples: int  # (input, target) training examples
    train_seconds: float
    words_per_sec: float
    epoch_loss: list[float] = field(default_factory=list)
    epoch_mean_loss: list[float] = field(default_factory=list)  # per example: comparable across corpora

    def to_dict(self) -> dict:
        return asdict(self)


class Word2Vec:
    """Train word vectors; the result is ``model.wv``, a ``gensim.models.KeyedVectors``.

    ``sentences`` is an iterable of token lists (a generator will do) and ``corpus_file`` a text
    file of whitespace-separated tokens; either is read once (see the module docstring). Given either, the
    model trains at once; otherwise call :meth:`build_vocab` and :meth:`train`, which may be
    called again later to train further (on the same or another corpus; words outside the
    vocabulary are skipped).
    ``sg=1`` is skip-gram (default CBOW); ``hs=1`` adds hierarchical softmax; ``negative=K`` uses K
    negative samples (0 turns it off). ``kernel="hogbatch"`` (default) trains skip-gram a window
    at a time: the context words of a target share its negative samples, so one update is a small
    dense product (Ji et al. 2016); ``kernel="classic"`` draws negatives for every pair and applies
    the pairs one by one, as the C tool and gensim do (hierarchical softmax and CBOW make the same
    updates with either kernel).
    ``workers=1`` with a fixed ``seed`` is reproducible.
    ``compute_loss`` (on by default, unlike gensim; it costs a few percent) fills
    ``report.epoch_loss``: the sum of ``-log σ`` over every positive and negative unit of an epoch.
    ``tokenizer`` (a Tokenizer or a spec such as "en" or "zh") splits ``corpus_file`` (default:
    whitespace) and is saved with the model. ``progress=None`` draws a tqdm bar on stderr only
    when it is a terminal.

    >>> model = Word2Vec(corpus_file="corpus.txt", vector_size=100, sg=1, epochs=5)  # doctest: +SKIP
    >>> model.wv.most_similar("king")  # doctest: +SKIP
    """

    def __init__(
        self,
        sentences: Iterable[Sequence[str]] | None = None,
        corpus_file: PathLike | None = None,
        vector_size: int = 100,
        alpha: float = 0.025,
        window: int = 5,
        min_count: int = 5,
        max_vocab_size: int | None = None,
        sample: float = 1e-3,
        seed: int = 1,
        workers: int = 3,
        min_alpha: float = 0.0001,
        sg: int = 0,
        hs: int = 0,
        negative: int = 5,
        ns_exponent: float = 0.75,
        epochs: int = 5,
        batch_words: int = 10_000,
        compute_loss: bool = True,
        kernel: str = "hogbatch",
        tokenizer=None,
        progress: bool | None = None,
    ):
        self.vector_size, self.alpha, self.window, self.min_count = vector_size, alpha, window, min_count
        self.max_vocab_size, self.sample, self.seed, self.workers = max_vocab_size, sample, seed, workers
        self.min_alpha, self.sg, self.hs, self.negative = min_alpha, int(bool(sg)), int(bool(hs)), negative
        self.ns_exponent, self.epochs, self.batch_words = ns_exponent, epochs, batch_words
        self.compute_loss, self.kernel, self.tokenizer, self.progress = compute_loss, kernel, tokenizer, progress
        self._check_parameters()
        self.vocab: Vocab | None = None
        self.vectors: np.ndarray | None = None  # input vectors, one row per vocabulary word (gensim's syn0)
        self.report: TrainingReport | None = None
        self.corpus_total_words = 0
        self._wv = None
        self._spool: _IdSpool | None = None  # the ids build_vocab read, kept for train() on the same corpus
        self._spool_source = None
        if sentences is not None and corpus_file is not None:
            raise UsageError("give either sentences or corpus_file, not both")
        corpus = self._file_corpus(corpus_file) if corpus_file is not None else sentences
        if corpus is not None:
            self.build_vocab(corpus)
            self.train(corpus)

    def _check_parameters(self) -> None:
        checks = [
            (self.vector_size >= 1, "vector_size must be at least 1"),
            (self.window >= 1, "window must be at least 1"),
            (self.min_count >= 1, "min_count must be at least 1"),
            (self.workers >= 1, "workers must be at least 1"),
            (self.epochs >= 1, "epochs must be at least 1"),
            (self.negative >= 0, "negative must be 0 (off) or a positive number of samples"),
            (self.hs or self.negative > 0, "choose hierarchical softmax (hs=1) or negative sampling (negative>0)"),
            (math.isfinite(self.alpha) and self.alpha > 0, f"alpha must be a positive finite number, not {self.alpha}"),
            (
                math.isfinite(self.min_alpha) and self.min_alpha >= 0,
                f"min_alpha must be a non-negative finite number, not {self.min_alpha}",
            ),
            (self.sample >= 0, "sample must be non-negative (0 disables subsampling)"),
            (self.max_vocab_size is None or self.max_vocab_size >= 1, "max_vocab_size must be at least 1"),
            (self.batch_words >= 1, "batch_words must be at least 1"),
            (self.kernel in KERNELS, f"kernel must be one of {', '.join(KERNELS)}, not {self.kernel!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise UsageError(message)

    def _file_corpus(self, path: PathLike):
        """A text file as token lists: split on whitespace, or by ``tokenizer`` when one is set."""
        if self.tokenizer is None:
            return LineCorpus(path)
        from textkit.corpora import TokenizedCorpus
        from textkit.tokenize import WhitespaceTokenizer, get_tokenizer

        tokenizer = get_tokenizer(self.tokenizer)
        if type(tokenizer) is WhitespaceTokenizer and not tokenizer.lowercase:
            return LineCorpus(path)  # the same split, without a tokenizer call per line
        return TokenizedCorpus(path, tokenizer)

    def get_params(self) -> dict:
        """The constructor's settings (what a saved model keeps)."""
        names = (
            "vector_size",
            "alpha",
            "window",
            "min_count",
            "max_vocab_size",
            "sample",
            "seed",
            "workers",
            "min_alpha",
            "sg",
            "hs",
            "negative",
            "ns_exponent",
            "epochs",
            "batch_words",
            "compute_loss",
            "kernel",
        )
        return {name: getattr(self, name) for name in names}

    # ---- the vectors, as gensim's KeyedVectors --------------------------------------------------
    @property
    def wv(self):
        """The trained vectors as a ``gensim.models.KeyedVectors`` (sharing this model's matrix).

        Built on first use, so training and writing vectors never import gensim.
        """
        if self.vocab is None:
            return None
        if self._wv is None:
            from textkit.embeddings import keyed_vectors

            self._wv = keyed_vectors(self.vocab.tokens, self.vectors, self.vocab.freqs)
        return self._wv

    # ---- vocabulary -------------------------------------------------------------------------
    def build_vocab(self, corpus: Iterable[Sequence[str]]) -> None:
        """Read the corpus once: count it, keep its ids, and set up the vocabulary, tables and weights."""
        interned: defaultdict = defaultdict(count().__next__)  # word -> provisional id, in order of first sight
        self._close_spool()
        spool = _IdSpool()
        try:
            counts = _read_corpus(corpus, partial(map, interned.__getitem__), spool, interned, self.max_vocab_size)
        except BaseException:
            spool.close()
            raise
        if spool.words == 0:
            spool.close()
            raise EmptyCorpusError("the corpus has no words (is it empty?)")
        words = list(interned)
        provisional = np.fromiter(interned.values(), dtype=np.int64, count=len(words))
        if not words:
            spool.close()
            raise EmptyCorpusError(
                f"no word survived the vocabulary bound max_vocab_size={self.max_vocab_size}; raise it"
            )
        try:
            self.vocab = Vocab.from_counts(words, counts[provisional], min_freq=self.min_count)
        except EmptyCorpusError:
            spool.close()
            raise EmptyCorpusError(
                f"no word occurs at least min_count={self.min_count} times "
                f"(the most frequent occurs {int(counts.max())} times); lower min_count"
            ) from None
        spool.remap = np.full(len(counts), -1, dtype=np.int32)
        stoi = self.vocab.stoi
        spool.remap[provisional] = np.fromiter(map(stoi.get, words, repeat(-1)), dtype=np.int32, count=len(words))
        self._spool, self._spool_source = spool, corpus
        self.corpus_total_words = spool.words
        freq = np.asarray(self.vocab.freqs, dtype=np.int64)
        self.vectors = self._initial_vectors(len(freq))
        self._wv = None
        self._set_up_output_layers(freq)

    def _set_up_output_layers(self, freq: np.ndarray, syn1=None, syn1neg=None) -> None:
        """Subsampling, negative-sampling tables and ``syn1neg``; Huffman paths and ``syn1`` (zeros,
        as word2vec, unless given).

        A disabled method gets 1-row placeholders so the kernel always sees arrays of one type.
        """
        n = len(freq)
        self._keep_prob = keep_probabilities(freq, self.sample)
        if self.negative:
            self._neg_accept, self._neg_alias = negative_sampler(freq, self.ns_exponent)
        else:
            self._neg_accept, self._neg_alias = np.ones(1, np.float32), np.zeros(1, np.int32)
        if self.hs and n > 1:
            self._codes, self._points, self._lengths = huffman_tree(freq)
        else:  # a one-word vocabulary has nothing to tell apart
            self._codes, self._points = np.zeros((1, 1), np.int8), np.zeros((1, 1), np.int32)
            self._lengths = np.zeros(n, np.int32)
        if syn1 is None:
            syn1 = np.zeros((n if self.hs else 1, self.vector_size), dtype=np.float32)
        if syn1neg is None:
            syn1neg = np.zeros((n if self.negative else 1, self.vector_size), dtype=np.float32)
        self._syn1, self._syn1neg = syn1, syn1neg

    def _initial_vectors(self, n: int) -> np.ndarray:
        """Uniform in ±1/vector_size (gensim 4; the C tool ±0.5/vector_size): small, so updates dominate."""
        vectors = np.random.default_rng(self.seed).random((n, self.vector_size), dtype=np.float32)
        vectors *= 2.0
        vectors -= 1.0
        vectors /= self.vector_size
        return vectors

    # ---- training ---------------------------------------------------------------------------
    def train(
        self,
        corpus: Iterable[Sequence[str]] | None = None,
        corpus_file: PathLike | None = None,
        epochs: int | None = None,
    ) -> TrainingReport:
        """Run ``epochs`` passes (default: the constructor's) over the corpus; return (and keep in
        ``self.report``) the figures. The learning rate falls from ``alpha`` to ``min_alpha`` over
        this call, as in gensim."""
        if self.vocab is None:
            raise UsageError("call build_vocab(corpus) before train(corpus)")
        epochs = self.epochs if epochs is None else epochs
        if epochs < 1:
            raise UsageError("epochs must be at least 1")
        corpus = self._file_corpus(corpus_file) if corpus_file is not None else corpus
        if corpus is None:
            raise UsageError("train() needs the corpus (sentences or corpus_file)")
        if corpus is self._spool_source and self._spool is not None:
            spool = self._spool
        else:
            spool = _IdSpool()
            try:
                _read_corpus(corpus, partial(_known_ids, self.vocab.stoi.get), spool)
            except BaseException:
                spool.close()
                raise
        try:
            return self._train_epochs(spool, epochs)
        finally:
            if spool is not self._spool:
                spool.close()

    def _train_epochs(self, spool: _IdSpool, epochs: int) -> TrainingReport:
        from textkit.word2vec.compiled import compiled_kernels

        train_chunk = compiled_kernels().train_chunk
        total_words = spool.words * epochs
        stats = _Stats(epochs)
        bar = _progress_bar(total_words, self.progress)
        arrays = (self.vectors, self._syn1, self._syn1neg)
        tables = (self._keep_prob, self._neg_accept, self._neg_alias, self._codes, self._points, self._lengths)
        settings = (self.sg, self.hs, self.negative, self.window)
        shared, compute_loss = self.kernel == "hogbatch", bool(self.compute_loss)

        def work(job: tuple) -> tuple[float, int, int]:
            _, ids, ends, _, alpha_start, alpha_end, seed = job
            return train_chunk(
                *arrays, ids, ends, *tables, *settings, alpha_start, alpha_end, seed, compute_loss, shared
            )

        def add(job: tuple, result: tuple[float, int, int]) -> None:
            loss, examples, trained = result
            if not math.isfinite(loss):
                raise self._diverged()
            stats.add(job[0], loss, examples, trained, job[3])
            bar.update(job[3])

        start = time.perf_counter()
        try:
            run_hogwild(self._jobs(spool, epochs, total_words), work, self.workers, on_result=add)
        finally:
            bar.close()
        seconds = time.perf_counter() - start
        if not (np.isfinite(self.vectors).all() and np.isfinite(self._syn1neg).all() and np.isfinite(self._syn1).all()):
            raise self._diverged()
        self.report = TrainingReport(
            epochs=epochs,
            words=stats.words,
            words_trained=stats.trained,
            examples=int(stats.examples.sum()),
            train_seconds=seconds,
            words_per_sec=stats.words / max(seconds, 1e-9),
            epoch_loss=[float(x) for x in stats.loss],
            epoch_mean_loss=[float(loss / max(e, 1)) for loss, e in zip(stats.loss, stats.examples)],
        )
        if self._wv is not None:
            self._wv.norms = None  # gensim caches unit vectors; they are stale now
        return self.report

    def _diverged(self) -> TrainingDivergedError:
        return TrainingDivergedError(
            f"training diverged (the loss or the weights are no longer finite numbers); the learning rate is too "
            f"high (alpha {self.alpha}, min_alpha {self.min_alpha}): lower it"
        )

    def _jobs(self, spool: _IdSpool, epochs: int, total_words: int) -> Iterator[tuple]:
        """Every epoch's chunks of ids, each with its slice of the linear learning-rate schedule."""
        done = 0  # raw words queued so far, all epochs
        job_index = 0
        for epoch in range(epochs):
            for ids, ends, n_words in spool.chunks(self.batch_words):
                alpha_start = self._alpha_at(done / max(total_words, 1))
                done += n_words
                alpha_end = self._alpha_at(done / max(total_words, 1))
                yield epoch, ids, ends, n_words, alpha_start, alpha_end, (self.seed * 1_000_003 + job_index) % 2**63
                job_index += 1

    def _alpha_at(self, progress: float) -> float:
        return self.alpha - (self.alpha - self.min_alpha) * min(progress, 1.0)

    def _close_spool(self) -> None:
        if self._spool is not None:
            self._spool.close()
        self._spool, self._spool_source = None, None

    # ---- files ------------------------------------------------------------------------------
    def save(self, folder: PathLike, force: bool = False) -> Path:
        """Write the model as a folder (``config.json`` with the settings and tokenizer,
        ``vocab.json`` with the counts, ``weights.safetensors`` with the input and output weights)
        that :meth:`load` reads back to query or train further. No pickle."""
        from textkit.artifacts import save_artifact
        from textkit.tokenize import get_tokenizer

        if self.vocab is None:
            raise UsageError("nothing to save: the model has no vocabulary yet (call build_vocab and train)")
        tensors = {"vectors": self.vectors}
        if self.hs:
            tensors["syn1"] = self._syn1
        if self.negative:
            tensors["syn1neg"] = self._syn1neg
        tokenizer = get_tokenizer(self.tokenizer) if self.tokenizer is not None else None
        save_artifact(
            folder, KIND, self.get_params(), tensors=tensors, vocab=self.vocab, tokenizer=tokenizer, force=force
        )
        return Path(folder)

    @classmethod
    def load(cls, folder: PathLike) -> Word2Vec:
        """Read a folder written by :meth:`save`; ``model.wv`` is then a gensim ``KeyedVectors``."""
        from textkit.artifacts import load_tokenizer, load_vocab, load_weights, read_config
        from textkit.errors import ModelFileError

        config = read_config(folder, family="vectors")
        if config["kind"] != KIND:
            raise ModelFileError(f"{folder}: holds word vectors only, not a word2vec model that can train further")
        names = set(cls().get_params())
        params = {k: v for k, v in config.items() if k in names}
        try:
            model = cls(**params)
        except (TypeError, UsageError) as e:
            raise ModelFileError(f"{folder}: the word2vec settings in config.json are not valid ({e})") from None
        if config.get("tokenizer") is not None:
            model.tokenizer = load_tokenizer(folder, config)
        model._restore(load_vocab(folder), load_weights(folder, framework="np"))
        return model

    def _restore(self, vocab: Vocab, tensors: dict) -> None:
        from textkit.errors import ModelFileError

        n, dim = len(vocab), self.vector_size
        expected = {
            "vectors": (n, dim),
            "syn1": (n, dim) if self.hs else None,
            "syn1neg": (n, dim) if self.negative else None,
        }
        for name, shape in expected.items():
            if shape is not None and (name not in tensors or tuple(tensors[name].shape) != shape):
                raise ModelFileError(f"the saved word2vec model lacks {name} of shape {shape} for its {n} words")
        self.vocab = vocab
        self.vectors = np.ascontiguousarray(tensors["vectors"], dtype=np.float32)
        freq = np.asarray(vocab.freqs, dtype=np.int64)
        self.corpus_total_words = int(freq.sum())
        self._set_up_output_layers(freq, tensors.get("syn1"), tensors.get("syn1neg"))
        self._syn1 = np.ascontiguousarray(self._syn1, dtype=np.float32)
        self._syn1neg = np.ascontiguousarray(self._syn1neg, dtype=np.float32)


def _known_ids(get, sentence: Sequence[str]) -> Iterator[int]:
    """Vocabulary ids of ``sentence`` (-1 for unknown words), looked up at C speed."""
    return map(get, sentence, repeat(-1))


def _read_corpus(
    corpus, encode, spool: _IdSpool, interned: dict | None = None, max_vocab_size: int | None = None
) -> np.ndarray:
    """Write the ids of every sentence to ``spool``; return how often each id occurred.

    ``encode(sentence)`` gives the ids of a sentence's words. With ``interned`` (the dictionary
    that ``encode`` grows) and ``max_vocab_size``, after each block of words the rarest are dropped while more than
    ``max_vocab_size`` are held (count below 2, then below 3, ...), as the C tool's ReduceVocab
    does; a dropped word that comes back starts counting again under a new id, and its earlier
    ids map to no word.
    """
    ids: list[int] = []  # a list takes ids from map() faster than an array("i") does
    lengths = array("i")
    counts = np.zeros(0, dtype=np.int64)
    min_reduce = 2

    def flush() -> None:
        nonlocal counts, ids, lengths, min_reduce
        block = np.array(ids, dtype=np.int32)
        if interned is not None:
            block_counts = np.bincount(block, minlength=len(counts))
            if len(block_counts) > len(counts):
                block_counts[: len(counts)] += counts
                counts = block_counts
            else:
                counts += block_counts
        spool.write(block, np.frombuffer(lengths, dtype=np.int32))
        ids, lengths = [], array("i")
        while interned is not None and max_vocab_size is not None and len(interned) > max_vocab_size:
            for word in [w for w, i in interned.items() if counts[i] < min_reduce]:
                del interned[word]
            min_reduce += 1

    for sentence in corpus:
        if isinstance(sentence, str):
            raise UsageError("sentences must be lists of tokens, got a string; split it first (e.g. line.split())")
        n = len(sentence)
        if n == 0:
            continue
        ids.extend(encode(sentence))
        if n <= MAX_SENTENCE_WORDS:
            lengths.append(n)
        else:
            lengths.extend([MAX_SENTENCE_WORDS] * (n // MAX_SENTENCE_WORDS))
            if n % MAX_SENTENCE_WORDS:
                lengths.append(n % MAX_SENTENCE_WORDS)
        if len(ids) >= _BLOCK_WORDS:
            flush()
    if ids:
        flush()
    return counts


class _IdSpool:
    """A corpus as word ids and sentence lengths in two anonymous temporary files, read back each epoch.

    ``remap`` (when set) maps the stored ids to vocabulary ids as chunks are read.
    """

    def __init__(self):
        self._ids = tempfile.TemporaryFile(prefix="textkit-w2v-ids-")
        self._lengths = tempfile.TemporaryFile(prefix="textkit-w2v-lengths-")
        self.words = 0
        self.sentences = 0
        self.remap: np.ndarray | None = None

    def write(self, ids: np.ndarray, lengths: np.ndarray) -> None:
        self._ids.write(ids.tobytes())
        self._lengths.write(lengths.tobytes())
        self.words += len(ids)
        self.sentences += len(lengths)

    def close(self) -> None:
        self._ids.close()
        self._lengths.close()

    def chunks(self, batch_words: int, block_sentences: int = 1 << 15) -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
        """``(ids, sentence_ends, words)`` chunks of about ``batch_words`` words, whole sentences."""
        self._ids.seek(0)
        self._lengths.seek(0)
        while True:
            lengths = np.frombuffer(self._lengths.read(4 * block_sentences), dtype=np.int32)
            if len(lengths) == 0:
                return
            ends = np.cumsum(lengths, dtype=np.int64)
            ids = np.frombuffer(self._ids.read(4 * int(ends[-1])), dtype=np.int32)
            ids = self.remap[ids] if self.remap is not None else ids.copy()  # copy: writable, one kernel type
            cuts = np.searchsorted(ends, np.arange(batch_words, int(ends[-1]), batch_words), side="left") + 1
            cuts = np.unique(np.concatenate([cuts, [len(ends)]]))
            first_sentence, first_word = 0, 0
            for cut in cuts.tolist():
                last_word = int(ends[cut - 1])
                yield ids[first_word:last_word], ends[first_sentence:cut] - first_word, last_word - first_word
                first_sentence, first_word = cut, last_word


class _Stats:
    """Per-epoch totals of a training run."""

    def __init__(self, epochs: int):
        self.loss = np.zeros(epochs)
        self.examples = np.zeros(epochs, dtype=np.int64)
        self.trained = 0
        self.words = 0

    def add(self, epoch: int, loss: float, examples: int, trained: int, words: int) -> None:
        self.loss[epoch] += loss
        self.examples[epoch] += examples
        self.trained += trained
        self.words += words


def _progress_bar(total: int, enabled: bool | None):
    """tqdm on stderr with words/s and ETA; ``enabled=None`` shows it only on a terminal."""
    if enabled is False or (enabled is None and not os.isatty(2)):
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, unit="w", unit_scale=True, desc="word2vec", smoothing=0.1, mininterval=0.5)


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass
