"""Choosing the engine, and running the shipped adapter on llama.cpp: converted once, refused when
it does not fit, and writing what the transformers engine writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.backends.base import run_stream
from agent.engine import pick_engine
from agent.shipped import ADAPTER_DIR
from moss_core.errors import BackendError, ModelNotAvailableError

llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python did not build here")
np = pytest.importorskip("numpy")

from agent.backends.gguf_lora import lora_gguf, permute_rows  # noqa: E402
from agent.backends.llamacpp import LlamaCppBackend  # noqa: E402


@pytest.fixture(scope="module")
def gguf() -> Path:
    from agent.models import default_gguf_path

    try:
        return default_gguf_path()
    except ModelNotAvailableError as error:
        pytest.skip(f"the default model is not available: {error}")


def test_auto_picks_llama_cpp_for_gguf_files_and_transformers_for_the_rest() -> None:
    assert pick_engine(None) == "llama.cpp"
    assert pick_engine("auto", "model.gguf") == "llama.cpp"
    assert pick_engine(None, "HuggingFaceTB/SmolLM2-360M-Instruct") == "transformers"
    assert pick_engine(None, None, device="cuda") == "transformers"
    assert pick_engine("transformers") == "transformers"
    with pytest.raises(BackendError, match="--engine transformers"):
        pick_engine("llama.cpp", "some/hf-folder")
    with pytest.raises(BackendError, match="GPU"):
        pick_engine("llama.cpp", None, device="cuda")
    with pytest.raises(ValueError, match="unknown engine 'vllm'"):
        pick_engine("vllm")


def test_permuted_rows_are_llama_cpps_interleaved_rotary_halves() -> None:
    # 2 heads of 4 dimensions: per head, rows (0, 1, 2, 3) become (0, 2, 1, 3).
    rows = np.arange(8, dtype=np.float32)[:, None]
    assert permute_rows(rows, 2)[:, 0].tolist() == [0, 2, 1, 3, 4, 6, 5, 7]


def test_the_adapter_is_converted_once_and_cached(gguf: Path, tmp_path: Path) -> None:
    first = lora_gguf(ADAPTER_DIR, gguf, cache=tmp_path)
    stamp = first.stat().st_mtime_ns
    again = lora_gguf(ADAPTER_DIR, gguf, cache=tmp_path)
    assert again == first and again.stat().st_mtime_ns == stamp
    assert first.parent == tmp_path / "lora" and not list(first.parent.glob(".convert-*"))
    import gguf as gguf_lib

    reader = gguf_lib.GGUFReader(str(first))
    names = {t.name for t in reader.tensors}
    assert "blk.0.attn_q.weight.lora_a" in names and "blk.29.ffn_down.weight.lora_b" in names
    assert len(names) == 30 * 7 * 2


def _copy_adapter(tmp_path: Path, **changes: Any) -> Path:
    """The shipped adapter, with its config or tensors changed, in a folder of its own."""
    from safetensors.numpy import load_file, save_file

    out = tmp_path / "adapter"
    out.mkdir()
    config = json.loads((ADAPTER_DIR / "adapter_config.json").read_text())
    config.update(changes.pop("config", {}))
    (out / "adapter_config.json").write_text(json.dumps(config))
    weights = load_file(str(ADAPTER_DIR / "adapter_model.safetensors"))
    weights = changes.pop("weights", lambda w: w)(weights)
    save_file(weights, str(out / "adapter_model.safetensors"))
    return out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {
                "weights": lambda w: {
                    k: v[:, :100] if "q_proj.lora_A" in k else v for k, v in w.items()
                }
            },
            "do not fit the base weight",
        ),
        (
            {"weights": lambda w: {k.replace("layers.29.", "layers.31."): v for k, v in w.items()}},
            "has no blk.31",
        ),
        ({"config": {"use_dora": True}}, "DoRA"),
        ({"config": {"modules_to_save": ["lm_head"]}}, "saves whole modules"),
    ],
)
def test_an_adapter_that_does_not_fit_is_refused_before_any_token(
    gguf: Path, tmp_path: Path, change: dict[str, Any], message: str
) -> None:
    adapter = _copy_adapter(tmp_path, **change)
    with pytest.raises(ModelNotAvailableError, match=message):
        LlamaCppBackend.from_gguf(gguf, adapter, cache=tmp_path)
    assert not list(tmp_path.glob("lora/*.gguf"))  # nothing half-written is left behind


def test_a_folder_without_an_adapter_is_refused(gguf: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelNotAvailableError, match=r"adapter_config\.json"):
        LlamaCppBackend.from_gguf(gguf, tmp_path, cache=tmp_path)


@pytest.mark.slow
def test_both_engines_write_the_same_greedy_lines_with_the_shipped_adapter(gguf: Path) -> None:
    """The adapter on llama.cpp (runtime LoRA over the quantised base) writes the Commands
    lines the transformers engine writes with the adapter merged into dequantised weights.

    The two compute in different arithmetic, so a near-tie may fall either way (36 of 200
    held-out turns differ somewhere, docs/engines.md); these questions leave no near-tie in
    the line, and a wrong permutation or scaling of the LoRA changes every one of them."""
    pytest.importorskip("torch")
    from agent.backends.transformers import TransformersBackend
    from agent.loop import Agent

    fast = LlamaCppBackend.from_gguf(gguf, ADAPTER_DIR, n_ctx=2048)
    reference = TransformersBackend.from_pretrained(adapter=ADAPTER_DIR, device="cpu")
    agent = Agent(fast, preset="short", disabled_tools="omit")
    for question, line in (
        ("What is 17 times 23?", 'Calculate("17*23")'),
        ("Solve x + 3 = 10 for x.", 'Solve("x+3=10")'),
        ("What is 15 percent of 460?", 'Calculate("460*15/100")'),
        ("Hi! How are you today?", "None"),
    ):
        prompt = agent._fit_prompt(question)
        a = run_stream(fast.stream(prompt, stop=("<eoc>",), max_new_tokens=96))
        b = run_stream(reference.stream(prompt, stop=("<eoc>",), max_new_tokens=96))
        assert a.text.rpartition("<|Commands|>: ")[2] == line, question
        assert b.text.rpartition("<|Commands|>: ")[2] == line, question


def test_the_base_model_answers_and_its_end_of_text_token_is_the_stop(gguf: Path) -> None:
    backend = LlamaCppBackend.from_gguf(gguf, n_ctx=512)
    chat = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
    pieces: list[str] = []
    gen = run_stream(backend.stream(chat, stop=("<|im_end|>",), max_new_tokens=24), pieces.append)
    assert "Paris" in gen.text and "".join(pieces) == gen.text
    assert gen.stop == "<|im_end|>" and gen.completion_tokens < 24  # the token, as the stop
    backend.close()


def test_the_engine_flag_reaches_the_agent() -> None:
    import argparse

    from agent.options import add_model_flags, agent_settings

    parser = argparse.ArgumentParser()
    add_model_flags(parser)
    assert agent_settings(parser.parse_args([])) == {}
    assert agent_settings(parser.parse_args(["--engine", "transformers", "--votes", "2"])) == {
        "engine": "transformers",
        "votes": 2,
    }


@pytest.mark.slow
def test_the_default_agent_chats_on_llama_cpp_without_importing_torch(gguf: Path) -> None:
    """A user who only chats needs no torch: the default agent runs on llama.cpp and a whole
    turn (both phases, the calculator) imports neither torch nor transformers."""
    import subprocess
    import sys

    child = (
        "import sys\n"
        "from agent import Agent\n"
        "agent = Agent.default()\n"
        "turn = agent.chat('What is 17 times 23?')\n"
        "print(agent.backend.name)\n"
        "print(turn.commands_text)\n"
        "print(sorted(m for m in ('torch', 'transformers', 'peft') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, timeout=300, check=True
    )
    name, commands, imported = done.stdout.strip().splitlines()[-3:]
    assert name.startswith("llama.cpp:") and name.endswith("+default")
    assert commands.startswith("Calculate(")
    assert imported == "[]"


def test_the_environments_model_is_the_one_loaded(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from agent.engine import load_backend

    missing = tmp_path / "chosen.gguf"
    monkeypatch.setenv("MOSS_AGENT_MODEL", str(missing))
    with pytest.raises(BackendError, match=r"chosen\.gguf"):
        load_backend(None)  # auto: a .gguf file, so llama.cpp, which names the missing file
