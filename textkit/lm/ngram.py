"""N-gram language models: MLE, add-k (Laplace), interpolated Kneser-Ney and modified Kneser-Ney.

>>> lm = NgramLM(order=3, smoothing="mkn").fit([["the", "cat", "sat"], ["the", "dog", "sat"]])
>>> lm.logprob("sat", ["the", "cat"])          # log10 p(sat | the cat)
>>> lm.perplexity(["the cat sat"]).perplexity
>>> lm.save("models/tiny-mkn")                # config.json + vocab.json + model.arpa

Conventions (they decide whether numbers compare with other tools):

* **Lines are sentences.** Each non-empty line is scored as ``<s> w1 .. wk </s>``: one ``<s>``
  whatever the order (as KenLM and SRILM do; NLTK's ``pad_both_ends`` adds order-1 of each). ``<s>``
  is context only: it is never predicted and has no unigram probability (log10 -99 in ARPA files);
  ``</s>`` is predicted like a word. Empty lines are skipped.
* **Counting.** Every n-gram of orders 1..N inside ``<s> .. </s>`` whose last word is not ``<s>``
  is counted once per occurrence; near the line start the n-grams are shorter (``<s> w1`` is a
  bigram, never ``<s> <s> w1``).
* **Vocabulary.** Words seen at least ``min_freq`` times in training (or the words of a Vocab you
  give), plus ``<unk>``, ``<s>``, ``</s>``. Other words become ``<unk>``: in training they are counted
  as ``<unk>``; in a test text they are scored as ``<unk>`` and counted in ``oov_rate`` (KenLM's
  "perplexity including OOVs"). V below is the vocabulary size; V - 1 words can be predicted.
* **Smoothing.** ``mle``: p(w|h) = c(hw) / c(h•) with the longest context the line allows; an
  unseen context or word has probability 0 (perplexity ∞). ``addk``: p(w|h) = (c(hw) + k) /
  (c(h•) + k(V - 1)), Laplace for k = 1; an unseen ``<unk>`` gets k / (c(h•) + k(V - 1)).
  ``kn`` / ``mkn``: see :mod:`textkit.lm.smoothing`; unseen ``<unk>`` gets the uniform share of the
  unigram back-off mass. ``kn``/``mkn`` models are ARPA back-off models and score with the ARPA
  rule, so they give KenLM's numbers exactly; ``mle``/``addk`` cannot be written as ARPA
  (their unseen events are not a back-off) and are saved as counts.
* **Log base.** :meth:`logprob` and :meth:`score` return log10 (like ARPA files and
  ``kenlm.Model.score``); :meth:`score_lines` returns natural-log totals for
  :mod:`textkit.lm.perplexity`, the one perplexity definition.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from textkit.errors import EmptyCorpusError, ModelFileError, TextkitError, UsageError
from textkit.io import PathLike
from textkit.lm import check_generation_options
from textkit.lm.arpa import read_arpa, write_arpa
from textkit.lm.counting import (
    BOS,
    EOS,
    SPECIALS,
    UNK,
    WordIndex,
    _chunks,
    backoff_log10,
    collect_ids,
    context_totals,
    count_ngrams,
    gather_counts,
    lookup_indices,
    model_vocab,
    ngram_vocab,
    special_id,
    wrap_lines,
)
from textkit.lm.smoothing import check_discounts, kneser_ney
from textkit.tokenize import WhitespaceTokenizer, get_tokenizer
from textkit.vocab import Vocab

SMOOTHINGS = ("mle", "addk", "kn", "mkn")
KIND = "lm.ngram"
LN10 = math.log(10)


class NgramLM:
    """An n-gram language model of any order ≥ 1.

    Configure in the constructor, learn with :meth:`fit` (token lists, one per line), or read one
    with :meth:`load` (a saved folder or any ARPA file). Learned attributes end in ``_``.

    * ``order``: N ≥ 1. ``smoothing``: ``mle``, ``addk``, ``kn`` or ``mkn``; ``k`` for ``addk``.
    * ``min_freq``: rarer training words become ``<unk>`` (ignored when ``vocab`` is given).
    * ``vocab``: a :class:`~textkit.vocab.Vocab` to use instead; its own specials are dropped.
    * ``tokenizer``: how :meth:`score_lines`, :meth:`perplexity` and :meth:`generate` split text
      (a spec such as ``"en"`` or a Tokenizer); saved with the model.
    * ``discounts``: fixed Kneser-Ney discounts instead of estimated ones: ``kn`` one number (or
      one per order), ``mkn`` a (D1, D2, D3+) triple (or one per order).
    """

    kind = KIND

    def __init__(
        self,
        order: int = 3,
        smoothing: str = "mkn",
        k: float = 1.0,
        min_freq: int = 1,
        vocab: Vocab | None = None,
        tokenizer="whitespace",
        discounts=None,
    ):
        if not isinstance(order, (int, np.integer)) or isinstance(order, bool) or order < 1:
            raise UsageError(f"the n-gram order must be an integer of at least 1, not {order!r}")
        if smoothing not in SMOOTHINGS:
            raise UsageError(f"unknown smoothing {smoothing!r}; choose one of {', '.join(SMOOTHINGS)}")
        if smoothing == "addk" and not k > 0:
            raise UsageError(f"add-k smoothing needs k > 0, not {k}")
        if min_freq < 1:
            raise UsageError(f"min_freq must be at least 1, not {min_freq}")
        if discounts is not None and smoothing not in ("kn", "mkn"):
            raise UsageError("discounts apply only to kn and mkn smoothing")
        self.order = int(order)
        self.smoothing = smoothing
        self.k = float(k)
        self.min_freq = min_freq
        self.vocab = vocab
        self.tokenizer = tokenizer
        self.discounts = check_discounts(discounts, self.order, smoothing == "mkn")

    # ---- training ---------------------------------------------------------------------------------
    def fit(self, token_lists: Iterable[Sequence[str]]) -> NgramLM:
        """Count n-grams in ``token_lists`` (one list of words per line) and estimate the model.

        >>> NgramLM(order=2, smoothing="kn").fit([["a", "b"], ["b", "a"]])
        """
        self.tokenizer_ = get_tokenizer(self.tokenizer)
        return self._fit(token_lists, split_lines=False)

    def fit_lines(self, lines: Iterable[str]) -> NgramLM:
        """Tokenize text ``lines`` with the model's tokenizer and :meth:`fit` on them, streaming.

        With the whitespace tokenizer (already tokenized text such as WikiText) the lines are split
        in compiled code, as :meth:`perplexity` does, with no Python list per line.

        >>> NgramLM(order=2, smoothing="kn").fit_lines(["a b", "b a"])
        """
        self.tokenizer_ = tok = get_tokenizer(self.tokenizer)
        if _splits_in_kernel(tok):
            return self._fit(lines, split_lines=True)
        return self._fit(tok.tokenize_lines(lines), split_lines=False)

    def _fit(self, texts: Iterable, split_lines: bool) -> NgramLM:
        if self.vocab is not None:  # words outside the given vocabulary are <unk>
            self.vocab_ = model_vocab(self.vocab)
            ids, lengths, _ = WordIndex.from_vocab(self.vocab_).encode(texts, split_lines=split_lines)
            if len(lengths) == 0:
                raise EmptyCorpusError("the training corpus has no tokens (is it empty?)")
            model_ids = None
        else:  # words get ids in order of appearance, then vocabulary ids
            ids, lengths, words = collect_ids(texts, split_lines=split_lines)
            self.vocab_, model_ids = ngram_vocab(words, np.bincount(ids, minlength=len(words)), self.min_freq)
            del words
        seq = wrap_lines(ids, lengths, self._bos, self._eos, id_map=model_ids)
        del ids
        self.train_tokens_ = int(len(seq) - len(lengths))  # words + one </s> per line
        unigram, tables = count_ngrams(seq, self.order, len(self.vocab_), self._bos)
        del seq
        self.discounts_ = None
        self.discount_fallback_orders_: list[int] = []
        if self.smoothing in ("kn", "mkn"):
            self.tables_, self.discounts_, self.discount_fallback_orders_ = kneser_ney(
                unigram, tables, self._bos, self.vocab_.tokens, self.smoothing == "mkn", self.discounts
            )
            self.counts_ = None
        else:
            self.counts_ = [unigram] + [t.counts for t in tables]
            self.keys_ = [t.keys for t in tables]
            self.tables_ = None
            self._prepare_counts()
        return self

    def build_lines(
        self,
        lines: Iterable[str],
        folder: PathLike,
        memory: int | str = "80%",
        temp_dir: PathLike | None = None,
        force: bool = False,
        gzip: bool = False,
        native: bool = False,
    ) -> dict:
        """Train on text ``lines`` and write the model folder (as :meth:`save` does) within a
        memory budget: ``memory`` bytes, or ``"1G"``, ``"500M"``, ``"80%"`` (of physical memory).

        A corpus that fits is built in memory; a larger one in partitions spilled to a temporary
        folder under ``temp_dir`` (the system's by default) and removed afterwards, the model written
        as it is estimated (:mod:`textkit.lm.bounded`). The result is the same model either way.
        kn and mkn only. The model is not kept: load the folder to use it. Returns a summary.

        >>> NgramLM(order=5).build_lines(open("big.txt"), "models/big5", memory="2G")
        """
        self.tokenizer_ = tok = get_tokenizer(self.tokenizer)
        if _splits_in_kernel(tok):
            return self._build(lines, True, folder, memory, temp_dir, force, gzip, native)
        return self._build(tok.tokenize_lines(lines), False, folder, memory, temp_dir, force, gzip, native)

    def _build(self, texts, split_lines, folder, memory, temp_dir, force, gzip, native) -> dict:
        from textkit.artifacts import VOCAB, WEIGHTS, artifact_transaction, check_output_folder, write_config
        from textkit.io import output_error
        from textkit.lm.bounded import build_bounded, parse_memory, write_arpa_stream, write_native_stream

        if self.smoothing not in ("kn", "mkn"):
            raise UsageError(f"a memory budget applies to kn and mkn models, not {self.smoothing}")
        if native and gzip:
            raise UsageError("gzip applies to ARPA files, not to the native format")
        budget = parse_memory(memory)
        check_output_folder(folder, force)
        data_file = WEIGHTS if native else ("model.arpa.gz" if gzip else "model.arpa")
        vocab = model_vocab(self.vocab) if self.vocab is not None else None
        with artifact_transaction(folder, force=force) as tmp:

            def write_model(stream) -> None:
                try:
                    (write_native_stream if native else write_arpa_stream)(tmp / data_file, stream)
                except OSError as e:
                    raise output_error(Path(folder) / data_file, e) from None

            result = build_bounded(
                texts,
                split_lines,
                order=self.order,
                modified=self.smoothing == "mkn",
                discounts=self.discounts,
                min_freq=self.min_freq,
                vocab=vocab,
                memory=budget,
                temp_dir=temp_dir,
                write_model=write_model,
                **getattr(self, "_pieces", {}),
            )
            self.vocab_ = result.vocab
            self.train_tokens_ = result.train_tokens
            self.discounts_ = result.discounts
            self.discount_fallback_orders_ = result.fell_back
            self.tables_ = self.counts_ = None
            self.vocab_.save(tmp / VOCAB)
            if native:
                _save_words(tmp, self.vocab_.tokens)
            params = {
                "order": self.order,
                "smoothing": self.smoothing,
                "k": None,
                "min_freq": self.min_freq,
                "discounts": [list(d) for d in self.discounts_],
                "discount_fallback_orders": self.discount_fallback_orders_ or None,
                "vocab_size": len(self.vocab_),
                "train_tokens": self.train_tokens_,
                "file": data_file,
                "log_base": 10,
            }
            write_config(tmp, KIND, params, self.tokenizer_)
        return {
            "ngrams": result.counts,
            "partitions": result.partitions,
            "buckets": result.buckets,
            "spilled": result.spilled,
        }

    def _prepare_counts(self) -> None:
        """Context totals c(h•) for count-based scoring: Σ_w c(hw) per context h."""
        V = len(self.vocab_)
        sizes = [V] + [len(k) for k in self.keys_]
        self.context_totals_ = [np.array([self.counts_[0].sum()], dtype=np.float64)]
        for n in range(2, self.order_ + 1):
            self.context_totals_.append(context_totals(self.keys_[n - 2], self.counts_[n - 1], V, sizes[n - 2]))

    @property
    def order_(self) -> int:
        return self.tables_.order if self.tables_ is not None else len(self.counts_)

    @property
    def _bos(self) -> int:
        return special_id(self.vocab_, BOS)

    @property
    def _eos(self) -> int:
        return special_id(self.vocab_, EOS)

    @property
    def _unk(self) -> int:
        return special_id(self.vocab_, UNK)

    def _check_fitted(self) -> None:
        if not hasattr(self, "vocab_"):
            raise TextkitError("this NgramLM has not been trained yet; call fit() or load() first")

    # ---- scoring ----------------------------------------------------------------------------------
    def log10_probs(self, seq: np.ndarray) -> np.ndarray:
        """log10 p of every predicted token (every position but ``<s>``) of a wrapped id sequence."""
        self._check_fitted()
        if len(seq) == 0:
            return np.zeros(0)
        if self.tables_ is not None:
            result = self._backoff_log10(seq)
        else:
            result = self._count_log10(seq)
        return result[seq != self._bos]

    def _backoff_log10(self, seq: np.ndarray) -> np.ndarray:
        """The ARPA rule: p(w|h) = p*(hw) if hw is listed, else bow(h) · p(w|h'), as KenLM does."""
        t = self.tables_
        return backoff_log10(seq, t.keys, t.log10_prob, t.log10_backoff, t.vocab_size, self._bos)

    def _count_log10(self, seq: np.ndarray) -> np.ndarray:
        """MLE / add-k with the longest context the line allows (seen or not)."""
        V = len(self.vocab_)
        indices = lookup_indices(seq, self.keys_, V, self._bos)
        count = np.zeros(len(seq))
        total = np.zeros(len(seq))
        for length in range(self.order_):
            context = indices[length - 1] if length else indices[0]
            gather_counts(
                seq,
                self._bos,
                length,
                self.order_ - 1,
                indices[length],
                context,
                self.counts_[length],
                self.context_totals_[length],
                count,
                total,
            )
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.smoothing == "addk":
                p = (count + self.k) / (total + self.k * (V - 1))
            else:
                p = np.where(total > 0, count / np.where(total > 0, total, 1), 0.0)
            return np.log10(p)

    def encode_lines(self, lines: Iterable[str]) -> tuple[np.ndarray, int, int, int]:
        """Tokenize and wrap ``lines``: (sequence, n_lines, n_words, n_unknown_words)."""
        blocks = list(self.encoded_blocks(lines))
        if not blocks:
            return np.zeros(0, np.int32), 0, 0, 0
        seq = np.concatenate([b[0] for b in blocks]) if len(blocks) > 1 else blocks[0][0]
        return seq, sum(b[1] for b in blocks), sum(b[2] for b in blocks), sum(b[3] for b in blocks)

    def encoded_blocks(self, lines: Iterable[str]) -> Iterator[tuple[np.ndarray, int, int, int]]:
        """:meth:`encode_lines` a block of lines at a time (whole lines; memory bounded by the block).

        With the whitespace tokenizer the text is split and looked up in compiled code
        (:mod:`textkit.lm.encoding`), else tokenized and looked up in a dict.
        """
        self._check_fitted()
        tok = self.tokenizer_
        if _splits_in_kernel(tok):
            yield from self._word_table().encode_blocks(lines)
            return
        for chunk in _chunks(tok.tokenize_lines(lines), 1 << 14):
            word_ids, lengths, n_unknown = self._word_index().encode(chunk)
            yield wrap_lines(word_ids, lengths, self._bos, self._eos), len(lengths), len(word_ids), n_unknown

    def _word_table(self):
        """This model's words as a compiled hash table (:class:`~textkit.lm.encoding.WordTable`),
        made from a native file's word bytes when the vocabulary is still the one loaded with it."""
        if getattr(self, "_table_vocab", None) is not self.vocab_:
            from textkit.lm.encoding import WordTable

            if getattr(self, "_words_vocab", None) is self.vocab_:
                words = self._words
                self._table = WordTable.from_bytes(words.data, words.starts, self._unk, self._bos, self._eos)
            else:
                self._table = WordTable.from_vocab(self.vocab_)
            self._table_vocab = self.vocab_
        return self._table

    def _word_index(self) -> WordIndex:
        """Strings to this model's ids (built from the vocabulary when first needed)."""
        if getattr(self, "_index_vocab", None) is not self.vocab_:
            self._index = WordIndex.from_vocab(self.vocab_)
            self._index_vocab = self.vocab_
        return self._index

    def score_lines(self, lines: Iterable[str]) -> tuple[float, int, int]:
        """Total natural-log probability of ``lines``, predicted tokens (words + one ``</s>`` per
        non-empty line), and unknown words: the input of :func:`textkit.lm.perplexity.perplexity_from_logprob`.

        The text is read, encoded and scored a block of lines at a time (for a back-off model split
        on whitespace, on several threads: :mod:`textkit.lm.scoring`). Raises if the text has no
        words, or if every word is outside the vocabulary (a perplexity of ``<unk>`` alone means the
        wrong model or tokenizer).
        """
        self._check_fitted()
        if self.tables_ is not None and _splits_in_kernel(self.tokenizer_):  # on several threads
            from textkit.lm.scoring import score_text

            total, n_lines, n_words, n_unknown = score_text(self._word_table(), self.tables_, lines)
        else:
            total = 0.0
            n_lines = n_words = n_unknown = 0
            for seq, block_lines, block_words, block_unknown in self.encoded_blocks(lines):
                if block_words:
                    total += float(self.log10_probs(seq).sum())
                n_lines += block_lines
                n_words += block_words
                n_unknown += block_unknown
        if n_words == 0:
            raise EmptyCorpusError("the text to score has no tokens (is it empty?)")
        if n_unknown == n_words:
            raise TextkitError(
                f"all {n_words} words of the text are outside the model's vocabulary; "
                "check that the model and its tokenizer match the text"
            )
        return total * LN10, n_words + n_lines, n_unknown

    def perplexity(self, lines: Iterable[str]):
        """Perplexity of ``lines`` (a :class:`~textkit.lm.perplexity.PerplexityResult`).

        >>> lm.perplexity(["the cat sat", "a dog"]).perplexity
        """
        from textkit.lm import evaluate

        return evaluate(self, lines)

    def score(self, sentence: str | Sequence[str], bos: bool = True, eos: bool = True) -> float:
        """Total log10 probability of one sentence (a string, tokenized, or a list of tokens).

        With the defaults this equals ``kenlm.Model(arpa).score(sentence)`` for a kn/mkn model.
        """
        self._check_fitted()
        tokens = self.tokenizer_(sentence) if isinstance(sentence, str) else list(sentence)
        word_ids, _, _ = self._word_index().encode([tokens])
        # wrapped by hand: an empty sentence still predicts </s> after <s> (as in KenLM)
        seq = np.concatenate([[self._bos] if bos else [], word_ids, [self._eos]]).astype(np.int32)
        log10 = self.log10_probs(seq)
        return float(log10.sum() if eos else log10[:-1].sum())

    def logprob(self, word: str, context: Sequence[str] = ()) -> float:
        """log10 p(word | context). Start the context with ``<s>`` for the beginning of a line.

        >>> lm.logprob("cat", ["<s>", "the"])
        """
        self._check_fitted()
        context = list(context)
        ids = [self.vocab_.stoi.get(w, self._unk) for w in context + [word]]
        if word == BOS:
            raise UsageError("<s> is never predicted; it only starts a context")
        if BOS in context[1:]:
            raise UsageError("<s> can only be the first word of a context")
        seq = np.array(ids, dtype=np.int32)
        return float(self.log10_probs(seq)[-1])

    # ---- generation -------------------------------------------------------------------------------
    def next_log10_probs(self, context_ids: Sequence[int]) -> np.ndarray:
        """log10 p(w | context) for every word id w (dense, length V); ``<s>`` gets -inf."""
        self._check_fitted()
        V = len(self.vocab_)
        context = list(context_ids)[-(self.order_ - 1) :] if self.order_ > 1 else []
        if context and self._bos in context[1:]:
            context = context[context.index(self._bos, 1) :]
        keys = self.tables_.keys if self.tables_ is not None else self.keys_
        indices = lookup_indices(np.array(context, dtype=np.int32), keys, V, self._bos) if context else []
        chain = [int(indices[k][-1]) for k in range(len(context)) if len(indices[k]) and indices[k][-1] >= 0]
        if self.tables_ is not None:
            dist = self._next_backoff(chain)
        else:
            dist = self._next_counts(chain, len(context))
        dist[self._bos] = -np.inf
        return dist

    def _next_backoff(self, chain: list[int]) -> np.ndarray:
        t = self.tables_
        V = t.vocab_size
        dist = t.log10_prob[0].copy()
        for k, ctx in enumerate(chain, 1):  # context of length k, table index ctx
            dist += t.log10_backoff[k - 1][ctx]
            lo, hi = np.searchsorted(t.keys[k - 1], [ctx * V, (ctx + 1) * V])
            dist[t.keys[k - 1][lo:hi] % V] = t.log10_prob[k][lo:hi]
        return dist

    def _next_counts(self, chain: list[int], context_len: int) -> np.ndarray:
        V = len(self.vocab_)
        length = len(chain)
        counts = np.zeros(V)
        if length == 0:
            counts[:] = self.counts_[0]
            total = self.context_totals_[0][0]
        elif length == context_len:  # the whole context was seen
            ctx = chain[-1]
            lo, hi = np.searchsorted(self.keys_[length - 1], [ctx * V, (ctx + 1) * V])
            counts[self.keys_[length - 1][lo:hi] % V] = self.counts_[length][lo:hi]
            total = self.context_totals_[length][ctx]
        else:
            total = 0.0
        with np.errstate(divide="ignore"):
            if self.smoothing == "addk":
                return np.log10((counts + self.k) / (total + self.k * (V - 1)))
            return np.log10(counts / total) if total > 0 else np.full(V, -np.inf)

    def generate(
        self,
        prefix: str = "",
        length: int = 20,
        temperature: float = 1.0,
        top_k: int | None = None,
        seed: int | None = None,
    ) -> str:
        """Sample up to ``length`` words after ``prefix`` (a line start), stopping at ``</s>``.

        ``temperature`` divides the log-probabilities (< 1 sharper, > 1 flatter); ``top_k`` keeps the
        k likeliest words; ``<s>`` and ``<unk>`` are never drawn. If a context has no continuation
        (possible only with mle), its oldest word is dropped until one has.

        >>> lm.generate("the", length=5, seed=0)
        """
        self._check_fitted()
        check_generation_options(length, temperature, top_k)
        rng = np.random.default_rng(seed)
        prefix_tokens = self.tokenizer_(prefix) if prefix else []
        context = [self._bos] + [self.vocab_.stoi.get(w, self._unk) for w in prefix_tokens]
        generated: list[str] = []
        for _ in range(length):
            word = self._sample(context, temperature, top_k, rng)
            if word == self._eos:
                break
            generated.append(self.vocab_.tokens[word])
            context.append(word)
        return self.tokenizer_.decode(prefix_tokens + generated)

    def _sample(self, context: list[int], temperature: float, top_k: int | None, rng: np.random.Generator) -> int:
        while True:
            logits = self.next_log10_probs(context) * (LN10 / temperature)
            logits[self._unk] = -np.inf
            if np.isfinite(logits).any() or len(context) <= 1:
                break
            context = context[1:]
        if not np.isfinite(logits).any():
            raise TextkitError("the model gives every word probability zero here; nothing can be generated")
        if top_k is not None and top_k < len(logits):
            cutoff = np.partition(logits, -top_k)[-top_k]
            logits[logits < cutoff] = -np.inf
        p = np.exp(logits - logits.max())
        return int(rng.choice(len(p), p=p / p.sum()))

    # ---- files ------------------------------------------------------------------------------------
    def to_arpa(self, path: PathLike) -> None:
        """Write the model as an ARPA file (``.gz`` suffix: gzipped). Only kn/mkn models have one."""
        self._check_fitted()
        if self.tables_ is None:
            raise UsageError(
                f"{self.smoothing} models cannot be written as ARPA: "
                "their unseen n-grams are not a back-off; use kn or mkn"
            )
        write_arpa(path, self.tables_)

    def save(self, folder: PathLike, force: bool = False, gzip: bool = False, native: bool = False) -> None:
        """Write the model folder in one transaction (:func:`textkit.artifacts.save_artifact`):
        ``config.json`` (with the tokenizer), ``vocab.json`` and, for kn, mkn and ARPA models,
        ``model.arpa[.gz]`` or (``native``) ``weights.safetensors`` (the back-off arrays, loaded by
        memory-mapping; :mod:`textkit.lm.native`); for mle and addk, the counts as
        ``weights.safetensors``. An existing folder is replaced only with ``force``.

        >>> lm.save("models/kn3", native=True)
        """
        from textkit.artifacts import WEIGHTS, save_artifact

        self._check_fitted()
        if native and gzip:
            raise UsageError("gzip applies to ARPA files, not to the native format")
        files = tensors = None
        if self.tables_ is not None and not native:
            data_file = "model.arpa.gz" if gzip else "model.arpa"
            tables = self.tables_

            def files(tmp: Path) -> None:
                write_arpa(tmp / data_file, tables)

        elif self.tables_ is not None:
            from textkit.lm.native import table_arrays

            data_file, tensors = WEIGHTS, table_arrays(self.tables_)
            tokens = self.tables_.tokens

            def files(tmp: Path) -> None:
                _save_words(tmp, tokens)

        else:
            data_file, tensors = WEIGHTS, self._count_arrays()
        save_artifact(
            folder,
            KIND,
            self._params(data_file),
            tensors=tensors,
            vocab=self.vocab_,
            tokenizer=self.tokenizer_,
            files=files,
            force=force,
        )

    def _params(self, data_file: str) -> dict:
        return {
            "order": self.order_,
            "smoothing": self.smoothing,
            "k": self.k if self.smoothing == "addk" else None,
            "min_freq": self.min_freq,
            "discounts": [list(d) for d in self.discounts_] if self.discounts_ else None,
            "discount_fallback_orders": self.discount_fallback_orders_ or None,
            "vocab_size": len(self.vocab_),
            "train_tokens": getattr(self, "train_tokens_", None),
            "file": data_file,
            "log_base": 10,
        }

    def _count_arrays(self) -> dict[str, np.ndarray]:
        tensors = {"counts_1": self.counts_[0]}
        for n in range(2, self.order_ + 1):
            tensors[f"keys_{n}"] = self.keys_[n - 2]
            tensors[f"counts_{n}"] = self.counts_[n - 1]
        return tensors

    @classmethod
    def load(cls, path: PathLike) -> NgramLM:
        """Load a folder written by :meth:`save` (or by textkit 0.1), or any ARPA file
        (``.arpa`` / ``.arpa.gz``).

        >>> NgramLM.load("models/wt2-mkn5"); NgramLM.load("lm.arpa.gz")
        """
        from textkit.artifacts import describe_kind, load_tokenizer, load_vocab, read_config

        p = Path(path)
        if p.is_file():
            return cls.from_arpa(p)
        config = read_config(p, family="lm")
        if config["kind"] != KIND:
            raise ModelFileError(f"{p}: is {describe_kind(config['kind'])}, not an n-gram model")
        try:
            smoothing, data_file = config["smoothing"], config["file"]
            lm = cls(
                order=int(config["order"]),
                smoothing="kn" if smoothing == "arpa" else smoothing,
                k=config.get("k") or 1.0,
            )
        except (KeyError, TypeError, ValueError, UsageError) as e:
            raise ModelFileError(f"{p}/config.json: incomplete or invalid n-gram config ({e})") from None
        lm.smoothing = smoothing
        lm.min_freq = config.get("min_freq", 1)
        lm.train_tokens_ = config.get("train_tokens")
        lm.discounts_ = [tuple(d) for d in config["discounts"]] if config.get("discounts") else None
        lm.discount_fallback_orders_ = config.get("discount_fallback_orders") or []
        lm.tokenizer_ = lm.tokenizer = load_tokenizer(p, config)
        if data_file.endswith((".arpa", ".arpa.gz")) or smoothing in ("mle", "addk"):
            lm.vocab_ = load_vocab(p)
        if data_file.endswith((".arpa", ".arpa.gz")):
            lm.tables_ = read_arpa(p / data_file)
            lm.counts_ = None
            if lm.tables_.tokens != lm.vocab_.tokens or lm.tables_.order != lm.order:
                raise ModelFileError(f"{p}: {data_file} does not match vocab.json / config.json (mixed-up files?)")
        elif smoothing in ("mle", "addk"):
            lm._load_counts(p / data_file)
        else:
            lm._load_native(p, data_file)
        return lm

    def _load_native(self, folder: Path, data_file: str) -> None:
        """The memory-mapped tables of a native file, and its words from ``words.safetensors``, kept
        as bytes until strings are needed (``vocab.json`` is read only for a folder without that
        file, or for the word frequencies)."""
        from textkit.artifacts import load_vocab
        from textkit.lm.native import WORDS, load_tables, load_words

        self.counts_ = None
        if not (folder / WORDS).exists():
            self.vocab_ = load_vocab(folder)
            self.tables_ = load_tables(folder / data_file, self.vocab_.tokens, self.order)
            return
        words = load_words(folder / WORDS)
        self.tables_ = load_tables(folder / data_file, words, self.order)

        def freqs() -> list[int]:
            vocab = load_vocab(folder)
            if vocab.tokens != words.to_list():
                raise ModelFileError(f"{folder}: vocab.json does not match {WORDS} (mixed-up files?)")
            return vocab.freqs

        self.vocab_ = Vocab._from_distinct(words.to_list, freqs, SPECIALS, UNK, size=len(words))
        self._words, self._words_vocab = words, self.vocab_

    @classmethod
    def from_arpa(cls, path: PathLike, tokenizer="whitespace") -> NgramLM:
        """A model from any ARPA file; its text is split with ``tokenizer`` (whitespace: as KenLM)."""
        tables = read_arpa(path)
        lm = cls(order=tables.order, smoothing="kn")
        lm.smoothing = "arpa"  # estimated elsewhere: we only know it is a back-off model
        lm.tables_, lm.counts_ = tables, None
        lm.discounts_, lm.discount_fallback_orders_ = None, []
        lm.tokenizer_ = get_tokenizer(tokenizer)
        lm.vocab_ = Vocab(tables.tokens, None, specials=(UNK, BOS, EOS), unk_token=UNK)
        return lm

    def _load_counts(self, path: Path) -> None:
        from textkit.io import check_readable

        check_readable(path)
        try:
            from safetensors.numpy import load_file

            tensors = load_file(str(path))
            self.counts_ = [tensors["counts_1"]] + [tensors[f"counts_{n}"] for n in range(2, self.order + 1)]
            self.keys_ = [tensors[f"keys_{n}"] for n in range(2, self.order + 1)]
        except Exception as e:  # safetensors raises its own error types for corrupt files
            raise ModelFileError(f"{path}: not a valid n-gram counts file ({e})") from None
        if len(self.counts_[0]) != len(self.vocab_):
            raise ModelFileError(f"{path}: counts do not match vocab.json (mixed-up files?)")
        self.tables_ = None
        self._prepare_counts()

    def __repr__(self) -> str:
        fitted = f", V={len(self.vocab_)}" if hasattr(self, "vocab_") else ""
        return f"NgramLM(order={self.order}, smoothing={self.smoothing!r}{fitted})"


def _save_words(folder: Path, tokens) -> None:
    """The native format's words file (:mod:`textkit.lm.native`) in ``folder``."""
    from textkit.io import save_tensors
    from textkit.lm.native import WORDS, word_arrays

    save_tensors(folder / WORDS, word_arrays(tokens))


def _splits_in_kernel(tokenizer) -> bool:
    """Whether text for this tokenizer can be split by the compiled whitespace split of :mod:`textkit.lm.encoding`."""
    return type(tokenizer) is WhitespaceTokenizer and not tokenizer.lowercase
