"""Which engine runs a local model: llama.cpp in-process where it can, else transformers.

llama.cpp (``LlamaCppBackend``) decodes the default model several times faster on a CPU and
needs no torch; it runs GGUF files. transformers (``TransformersBackend``) runs any Hugging
Face model, on GPUs too, and is what training uses. ``engine=None`` ("auto") picks llama.cpp
when it is installed and the model is the embedded one or a ``.gguf`` file on the CPU, and
says in one line when it falls back because llama-cpp-python is missing::

    backend = load_backend(None, adapter="finetune/adapters/default")   # llama.cpp if installed
    backend = load_backend("HuggingFaceTB/SmolLM2-360M-Instruct", engine="transformers")
"""

from __future__ import annotations

import importlib.util
import logging
import os
from typing import Any, Literal, cast

from agent.backends.base import Backend
from moss_core.errors import BackendError

log = logging.getLogger(__name__)

Engine = Literal["llama.cpp", "transformers"]
ENGINES: tuple[Engine, ...] = ("llama.cpp", "transformers")


def llama_cpp_installed() -> bool:
    """Whether llama-cpp-python can be imported (without importing it: that loads a library)."""
    return importlib.util.find_spec("llama_cpp") is not None


def pick_engine(
    engine: str | None,
    model: str | os.PathLike[str] | None = None,
    device: str = "auto",
) -> Engine:
    """The engine to run ``model`` (None: the embedded model) with.

    >>> pick_engine("transformers")
    'transformers'
    >>> pick_engine(None, "HuggingFaceTB/SmolLM2-360M-Instruct")
    'transformers'
    """
    if engine not in (None, "auto", *ENGINES):
        raise ValueError(f"unknown engine {engine!r}; use auto, {' or '.join(ENGINES)}")
    name = None if model is None else os.fspath(model)
    gguf = name is None or name.endswith(".gguf")
    if engine == "llama.cpp":
        if not gguf:
            raise BackendError(
                f"the llama.cpp engine runs .gguf files, and {name!r} is not one; "
                "pass engine='transformers' (--engine transformers) for a Hugging Face model"
            )
        if device not in ("auto", "cpu"):
            raise BackendError(
                f"the llama.cpp engine runs on the CPU here, not on {device!r}; pass "
                "engine='transformers' (--engine transformers) to use a GPU"
            )
        return "llama.cpp"
    if engine == "transformers" or not gguf or device not in ("auto", "cpu"):
        return "transformers"
    if not llama_cpp_installed():
        log.warning(
            "llama-cpp-python is not installed, so the slower transformers engine runs the "
            "model; `make install` builds llama-cpp-python for this CPU"
        )
        return "transformers"
    return "llama.cpp"


def load_backend(
    model: str | os.PathLike[str] | None = None,
    adapter: str | os.PathLike[str] | None = None,
    *,
    engine: str | None = None,
    device: str = "auto",
    dtype: Any = None,
    **kw: Any,
) -> Backend:
    """The backend that runs ``model`` (None: ``$MOSS_AGENT_MODEL``, else the embedded one)
    with an optional LoRA ``adapter`` on the engine ``pick_engine`` chooses. ``kw`` go to the
    backend."""
    from agent.models import MODEL_ENV

    if model is None:
        model = os.environ.get(MODEL_ENV) or None  # a model chosen for the whole environment
    chosen = pick_engine(engine, model, device)
    if chosen == "llama.cpp":
        if dtype is not None:
            raise BackendError(
                "dtype chooses the transformers engine's precision; a GGUF file fixes its own. "
                "Leave dtype unset, or pass engine='transformers'"
            )
        from agent.backends.llamacpp import LlamaCppBackend

        kw.pop("trust_remote_code", None)  # GGUF files carry no code
        return LlamaCppBackend.from_gguf(model, adapter, **kw)
    from agent.backends.transformers import TransformersBackend

    return cast(
        Backend,
        TransformersBackend.from_pretrained(
            None if model is None else os.fspath(model),
            adapter=None if adapter is None else os.fspath(adapter),
            device=device,
            dtype=dtype,
            **kw,
        ),
    )
