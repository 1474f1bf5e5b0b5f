"""Shared fixtures. Paths to the MOSS samples live here so every test finds them the same way."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

REPO = Path(__file__).resolve().parents[1]
MOSS_SAMPLES = REPO.parent / "shared" / "moss_samples"

# `make test` gates what lands, so its property tests draw the same examples every run: a
# failure there is a change's fault, never the luck of the draw. Random search still runs on
# demand, with more examples: HYPOTHESIS_PROFILE=explore python -m pytest tests/test_protocol.py
settings.register_profile("default", derandomize=True, print_blob=True)
settings.register_profile("explore", max_examples=2000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def moss_samples() -> Path:
    if not MOSS_SAMPLES.is_dir():
        pytest.skip(f"MOSS samples not found at {MOSS_SAMPLES}")
    return MOSS_SAMPLES
