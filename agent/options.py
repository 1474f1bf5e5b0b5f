"""The options that choose a model and build its Agent, shared by ``moss-agent``, the demo and
``moss-agent eval``: argument types, the model and engine flags, and ``load_agent``.

It sits above the loop and below every front end, so the front ends share it without
importing one another.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from agent.loop import Agent
from agent.retry import DEFAULT_ALTERNATIVES
from agent.shipped import preset_for


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (counts, sizes, limits)."""
    return _whole(text, 1)


def non_negative_int(text: str) -> int:
    """An argparse type: a whole number of at least 0 (0 turns the thing off)."""
    return _whole(text, 0)


def _whole(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = least - 1
    if value < least:
        raise argparse.ArgumentTypeError(f"give a whole number of at least {least}, not {text!r}")
    return value


def add_model_flags(p: argparse.ArgumentParser) -> None:
    """The flags that choose the model: --model, --adapter, --base-only, --engine, --device,
    --alternatives, --votes, --vote-draw and --no-constrain (``chat``, ``ask`` and ``demo``
    share them; ``load_agent`` builds the Agent they describe)."""
    p.add_argument("--model", help="Hugging Face model id or folder, or a .gguf file "
                   "(default: embedded model)")  # fmt: skip
    p.add_argument("--adapter", help="PEFT LoRA adapter folder")
    p.add_argument("--base-only", action="store_true", help="do not load the default adapter")
    add_engine_flags(p)
    p.add_argument("--alternatives", type=non_negative_int, default=DEFAULT_ALTERNATIVES,
                   help="when a command fails, rank this many readings by beam search and "
                   "keep a result two agree on; 0: off (default: %(default)s)")  # fmt: skip
    p.add_argument("--votes", type=non_negative_int, default=None, metavar="K",
                   help="for a turn that calls Calculate or Solve, also rank K readings by beam "
                   "search and keep the values most grounded ones reach; 0: off (default: "
                   "the Agent's)")  # fmt: skip
    p.add_argument("--vote-draw", choices=["beams", "samples"], default=None,
                   help="where --votes' candidates come from: the K most likely readings, or "
                   "K drawn at temperature 0.7 (default: the Agent's)")  # fmt: skip
    p.add_argument("--no-constrain", dest="constrain", action="store_false",
                   help="let the model write phase 1 freely instead of holding its Commands "
                   "line to the enabled plugins' grammar")  # fmt: skip


def add_engine_flags(p: argparse.ArgumentParser) -> None:
    """--engine and --device, shared by the model flags and ``moss-agent eval``."""
    p.add_argument("--engine", choices=["auto", "llama.cpp", "transformers"], default="auto",
                   help="what runs the model: llama.cpp (fast, GGUF files, CPU) or "
                   "transformers (any Hugging Face model, GPUs); auto: llama.cpp where it is "
                   "installed and can run the model (default: %(default)s)")  # fmt: skip
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")


def agent_settings(args: argparse.Namespace) -> dict[str, Any]:
    """``{"votes": K}`` when ``--votes`` was given (``--vote-draw`` likewise), ``{"engine": E}``
    when ``--engine`` named one and ``{"constrain": False}`` for ``--no-constrain``; else
    nothing, so the Agent's defaults hold."""
    settings: dict[str, Any] = {}
    if getattr(args, "votes", None) is not None:
        settings["votes"] = args.votes
    if getattr(args, "vote_draw", None) is not None:
        settings["vote_draw"] = args.vote_draw
    if getattr(args, "engine", "auto") != "auto":
        settings["engine"] = args.engine
    if getattr(args, "constrain", True) is False:
        settings["constrain"] = False
    return settings


def load_agent(
    model: str | os.PathLike[str] | None = None,
    adapter: str | os.PathLike[str] | None = None,
    *,
    base_only: bool = False,
    device: str = "auto",
    **kwargs: Any,
) -> Agent:
    """The Agent for a choice of model and adapter, as ``moss-agent chat`` and the demo make it.

    With none given, ``Agent.default()`` (the embedded model and the shipped adapter). Else
    ``model`` (default: the embedded one) with ``adapter`` (``base_only``: none), prompted
    with ``preset_for(model, adapter)``. ``kwargs`` go to the Agent (``alternatives=0``,
    ``engine="transformers"``...).
    """
    if model is None and adapter is None and not base_only:
        return Agent.default(device=device, **kwargs)
    kwargs.setdefault("preset", preset_for(model, adapter))
    return Agent.from_pretrained(model, adapter=adapter, device=device, **kwargs)
