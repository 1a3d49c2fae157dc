"""Model folders: the one format every trained textkit model is saved in, and the one loader.

A model is a folder::

    config.json          {"format": "textkit", "version": 1, "kind": "lm.ngram", ...parameters,
                          "tokenizer": {...}}
    weights.safetensors  arrays (when the model has any)
    vocab.json           the Vocab (when the model has one)
    ...                  files the kind or its tokenizer needs (model.arpa, tokenizer.model, ...)

Every folder is written by :func:`artifact_transaction`: the files go into a temporary folder beside
the target, which is renamed into place only when everything is written. A failure, Ctrl-C or
SIGTERM leaves no partial folder, and an existing model is replaced (``force=True``) only at that
final rename, so it survives any failure before it.

:data:`KINDS` is the one registry: ``kind -> "module:attribute"``, where the attribute is a class
with a ``load(folder)`` classmethod (or a function taking the folder). ``textkit.load`` reads
``config.json`` and dispatches on its kind.

>>> with artifact_transaction("models/m", force=True) as tmp:
...     save_tensors(tmp / WEIGHTS, {"w": w})
...     write_config(tmp, "lm.neural", {"hidden_dim": 200}, tokenizer)
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from textkit.errors import ModelFileError, OutputError, OutputExistsError
from textkit.io import PathLike, read_json, save_tensors, signals_deferred, sigterm_raises, write_json

FORMAT = "textkit"
VERSION = 1
CONFIG = "config.json"
WEIGHTS = "weights.safetensors"
VOCAB = "vocab.json"

# kind -> "module:attribute"; a new model family adds one line here.
KINDS: dict[str, str] = {
    "lm.ngram": "textkit.lm.ngram:NgramLM",
    "lm.neural": "textkit.lm.neural:NeuralLM",
    "vectors.word2vec": "textkit.word2vec:Word2Vec",
    "vectors.keyed": "textkit.embeddings:load_vectors",
    "classifier.bow": "textkit.classify.base:load_classifier",
    "classifier.fasttext": "textkit.classify.base:load_classifier",
    "classifier.rnn": "textkit.classify.base:load_classifier",
    "classifier.ensemble": "textkit.classify.base:load_classifier",
}

FAMILIES = {"lm": "a language model", "vectors": "word vectors", "classifier": "a classifier"}

# What textkit 0.1 wrote as (format, kind); read so that old model folders still load.
_LEGACY_KINDS = {
    ("textkit.lm", "ngram"): "lm.ngram",
    ("textkit.lm", "rnn"): "lm.neural",
    ("textkit.classifier", "bow"): "classifier.bow",
    ("textkit.classifier", "fasttext"): "classifier.fasttext",
    ("textkit.classifier", "rnn"): "classifier.rnn",
    ("textkit.classifier", "lstm"): "classifier.rnn",
    ("textkit.classifier", "gru"): "classifier.rnn",
}
_LEGACY_WEIGHTS = ("model.safetensors",)


ArtifactExistsError = OutputExistsError

# ---- writing --------------------------------------------------------------------------------------


@contextlib.contextmanager
def artifact_transaction(folder: PathLike, force: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``folder``; on success it becomes ``folder``.

    Without ``force`` an existing ``folder`` is refused at once, before any work. With ``force`` it
    is replaced only after the block has finished. On any exception, Ctrl-C or SIGTERM the
    temporary folder (and any parent folders this call created) is removed and ``folder`` is left
    as it was.
    """
    target = Path(folder)
    check_output_folder(target, force)
    parent = target.parent if str(target.parent) else Path(".")
    created = [d for d in (parent, *parent.parents) if not d.exists()]
    tmp = None
    with sigterm_raises():
        try:
            try:
                parent.mkdir(parents=True, exist_ok=True)
                with signals_deferred():  # an interrupt between making and naming it would orphan it
                    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=parent))
            except OSError as e:
                raise OutputError(f"{target}: cannot write ({e.strerror or e})") from None
            os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; give it a new folder's mode
            yield tmp
            _sync_folder(tmp)
            with signals_deferred():  # the swap of old and new folders is not split by an interrupt
                _move_into_place(tmp, target, force)
        except BaseException:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
            with contextlib.suppress(OSError):
                for d in created:  # innermost first; stops at the first folder that is not empty
                    d.rmdir()
            raise


def check_output_folder(folder: PathLike, force: bool = False) -> None:
    """Refuse an output folder that exists (unless ``force``) or is a file; call before long work."""
    target = Path(folder)
    if target.exists() or target.is_symlink():
        if not target.is_dir():
            raise ArtifactExistsError(f"{target}: exists and is not a folder")
        if not force:
            raise ArtifactExistsError(f"{target}: already exists")


def write_config(folder: PathLike, kind: str, params: dict[str, Any], tokenizer=None) -> dict[str, Any]:
    """Write ``folder/config.json`` for a model of ``kind`` and return what was written.

    ``tokenizer`` (a :class:`~textkit.tokenize.Tokenizer`) saves itself, copying any file it needs
    into ``folder``.
    """
    if kind not in KINDS:
        raise ValueError(f"unregistered model kind {kind!r}")
    from textkit import __version__

    config = {"format": FORMAT, "version": VERSION, "kind": kind, "textkit_version": __version__, **params}
    if tokenizer is not None:
        config["tokenizer"] = tokenizer.to_config(folder)
    write_json(Path(folder) / CONFIG, config)
    return config


def save_artifact(
    folder: PathLike,
    kind: str,
    params: dict[str, Any],
    *,
    tensors: dict | None = None,
    vocab=None,
    tokenizer=None,
    files: Callable[[Path], None] | None = None,
    force: bool = False,
) -> Path:
    """Write a whole model folder in one transaction and return its path.

    ``tensors`` (torch tensors or numpy arrays) go to ``weights.safetensors``, ``vocab`` to
    ``vocab.json``, ``params`` and the tokenizer to ``config.json``; ``files(tmp_folder)`` writes
    anything else the kind needs.
    """
    with artifact_transaction(folder, force=force) as tmp:
        if tensors is not None:
            save_tensors(tmp / WEIGHTS, tensors)
        if vocab is not None:
            vocab.save(tmp / VOCAB)
        if files is not None:
            files(tmp)
        write_config(tmp, kind, params, tokenizer)
    return Path(folder)


def _move_into_place(tmp: Path, target: Path, force: bool) -> None:
    if not target.exists():
        try:
            os.rename(tmp, target)  # fails if another writer got there first with files in it
            return
        except OSError as e:
            if not target.exists():
                raise OutputError(f"{target}: cannot write ({e.strerror or e})") from None
            if not force:
                raise ArtifactExistsError(
                    f"{target}: was created by another process while this one was writing"
                ) from None
    # Replace: move the old folder aside, move the new one in, then delete the old one. If the
    # second rename fails the old folder is put back.
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
    try:
        os.rename(target, old / target.name)
    except OSError as e:
        old.rmdir()
        raise OutputError(f"{target}: cannot replace ({e.strerror or e})") from None
    try:
        os.rename(tmp, target)
    except BaseException as e:
        os.rename(old / target.name, target)
        old.rmdir()
        if isinstance(e, OSError):
            raise OutputError(f"{target}: cannot replace ({e.strerror or e})") from None
        raise
    shutil.rmtree(old, ignore_errors=True)


def _sync_folder(folder: Path) -> None:
    # Data reaches the disk before the rename makes it visible, so a crash cannot leave a model
    # folder whose files are empty.
    for path in folder.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def _umask() -> int:
    from textkit.io import _UMASK

    return _UMASK


# ---- reading --------------------------------------------------------------------------------------


def read_config(folder: PathLike, family: str | None = None) -> dict[str, Any]:
    """Read and check ``folder/config.json``: a textkit model of a registered kind.

    ``family`` ("lm", "classifier", "vectors") turns a model of another family into a clear error.
    A config written by textkit 0.1 is returned in the current shape.
    """
    p = Path(folder)
    if not p.exists():
        raise ModelFileError(f"{p}: no such model")
    if not p.is_dir():
        raise ModelFileError(f"{p}: not a model folder")
    if not (p / CONFIG).exists():
        raise ModelFileError(f"{p}: not a textkit model folder (it has no {CONFIG})")
    config = read_json(p / CONFIG, "model config")
    if not isinstance(config, dict):
        raise ModelFileError(f"{p / CONFIG}: not a textkit model config")
    kind = config.get("kind")
    if config.get("format") != FORMAT:
        legacy = _LEGACY_KINDS.get((config.get("format"), kind))
        if legacy is None:
            raise ModelFileError(f"{p / CONFIG}: not a textkit model config")
        config = {**config, "format": FORMAT, "version": VERSION, "kind": legacy, "legacy_kind": kind}
        kind = legacy
    elif not isinstance(config.get("version"), int) or config["version"] > VERSION:
        raise ModelFileError(f"{p / CONFIG}: format version {config.get('version')!r} is newer than this textkit reads")
    if kind not in KINDS:
        raise ModelFileError(f"{p / CONFIG}: unknown model kind {kind!r}")
    if family is not None and kind.split(".")[0] != family:
        raise ModelFileError(f"{p}: is {describe_kind(kind)}, not {FAMILIES[family]}")
    return config


def describe_kind(kind: str) -> str:
    """``"classifier.bow"`` -> ``"a classifier (bow)"``."""
    family, _, name = kind.partition(".")
    return f"{FAMILIES.get(family, family)} ({name})"


def load_weights(folder: PathLike, framework: str = "pt", device: str = "cpu") -> dict:
    """The arrays of ``folder/weights.safetensors`` (torch tensors, or numpy with ``framework="np"``)."""
    from textkit.io import load_tensors

    p = Path(folder)
    path = p / WEIGHTS
    if not path.exists():
        path = next((p / n for n in _LEGACY_WEIGHTS if (p / n).exists()), path)
    if not path.exists():
        raise ModelFileError(f"{p}: the model folder has no {WEIGHTS}")
    return load_tensors(path, device=device, framework=framework)


def load_vocab(folder: PathLike):
    """The :class:`~textkit.vocab.Vocab` saved in ``folder/vocab.json``."""
    from textkit.vocab import Vocab

    path = Path(folder) / VOCAB
    if not path.exists():
        raise ModelFileError(f"{folder}: the model folder has no {VOCAB}")
    return Vocab.load(path)


def load_tokenizer(folder: PathLike, config: dict[str, Any]):
    """The tokenizer described by ``config["tokenizer"]``, its files read from ``folder``."""
    from textkit.tokenize import tokenizer_from_config

    return tokenizer_from_config(config.get("tokenizer"), folder)


def loader_for(kind: str) -> Callable[..., Any]:
    """The callable that loads a folder of ``kind`` (a class's ``load``, or a function)."""
    module, _, attribute = KINDS[kind].partition(":")
    obj = getattr(importlib.import_module(module), attribute)
    return getattr(obj, "load", obj)


def load(path: PathLike, **options) -> Any:
    """Load any textkit model: a model folder of any registered kind, a bare ARPA file
    (``.arpa``, ``.arpa.gz``) or a word2vec file (``.bin``, ``.txt``, ``.vec``).

    ``options`` go to the kind's loader (``device="cuda"`` for torch models).

    >>> lm = textkit.load("models/kn3"); lm.generate("the", length=5)
    """
    p = Path(path)
    if p.is_dir():
        return loader_for(read_config(p)["kind"])(p, **options)
    if not p.exists():
        raise ModelFileError(f"{p}: no such model")
    name = p.name.lower()
    if name.endswith((".arpa", ".arpa.gz")):
        return loader_for("lm.ngram")(p, **options)
    if name.endswith((".bin", ".txt", ".vec", ".w2v", ".gz")):
        return loader_for("vectors.keyed")(p, **options)
    raise ModelFileError(f"{p}: not a model folder, ARPA file or word2vec file")
