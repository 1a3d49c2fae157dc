"""Errors a user can act on.

Every error textkit raises on purpose is a :class:`TextkitError`. The CLI prints its message as one
line on stderr and exits with ``exit_code`` (2 for usage errors, 1 for everything else), so library
code raises these instead of printing or calling ``sys.exit``.
"""

from __future__ import annotations


class TextkitError(Exception):
    """Base class: a problem the user can fix, described in one sentence."""

    exit_code = 1


class UsageError(TextkitError):
    """A bad option or argument value (exit status 2, like click's own usage errors)."""

    exit_code = 2


class InputFileError(TextkitError):
    """A file that is missing, unreadable, a directory, or not valid text."""


class BadEncodingError(InputFileError):
    """Text that is not valid UTF-8 (the message names the file and line)."""


class EmptyCorpusError(TextkitError):
    """A corpus with no tokens (or none left after filtering)."""


class ModelFileError(TextkitError):
    """A model, vocabulary or checkpoint file that is corrupt, foreign or mismatched."""


class UnknownWordError(TextkitError, KeyError):
    """A word that is not in the vocabulary."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DatasetUnavailableError(TextkitError):
    """A dataset that cannot be loaded from the hub or from a local copy."""


class OutputError(TextkitError):
    """An output that cannot be written: a read-only folder, a full disk, a file in the way, or
    another process writing the same output."""


class OutputExistsError(UsageError):
    """An output that exists already, where replacing it was not asked for (exit status 2)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every cleanup that handles an interrupt runs for it too."""
