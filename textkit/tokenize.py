"""Tokenizers: text in, a list of token strings out.

All tokenizers share one small interface (:class:`Tokenizer`): ``tok.tokenize(text)``, ``tok(text)``
and the lazy ``tok.tokenize_lines(lines, workers=1)``. They are plain picklable objects, so they work
in DataLoader workers, multiprocessing pools and scikit-learn pipelines; heavy state (jieba's
dictionary, a sentencepiece model) is loaded lazily, once per process, and never pickled.

>>> get_tokenizer("en")("Don't panic: it's 3.14!")
["don't", 'panic', ':', "it's", '3.14', '!']
"""

from __future__ import annotations

import io
import logging
import re
from collections import deque
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

from textkit.errors import InputFileError, ModelFileError, UsageError
from textkit.io import PathLike, atomic_paths, atomic_write, check_readable, iter_lines

LANGS = ("en", "zh", "char", "whitespace", "spm:MODEL")

# A number with inner separators (3.14, 1,299.99), a word with inner apostrophes or hyphens
# (don't, state-of-the-art, COVID-19), or any single other non-space character.
_EN_TOKEN = re.compile(r"\d+(?:[.,]\d+)+|\w+(?:['’\-]\w+)*|[^\w\s]")
# Chinese characters (CJK unified ideographs, extension A and compatibility ideographs).
_HAN_RUN = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)")
_HAN_CHAR = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# jieba's re_han_default: the blocks its precise and search modes segment with the dictionary
_JIEBA_BLOCK = re.compile(r"([\u4E00-\u9FD5a-zA-Z0-9+#&\._%\-]+)")


class Tokenizer:
    """Base class. Subclasses implement :meth:`tokenize`; ``spec`` names them for files and CLI."""

    spec = "?"

    def tokenize(self, text: str) -> list[str]:
        raise NotImplementedError

    def __call__(self, text: str) -> list[str]:
        return self.tokenize(text)

    def tokenize_lines(self, lines: Iterable[str], workers: int = 1, chunk_size: int = 2000) -> Iterator[list[str]]:
        """Yield one token list per line, lazily and in order.

        With ``workers > 1`` chunks of ``chunk_size`` lines are tokenized in a process pool; memory
        stays bounded because at most two chunks per worker are in flight at once.
        """
        if workers < 1:
            raise UsageError(f"workers must be at least 1, not {workers}")
        if workers == 1:
            tokenize = self.tokenize
            for line in lines:
                yield tokenize(line)
            return
        yield from self._tokenize_in_pool(lines, workers, chunk_size)

    def _tokenize_in_pool(self, lines: Iterable[str], workers: int, chunk_size: int) -> Iterator[list[str]]:
        # Pool.imap would drain the whole input into its task queue at once (a multi-GB file in
        # memory), so chunks are submitted by hand: at most 2 per worker are in flight.
        import multiprocessing  # here: most runs tokenize in one process, and the import is not free

        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        if method == "fork":
            self.load()  # forked workers share the loaded dictionary instead of each loading one
        ctx = multiprocessing.get_context(method)
        in_flight: deque = deque()
        with ctx.Pool(workers, initializer=_init_worker, initargs=(self,)) as pool:
            for chunk in _chunked(lines, chunk_size):
                in_flight.append(pool.apply_async(_tokenize_chunk, (chunk,)))
                if len(in_flight) >= 2 * workers:
                    yield from in_flight.popleft().get()
            while in_flight:
                yield from in_flight.popleft().get()

    def load(self) -> None:
        """Load heavy state (a dictionary, a model) now rather than at the first text."""

    def decode(self, tokens: list[str]) -> str:
        """Best-effort inverse of :meth:`tokenize` (exact for char and sentencepiece)."""
        return " ".join(tokens)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r})"

    # ---- saving with a model ---------------------------------------------------------------------
    def _options(self) -> dict:
        """The constructor arguments that rebuild this tokenizer (JSON values)."""
        return {"lowercase": self.lowercase} if hasattr(self, "lowercase") else {}

    def to_config(self, folder: PathLike) -> dict:
        """Describe this tokenizer as JSON for a model's ``config.json``.

        Files the tokenizer needs (a user dictionary, a sentencepiece model) are written into
        ``folder`` so the model folder is self-contained; the config names them relative to it.

        >>> get_tokenizer("en", lowercase=False).to_config("models/m")
        {'name': 'en', 'lowercase': False}
        """
        return {"name": self.spec, **self._options()}

    @staticmethod
    def from_config(config: dict, folder: PathLike) -> Tokenizer:
        """Rebuild the tokenizer :meth:`to_config` described; files are read relative to ``folder``."""
        return tokenizer_from_config(config, folder)


_worker_tokenizer: Tokenizer | None = None


def _init_worker(tok: Tokenizer) -> None:
    global _worker_tokenizer
    _worker_tokenizer = tok


def _tokenize_chunk(lines: list[str]) -> list[list[str]]:
    assert _worker_tokenizer is not None
    tokenize = _worker_tokenizer.tokenize
    return [tokenize(line) for line in lines]


def _chunked(items: Iterable[str], size: int) -> Iterator[list[str]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


class EnglishTokenizer(Tokenizer):
    """Regex tokenizer: words (with inner ``'`` or ``-``), numbers, and punctuation marks apart.

    >>> EnglishTokenizer(lowercase=False)("State-of-the-art, isn't it?")
    ['State-of-the-art', ',', "isn't", 'it', '?']
    """

    spec = "en"

    def __init__(self, lowercase: bool = True):
        self.lowercase = lowercase

    def tokenize(self, text: str) -> list[str]:
        if self.lowercase:
            text = text.lower()
        return _EN_TOKEN.findall(text)


class WhitespaceTokenizer(Tokenizer):
    """Split on runs of whitespace; for text that is already tokenized."""

    spec = "whitespace"

    def __init__(self, lowercase: bool = False):
        self.lowercase = lowercase

    def tokenize(self, text: str) -> list[str]:
        return (text.lower() if self.lowercase else text).split()


class CharTokenizer(Tokenizer):
    """One token per character; each run of whitespace becomes one ``space_token`` ("▁").

    Keeping spaces as a visible token makes character LMs able to produce word boundaries and keeps
    the output of ``textkit tokenize --lang char`` unambiguous.

    >>> CharTokenizer()("ab c")
    ['a', 'b', '▁', 'c']
    """

    spec = "char"
    _SPACES = re.compile(r"\s+")

    def __init__(self, space_token: str = "▁", lowercase: bool = False):
        self.space_token = space_token
        self.lowercase = lowercase

    def _options(self) -> dict:
        return {"space_token": self.space_token, "lowercase": self.lowercase}

    def tokenize(self, text: str) -> list[str]:
        text = self._SPACES.sub(" ", text.strip())
        if self.lowercase:
            text = text.lower()
        return [self.space_token if c == " " else c for c in text]

    def decode(self, tokens: list[str]) -> str:
        return "".join(" " if t == self.space_token else t for t in tokens)


class ChineseTokenizer(Tokenizer):
    """Chinese word segmentation with jieba.

    ``mode`` is ``"precise"`` (jieba's default), ``"full"`` (every dictionary word, overlapping) or
    ``"search"`` (precise, plus the shorter words inside long ones). ``hmm`` switches jieba's HMM for
    words missing from the dictionary. Stretches without Chinese characters are tokenized by the
    English rules (case kept unless ``lowercase``), so English words and numbers such as ``iPhone``,
    ``COVID-19`` and ``1,299.99`` come out whole, while dictionary words that mix scripts (``T恤``,
    ``B超``) stay whole in precise and search mode. ``user_dict`` is a jieba user dictionary: one
    ``word [freq] [tag]`` per line, UTF-8 (a BOM and CRLF endings are fine).

    >>> ChineseTokenizer()("我在北京使用iPhone 15")
    ['我', '在', '北京', '使用', 'iPhone', '15']
    """

    spec = "zh"
    MODES = ("precise", "full", "search")

    def __init__(
        self, mode: str = "precise", hmm: bool = True, user_dict: PathLike | None = None, lowercase: bool = False
    ):
        if mode not in self.MODES:
            raise UsageError(f"jieba mode must be one of {', '.join(self.MODES)}, not {mode!r}")
        self.mode = mode
        self.hmm = hmm
        self.lowercase = lowercase
        self.user_dict = str(user_dict) if user_dict is not None else None
        self._user_words = read_user_dict(user_dict) if user_dict is not None else []
        self._jieba = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_jieba"] = None  # the dictionary is rebuilt lazily in the receiving process
        return state

    USER_DICT_FILE = "tokenizer.dict"

    def _options(self) -> dict:
        return {"mode": self.mode, "hmm": self.hmm, "lowercase": self.lowercase}

    def to_config(self, folder: PathLike) -> dict:
        config = super().to_config(folder)
        if self.user_dict is not None:
            # the parsed entries, not the user's file: it may have changed or be gone by now
            with atomic_write(Path(folder) / self.USER_DICT_FILE) as f:
                for word, freq, tag in self._user_words:
                    f.write(" ".join(str(x) for x in (word, freq, tag) if x is not None) + "\n")
            config["user_dict"] = self.USER_DICT_FILE
        return config

    def load(self) -> None:
        self._segmenter()

    def _segmenter(self):
        if self._jieba is None:
            self._jieba = _jieba_segmenter(tuple(self._user_words))
        return self._jieba

    def tokenize(self, text: str) -> list[str]:
        seg = self._segmenter()
        if self.mode == "full":
            return self._tokenize_full(seg, text)
        return self._glue(self._cut_precise(seg, text), seg.FREQ if self.mode == "search" else None)

    def _cut_precise(self, seg, text: str) -> Iterator[str]:
        # jieba's own blocks (Chinese with ASCII letters, digits, - . _ % & # +) go through jieba's
        # algorithm (textkit.zh_segment, identical output, faster); everything between them, and
        # blocks without Chinese, is left to the English rules in _glue.
        from textkit.zh_segment import cut_precise  # here: it imports jieba, which only zh needs

        for i, part in enumerate(_JIEBA_BLOCK.split(text)):
            if not part:
                continue
            if part.isascii():
                yield part
            elif i % 2 == 0:  # between blocks: as jieba, rare ideographs outside its range go alone
                yield from (part if _HAN_CHAR.search(part) else (part,))
            else:
                yield from cut_precise(seg, part, self.hmm)

    def _glue(self, words: Iterable[str], search_freq: dict | None = None) -> list[str]:
        # jieba keeps dictionary words that mix scripts (T恤, B超, 卡拉OK, a user's "iPhone手机")
        # whole; the pieces around them without Chinese ("COVID", "-", "19", " ") are glued back
        # together and re-cut by the English rules, which keep words, numbers such as 1,299.99 and
        # hyphenated names whole and drop whitespace. Search mode (``search_freq``) puts the
        # dictionary words of 2 and 3 characters inside a longer Chinese word before it, as
        # jieba.cut_for_search does.
        out: list[str] = []
        pending: list[str] = []
        findall, han, lower = _EN_TOKEN.findall, _HAN_CHAR.search, self.lowercase
        for w in words:
            first = w[0]
            if "\u4e00" <= first <= "\u9fff" or (not w.isascii() and han(w)):
                if pending:
                    out += _english(pending, findall, lower)
                    pending = []
                if search_freq is not None and len(w) > 2:
                    out += [g.lower() if lower else g for g in _search_grams(w, search_freq)]
                out.append(w.lower() if lower else w)
            else:
                pending.append(w)
        if pending:
            out += _english(pending, findall, lower)
        return out

    def _tokenize_full(self, seg, text: str) -> list[str]:
        # Full mode lists every dictionary word, overlapping, so there is no single cut to glue;
        # only the Chinese stretches go to jieba.
        out: list[str] = []
        for i, part in enumerate(_HAN_RUN.split(text)):
            if not part:
                continue
            if i % 2 == 0:  # no Chinese characters here
                out.extend(_EN_TOKEN.findall(part.lower() if self.lowercase else part))
            else:
                out.extend(w for w in seg.lcut(part, cut_all=True) if w)
        return out

    def decode(self, tokens: list[str]) -> str:
        return "".join(tokens)


_SEGMENTERS: dict[tuple, object] = {}


def _jieba_segmenter(user_words: tuple):
    """One jieba dictionary per process and user dictionary: loading one takes about a second."""
    seg = _SEGMENTERS.get(user_words)
    if seg is None:
        import jieba

        jieba.setLogLevel(logging.WARNING)  # no "Building prefix dict..." chatter on stderr
        seg = jieba.Tokenizer()
        seg.initialize()
        for word, freq, tag in user_words:
            seg.add_word(word, freq, tag)
        seg = _SEGMENTERS.setdefault(user_words, seg)
    return seg


def _search_grams(word: str, freq: dict) -> list[str]:
    grams = [word[i : i + 2] for i in range(len(word) - 1) if freq.get(word[i : i + 2])]
    if len(word) > 3:
        grams += [word[i : i + 3] for i in range(len(word) - 2) if freq.get(word[i : i + 3])]
    return grams


def _english(pieces: list[str], findall, lower: bool) -> list[str]:
    if len(pieces) == 1 and len(pieces[0]) == 1:  # the common case: one punctuation mark
        piece = pieces[0]
        return [] if piece.isspace() else [piece.lower() if lower else piece]
    text = "".join(pieces)
    return findall(text.lower() if lower else text)


def read_user_dict(path: PathLike) -> list[tuple[str, int | None, str | None]]:
    """Parse a jieba user dictionary, rejecting a malformed line with its line number."""
    entries = []
    for lineno, line in enumerate(iter_lines(path), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) > 3:
            raise InputFileError(f"{path}: line {lineno}: expected 'word [freq] [tag]', got {line!r}")
        word, freq, tag = fields[0], None, None
        rest = fields[1:]
        if rest and rest[0].isdigit():
            freq = int(rest.pop(0))
        elif rest and re.fullmatch(r"-?\d+(\.\d*)?", rest[0]):
            raise InputFileError(f"{path}: line {lineno}: frequency must be a positive integer, got {rest[0]!r}")
        if rest:
            tag = rest.pop(0)
        if rest:
            raise InputFileError(f"{path}: line {lineno}: expected 'word [freq] [tag]', got {line!r}")
        entries.append((word, freq, tag))
    return entries


class SentencePieceTokenizer(Tokenizer):
    """Subword pieces from a trained sentencepiece model (see :func:`train_sentencepiece`).

    >>> tok = SentencePieceTokenizer("models/spm.model"); tok.decode(tok("hello world"))
    'hello world'
    """

    def __init__(self, model_path: PathLike):
        self.model_path = str(model_path)
        self._sp = None
        self._processor()  # fail early on a missing or corrupt model

    @property
    def spec(self) -> str:  # type: ignore[override]
        return f"spm:{self.model_path}"

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_sp"] = None
        return state

    def _processor(self):
        if self._sp is None:
            import sentencepiece as spm

            p = check_readable(self.model_path)
            sp = spm.SentencePieceProcessor()
            try:
                sp.Load(str(p))
            except (OSError, RuntimeError):  # its text is sentencepiece's internal check, not for users
                raise ModelFileError(f"{p}: not a sentencepiece model file") from None
            self._sp = sp
        return self._sp

    MODEL_FILE = "tokenizer.model"

    def to_config(self, folder: PathLike) -> dict:
        # the loaded model itself, so the folder works even if the original file has gone
        with atomic_write(Path(folder) / self.MODEL_FILE, "wb") as f:
            f.write(self._processor().serialized_model_proto())
        return {"name": "spm", "model": self.MODEL_FILE}

    def load(self) -> None:
        self._processor()

    def tokenize(self, text: str) -> list[str]:
        return self._processor().EncodeAsPieces(text)

    def encode_ids(self, text: str) -> list[int]:
        return self._processor().EncodeAsIds(text)

    def decode(self, tokens: list[str]) -> str:
        return self._processor().DecodePieces(list(tokens))

    def decode_ids(self, ids: list[int]) -> str:
        return self._processor().DecodeIds(list(ids))


def train_sentencepiece(
    source: PathLike | Iterable[str],
    model_prefix: PathLike,
    vocab_size: int = 8000,
    model_type: str = "unigram",
    character_coverage: float = 1.0,
    errors: str = "strict",
    **options,
) -> Path:
    """Train a sentencepiece model from a text file or an iterable of lines.

    Writes ``PREFIX.model`` and ``PREFIX.vocab`` atomically and returns the model path. ``options``
    pass through to ``SentencePieceTrainer`` (e.g. ``input_sentence_size``, ``user_defined_symbols``).

    >>> train_sentencepiece("corpora/en_sample.txt", "models/en_bpe", vocab_size=500, model_type="bpe")
    PosixPath('models/en_bpe.model')
    """
    import sentencepiece as spm

    if model_type not in ("bpe", "unigram", "char", "word"):
        raise UsageError(f"model type must be bpe, unigram, char or word, not {model_type!r}")
    if vocab_size < 2:
        raise UsageError(f"vocab size must be at least 2, not {vocab_size}")
    lines = iter_lines(source, errors=errors) if isinstance(source, (str, Path)) else iter(source)
    nonempty = (line for line in lines if line.strip())
    first = next(nonempty, None)
    if first is None:
        raise InputFileError(f"{source if isinstance(source, (str, Path)) else 'input'}: no text to train on")

    failures: list[Exception] = []

    def sentences() -> Iterator[str]:
        try:
            yield first
            yield from nonempty
        except Exception as e:  # raised inside sentencepiece's C++ loop it would become a RuntimeError
            failures.append(e)

    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.Train(
            sentence_iterator=sentences(),
            model_writer=model,
            vocab_size=vocab_size,
            model_type=model_type,
            character_coverage=character_coverage,
            minloglevel=2,
            **options,
        )
    except RuntimeError as e:
        if failures:
            raise failures[0] from None
        raise UsageError(f"sentencepiece training failed: {_sentencepiece_message(e, vocab_size)}") from None
    if failures:  # the input broke off (bad bytes, a truncated file): no model from half of it
        raise failures[0]
    prefix = Path(model_prefix)
    model_path = prefix.with_name(prefix.name + ".model")
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    # the .model and its .vocab listing are written together: both or neither
    with atomic_paths([model_path, prefix.with_name(prefix.name + ".vocab")]) as (model_tmp, vocab_tmp):
        with open(model_tmp, "wb") as f:
            f.write(model.getvalue())
        with open(vocab_tmp, "w", encoding="utf-8", newline="\n") as f:
            for i in range(sp.GetPieceSize()):
                f.write(f"{sp.IdToPiece(i)}\t{sp.GetScore(i):g}\n")
    return model_path


def _sentencepiece_message(error: Exception, vocab_size: int) -> str:
    """sentencepiece's ``INTERNAL: file.cc(123) [check] Message`` as a sentence a user can act on."""
    import re

    text = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
    text = re.sub(r"^[A-Z_]+: (\S+\(\d+\) )?(\[.*?\] )?", "", text)
    too_high = re.search(r"Vocabulary size too high \((\d+)\).*<= (\d+)", text)
    if too_high:
        return (
            f"the text has too few distinct pieces for a vocabulary of {too_high[1]}; "
            f"use a size of at most {too_high[2]}"
        )
    too_small = re.search(r"smaller than required_chars\. (\d+) vs (\d+)", text)
    if too_small:
        return (
            f"a vocabulary of {too_small[1]} cannot hold the {too_small[2]} characters and special pieces "
            "the text needs; use a larger size or a lower character coverage"
        )
    return re.sub(r"\s*(with )?--\w+( option)?", "", text) or f"vocabulary size {vocab_size}"


_CLASSES: dict[str, type[Tokenizer]] = {
    "en": EnglishTokenizer,
    "zh": ChineseTokenizer,
    "char": CharTokenizer,
    "whitespace": WhitespaceTokenizer,
}


def get_tokenizer(spec: str | Tokenizer, **options) -> Tokenizer:
    """Build a tokenizer from a spec: ``en``, ``zh``, ``char``, ``whitespace`` or ``spm:PATH``.

    Keyword options go to the tokenizer's constructor (``lowercase=False``, ``mode="search"``...).

    >>> get_tokenizer("zh", mode="search", hmm=False)
    ChineseTokenizer('zh')
    """
    if isinstance(spec, Tokenizer):
        return spec
    if not isinstance(spec, str):
        raise UsageError(f"tokenizer spec must be a string such as 'en', not {type(spec).__name__}")
    if spec.startswith("spm:"):
        if not spec[4:]:
            raise UsageError("spm tokenizer needs a model path: spm:PATH/TO/MODEL.model")
        return SentencePieceTokenizer(spec[4:], **options)
    if spec not in _CLASSES:
        raise UsageError(f"unknown tokenizer {spec!r}; choose one of {', '.join(LANGS)}")
    try:
        return _CLASSES[spec](**options)
    except TypeError as e:
        raise UsageError(f"bad option for tokenizer {spec!r}: {e}") from None


def tokenizer_from_config(config: dict | None, folder: PathLike) -> Tokenizer:
    """Rebuild a tokenizer from what :meth:`Tokenizer.to_config` wrote into ``folder``'s config.

    Also reads the descriptions textkit 0.1 wrote (``{"spec": ..., "options": {...}}``); a missing
    description means the whitespace tokenizer.
    """
    folder = Path(folder)
    where = folder / "config.json"
    if config is None:
        return WhitespaceTokenizer()
    if not isinstance(config, dict):
        raise ModelFileError(f"{where}: the tokenizer entry is not an object")
    config = dict(config)
    if "spec" in config and "name" not in config:  # textkit 0.1
        options = config.get("options") or {}
        config = {
            "name": config["spec"],
            **(options if isinstance(options, dict) else {}),
            **({"model": config["model"]} if "model" in config else {}),
        }
    name = config.pop("name", None)
    try:
        if name == "spm":
            return SentencePieceTokenizer(folder / str(config["model"]))
        if name == "zh" and config.get("user_dict"):
            config["user_dict"] = folder / str(config["user_dict"])
        if name not in _CLASSES:
            raise ModelFileError(f"{where}: unknown tokenizer {name!r}")
        return _CLASSES[name](**config)
    except (KeyError, TypeError, UsageError) as e:
        raise ModelFileError(f"{where}: bad tokenizer entry ({e})") from None
