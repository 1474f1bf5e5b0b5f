"""Opening a GGUF in llama.cpp in-process (``llama-cpp-python``), safely on every CPU we run on.

On Intel Xeons with AMX (``amx_int8`` in /proc/cpuinfo), a llama.cpp built for the machine
(``-march=native``) repacks the quantised weights into its AMX buffer at load ("AMX model
buffer size = 95 MiB") and then crashes with a segmentation fault in the first matrix
multiply, in-process and in ``llama_cpp.server`` alike. Two guards, one for each way a
llama.cpp reaches us:

- ``make install`` builds llama-cpp-python without AMX (``scripts/llama_cpp_cmake_args.sh``);
  the server and everything in-process then never take that path.
- A llama-cpp-python built elsewhere may still have AMX compiled in. ``open_llama`` then loads
  the model without llama.cpp's extra buffer types (``use_extra_bufts = False``: no repacking),
  which ran at 95 tokens/s on 2 threads on such a machine. ``Llama`` takes no argument for it,
  so the model parameters it starts from are adjusted for the duration of the load.

``LlamaCppBackend`` (``agent.backends.llamacpp``) is the in-process engine built on it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from moss_core.errors import BackendError

_LOAD = threading.Lock()  # the parameter swap below is process-wide


def cpu_has_amx(cpuinfo: str | os.PathLike[str] = "/proc/cpuinfo") -> bool:
    """Whether the processor has AMX (``amx_int8``/``amx_tile`` among its flags)."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.partition(":")[2].split())
            return bool(flags & {"amx_int8", "amx_tile", "amx_bf16"})
    return False


def build_has_amx() -> bool:
    """Whether the installed llama.cpp was compiled with its AMX kernels."""
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode(errors="replace")
    return "AMX_INT8 = 1" in info


def repacks_into_amx() -> bool:
    """Whether a plain load would take the AMX path that crashes: both CPU and build have it."""
    return cpu_has_amx() and build_has_amx()


def open_llama(model_path: str | os.PathLike[str], *, n_seq_max: int = 1, **kwargs: Any) -> Any:
    """``llama_cpp.Llama(model_path, **kwargs)``, without AMX repacking where it would crash.

    ``n_seq_max`` > 1 makes a context that holds that many sequences in one unified KV cache
    (beams and batch rows share their prompt's cells); ``Llama`` takes no argument for it.
    A missing or unreadable GGUF is a ``BackendError`` naming the file.
    """
    path = Path(model_path)
    if not path.is_file():
        raise BackendError(
            f"no GGUF model at {path}: give the path of a .gguf file (the default model's is "
            "agent.models.default_gguf_path())"
        )
    try:
        import llama_cpp
        from llama_cpp import llama_cpp as native
    except ImportError as err:
        raise BackendError(
            f"llama-cpp-python is not installed ({err}): run `make install`, which builds it "
            "for this machine, or choose engine='transformers' (--engine transformers)"
        ) from None
    kwargs.setdefault("verbose", False)
    with _LOAD:
        default_params = native.llama_model_default_params
        default_context = native.llama_context_default_params
        if repacks_into_amx():

            def no_repacking() -> Any:
                params = default_params()
                params.use_extra_bufts = False
                return params

            native.llama_model_default_params = no_repacking
        if n_seq_max > 1:

            def sequences() -> Any:
                params = default_context()
                params.n_seq_max = n_seq_max
                params.kv_unified = True
                return params

            native.llama_context_default_params = sequences
        try:
            return llama_cpp.Llama(model_path=str(path), **kwargs)
        except ValueError as err:  # llama-cpp-python's "Failed to load model from file"
            raise BackendError(
                f"llama.cpp could not load {path} ({err}): the file is not a GGUF model it "
                "reads, or it is damaged; fetch it again"
            ) from None
        except RuntimeError as err:  # a LoRA file llama.cpp refuses, or a context it cannot make
            raise BackendError(
                f"llama.cpp could not open {path} with {kwargs.get('lora_path') or 'no adapter'} "
                f"({err}); delete the converted adapter to have it written again, or use "
                "engine='transformers'"
            ) from None
        finally:
            native.llama_model_default_params = default_params
            native.llama_context_default_params = default_context
