"""The LoRA adapter shipped inside the package, which ``Agent.default()`` loads.

It lives in ``finetune/adapters/default/`` (adapter weights, ``adapter_config.json``, a model
card and ``moss_agent.json``, which records the meta-instruction it was trained with, so
inference shows the model exactly the system text it learned). ``MOSS_AGENT_ADAPTER`` points at
another adapter folder, or ``none`` to run the base model.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

from agent.protocol import Preset

ADAPTER_DIR = Path(__file__).resolve().parent.parent / "finetune" / "adapters" / "default"
SETTINGS_FILE = "moss_agent.json"


@dataclass(frozen=True)
class ShippedAdapter:
    path: Path
    preset: Preset = "short"
    meta_instruction: str | None = None  # None: rebuild it from preset and enabled plugins


def default_adapter() -> ShippedAdapter | None:
    """The adapter ``Agent.default()`` uses, or None when there is none to use."""
    override = os.environ.get("MOSS_AGENT_ADAPTER")
    if override is not None and override.lower() in ("", "none", "0", "off"):
        return None
    path = Path(override) if override else ADAPTER_DIR
    if not (path / "adapter_config.json").is_file():
        return None
    settings = {}
    if (path / SETTINGS_FILE).is_file():
        settings = json.loads((path / SETTINGS_FILE).read_text(encoding="utf-8"))
    preset = settings.get("preset", "short")
    return ShippedAdapter(
        path=path,
        preset=cast(Literal["moss", "short"], preset if preset in ("moss", "short") else "short"),
        meta_instruction=settings.get("meta_instruction"),
    )
