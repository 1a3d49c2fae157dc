"""numba kernels compiled ahead of time, so that a process using them imports neither numba nor scipy.

Loading numba's JIT cache costs a process about a second and 60 MB (numba's import, which brings
scipy, and LLVM's start-up): most of the fixed cost of a small n-gram build or word2vec run. So the
first use compiles a set of kernels once with numba's ahead-of-time compiler (``numba.pycc``) into
an extension module in textkit's cache folder; every later process loads that module like any other
(numpy only). The module's name is a hash of everything the machine code depends on: the sources of
the kernel modules and of this file, the exported signatures, the numba, numpy and Python versions
and the CPU's features; so an edited kernel, an upgraded numba or another machine gets a module of
its own. Where the ahead-of-time build fails (no C compiler), numba's JIT does the same work.

Two ways in:

* :class:`KernelSet` and its :meth:`~KernelSet.kernel` decorator, for kernels that live next to plain
  Python code (the n-gram modules). The decorated function is a :class:`Kernel`: importing its module
  does not import numba. A call picks the exported variant whose signature matches the arguments'
  dtypes, or else (another dtype, a non-contiguous array, a kernel not exported, or no compiled
  module) numba's JIT, imported then.
* :func:`load_or_build` for a module of pure numba code with its own signatures (word2vec).

>>> NGRAM = KernelSet("ngram", ["textkit.lm.counting"])
>>> @NGRAM.kernel("i8(i4[::1])")
... def total(a): ...
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.machinery
import importlib.util
import os
import platform
import shutil
import sys
import sysconfig
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np

JIT_ENV = "TEXTKIT_JIT_KERNELS"  # "1": always numba's JIT (for debugging the numba code itself)


def jit_forced() -> bool:
    return os.environ.get(JIT_ENV) == "1"


# ---- building and loading one extension module ---------------------------------------------------------
def module_name(prefix: str, sources: list[Path], exports: dict[str, str]) -> str:
    """``prefix`` + a hash of what the compiled code depends on (see the module docstring)."""
    parts = [Path(p).read_bytes() for p in sorted(map(str, sources))]
    parts += [Path(__file__).read_bytes(), repr(sorted(exports.items())).encode()]
    parts += [_numba_version(), np.__version__.encode(), sys.version.encode(), platform.machine().encode()]
    parts.append(_cpu_features().encode())
    return prefix + hashlib.sha256(b"\0".join(parts)).hexdigest()[:20]


def _numba_version() -> bytes:
    """numba's version file, found without importing numba (or reading package metadata, which is slower)."""
    spec = importlib.util.find_spec("numba")
    if spec is None or spec.origin is None:
        return b"no numba"
    version = Path(spec.origin).with_name("_version.py")
    return version.read_bytes() if version.exists() else spec.origin.encode()


def _cpu_features() -> str:
    """What the compiled code may rely on: built for the host CPU, it must not run on a lesser one."""
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return line
    return platform.processor()


def kernel_folder() -> Path:
    from textkit.corpora import cache_dir

    return cache_dir() / "kernels"


def load_or_build(
    prefix: str,
    what: str,
    sources: list[Path],
    exports: dict[str, str],
    functions: Callable[[], dict[str, Callable]],
) -> ModuleType | None:
    """The compiled module of ``exports`` (export name -> numba signature), built on first use.

    ``functions()`` gives the Python function behind each export (called only to build, when numba
    may be imported). ``what`` names the kernels in messages. None (after one line on stderr) when
    the module cannot be built or loaded: the caller then uses numba's JIT.
    """
    name = module_name(prefix, sources, exports)
    path = kernel_folder() / (name + sysconfig.get_config_var("EXT_SUFFIX"))
    if not path.exists():
        try:
            _build(name, path, exports, functions, what)
        except Exception as e:  # no compiler or linker: numba's JIT does the same work, only slower to start
            sys.stderr.write(f"textkit: compiling the {what} kernels ahead of time failed ({e}); using numba's JIT\n")
            return None
        _prune(prefix, keep=path)
    else:
        with contextlib.suppress(OSError):  # marks the module as recently used, for _prune
            os.utime(path)
    try:
        loader = importlib.machinery.ExtensionFileLoader(name, str(path))
        spec = importlib.util.spec_from_loader(name, loader)
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
    except ImportError as e:  # a damaged file: removed, so that the next process builds it again
        sys.stderr.write(f"textkit: cannot load the compiled {what} kernels ({e}); using numba's JIT\n")
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    missing = [export for export in exports if not hasattr(module, export)]
    if missing:
        sys.stderr.write(f"textkit: the compiled {what} kernels lack {', '.join(missing)}; using numba's JIT\n")
        return None
    return module


KEEP_MODULES = 4  # compiled modules of one kind kept in the cache: several textkit versions or venvs may share it


def _prune(prefix: str, keep: Path) -> None:
    """Delete all but the :data:`KEEP_MODULES` most recently used modules named ``prefix``* (each kernel
    source change builds a new one; a deleted one that is still wanted is simply built again)."""
    found = []
    for other in keep.parent.glob(prefix + "*"):
        with contextlib.suppress(OSError):
            found.append((other.stat().st_mtime, other))
    found.sort(reverse=True)
    for _, other in found[KEEP_MODULES:]:
        if other != keep:
            with contextlib.suppress(OSError):
                other.unlink()


def _build(name: str, path: Path, exports: dict[str, str], functions: Callable[[], dict], what: str) -> None:
    """Compile the exports into ``path`` (built in a private folder, then renamed into place, so
    processes building at the same time never see half a file)."""
    import warnings

    from numba.core.compiler import Flags

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba announces pycc's deprecation
        from numba.pycc import CC
        from numba.pycc import compiler as pycc_compiler

    class NoGilFlags(Flags):
        # the exported wrappers let go of the GIL while a kernel runs, as njit(nogil=True) does,
        # so threads run kernels in parallel; pycc has no option for it
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.release_gil = True

    print(f"textkit: compiling the {what} kernels (once; this takes a while)", file=sys.stderr)
    path.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=".build-", dir=path.parent))
    try:
        cc = CC(name)
        cc.output_dir = str(build)
        cc.target_cpu = "host"
        cc.verbose = False
        by_name = functions()
        for export, signature in exports.items():
            cc.export(export, signature)(by_name[export])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numba announces pycc's deprecation
            pycc_compiler.Flags = NoGilFlags
            try:
                cc.compile()
            finally:
                pycc_compiler.Flags = Flags
        os.replace(build / path.name, path)
    finally:
        shutil.rmtree(build, ignore_errors=True)


# ---- kernels next to Python code ---------------------------------------------------------------------------
_ALL: list[Kernel] = []  # every kernel defined so far
_lock = threading.RLock()


class Kernel:
    """A function written in numba's subset of Python, run compiled: ahead of time where one of its
    exported signatures matches the arguments, else by numba's JIT (see the module docstring)."""

    def __init__(self, py_func: Callable, kernel_set: KernelSet | None, signatures: tuple[str, ...], options: dict):
        self.py_func = py_func
        self.kernel_set = kernel_set
        self.options = options
        self.__name__ = py_func.__name__
        self.__qualname__ = py_func.__qualname__
        self.__module__ = py_func.__module__
        self.__doc__ = py_func.__doc__
        tag = py_func.__module__.rsplit(".", 1)[-1]
        self.exports = [(f"{tag}__{py_func.__name__}__{i}", s, _arg_specs(s)) for i, s in enumerate(signatures)]
        self.dispatcher = None  # numba's, made when the JIT is first needed
        self._compiled: list[tuple[tuple, Callable]] | None = None

    def __call__(self, *args):
        variants = self._compiled
        if variants is None:
            variants = self._compiled = self._load()
        for specs, function in variants:
            if _matches(specs, args):
                return function(*args)
        return jit(self)(*args)

    def _load(self) -> list[tuple[tuple, Callable]]:
        module = self.kernel_set.module() if self.kernel_set is not None and self.exports else None
        if module is None:
            return []
        return [(specs, getattr(module, export)) for export, _, specs in self.exports]

    def __repr__(self) -> str:
        return f"<textkit kernel {self.__module__}.{self.__qualname__}>"


def _arg_specs(signature: str) -> tuple:
    """Per argument of a numba signature ``"ret(arg, ...)"``: (dtype, ndim) for a C-contiguous
    array (``i4[::1]``, ``f8[:, ::1]``), None for a scalar."""
    depth = 0
    for start in range(len(signature) - 1, -1, -1):  # the last top-level "(...)" holds the arguments
        if signature[start] == ")":
            depth += 1
        elif signature[start] == "(":
            depth -= 1
            if depth == 0:
                break
    inner = signature[start + 1 : -1]
    args, depth, at = [], 0, 0
    for i, c in enumerate(inner):
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == "," and depth == 0:
            args.append(inner[at:i])
            at = i + 1
    if inner.strip():
        args.append(inner[at:])
    specs = []
    for arg in map(str.strip, args):
        if "[" in arg:
            base, dims = arg.split("[", 1)
            if not dims.endswith("::1]"):
                raise ValueError(f"exported arrays must be C-contiguous ('::1'): {arg!r} in {signature!r}")
            specs.append((np.dtype(base), dims.count(",") + 1))
        else:
            specs.append(None)
    return tuple(specs)


def _matches(specs: tuple, args: tuple) -> bool:
    """Whether ``args`` can be handed to an exported variant: numba's compiled wrapper does not check
    array dtypes, so this does (and that arrays are C-contiguous, and scalars are not arrays)."""
    if len(specs) != len(args):
        return False
    for spec, arg in zip(specs, args):
        if spec is None:
            if isinstance(arg, np.ndarray):
                return False
        elif not (
            isinstance(arg, np.ndarray)
            and arg.dtype == spec[0]
            and arg.ndim == spec[1]
            and arg.flags.c_contiguous
            and arg.flags.aligned
        ):
            return False
    return True


def jit(kernel: Kernel):
    """numba's JIT dispatcher of ``kernel`` (numba is imported on the first call)."""
    if kernel.dispatcher is None:
        _jit_all()
    return kernel.dispatcher


def _jit_all() -> None:
    """Dispatchers for every kernel defined so far; and numba taught that a Kernel object, met as a
    global name in compiled code (one kernel calling another), is its dispatcher."""
    import numba
    from numba.core import types
    from numba.extending import typeof_impl

    global _typed
    with _lock:
        for k in _ALL:
            if k.dispatcher is None:
                k.dispatcher = numba.njit(**k.options)(k.py_func)
        if not _typed:
            typeof_impl.register(Kernel)(lambda kernel, context: types.Dispatcher(jit(kernel)))
            _typed = True


_typed = False


def njit(**options):
    """A drop-in for ``numba.njit(...)`` that imports numba only when the kernel is first called
    (numba's JIT, no ahead-of-time variant)."""

    def wrap(py_func: Callable) -> Kernel:
        k = Kernel(py_func, None, (), options)
        _ALL.append(k)
        return k

    return wrap


class KernelSet:
    """Kernels of some modules compiled together ahead of time into one extension module.

    ``modules``: the modules (dotted names) holding the set's kernels; their sources are part of
    the module's hash, and all are imported before it is built or loaded.
    """

    def __init__(self, name: str, modules: list[str]):
        self.name = name
        self.modules = modules
        self.kernels: list[Kernel] = []
        self._module: ModuleType | None = None
        self._tried = False

    def kernel(self, *signatures: str, **options):
        """Decorator: the function as a :class:`Kernel` of this set, exported with ``signatures``
        (none: compiled only where other kernels call it, or by the JIT). ``options`` are numba.njit's."""
        options = {"nogil": True, "cache": True, **options}

        def wrap(py_func: Callable) -> Kernel:
            k = Kernel(py_func, self, signatures, options)
            self.kernels.append(k)
            _ALL.append(k)
            return k

        return wrap

    def exports(self) -> dict[str, str]:
        return {export: signature for k in self.kernels for export, signature, _ in k.exports}

    def module(self) -> ModuleType | None:
        """The compiled module (loaded or built once per process), or None: use the JIT."""
        if self._tried:
            return self._module
        with _lock:
            if not self._tried:
                if not jit_forced():
                    self._module = self._load_or_build()
                self._tried = True
        return self._module

    def _load_or_build(self) -> ModuleType | None:
        sources = [Path(importlib.import_module(m).__file__) for m in self.modules]

        def functions() -> dict[str, Callable]:
            _jit_all()  # the kernels the exports call must be known to numba
            return {export: k.py_func for k in self.kernels for export, _, _ in k.exports}

        return load_or_build(f"_textkit_{self.name}_", self.name, sources, self.exports(), functions)
