"""Shared fixtures. Paths to the MOSS samples live here so every test finds them the same way."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MOSS_SAMPLES = REPO.parent / "shared" / "moss_samples"


@pytest.fixture
def moss_samples() -> Path:
    if not MOSS_SAMPLES.is_dir():
        pytest.skip(f"MOSS samples not found at {MOSS_SAMPLES}")
    return MOSS_SAMPLES
