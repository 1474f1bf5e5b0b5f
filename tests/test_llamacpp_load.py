"""llama.cpp in-process on the real default GGUF, on every processor kind we get.

On an Intel Xeon with AMX, a natively built llama.cpp crashes in its first matrix multiply
(weights repacked into the AMX buffer). ``make install`` builds it without AMX and
``open_llama`` turns repacking off for builds made elsewhere. The completion runs in a child
process, so that a crash fails this test instead of ending the whole run; on an AMX machine
it fails if either guard is removed.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent.backends.llamacpp_load import build_has_amx, cpu_has_amx, open_llama
from moss_core.errors import BackendError, ModelNotAvailableError

needs_llama_cpp = pytest.mark.skipif(
    importlib.util.find_spec("llama_cpp") is None,
    reason="llama-cpp-python is not installed: make install",
)


def test_cpu_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    amx = tmp_path / "amx"
    amx.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f amx_bf16 amx_tile amx_int8\n")
    plain = tmp_path / "plain"
    plain.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_bf16\n")
    assert cpu_has_amx(amx) and not cpu_has_amx(plain)
    assert not cpu_has_amx(tmp_path / "missing")


@needs_llama_cpp
def test_the_build_has_no_amx_kernels() -> None:
    # A native build on an AMX machine compiles them in; scripts/llama_cpp_cmake_args.sh
    # keeps them out. (On other processors a native build has none either.)
    assert not build_has_amx(), "rebuild llama-cpp-python with `make install`"


@needs_llama_cpp
def test_a_completion_runs_in_process_on_the_default_gguf() -> None:
    from agent.models import default_gguf_path

    try:
        gguf = default_gguf_path()
    except ModelNotAvailableError as err:
        pytest.skip(f"the default GGUF is not available: {err}")
    script = textwrap.dedent(f"""
        from agent.backends.llamacpp_load import open_llama
        llm = open_llama({str(gguf)!r}, n_ctx=256, n_threads=2, seed=0)
        out = llm("<|im_start|>user\\nWhat is 2 plus 2?<|im_end|>\\n<|im_start|>assistant\\n",
                  max_tokens=12, temperature=0.0)
        print("TEXT:" + out["choices"][0]["text"])
        print("TOKENS:", out["usage"]["completion_tokens"])
    """)
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, f"llama.cpp exited with {run.returncode}:\n{run.stderr[-2000:]}"
    assert "TEXT:" in run.stdout and "TOKENS: 0" not in run.stdout
    assert "4" in run.stdout.partition("TEXT:")[2]


def test_a_missing_gguf_is_a_backend_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match=r"no GGUF model at .*nothing\.gguf"):
        open_llama(tmp_path / "nothing.gguf")


@needs_llama_cpp
def test_a_corrupt_gguf_is_a_backend_error_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(BackendError, match=r"could not load .*bad\.gguf"):
        open_llama(bad)
