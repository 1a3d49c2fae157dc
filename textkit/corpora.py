"""Reading corpora: files (lazily, line by line) and named corpora.

A *corpus source* is a path or a name. Names resolve offline:

* ``en_sample``, ``zh_sample`` — small corpora the project wrote itself (``corpora/`` in the repo);
* ``wiki`` — the English Wikipedia sample that gensim ships in its test data, as plain text (about
  470k words; extracted once with gensim's wiki markup filter and cached);
* ``lee`` — the Lee background corpus from gensim's test data (300 news articles, one per line).

>>> sum(1 for _ in read_corpus("en_sample"))
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from textkit.errors import EmptyCorpusError, InputFileError
from textkit.io import PathLike, atomic_write, iter_lines

_WIKI_QUOTES = re.compile(r"'{2,}")  # wiki bold/italic markup that filter_wiki leaves
_GENSIM_WIKI = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
NAMED = {
    "en_sample": "English sample written for textkit (corpora/en_sample.txt)",
    "zh_sample": "Chinese sample written for textkit (corpora/zh_sample.txt)",
    "wiki": "gensim's English Wikipedia sample as plain text (~470k words)",
    "lee": "gensim's Lee background corpus (300 news articles)",
}


def cache_dir() -> Path:
    """Where derived data is cached: ``$TEXTKIT_CACHE`` or ``~/.cache/textkit``."""
    base = os.environ.get("TEXTKIT_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "textkit"
    return Path(base)


def sample_path(name: str) -> Path:
    """Path of a file the project ships in ``corpora/`` (installed as the package ``textkit.samples``;
    in a source checkout imported from its root, the folder itself)."""
    from importlib.resources import files

    try:
        return Path(str(files("textkit.samples") / name))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "corpora" / name


def gensim_datapath(name: str) -> Path:
    """Path of a file in gensim's bundled test data."""
    from gensim.test.utils import datapath

    return Path(datapath(name))


def resolve_corpus(source: PathLike) -> Path:
    """Turn a corpus name or path into the path of a text file."""
    s = str(source)
    if s in ("en_sample", "zh_sample"):
        return sample_path(f"{s}.txt")
    if s == "lee":
        return gensim_datapath("lee_background.cor")
    if s == "wiki":
        return _wiki_sample()
    p = Path(s)
    if not p.exists() and not any(sep in s for sep in "/\\.") and s not in NAMED:
        raise InputFileError(f"{s}: no such file or named corpus (named corpora: {', '.join(NAMED)})")
    return p


def _wiki_sample() -> Path:
    target = cache_dir() / "corpora" / "wiki_sample.txt"
    if target.exists():
        return target
    import bz2

    from gensim.corpora.wikicorpus import extract_pages, filter_wiki

    with bz2.open(gensim_datapath(_GENSIM_WIKI), "rb") as f, atomic_write(target) as out:
        for _title, text, _pageid in extract_pages(f):
            plain = filter_wiki(text)
            for para in plain.split("\n"):
                para = " ".join(_WIKI_QUOTES.sub("", para).split())
                if len(para.split()) >= 5:  # drop headings, list stubs and table debris
                    out.write(para + "\n")
    return target


def read_corpus(source: PathLike, errors: str = "strict") -> Iterator[str]:
    """Lines of a corpus file or named corpus, lazily."""
    return iter_lines(resolve_corpus(source), errors=errors)


class TokenizedCorpus:
    """A re-iterable corpus of token lists: every ``iter()`` reads the file again.

    This is what streaming trainers need (one pass to count, more to train) without holding the
    corpus in memory. Blank lines are skipped.

    >>> from textkit.tokenize import get_tokenizer
    >>> corpus = TokenizedCorpus("en_sample", get_tokenizer("en"))
    """

    def __init__(self, source: PathLike, tokenizer=None, errors: str = "strict", workers: int = 1):
        from textkit.tokenize import get_tokenizer

        self.path = resolve_corpus(source)
        self.tokenizer = get_tokenizer(tokenizer if tokenizer is not None else "whitespace")
        self.errors = errors
        self.workers = workers

    def __iter__(self) -> Iterator[list[str]]:
        lines = iter_lines(self.path, errors=self.errors)
        for tokens in self.tokenizer.tokenize_lines(lines, workers=self.workers):
            if tokens:
                yield tokens


def check_nonempty(token_lists: Iterable[Sequence[str]], name: str = "corpus") -> None:
    """Raise EmptyCorpusError unless some token list is non-empty."""
    if not any(len(t) for t in token_lists):
        raise EmptyCorpusError(f"{name}: no tokens found (is the file empty?)")
