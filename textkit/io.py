"""The one place that opens files.

* :func:`iter_lines` reads text lazily (UTF-8; ``.gz``, ``.bz2`` and ``.xz`` decompressed on the
  fly) and turns every OS or decoding problem into an :class:`~textkit.errors.InputFileError`
  naming the file and line; :func:`decode_lines` applies the same rules to a stream (stdin).
* :func:`atomic_write` writes through a temporary file in the same folder and renames it over the
  target only when the block succeeds, so no user ever finds a half-written output (nor a folder
  it created for one).
* :func:`atomic_paths` does the same for several files that belong together (all or none).
* :func:`check_writable` and :func:`claim_output` run before long work starts: the output's folder
  must accept a file and have room for it, and no other process may be writing the same output.
* :func:`save_tensors` / :func:`load_tensors` store model weights as safetensors next to a JSON
  config: loading never runs code.
"""

from __future__ import annotations

import bz2
import contextlib
import errno
import gzip
import hashlib
import json
import lzma
import os
import signal
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from textkit.errors import BadEncodingError, InputFileError, ModelFileError, OutputError, Terminated, UsageError

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


def decode_lines(
    raw_lines: Iterable[bytes], name: str, errors: str = "strict", keepends: bool = False
) -> Iterator[str]:
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
                raise BadEncodingError(f"{name}: line {lineno} is not valid UTF-8 (byte {e.start})") from None
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
            raise OutputError(f"{path}: cannot write ({e.strerror or e})") from None
        with f:
            yield f
            f.flush()
            if not is_special_file(tmp):  # a device or pipe written in place has nothing to sync
                os.fsync(f.fileno())


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Like :func:`atomic_write` for libraries that want a file name: yields a temporary path.

    The file appears at ``path`` only if the block succeeds, with the permissions a new file gets
    (the umask), or those of the file it replaces. A full disk, a read-only folder and the like
    raise OutputError; the temporary file (and any folder made for it) is removed.

    >>> with atomic_path("model.safetensors") as tmp:
    ...     save_file(tensors, str(tmp))
    """
    with atomic_paths([path]) as (tmp,):
        yield tmp


@contextlib.contextmanager
def atomic_paths(paths: Iterable[PathLike]) -> Iterator[list[Path]]:
    """Temporary paths for several files that belong together (a model and its vocabulary):
    all are renamed into place when the block succeeds, none if it fails.

    >>> with atomic_paths(["m.model", "m.vocab"]) as (model_tmp, vocab_tmp):
    ...     ...
    """
    targets = [Path(p) for p in paths]
    if len(targets) == 1 and is_special_file(targets[0]):
        # /dev/stdout, /dev/null, a named pipe: written in place (renaming over it would replace
        # the device itself)
        try:
            yield targets
        except OSError as e:
            raise output_error(targets[0], e) from None
        return
    created: list[Path] = []  # folders made for the outputs, to remove again on failure
    temps: list[Path] = []
    try:
        for p in targets:
            if p.is_dir():
                raise OutputError(f"{p}: is a directory, expected a file to write")
            if is_special_file(p):
                raise OutputError(f"{p}: is a device or pipe, not a file to write these outputs to")
            parent = p.parent if str(p.parent) else Path(".")
            created += [d for d in (parent, *parent.parents) if not d.exists() and d not in created]
            parent.mkdir(parents=True, exist_ok=True)
            with signals_deferred():  # a Ctrl-C now would leave a temporary file nobody knows of
                fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part" + "".join(p.suffixes), dir=parent)
                temps.append(Path(tmp))
                os.close(fd)
        with sigterm_raises():
            yield temps
        for tmp, p in zip(temps, targets):
            # mkstemp creates the file private (0600); give the output the mode a plain open() would.
            os.chmod(tmp, _mode_for(p))
        with signals_deferred():  # all files renamed into place, or (an error) none
            for tmp, p in zip(temps, targets):
                os.replace(tmp, p)
    except BaseException as e:
        for tmp in temps:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        for d in sorted(created, key=lambda d: len(d.parts), reverse=True):  # innermost first
            with contextlib.suppress(OSError):
                d.rmdir()
        if isinstance(e, OSError) and e.errno in _WRITE_ERRORS:
            raise output_error(targets[0] if len(targets) == 1 else targets[0].parent, e) from None
        raise


# what a write can fail with; other OSErrors in a writing block (reading an input) pass through
_WRITE_ERRORS = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EFBIG,
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.EIO,
    errno.EISDIR,
    errno.ENOTDIR,
    errno.ENAMETOOLONG,
    errno.EEXIST,
}


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`~textkit.errors.Terminated` (a KeyboardInterrupt)
    instead of killing the process, so temporary files are removed on the way out.

    Only the main thread can set signal handlers, and a handler someone else installed is kept.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _raise_terminated(signum, frame) -> None:
    raise Terminated("terminated")


_raise_terminated.textkit_sigterm = True  # type: ignore[attr-defined]


def _default_sigterm_in_child() -> None:
    # A forked worker (a multiprocessing pool's) inherits a Python-level SIGTERM handler, and a
    # Python handler can miss a signal that lands just before a blocking call: Pool.terminate's
    # SIGTERM to a worker about to wait on a lock then hangs the whole run. Workers go back to the
    # default action (die at once); only the process that writes outputs needs to clean up.
    with contextlib.suppress(ValueError):
        if getattr(signal.getsignal(signal.SIGTERM), "textkit_sigterm", False):
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_default_sigterm_in_child)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block ends (then they take effect as usual).

    For the few steps that must not be split: making a temporary file and recording it for
    clean-up, renaming a set of files into place. (Python runs signal handlers in the main thread
    only, so this works there; elsewhere the block runs unguarded.)
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(signum)
        if handler is not None:  # None: set outside Python, which cannot be put back
            previous[signum] = signal.signal(signum, lambda s, frame: held.append(s))
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in held:
            signal.raise_signal(signum)


def is_special_file(path: PathLike) -> bool:
    """Whether ``path`` exists and is neither a regular file nor a folder (a device, a pipe)."""
    import stat

    if str(path).startswith(("/dev/", "/proc/")):  # /dev/stdout is a link to whatever fd 1 is
        return True
    try:
        return not (stat.S_ISREG(mode := os.stat(path).st_mode) or stat.S_ISDIR(mode))
    except OSError:
        return False


def output_error(path: PathLike, e: BaseException) -> OutputError:
    """The one-line error for an output that could not be written (disk full, read-only...)."""
    reason = getattr(e, "strerror", None) or str(e) or type(e).__name__
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
        reason = "no space left on the device"
    elif isinstance(e, OSError) and e.errno == errno.EFBIG:
        reason = "file too large for this device or limit"
    elif isinstance(e, OSError) and e.errno == errno.EROFS:
        reason = "read-only file system"
    return OutputError(f"{path}: cannot write ({reason[:1].lower() + reason[1:]})")


def check_writable(path: PathLike, need_bytes: int = 0) -> None:
    """Fail early, before long work starts, if ``path`` cannot be written.

    The output's folder (or the nearest existing folder above it) must accept a new file, and its
    device must have ``need_bytes`` free (an estimate of the output's size; 0 asks only for some
    room). Raises OutputError.

    >>> check_writable("models/lm", need_bytes=50_000_000)
    """
    p = Path(path)
    if is_special_file(p):
        return
    folder = p.parent if str(p.parent) else Path(".")
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise OutputError(f"{p}: cannot write ({folder} is not a folder)")
    try:
        with signals_deferred():  # the probe file never outlives this block
            fd, probe = tempfile.mkstemp(prefix=".textkit-probe-", dir=folder)
            os.close(fd)
            os.unlink(probe)
        stats = os.statvfs(folder)
    except OSError as e:
        raise output_error(p, e) from None
    free = stats.f_bavail * stats.f_frsize
    if free == 0:
        raise OutputError(f"{p}: cannot write (no space left on the device)")
    if free < need_bytes:
        raise OutputError(f"{p}: cannot write (not enough space: {_size(free)} free, about {_size(need_bytes)} needed)")


def _size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"


_CLAIMS: dict[str, tuple[int, Path]] = {}  # output path -> (descriptor, path) of its held lock file


def claim_output(path: PathLike) -> None:
    """Take a process-lifetime lock on ``path`` as an output, so that a second process writing the
    same output stops at once with a clear message instead of both reporting success.

    The lock is an ``flock`` on a small file in the temporary folder named after the output's
    absolute path; the kernel releases it when the process ends, however it ends. A release removes
    the file while still holding the lock, so lock files do not pile up; a process that takes the lock
    checks afterwards that the file it locked is still the one at that path (else it was removed by
    a releasing holder between the open and the lock, and it tries again).
    """
    import fcntl

    key = os.path.abspath(path)
    if key in _CLAIMS:
        return
    # one place for every process of this user, whatever TMPDIR each one has
    base = Path("/tmp") if os.path.isdir("/tmp") else Path(tempfile.gettempdir())
    folder = base / f"textkit-locks-{os.getuid() if hasattr(os, 'getuid') else 0}"
    lock = folder / (hashlib.sha1(key.encode("utf-8", "surrogateescape")).hexdigest() + ".lock")
    for _ in range(100):
        try:
            folder.mkdir(exist_ok=True)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:
            return  # no lock possible here (a read-only /tmp): writing still works, unguarded
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise OutputError(f"{path}: another process is writing this output right now") from None
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(lock))
        except OSError:
            same = False
        if same:
            _CLAIMS[key] = (fd, lock)
            return
        os.close(fd)  # the file was removed by a holder releasing it: lock the new one
    raise OutputError(f"{path}: could not take the output lock in {folder}")


def release_output(path: PathLike) -> None:
    """Give up the lock :func:`claim_output` took (it goes anyway when the process ends)."""
    held = _CLAIMS.pop(os.path.abspath(path), None)
    if held is not None:
        fd, lock = held
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)


def release_outputs() -> None:
    """Give up every output lock this process holds (a command that ran in-process has ended)."""
    for path in list(_CLAIMS):
        release_output(path)


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
        f.write(pretty_json(obj))
        f.write("\n")


_SCALARS = {str, int, float, bool, type(None)}


def pretty_json(obj: Any, level: int = 0) -> str:
    """``json.dumps(obj, ensure_ascii=False, indent=1)``, the same text, faster: json's indenting
    encoder is pure Python, so a long flat list (a vocabulary's words and counts) goes through its C
    encoder instead, with the line break and indent as the item separator."""
    pad = " " * (level + 1)
    if type(obj) is dict and obj and set(map(type, obj)) == {str}:
        items = (pad + json.dumps(k, ensure_ascii=False) + ": " + pretty_json(v, level + 1) for k, v in obj.items())
        return "{\n" + ",\n".join(items) + "\n" + " " * level + "}"
    if type(obj) is list and obj:
        if set(map(type, obj)) <= _SCALARS:
            body = json.dumps(obj, ensure_ascii=False, separators=(",\n" + pad, ": "))[1:-1]
            return "[\n" + pad + body + "\n" + " " * level + "]"
        return "[\n" + ",\n".join(pad + pretty_json(v, level + 1) for v in obj) + "\n" + " " * level + "]"
    text = json.dumps(obj, ensure_ascii=False, indent=1)
    return text.replace("\n", "\n" + " " * level) if level and "\n" in text else text


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

        arrays = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
        with atomic_path(path) as tmp:
            _write_safetensors(save_numpy, arrays, tmp, metadata)
        return
    from safetensors.torch import save_file

    cpu = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        _write_safetensors(save_file, cpu, tmp, metadata)


def _write_safetensors(save_file, tensors: dict, tmp: Path, metadata: dict[str, str] | None) -> None:
    from safetensors import SafetensorError

    try:
        save_file(tensors, str(tmp), metadata)
    except SafetensorError as e:  # safetensors reports a full disk or an I/O failure this way
        raise OSError(errno.EIO, str(e).split(":")[-1].strip() or "write failed") from None


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
