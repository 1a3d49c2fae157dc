"""The installed package: a `textkit` command, and no bare top-level `cli` module."""

import subprocess
import sys


def test_no_bare_cli_module_is_installed(tmp_path):
    # Run from an empty folder so the repo root is not on sys.path.
    code = "import importlib.util as u; print(u.find_spec('cli') is None, u.find_spec('textkit_cli') is not None)"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]


def test_textkit_help_lists_every_command():
    from textkit_cli.main import COMMANDS

    out = subprocess.run(["textkit", "--help"], capture_output=True, text=True, check=True).stdout
    for name in COMMANDS:
        assert f"  {name} " in out or f"  {name}\n" in out, name
