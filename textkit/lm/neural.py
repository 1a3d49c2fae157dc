"""Neural language models: embedding → RNN/LSTM/GRU → dropout → linear, over any textkit tokenizer.

Text becomes one stream of token ids: every non-blank line is tokenized and followed by ``<eos>``;
tokens outside the vocabulary become ``<unk>``. The model reads the stream sequence-first,
``(T, B)``, and predicts the next token at every position (the pytorch/examples layout).

Scoring follows :mod:`textkit.lm.perplexity`: the stream is preceded by one ``<eos>`` that is context
only, every word and every line-end ``<eos>`` is predicted once, the hidden state is carried from
line to line, and the log-probabilities are summed in natural log.

>>> from textkit.vocab import Vocab
>>> vocab = build_lm_vocab([["the", "cat"], ["the", "dog"]])
>>> lm = NeuralLM(vocab, tokenizer="whitespace", model="gru", embed_dim=8, hidden_dim=8, layers=1)
>>> logprob, tokens, oov = lm.score_lines(["the cat", "a dog"])
>>> tokens, oov
(6, 1)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from textkit.artifacts import (
    CONFIG,
    VOCAB,
    WEIGHTS,
    artifact_transaction,
    describe_kind,
    load_tokenizer,
    load_vocab,
    load_weights,
    read_config,
    write_config,
)
from textkit.errors import EmptyCorpusError, ModelFileError, UsageError
from textkit.io import PathLike, save_tensors
from textkit.lm import check_generation_options
from textkit.lm.rnn import GATES, make_recurrent_layer
from textkit.tokenize import Tokenizer, get_tokenizer
from textkit.training import torch_threads
from textkit.vocab import Vocab

KIND = "lm.neural"
SPECIALS = ("<unk>", "<pad>", "<bos>", "<eos>")
INITS = ("torch", "uniform", "xavier", "kaiming")
IMPLS = ("torch", "scratch")
SOFTMAXES = ("full", "adaptive")
# the architecture: what config.json must hold to rebuild the network
ARCHITECTURE = ("model", "embed_dim", "hidden_dim", "layers", "dropout", "tied", "impl", "init", "softmax", "cutoffs")
# what configs written before the adaptive softmax existed mean
ARCHITECTURE_DEFAULTS = {"softmax": "full", "cutoffs": None}
# adaptive softmax: the head holds the words covering this share of the training tokens, the first
# tail cluster the next ones up to the second share, the last cluster the rest (Grave et al. 2017)
CUTOFF_COVERAGE = (0.8, 0.95)
# per chunk of scoring, at most this many logits are held in memory (16 MiB of float32; several
# copies of a chunk are alive at once: scores, log-probabilities, the adaptive head's parts)
MAX_LOGITS = 1 << 22
# chosen by test perplexity at the pytorch/examples settings on several corpora (benchmarks/bench_lm.py)
DEFAULT_INIT = "torch"
# a recurrence whose per-step state product (rows x hidden x gates*hidden multiply-adds) is below this
# runs on one thread: scoring one stream or sampling (batch 1) gives products too small to share, and
# with more threads every step waits on the slowest one, many times slower on a busy machine
SERIAL_STEP_MACS = 1 << 20


def build_lm_vocab(token_lists: Iterable[Sequence[str]], min_freq: int = 1, max_size: int | None = None) -> Vocab:
    """The vocabulary a neural LM predicts over: ``<unk> <pad> <bos> <eos>`` then tokens by frequency."""
    return Vocab.build(token_lists, min_freq=min_freq, max_size=max_size, specials=SPECIALS)


def default_cutoffs(vocab: Vocab) -> list[int]:
    """Adaptive-softmax cluster boundaries from the vocabulary's frequency profile.

    Ids are in frequency order, so a boundary is the first id at which the words before it cover
    :data:`CUTOFF_COVERAGE` of the counted tokens. A cluster is kept only if it at least doubles the
    one before it (a tiny cluster costs a projection and saves nothing); there is always one.

    >>> default_cutoffs(vocab)   # e.g. [2300, 9800] for 33k words of Wikipedia
    """
    freqs = torch.tensor(vocab.freqs, dtype=torch.float64)
    share = freqs.cumsum(0) / max(float(freqs.sum()), 1.0)
    size, cutoffs = len(vocab), []
    for coverage in CUTOFF_COVERAGE:
        cut = int(torch.searchsorted(share, coverage)) + 1
        if cut < size - 1 and cut >= 2 * (cutoffs[-1] if cutoffs else len(SPECIALS)):
            cutoffs.append(cut)
    return cutoffs or [max(1, min(size // 2, size - 2))]


def encode_lines(lines: Iterable[str], tokenizer: Tokenizer, vocab: Vocab) -> tuple[Tensor, int]:
    """Token ids of ``lines`` as one stream with ``<eos>`` after every non-blank line, and the OOV count.

    >>> ids, oov = encode_lines(["a b", "", "c"], get_tokenizer("whitespace"), vocab)  # a b <eos> c <eos>
    """
    return encode_token_lists(tokenizer.tokenize_lines(lines), vocab)


def encode_token_lists(token_lists: Iterable[Sequence[str]], vocab: Vocab) -> tuple[Tensor, int]:
    """Like :func:`encode_lines` for text that is already tokenized."""
    eos, unk = vocab.eos_id, vocab.unk_id
    ids: list[int] = []
    oov = 0
    for tokens in token_lists:
        if not tokens:
            continue
        line_ids = vocab.encode(tokens)
        oov += sum(1 for t, i in zip(tokens, line_ids) if i == unk and t != "<unk>")
        ids.extend(line_ids)
        ids.append(eos)
    return torch.tensor(ids, dtype=torch.long), oov


class NeuralLM(nn.Module):
    """Embedding → ``model`` (rnn|lstm|gru, ``impl`` torch|scratch) → dropout → linear decoder.

    ``tied`` shares the embedding matrix with the decoder (Press & Wolf 2017; needs
    ``embed_dim == hidden_dim``). ``init`` picks the initialisation of the embedding, decoder and
    recurrent matrices: ``torch`` (every layer's own default: N(0, 1) embedding, ±1/sqrt(fan-in)
    elsewhere), ``uniform`` (pytorch/examples: ±0.1 for embedding and decoder, torch's default for the
    recurrent layer), ``xavier`` or ``kaiming`` (biases zero).

    ``softmax="adaptive"`` replaces the decoder with ``torch.nn.AdaptiveLogSoftmaxWithLoss`` (Grave et
    al. 2017): frequent words in a head, rarer ones in tail clusters split at ``cutoffs`` (default:
    :func:`default_cutoffs`). Its log-probabilities are exact and normalised, so scoring and sampling
    are unchanged; ``tied`` then shares the head's word rows with the embedding.

    >>> lm = NeuralLM(vocab, "en", model="lstm", embed_dim=200, hidden_dim=200, layers=2, tied=True)
    >>> logits, state = lm(torch.zeros(35, 20, dtype=torch.long))   # (T, B) -> (T, B, V)
    """

    kind = KIND

    def __init__(
        self,
        vocab: Vocab,
        tokenizer: str | Tokenizer = "en",
        model: str = "lstm",
        embed_dim: int = 200,
        hidden_dim: int = 200,
        layers: int = 2,
        dropout: float = 0.2,
        tied: bool = False,
        impl: str = "torch",
        init: str = DEFAULT_INIT,
        softmax: str = "full",
        cutoffs: Sequence[int] | None = None,
    ):
        super().__init__()
        _check_architecture(model, embed_dim, hidden_dim, layers, dropout, tied, impl, init, softmax)
        self.vocab = vocab
        self.tokenizer = get_tokenizer(tokenizer)
        if softmax == "adaptive":
            cutoffs = _check_cutoffs(list(cutoffs) if cutoffs else default_cutoffs(vocab), len(vocab))
        elif cutoffs:
            raise UsageError("cutoffs only apply to the adaptive softmax")
        self.config = dict(
            model=model,
            embed_dim=embed_dim,
            hidden_dim=hidden_dim,
            layers=layers,
            dropout=dropout,
            tied=tied,
            impl=impl,
            init=init,
            softmax=softmax,
            cutoffs=list(cutoffs) if cutoffs else None,
        )
        self.embedding = nn.Embedding(len(vocab), embed_dim)
        self.encoder = make_recurrent_layer(model, impl, embed_dim, hidden_dim, layers, dropout)
        self.drop = nn.Dropout(dropout)
        if softmax == "adaptive":
            self.decoder = nn.AdaptiveLogSoftmaxWithLoss(
                hidden_dim, len(vocab), cutoffs, div_value=_div_value(hidden_dim, len(cutoffs)), head_bias=True
            )
        else:
            self.decoder = nn.Linear(hidden_dim, len(vocab))
            if tied:
                self.decoder.weight = self.embedding.weight
        if init != "torch":  # "torch": the layers were just built with their own defaults
            self.init_weights(init)

    # ---- network --------------------------------------------------------------------------------
    def init_weights(self, init: str) -> None:
        """(Re)initialise the parameters with the ``init`` scheme (see the class docstring)."""
        adaptive = self.config["softmax"] == "adaptive"
        if init == "torch":  # the layers' own defaults: N(0, 1) embedding, ±1/sqrt(fan_in) elsewhere
            self.embedding.reset_parameters()
            self.encoder.reset_parameters()
            if adaptive or not self.config["tied"]:
                self.decoder.reset_parameters()
            else:
                bound = 1 / math.sqrt(self.config["hidden_dim"])
                nn.init.uniform_(self.decoder.bias, -bound, bound)
            return
        if init == "uniform":
            nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
            if adaptive:
                for name, p in self.decoder.named_parameters():
                    nn.init.zeros_(p) if name.endswith("bias") else nn.init.uniform_(p, -0.1, 0.1)
                return
            nn.init.zeros_(self.decoder.bias)
            if not self.config["tied"]:
                nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
            return
        fill = nn.init.xavier_uniform_ if init == "xavier" else nn.init.kaiming_uniform_
        for p in self.parameters():
            if p.dim() == 2:
                fill(p)
            else:
                nn.init.zeros_(p)

    def embed(self, tokens: Tensor) -> Tensor:
        """Input vectors of ``tokens``; with a tied adaptive head, its word rows serve the frequent ids."""
        if not (self.config["tied"] and self.config["softmax"] == "adaptive"):
            return self.embedding(tokens)
        shortlist = self.decoder.shortlist_size
        head_rows = nn.functional.embedding(tokens.clamp(max=shortlist - 1), self.decoder.head.weight)
        return torch.where((tokens < shortlist).unsqueeze(-1), head_rows, self.embedding(tokens))

    def forward(self, tokens: Tensor, state=None, targets: Tensor | None = None):
        """``tokens (T, B)`` → scores ``(T, B, V)`` and the new recurrent state.

        The scores are logits (full softmax) or normalised log-probabilities (adaptive): either way
        ``log_softmax`` of them is the model's distribution. With ``targets (T, B)`` the first result
        is instead the mean negative log-likelihood of the targets (what training minimises; the
        adaptive head then evaluates only the clusters the targets fall in).
        """
        inputs = self.drop(self.embed(tokens))
        serial = self.device.type == "cpu" and self._step_macs(tokens.shape[1]) < SERIAL_STEP_MACS
        with torch_threads(1 if serial else None):
            output, state = self.encoder(inputs, state)
        hidden = self.drop(output)
        if targets is not None:
            return self.loss(hidden, targets), state
        if self.config["softmax"] == "adaptive":
            flat = self.decoder.log_prob(hidden.reshape(-1, hidden.shape[-1]))
            return flat.view(*hidden.shape[:-1], -1), state
        return self.decoder(hidden), state

    def loss(self, hidden: Tensor, targets: Tensor) -> Tensor:
        """Mean cross-entropy of ``targets`` given the decoder inputs ``hidden (..., hidden_dim)``."""
        flat, flat_targets = hidden.reshape(-1, hidden.shape[-1]), targets.reshape(-1)
        if self.config["softmax"] == "adaptive":
            return self.decoder(flat, flat_targets).loss
        return nn.functional.cross_entropy(self.decoder(flat), flat_targets)

    def _step_macs(self, rows: int) -> int:
        """Multiply-adds of one recurrent step's state product for ``rows`` sequences (one layer)."""
        hidden = self.config["hidden_dim"]
        return rows * hidden * GATES[self.config["model"]] * hidden

    def init_state(self, batch_size: int):
        """Zero recurrent state for ``batch_size`` rows (a pair ``(h, c)`` for the LSTM)."""
        weight = self.embedding.weight
        h = weight.new_zeros(self.config["layers"], batch_size, self.config["hidden_dim"])
        return (h, h.clone()) if self.config["model"] == "lstm" else h

    @property
    def device(self) -> torch.device:
        return self.embedding.weight.device

    # ---- text -----------------------------------------------------------------------------------
    def encode_lines(self, lines: Iterable[str]) -> tuple[Tensor, int]:
        """See :func:`encode_lines`, with this model's tokenizer and vocabulary."""
        return encode_lines(lines, self.tokenizer, self.vocab)

    @torch.no_grad()
    def stream_logprob(
        self, stream: Tensor, rows: int = 1, row_subset: Sequence[int] | None = None
    ) -> tuple[float, int]:
        """Sum of ln p over ``stream[1:]`` given the tokens before (``stream[0]`` is context only).

        The predictions are cut into ``rows`` contiguous segments scored side by side (each starts
        with a fresh state and the token before it as context): ``rows=1`` is the exact stream;
        more rows are faster. ``row_subset`` scores only some segments, so that several processes
        can share an evaluation and together count every token exactly once.
        Returns ``(logprob_nats, predicted_tokens)``.
        """
        n = len(stream) - 1
        if n < 1:
            return 0.0, 0
        rows = max(1, min(rows, n))
        bounds = [round(i * n / rows) for i in range(rows + 1)]
        chosen = list(range(rows)) if row_subset is None else [r for r in row_subset if r < rows]
        if not chosen:
            return 0.0, 0
        length = max(bounds[r + 1] - bounds[r] for r in chosen)
        inputs = torch.full((length, len(chosen)), self.vocab.pad_id, dtype=torch.long)
        targets = torch.full((length, len(chosen)), -1, dtype=torch.long)
        for j, r in enumerate(chosen):
            size = bounds[r + 1] - bounds[r]
            inputs[:size, j] = stream[bounds[r] : bounds[r + 1]]
            targets[:size, j] = stream[bounds[r] + 1 : bounds[r + 1] + 1]
        was_training = self.training
        self.eval()
        try:
            return self._sum_logprob(inputs.to(self.device), targets.to(self.device))
        finally:
            self.train(was_training)

    def _sum_logprob(self, inputs: Tensor, targets: Tensor) -> tuple[float, int]:
        chunk = max(1, MAX_LOGITS // (inputs.shape[1] * len(self.vocab)))
        state, total = self.init_state(inputs.shape[1]), torch.zeros((), dtype=torch.float64, device=self.device)
        for t in range(0, inputs.shape[0], chunk):
            logits, state = self(inputs[t : t + chunk], state)  # log_softmax: a no-op on adaptive scores
            target = targets[t : t + chunk]
            logprobs = torch.log_softmax(logits.float(), dim=-1)
            picked = logprobs.gather(-1, target.clamp(min=0).unsqueeze(-1)).squeeze(-1)
            total += picked.masked_fill(target < 0, 0.0).sum(dtype=torch.float64)
        return float(total), int((targets >= 0).sum())

    def score_lines(self, lines: Iterable[str]) -> tuple[float, int, int]:
        """Score text lines under the perplexity contract: ``(logprob_nats, predicted_tokens, oov_tokens)``."""
        ids, oov = self.encode_lines(lines)
        if len(ids) == 0:
            raise EmptyCorpusError("no tokens to score (the text is empty)")
        stream = torch.cat([torch.tensor([self.vocab.eos_id]), ids])
        logprob, tokens = self.stream_logprob(stream)
        return logprob, tokens, oov

    @torch.no_grad()
    def generate(
        self,
        prefix: str = "",
        length: int = 50,
        temperature: float = 1.0,
        top_k: int | None = None,
        seed: int | None = None,
    ) -> str:
        """Continue the line ``prefix`` by up to ``length`` sampled tokens, stopping at ``<eos>``.

        Returns prefix and continuation as text. ``temperature`` divides the logits (lower: safer
        text); ``top_k`` samples among the k most likely tokens only; ``<unk>``, ``<pad>`` and
        ``<bos>`` are never sampled (the n-gram models' convention too).

        >>> lm.generate("the history of", length=20, temperature=0.8, top_k=40, seed=0)
        """
        check_generation_options(length, temperature, top_k)
        generator = torch.Generator(device="cpu")
        generator.manual_seed(seed if seed is not None else torch.seed())
        was_training = self.training
        self.eval()
        try:
            prefix_tokens = self.tokenizer.tokenize(prefix) if prefix.strip() else []
            context = [self.vocab.eos_id] + self.vocab.encode(prefix_tokens)
            sampled = self._sample(context, length, temperature, top_k, generator)
        finally:
            self.train(was_training)
        return self.tokenizer.decode(prefix_tokens + sampled)

    def _sample(self, context: list[int], length: int, temperature: float, top_k: int | None, generator) -> list[str]:
        banned = [self.vocab.special_id(s) for s in SPECIALS if s != "<eos>"]
        logits, state = self(torch.tensor(context, device=self.device).unsqueeze(1))
        out: list[str] = []
        for _ in range(length):
            last = logits[-1, 0].double().cpu()
            last[banned] = -math.inf
            # shift so the best score is 0 before dividing: a tiny temperature then gives -inf
            # to the others (greedy) instead of inf - inf = nan
            last = (last - last.max()) / temperature
            if top_k is not None and top_k < len(last):
                kth = torch.topk(last, top_k).values[-1]
                last[last < kth] = -math.inf
            next_id = int(torch.multinomial(torch.softmax(last, -1), 1, generator=generator))
            if next_id == self.vocab.eos_id:
                break
            out.append(self.vocab.lookup_token(next_id))
            logits, state = self(torch.tensor([[next_id]], device=self.device), state)
        return out

    # ---- training -------------------------------------------------------------------------------
    def fit(
        self,
        lines: Iterable[str],
        valid_lines: Iterable[str] | None = None,
        config=None,
        checkpoint_dir: PathLike | None = None,
    ) -> dict:
        """Train this network on text ``lines`` (the vocabulary is the model's own); nothing is saved.

        ``config`` is a :class:`textkit.lm.train.TrainConfig`; with ``valid_lines`` the model ends
        with its best validation epoch's weights, without them with the last epoch's.
        ``checkpoint_dir`` (optional) keeps a resumable checkpoint after every epoch. Returns the
        figures of :meth:`textkit.lm.train.LMTrainer.result`.

        >>> lm = NeuralLM(build_lm_vocab(get_tokenizer("en").tokenize_lines(lines)), "en", model="gru")
        >>> history = lm.fit(lines, config=TrainConfig(epochs=2))["history"]
        """
        from textkit.lm.train import LMTrainer

        train_ids, _ = self.encode_lines(lines)
        valid = list(valid_lines) if valid_lines is not None else []
        valid_ids = self.encode_lines(valid)[0] if valid else None
        return LMTrainer(self, train_ids, valid_ids, config, checkpoint_dir).fit()

    # ---- files ----------------------------------------------------------------------------------
    def config_params(self, extra: dict | None = None) -> dict:
        """What config.json holds besides format, kind and tokenizer: architecture and vocabulary size."""
        return {**self.config, "vocab_size": len(self.vocab), **(extra or {})}

    def save(self, directory: PathLike, extra_config: dict | None = None, force: bool = False) -> None:
        """Write the model folder ``directory`` (kind ``lm.neural``): ``config.json`` (architecture and
        tokenizer), ``vocab.json``, ``weights.safetensors``.

        All or nothing (:func:`textkit.artifacts.artifact_transaction`): an existing folder is
        replaced only with ``force``, and only once the new one is complete.
        """
        with artifact_transaction(directory, force=force) as tmp:
            self.write_files(tmp, extra_config)

    def write_files(self, directory: PathLike, extra_config: dict | None = None) -> None:
        """The files of :meth:`save`, written into an existing folder (the tokenizer copies any file
        it needs, such as a sentencepiece model, so the folder is self-contained)."""
        d = Path(directory)
        save_tensors(d / WEIGHTS, self.weights())
        self.vocab.save(d / VOCAB)
        write_config(d, KIND, self.config_params(extra_config), self.tokenizer)

    def weights(self) -> dict[str, Tensor]:
        """The state dict without the tied decoder weight (safetensors refuses shared tensors)."""
        state = self.state_dict()
        if self.config["tied"] and self.config["softmax"] == "full":
            state.pop("decoder.weight")
        return state

    def load_weights(self, tensors: dict[str, Tensor], source: str) -> None:
        """Load a dict written by :meth:`weights`; wrong names or shapes, NaN or infinity raise ModelFileError."""
        if self.config["tied"] and self.config["softmax"] == "full":
            tensors = {**tensors, "decoder.weight": tensors.get("embedding.weight")}
        expected = self.state_dict()
        missing = sorted(set(expected) - set(tensors))
        unexpected = sorted(set(tensors) - set(expected))
        if missing or unexpected:
            raise ModelFileError(
                f"{source}: weights do not match the config (missing {missing[:3]}, unexpected {unexpected[:3]})"
            )
        for name, value in tensors.items():
            if value is None or value.shape != expected[name].shape:
                shape = None if value is None else tuple(value.shape)
                raise ModelFileError(
                    f"{source}: {name} has shape {shape}, the config needs {tuple(expected[name].shape)} "
                    "(does vocab.json belong to this model?)"
                )
            if value.is_floating_point() and not bool(torch.isfinite(value).all()):
                raise ModelFileError(f"{source}: {name} holds NaN or infinite values; the model is unusable")
        self.load_state_dict(tensors)

    @classmethod
    def load(cls, directory: PathLike, device: str = "cpu") -> NeuralLM:
        """Read a folder written by :meth:`save` (or by textkit 0.1); corrupt or mismatched files
        raise ModelFileError."""
        d = Path(directory)
        config = read_config(d, family="lm")
        if config["kind"] != KIND:
            raise ModelFileError(f"{d}: is {describe_kind(config['kind'])}, not a neural language model")
        model = cls.from_config(config, load_vocab(d), d)
        model.load_weights(load_weights(d), str(d / WEIGHTS))
        return model.to(device)

    @classmethod
    def from_config(cls, config: dict, vocab: Vocab, directory: Path) -> NeuralLM:
        """Build an untrained network described by ``config`` (checked against ``vocab``)."""
        source = Path(directory) / CONFIG
        config = {**ARCHITECTURE_DEFAULTS, **config}
        missing = [k for k in (*ARCHITECTURE, "vocab_size") if k not in config]
        if missing:
            raise ModelFileError(f"{source}: config lacks {', '.join(missing)}")
        if config["vocab_size"] != len(vocab):
            raise ModelFileError(
                f"{Path(directory) / VOCAB}: has {len(vocab)} tokens but the model was trained with "
                f"{config['vocab_size']}; the vocabulary does not belong to this model"
            )
        if tuple(vocab.specials) != SPECIALS:
            raise ModelFileError(
                f"{Path(directory) / VOCAB}: a neural LM vocabulary must start with {' '.join(SPECIALS)}"
            )
        tokenizer = load_tokenizer(directory, config)
        try:
            return cls(vocab, tokenizer, **{k: config[k] for k in ARCHITECTURE})
        except (UsageError, TypeError) as e:
            raise ModelFileError(f"{source}: invalid architecture ({e})") from None


def _check_architecture(model, embed_dim, hidden_dim, layers, dropout, tied, impl, init, softmax) -> None:
    if model not in GATES:
        raise UsageError(f"unknown model {model!r}; choose one of {', '.join(GATES)}")
    if impl not in IMPLS:
        raise UsageError(f"unknown implementation {impl!r}; choose one of {', '.join(IMPLS)}")
    if init not in INITS:
        raise UsageError(f"unknown init {init!r}; choose one of {', '.join(INITS)}")
    if softmax not in SOFTMAXES:
        raise UsageError(f"unknown softmax {softmax!r}; choose one of {', '.join(SOFTMAXES)}")
    if min(embed_dim, hidden_dim, layers) < 1:
        raise UsageError("embed_dim, hidden_dim and layers must be positive")
    if not 0 <= dropout < 1:  # also refuses NaN
        raise UsageError(f"dropout must be in [0, 1), got {dropout}")
    if tied and embed_dim != hidden_dim:
        raise UsageError(
            f"a tied model shares the embedding with the output layer, so the embedding size ({embed_dim}) "
            f"must equal the hidden size ({hidden_dim})"
        )


def _div_value(hidden_dim: int, clusters: int) -> float:
    """Each tail cluster projects to a quarter of the size of the one before (Grave et al.), less
    where a small hidden size would leave the last cluster an empty projection."""
    div = 4.0
    while div > 1.0 and hidden_dim // (div**clusters) < 1:
        div -= 0.25
    return div


def _check_cutoffs(cutoffs: list[int], vocab_size: int) -> list[int]:
    if (
        not cutoffs
        or any(not isinstance(c, int) for c in cutoffs)
        or cutoffs != sorted(set(cutoffs))
        or cutoffs[0] < 1
        or cutoffs[-1] > vocab_size - 2
    ):
        raise UsageError(
            f"cutoffs must be increasing whole numbers between 1 and {vocab_size - 2} (the vocabulary has "
            f"{vocab_size} tokens), got {cutoffs}"
        )
    return cutoffs
