"""The one place that opens files.

* :func:`iter_lines` reads text lazily (UTF-8; ``.gz``, ``.bz2`` and ``.xz`` decompressed on the
  fly) and turns every OS or decoding problem into an :class:`~textkit.errors.InputFileError`
  naming the file and line; :func:`decode_lines` applies the same rules to a stream (stdin).
* :func:`atomic_write` writes through a temporary file in the same folder and renames it over the
  target only when the block succeeds, so no user ever finds a half-written output (nor a folder
  it created for one).
* :func:`save_tensors` / :func:`load_tensors` store model weights as safetensors next to a JSON
  config: loading never runs code.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import json
import lzma
import os
import signal
import tempfile
import threading
from pathlib import Path
from typing import IO, Any, Iterable, Iterator

from textkit.errors import InputFileError, ModelFileError, Terminated, UsageError

PathLike = str | os.PathLike

_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
ERROR_POLICIES = ("strict", "replace", "ignore")


def check_readable(path: PathLike) -> Path:
    """Return ``path`` as a Path if it is an existing, readable regular file, else raise."""
    p = Path(path)
    if not p.exists():
        raise InputFileError(f"{p}: no such file")
    if p.is_dir():
        raise InputFileError(f"{p}: is a directory, expected a file")
    if not os.access(p, os.R_OK):
        raise InputFileError(f"{p}: permission denied")
    return p


def open_binary(path: PathLike) -> IO[bytes]:
    """Open ``path`` for binary reading, decompressing by its suffix."""
    p = check_readable(path)
    opener = _OPENERS.get(p.suffix.lower(), open)
    try:
        return opener(p, "rb")
    except OSError as e:
        raise InputFileError(f"{p}: cannot open ({e.strerror or e})") from None


def iter_lines(path: PathLike, errors: str = "strict", keepends: bool = False) -> Iterator[str]:
    """Yield the lines of a text file one at a time, without line endings (``\\n`` or ``\\r\\n``).

    ``errors`` is ``"strict"`` (bad UTF-8 raises an InputFileError naming file and line),
    ``"replace"`` or ``"ignore"``. A UTF-8 byte-order mark at the start is dropped.

    >>> for line in iter_lines("corpora/en_sample.txt"): ...
    """
    check_error_policy(errors)
    p = Path(path)
    with open_binary(p) as f:
        yield from decode_lines(f, str(p), errors, keepends)


def decode_lines(raw_lines: Iterable[bytes], name: str, errors: str = "strict", keepends: bool = False) -> Iterator[str]:
    """Decode an iterable of byte lines (an open binary file, ``sys.stdin.buffer``) as UTF-8.

    The rules of :func:`iter_lines`; ``name`` ("<stdin>", a path) is what error messages call it.

    >>> list(decode_lines([b"\\xef\\xbb\\xbfhi\\r\\n"], "<bytes>"))
    ['hi']
    """
    check_error_policy(errors)
    lineno = 0
    try:
        for lineno, raw in enumerate(raw_lines, 1):
            try:
                line = raw.decode("utf-8", errors)
            except UnicodeDecodeError as e:
                raise InputFileError(
                    f"{name}: line {lineno} is not valid UTF-8 (byte {e.start}); "
                    "pass --errors replace to substitute bad bytes"
                ) from None
            if lineno == 1 and line.startswith("\ufeff"):
                line = line[1:]
            if not keepends:
                line = line.rstrip("\r\n")
            yield line
    except (OSError, EOFError, lzma.LZMAError, ValueError) as e:
        if isinstance(e, InputFileError):
            raise
        raise InputFileError(f"{name}: read failed after line {lineno} ({e})") from None


def check_error_policy(errors: str) -> None:
    """Reject an ``errors`` value other than strict, replace or ignore."""
    if errors not in ERROR_POLICIES:
        raise UsageError(f"errors must be one of {', '.join(ERROR_POLICIES)}, not {errors!r}")


def read_text(path: PathLike, errors: str = "strict") -> str:
    """The whole file as one string (for small files such as configs and dictionaries)."""
    return "\n".join(iter_lines(path, errors=errors))


@contextlib.contextmanager
def atomic_write(path: PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success rename it over ``path``, else delete it.

    >>> with atomic_write("out.txt") as f:
    ...     f.write("all or nothing\\n")
    """
    binary = "b" in mode
    with atomic_path(path) as tmp:
        try:
            f = open(tmp, mode, **({} if binary else {"encoding": encoding, "newline": "\n"}))
        except OSError as e:
            raise InputFileError(f"{path}: cannot write ({e.strerror or e})") from None
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Like :func:`atomic_write` for libraries that want a file name: yields a temporary path.

    The file appears at ``path`` only if the block succeeds, with the permissions a new file gets
    (the umask), or those of the file it replaces.

    >>> with atomic_path("model.safetensors") as tmp:
    ...     save_file(tensors, str(tmp))
    """
    p = Path(path)
    if p.is_dir():
        raise InputFileError(f"{p}: is a directory, expected a file to write")
    parent = p.parent if str(p.parent) else Path(".")
    created = [d for d in (parent, *parent.parents) if not d.exists()]  # to remove again on failure
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part" + "".join(p.suffixes), dir=parent)
        os.close(fd)
    except OSError as e:
        raise InputFileError(f"{p}: cannot write ({e.strerror or e})") from None
    try:
        with sigterm_raises():
            yield Path(tmp)
        # mkstemp creates the file private (0600); give the output the mode a plain open() would.
        os.chmod(tmp, _mode_for(p))
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
            for d in created:  # innermost first; stops at the first folder that is not empty
                d.rmdir()
        raise


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`~textkit.errors.Terminated` (a KeyboardInterrupt)
    instead of killing the process, so temporary files are removed on the way out.

    Only the main thread can set signal handlers, and a handler someone else installed is kept.
    """
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _raise_terminated(signum, frame) -> None:
    raise Terminated("terminated")


def _mode_for(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return 0o666 & ~_UMASK


def _read_umask() -> int:
    # os.umask can only be read by setting it; do that once, at import, not while threads write files.
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


_UMASK = _read_umask()


def write_json(path: PathLike, obj: Any) -> None:
    """Write ``obj`` as pretty UTF-8 JSON, atomically."""
    with atomic_write(path) as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


def read_json(path: PathLike, what: str = "JSON file") -> Any:
    """Read a JSON file; a missing or malformed one raises a ModelFileError naming ``what``."""
    p = check_readable(path)
    try:
        with open(p, encoding="utf-8-sig") as f:  # -sig: a file saved by an editor that adds a BOM
            return json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelFileError(f"{p}: not a valid {what} ({e})") from None
    except OSError as e:
        raise InputFileError(f"{p}: cannot read ({e.strerror or e})") from None


def save_tensors(path: PathLike, tensors: dict, metadata: dict[str, str] | None = None) -> None:
    """Write a dict of torch tensors (or of numpy arrays) as safetensors, atomically."""
    import numpy as np

    if all(isinstance(v, np.ndarray) for v in tensors.values()):
        from safetensors.numpy import save_file as save_numpy  # no torch import for numpy-only models

        with atomic_path(path) as tmp:
            save_numpy({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(tmp), metadata)
        return
    from safetensors.torch import save_file

    with atomic_path(path) as tmp:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(tmp), metadata)


def load_tensors(path: PathLike, device: str = "cpu", framework: str = "pt") -> dict:
    """Read a safetensors file into torch tensors (``framework="np"``: numpy arrays); a corrupt
    file raises ModelFileError."""
    if framework == "np":
        from safetensors.numpy import load_file as load_numpy
    else:
        from safetensors.torch import load_file
    p = check_readable(path)
    try:
        return load_numpy(str(p)) if framework == "np" else load_file(str(p), device=device)
    except Exception as e:  # safetensors raises its own SafetensorError / OSError / ValueError
        raise ModelFileError(f"{p}: not a valid safetensors file ({e})") from None


def load_tensor_metadata(path: PathLike) -> dict[str, str]:
    """The string metadata stored in a safetensors header (checkpoints keep their JSON state there)."""
    from safetensors import safe_open

    p = check_readable(path)
    try:
        with safe_open(str(p), framework="pt") as f:
            return dict(f.metadata() or {})
    except Exception as e:  # safetensors raises its own SafetensorError / OSError / ValueError
        raise ModelFileError(f"{p}: not a valid safetensors file ({e})") from None
