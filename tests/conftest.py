"""Suite-wide settings: the tests never reach for the network."""

import pytest


@pytest.fixture(autouse=True)
def _hub_offline(monkeypatch):
    # textkit.datasets.hub then skips its reachability probe and loads in offline mode.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
