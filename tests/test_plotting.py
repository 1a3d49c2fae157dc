"""textkit.plotting: one figure helper, atomic files, formats checked before drawing."""

from __future__ import annotations

import pytest

from textkit.errors import UsageError
from textkit.plotting import check_figure_path, figure


@pytest.mark.parametrize("name, magic", [("a.png", b"\x89PNG"), ("a.pdf", b"%PDF"), ("a", b"\x89PNG")])
def test_figure_is_written_in_the_named_format(tmp_path, name, magic):
    with figure(tmp_path / name) as (fig, ax):
        ax.plot([1, 2, 3], [3, 1, 2])
    assert (tmp_path / name).read_bytes().startswith(magic)
    assert [p.name for p in tmp_path.iterdir()] == [name]


def test_unknown_format_is_refused_before_drawing(tmp_path):
    with pytest.raises(UsageError, match=r"cannot draw a \.xyz picture"):
        check_figure_path(tmp_path / "out.xyz")
    with pytest.raises(UsageError):
        with figure(tmp_path / "out.xyz"):
            raise AssertionError("not reached")


def test_a_failure_while_drawing_leaves_no_file(tmp_path):
    with pytest.raises(RuntimeError):
        with figure(tmp_path / "a.png") as (fig, ax):
            raise RuntimeError
    assert list(tmp_path.iterdir()) == []
