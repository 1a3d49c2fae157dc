"""Vocab: the mapping between tokens and integer ids.

Order is deterministic: the special tokens first (in the order given), then the other tokens by
frequency, highest first, ties broken by first occurrence in the data. Frequencies are kept, so a
saved vocabulary can rebuild subsampling or negative-sampling tables.

>>> v = Vocab.build([["a", "b", "a"], ["c", "a"]], specials=("<unk>", "<pad>"))
>>> v.tokens
['<unk>', '<pad>', 'a', 'b', 'c']
>>> v.encode(["a", "zzz"])
[2, 0]
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import chain
from operator import itemgetter

from textkit.errors import EmptyCorpusError, ModelFileError, TextkitError, UnknownWordError, UsageError
from textkit.io import PathLike, read_json, write_json

# The special tokens, defined once: unknown word, padding, and sequence start and end. (ARPA files
# spell sentence start and end ``<s>`` and ``</s>``; the n-gram models keep that spelling.)
UNK, PAD, BOS, EOS = "<unk>", "<pad>", "<bos>", "<eos>"
DEFAULT_SPECIALS = (UNK, PAD, BOS, EOS)
FORMAT = "textkit.vocab"
VERSION = 1


def _negated_count(token_count: tuple[str, int]) -> int:
    return -token_count[1]


class Vocab:
    """Tokens ↔ ids with frequencies. Build with :meth:`build` or :meth:`from_counter`."""

    def __init__(
        self,
        tokens: Sequence[str],
        freqs: Sequence[int] | None = None,
        specials: Sequence[str] = (),
        unk_token: str | None = UNK,
    ):
        self._tokens: list[str] | Callable[[], list[str]] = list(tokens)
        self._freqs: list[int] | Callable[[], list[int]] = list(freqs) if freqs is not None else [0] * len(self._tokens)
        self._size = len(self._tokens)
        self.specials = tuple(specials)
        if len(self._freqs) != self._size:
            raise ModelFileError("vocabulary has a different number of tokens and frequencies")
        self._stoi: dict[str, int] | None = dict(zip(self.tokens, range(len(self.tokens))))
        if len(self.stoi) != len(self.tokens):
            dup = next(t for t in self.tokens if self.tokens.count(t) > 1)
            raise ModelFileError(f"vocabulary lists token {dup!r} twice")
        if tuple(self.tokens[: len(self.specials)]) != self.specials:
            raise ModelFileError("vocabulary must start with its special tokens")
        self.unk_token = unk_token if unk_token in self.stoi else None
        self._unk_id = self.stoi[self.unk_token] if self.unk_token is not None else None

    @classmethod
    def _from_distinct(
        cls,
        tokens: list[str] | Callable[[], list[str]],
        freqs: list[int] | Callable[[], list[int]],
        specials: tuple[str, ...],
        unk_token: str,
        size: int | None = None,
    ) -> Vocab:
        """For callers that know the tokens are distinct, start with ``specials`` and include
        ``unk_token`` among them: nothing is checked, and :attr:`stoi` is built on first use.

        ``tokens`` and ``freqs`` may be functions that make the lists when first needed (then
        ``size`` says how many tokens there are): an n-gram model hashes its words in compiled
        code, and training and scoring never need them as Python strings.
        """
        vocab = cls.__new__(cls)
        vocab._tokens, vocab._freqs, vocab.specials = tokens, freqs, tuple(specials)
        vocab._size = size if size is not None else len(tokens)
        vocab._stoi = None
        vocab.unk_token, vocab._unk_id = unk_token, vocab.specials.index(unk_token)
        return vocab

    def __getstate__(self) -> dict:  # copies and process pools get the lists, not the functions
        return {**self.__dict__, "_tokens": self.tokens, "_freqs": self.freqs}

    @property
    def tokens(self) -> list[str]:
        """All tokens, by id."""
        if callable(self._tokens):
            self._tokens = self._tokens()
        return self._tokens

    @property
    def freqs(self) -> list[int]:
        """Each token's frequency, by id."""
        if callable(self._freqs):
            self._freqs = self._freqs()
        return self._freqs

    @property
    def stoi(self) -> dict[str, int]:
        """token → id."""
        if self._stoi is None:
            self._stoi = dict(zip(self.tokens, range(len(self.tokens))))
        return self._stoi

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        token_lists: Iterable[Sequence[str]],
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = DEFAULT_SPECIALS,
    ) -> Vocab:
        """Count tokens in one streaming pass over ``token_lists`` and build the vocabulary.

        ``min_freq`` drops rarer tokens; ``max_size`` caps the total size, specials included.
        """
        counter: Counter = Counter(chain.from_iterable(token_lists))
        return cls.from_counter(counter, min_freq=min_freq, max_size=max_size, specials=specials)

    @classmethod
    def from_counter(
        cls,
        counter: Mapping[str, int],
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = DEFAULT_SPECIALS,
    ) -> Vocab:
        """Build from token counts; ties in frequency keep the mapping's insertion order."""
        if min_freq < 1:
            raise UsageError(f"min_freq must be at least 1, not {min_freq}")
        specials = tuple(specials)
        if len(set(specials)) != len(specials):
            raise UsageError(f"special tokens must be distinct, got {list(specials)}")
        if max_size is not None and max_size < len(specials):
            raise UsageError(f"max_size {max_size} is smaller than the {len(specials)} special tokens")
        if not counter:
            raise EmptyCorpusError("the corpus has no tokens")
        # Sort first, filter after: the sort is stable (ties keep first-occurrence order, also with
        # reverse=True) and min_freq becomes one binary search on the sorted counts.
        items = sorted(counter.items(), key=itemgetter(1), reverse=True)
        if any(s in counter for s in specials):
            items = [tc for tc in items if tc[0] not in specials]
        frequent = bisect_right(items, -min_freq, key=_negated_count) if min_freq > 1 else len(items)
        if frequent == 0:
            best = max(counter.values())
            raise EmptyCorpusError(
                f"no token occurs at least {min_freq} times (the most frequent occurs {best} times); lower min_freq"
            )
        kept = frequent if max_size is None else min(frequent, max_size - len(specials))
        tokens, freqs = map(list, zip(*items[:kept])) if kept > 0 else ([], [])
        tokens = [*specials, *tokens]
        freqs = [*(int(counter.get(s, 0)) for s in specials), *map(int, freqs)]
        # Unknown tokens map to <unk> only when it was reserved: a "<unk>" that merely occurs in the
        # data (WikiText has thousands) is an ordinary token in a vocabulary built without it.
        return cls(tokens, freqs, specials, unk_token=UNK if UNK in specials else None)

    @classmethod
    def from_counts(cls, tokens: Sequence[str], counts, min_freq: int = 1) -> Vocab:
        """Build from distinct ``tokens`` and their ``counts`` (a sequence or integer array), no specials.

        The fast path for trainers that count into an array (word2vec): one stable numpy sort
        (frequency first, ties keep the order of ``tokens``), no per-token tuples.

        >>> Vocab.from_counts(["a", "b", "c"], [1, 3, 1]).tokens
        ['b', 'a', 'c']
        """
        import numpy as np

        if min_freq < 1:
            raise UsageError(f"min_freq must be at least 1, not {min_freq}")
        counts = np.asarray(counts, dtype=np.int64)
        if len(tokens) != len(counts):
            raise UsageError(f"{len(tokens)} tokens but {len(counts)} counts")
        if len(counts) == 0:
            raise EmptyCorpusError("the corpus has no tokens")
        order = np.argsort(-counts, kind="stable")
        kept = order[counts[order] >= min_freq]
        if len(kept) == 0:
            raise EmptyCorpusError(
                f"no token occurs at least {min_freq} times (the most frequent occurs {int(counts.max())} times); "
                "lower min_freq"
            )
        return cls([tokens[i] for i in kept.tolist()], counts[kept].tolist(), specials=(), unk_token=None)

    # ---- lookups ------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._size

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __iter__(self) -> Iterator[str]:
        return iter(self.tokens)

    def __getitem__(self, token: str) -> int:
        i = self.stoi.get(token)
        if i is not None:
            return i
        if self._unk_id is not None:
            return self._unk_id
        raise UnknownWordError(f"{token!r} is not in the vocabulary (and it has no <unk> token)")

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Vocab)
            and self.tokens == other.tokens
            and self.freqs == other.freqs
            and self.specials == other.specials
            and self.unk_token == other.unk_token
        )

    def __repr__(self) -> str:
        return f"Vocab(size={len(self)}, specials={list(self.specials)})"

    def lookup_token(self, index: int) -> str:
        """The token with id ``index``."""
        if isinstance(index, bool) or not hasattr(index, "__index__") or not 0 <= index < len(self.tokens):
            raise TextkitError(f"token id {index} is out of range for a vocabulary of {len(self)} tokens")
        return self.tokens[index]

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Ids for ``tokens``; unknown tokens map to ``<unk>`` (or raise if there is none)."""
        if self._unk_id is None:
            return [self[t] for t in tokens]
        get, unk = self.stoi.get, self._unk_id
        return [get(t, unk) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Tokens for ``ids``."""
        if hasattr(ids, "tolist"):  # a tensor or array: plain ints are much faster to index with
            ids = ids.tolist()
        ids = list(ids)
        tokens, size = self.tokens, len(self.tokens)
        try:
            if all(0 <= i < size for i in ids):  # a negative id would silently index from the end
                return [tokens[i] for i in ids]
        except TypeError:
            pass
        bad = next(i for i in ids if not isinstance(i, int) or not 0 <= i < size)
        raise TextkitError(f"token id {bad!r} is out of range for a vocabulary of {size} tokens")

    def freq(self, token: str) -> int:
        """How often ``token`` occurred when the vocabulary was built (0 if unknown)."""
        i = self.stoi.get(token)
        return self.freqs[i] if i is not None else 0

    def special_id(self, token: str) -> int:
        """Id of a reserved special token; a clear error if it was not reserved."""
        if token not in self.specials:
            raise TextkitError(f"this vocabulary has no {token!r} token; build it with specials including {token!r}")
        return self.stoi[token]

    @property
    def unk_id(self) -> int:
        return self.special_id(UNK)

    @property
    def pad_id(self) -> int:
        return self.special_id(PAD)

    @property
    def bos_id(self) -> int:
        return self.special_id(BOS)

    @property
    def eos_id(self) -> int:
        return self.special_id(EOS)

    # ---- files --------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "version": VERSION,
            "specials": list(self.specials),
            "unk_token": self.unk_token,
            "tokens": self.tokens,
            "freqs": self.freqs,
        }

    @classmethod
    def from_dict(cls, data: object, source: str = "vocabulary") -> Vocab:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ModelFileError(f"{source}: not a textkit vocabulary file")
        if data.get("version") != VERSION:
            raise ModelFileError(f"{source}: vocabulary format version {data.get('version')} is not supported")
        try:
            tokens, freqs, specials = data["tokens"], data["freqs"], data["specials"]
            if not (isinstance(tokens, list) and isinstance(freqs, list) and isinstance(specials, list)):
                raise TypeError
            # the types of all entries at once (JSON gives exact types): a large vocabulary loads faster
            if not set(map(type, tokens)) | set(map(type, specials)) <= {str} or not set(map(type, freqs)) <= {int}:
                raise TypeError
            if freqs and min(freqs) < 0:
                raise TypeError
            return cls(tokens, freqs, specials, unk_token=data.get("unk_token"))
        except (KeyError, TypeError):
            raise ModelFileError(f"{source}: vocabulary file is incomplete or malformed") from None
        except ModelFileError as e:
            raise ModelFileError(f"{source}: {e}") from None

    def save(self, path: PathLike) -> None:
        """Write the vocabulary as versioned, human-readable JSON (atomically)."""
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: PathLike) -> Vocab:
        """Read a file written by :meth:`save`; corrupt or foreign files raise ModelFileError."""
        return cls.from_dict(read_json(path, "vocabulary file"), source=str(path))
