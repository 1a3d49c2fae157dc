"""The word2vec kernels compiled ahead of time, so a training run neither imports numba nor starts LLVM.

:mod:`textkit.word2vec.kernels` is numba code; :func:`textkit.compiled.load_or_build` compiles its
exported functions once into an extension module in textkit's cache folder, which every later
process loads with numpy only. Where that build is not possible (no C toolchain), the JIT-compiled
functions are used instead.

>>> compiled_kernels().train_chunk  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from textkit.compiled import jit_forced, load_or_build

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
        module = None if jit_forced() else _load_or_build()
        _loaded = module or _jit_kernels()
    return _loaded


def _jit_kernels():
    from textkit.word2vec import kernels

    return SimpleNamespace(**{name: getattr(kernels, name) for name in SIGNATURES})


def _load_or_build():
    def functions():
        from textkit.word2vec import kernels

        return {name: getattr(kernels, name).py_func for name in SIGNATURES}

    source = Path(__file__).with_name("kernels.py")
    return load_or_build("_textkit_w2v_", "word2vec", [source], SIGNATURES, functions)
