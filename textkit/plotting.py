"""The one place that draws and saves figures (matplotlib's Agg backend, files written atomically).

>>> with figure("ppl.png", size=(6, 4)) as (fig, ax):
...     ax.plot([1, 2, 3], [300, 200, 150])
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from textkit.errors import UsageError
from textkit.io import PathLike, atomic_path

FORMATS = ("png", "pdf", "svg", "jpg", "jpeg", "eps", "ps", "tif", "tiff", "webp")


def check_figure_path(path: PathLike) -> str:
    """The picture format ``path`` names by its suffix (no suffix: png); refuse one matplotlib cannot
    write, before any work is done."""
    suffix = Path(path).suffix.lower().lstrip(".")
    fmt = suffix or "png"
    if fmt not in FORMATS:
        raise UsageError(f"{path}: cannot draw a .{suffix} picture; use one of .{', .'.join(FORMATS)}")
    return fmt


@contextlib.contextmanager
def figure(path: PathLike, size: tuple[float, float] = (6, 4), dpi: int = 100) -> Iterator[tuple[Any, Any]]:
    """Yield a matplotlib ``(fig, ax)``; when the block ends, save the figure to ``path`` atomically
    in the format its suffix names, and close it (also on failure)."""
    fmt = check_figure_path(path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size)
    try:
        yield fig, ax
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=dpi)
    finally:
        plt.close(fig)
