"""The one place that asks the Hugging Face hub for a dataset.

When the hub cannot be reached, ``datasets`` retries for about half a minute and logs every
attempt. :func:`load_hub_dataset` first checks in a few seconds whether the hub answers at all; if
it does not, it loads in offline mode (so a copy already in the local cache still works) and turns
any failure into one :class:`DatasetUnavailableError` that says what to do instead.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Iterator
from urllib.parse import urlparse

from textkit.errors import DatasetUnavailableError


def hub_reachable(timeout: float = 3.0) -> bool:
    """True if a TCP connection to the hub's host (``HF_ENDPOINT`` or huggingface.co) opens in time."""
    if (
        os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")
        or os.environ.get("HF_DATASETS_OFFLINE") == "1"
    ):
        return False
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "huggingface.co", port), timeout=timeout):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def _quiet_hub_logs() -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in ("datasets", "huggingface_hub", "fsspec", "filelock")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


@contextlib.contextmanager
def _offline() -> Iterator[None]:
    """Offline mode for one call: the variables, and the flags the libraries read at import time."""
    import datasets.config
    import huggingface_hub.constants

    saved_env = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")}
    flags = [
        (m, name)
        for m in (huggingface_hub.constants, datasets.config)
        for name in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
        if hasattr(m, name)
    ]
    saved_flags = [getattr(m, name) for m, name in flags]
    os.environ.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    for m, name in flags:
        setattr(m, name, True)
    try:
        yield
    finally:
        for (m, name), value in zip(flags, saved_flags):
            setattr(m, name, value)
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def load_hub_dataset(repo: str, config: str | None, split: str, revision: str | None, what: str, remedy: str):
    """``datasets.load_dataset(repo, config, split=..., revision=...)``, failing fast and clearly.

    ``what`` names the dataset in the error and ``remedy`` says how to load it without the hub.

    >>> load_hub_dataset("Salesforce/wikitext", "wikitext-2-v1", "validation", None, "WikiText-2", "pass --data-dir")
    """
    import datasets

    online = hub_reachable()
    try:
        with _quiet_hub_logs(), contextlib.nullcontext() if online else _offline():
            return datasets.load_dataset(repo, config, split=split, revision=revision)
    except Exception as e:  # the hub client raises many kinds: ConnectionError, OSError, HfHubHTTPError...
        reason = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        where = (
            "from the Hugging Face hub"
            if online
            else "(the Hugging Face hub is unreachable and no cached copy was found)"
        )
        raise DatasetUnavailableError(f"cannot load {what} {where}: {reason}; {remedy}") from None
