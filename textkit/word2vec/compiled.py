"""The word2vec kernels compiled ahead of time, so a training run neither imports numba nor starts LLVM.

:mod:`textkit.word2vec.kernels` is numba code. Loading it through numba's JIT cache costs about a
second and 60 MB of memory per process (numba's import and LLVM's start-up), which is most of the
fixed cost of a small training run. So the first use compiles the exported functions once with
numba's ahead-of-time compiler into an extension module in textkit's cache folder, named by a hash
of the kernel sources, the numba, numpy and Python versions and the CPU's features; every later
process loads that module like any other (numpy only). Where the ahead-of-time build is not
possible (no C toolchain), the JIT-compiled functions are used instead.

>>> compiled_kernels().train_chunk  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.machinery
import importlib.util
import os
import platform
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path
from types import SimpleNamespace

_F32_2D, _I32, _I64 = "f4[:, ::1]", "i4[::1]", "i8[::1]"
SIGNATURES = {
    "train_chunk": f"Tuple((f8, i8, i8))({_F32_2D}, {_F32_2D}, {_F32_2D}, {_I32}, {_I64}, f4[::1], f4[::1], {_I32}, "
    f"i1[:, ::1], i4[:, ::1], {_I32}, i8, i8, i8, i8, f8, f8, i8, b1, b1)",
    "vose_alias": "Tuple((f4[::1], i4[::1]))(f8[::1])",
    "huffman_codes": "Tuple((i1[:, ::1], i4[:, ::1], i4[::1]))(i8[::1])",
}
_loaded = None


def compiled_kernels():
    """``train_chunk``, ``vose_alias`` and ``huffman_codes``: from the ahead-of-time module, else numba's JIT."""
    global _loaded
    if _loaded is None:
        if os.environ.get("TEXTKIT_JIT_KERNELS") == "1":  # for debugging the numba code itself
            _loaded = _jit_kernels()
        else:
            _loaded = _load_or_build() or _jit_kernels()
    return _loaded


def _jit_kernels():
    from textkit.word2vec import kernels

    return SimpleNamespace(**{name: getattr(kernels, name) for name in SIGNATURES})


def _module_name() -> str:
    from importlib.metadata import version

    import numpy

    source = Path(__file__).with_name("kernels.py").read_bytes()
    parts = [
        source,
        repr(SIGNATURES).encode(),
        version("numba").encode(),
        numpy.__version__.encode(),
        sys.version.encode(),
        platform.machine().encode(),
        _cpu_features().encode(),
    ]
    return "_textkit_w2v_" + hashlib.sha256(b"\0".join(parts)).hexdigest()[:20]


def _cpu_features() -> str:
    """What the compiled code may rely on: built for the host CPU, it must not run on a lesser one."""
    with contextlib.suppress(OSError):
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return line
    return platform.processor()


def _load_or_build():
    from textkit.corpora import cache_dir

    name = _module_name()
    folder = cache_dir() / "kernels"
    path = folder / (name + sysconfig.get_config_var("EXT_SUFFIX"))
    if not path.exists():
        try:
            _build(name, folder, path)
        except Exception as e:  # no compiler or linker: numba's JIT does the same work, only slower to start
            sys.stderr.write(f"textkit: compiling the word2vec kernels ahead of time failed ({e}); using numba's JIT\n")
            return None
    loader = importlib.machinery.ExtensionFileLoader(name, str(path))
    spec = importlib.util.spec_from_loader(name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def _build(name: str, folder: Path, path: Path) -> None:
    """Compile the kernels into ``path`` (built in a private folder, then renamed into place)."""
    import warnings

    from numba.core.compiler import Flags
    from numba.pycc import CC
    from numba.pycc import compiler as pycc_compiler

    from textkit.word2vec import kernels

    class NoGilFlags(Flags):
        # the exported wrappers let go of the GIL while a kernel runs, as njit(nogil=True) does,
        # so worker threads train in parallel; pycc has no option for it
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.release_gil = True

    print("textkit: compiling the word2vec kernels (once; this takes a while)", file=sys.stderr)
    folder.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=".build-", dir=folder))
    try:
        cc = CC(name)
        cc.output_dir = str(build)
        cc.target_cpu = "host"
        cc.verbose = False
        for function, signature in SIGNATURES.items():
            cc.export(function, signature)(getattr(kernels, function).py_func)
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
