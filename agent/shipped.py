"""The LoRA adapter shipped inside the package, which ``Agent.default()`` loads.

It lives in ``finetune/adapters/default/``: adapter weights, ``adapter_config.json``, a model
card and ``moss_agent.json``, which records the meta-instruction it was trained with. Inference
rebuilds that text from the same preset, so the model sees the system text it learned.
``MOSS_AGENT_ADAPTER`` points at another adapter folder, or ``none`` to run the base model.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from moss_core.protocol import MOSS_HEAD, Preset

ADAPTER_DIR = Path(__file__).resolve().parent.parent / "finetune" / "adapters" / "default"
SETTINGS_FILE = "moss_agent.json"


@dataclass(frozen=True)
class ShippedAdapter:
    path: Path
    preset: Preset = "short"


def default_adapter() -> ShippedAdapter | None:
    """The adapter ``Agent.default()`` uses, or None when there is none to use."""
    override = os.environ.get("MOSS_AGENT_ADAPTER")
    if override is not None and override.lower() in ("", "none", "0", "off"):
        return None
    path = Path(override) if override else ADAPTER_DIR
    if not (path / "adapter_config.json").is_file():
        return None
    return ShippedAdapter(path=path, preset=adapter_preset(path))


def adapter_folder(name: str | os.PathLike[str]) -> Path:
    """The folder an adapter argument names: ``default`` is the shipped adapter, wherever the
    package is installed (unless a folder called ``default`` is where the command runs).

    >>> adapter_folder("default") == ADAPTER_DIR, adapter_folder("runs/a")
    (True, PosixPath('runs/a'))
    """
    folder = Path(name)
    return ADAPTER_DIR if str(name) == "default" and not folder.exists() else folder


def adapter_preset(path: str | os.PathLike[str]) -> Preset:
    """The meta-instruction preset the adapter in ``path`` was trained with ("short" if unsaid).

    >>> adapter_preset(ADAPTER_DIR)
    'short'
    """
    settings = {}
    file = Path(path) / SETTINGS_FILE
    if file.is_file():
        settings = json.loads(file.read_text(encoding="utf-8"))
    return _preset(settings)


def preset_for(model: object, adapter: str | os.PathLike[str] | None) -> Preset:
    """The meta-instruction preset to run ``model`` (None: the embedded one) and ``adapter``
    with: the adapter's own; without one, MOSS's text for a named model, else "short".

    >>> preset_for(None, None), preset_for("fnlp/moss-moon-003-sft-plugin", None)
    ('short', 'moss')
    """
    if adapter is not None:
        return adapter_preset(adapter)
    return "moss" if model else "short"


def _preset(settings: dict[str, object]) -> Preset:
    """The preset the adapter learned, read from the meta-instruction it was trained with.

    Only the preset is taken, not the text: the Agent rebuilds the text from it and the enabled
    plugins, so switching a plugin off (or installing one) still shows in the next turn.
    """
    recorded = settings.get("meta_instruction_preset")
    if recorded in ("moss", "short"):
        return cast(Preset, recorded)
    text = settings.get("meta_instruction")
    if isinstance(text, str) and text.startswith(MOSS_HEAD):
        return "moss"
    return "short"
