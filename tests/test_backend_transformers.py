"""TransformersBackend on real models: a tiny random Llama with the default model's tokenizer for
the decoding and KV-cache logic, and the real SmolLM2 default model in one slow test.

Reference outputs come from ``model.generate`` (greedy), an implementation independent of ours.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from agent.backends.base import Backend, Generation, run_stream  # noqa: E402
from agent.backends.transformers import TransformersBackend, _IncrementalDecoder  # noqa: E402
from agent.loop import Agent  # noqa: E402
from agent.shipped import SETTINGS_FILE  # noqa: E402
from moss_core.errors import BackendError, ModelNotAvailableError  # noqa: E402

PROMPT = "<|Human|>: What is 4/7?<eoh>\n<|Inner Thoughts|>:"
THOUGHTS = ' I should calculate this.<eot>\n<|Commands|>: Calculate("4/7")<eoc>\n'
RESULTS = "<|Results|>:\nCalculate(\"4/7\") => '0.5714285714285714'\n<eor>\n<|MOSS|>:"


@pytest.fixture(scope="module")
def default_path() -> Path:
    from agent.models import default_model_path

    try:
        return default_model_path()
    except ModelNotAvailableError as error:
        pytest.skip(f"the default model is not available: {error}")


@pytest.fixture(scope="module")
def tokenizer(default_path: Path) -> Any:
    return transformers.AutoTokenizer.from_pretrained(default_path)


@pytest.fixture(scope="module")
def tiny_model(tokenizer: Any) -> Any:
    """A 2-layer random Llama over the real 49k vocabulary (fast, deterministic)."""
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    return transformers.LlamaForCausalLM(config).eval()


@pytest.fixture
def backend(tiny_model: Any, tokenizer: Any) -> TransformersBackend:
    return TransformersBackend(tiny_model, tokenizer, name="tiny", device="cpu")


def encode(tokenizer: Any, text: str) -> list[int]:
    ids: list[int] = tokenizer(text)["input_ids"]
    return ids


def reference(model: Any, tokenizer: Any, prompt: str, n: int) -> list[int]:
    """Greedy continuation ids from transformers' own ``generate`` (no EOS stopping)."""
    ids = torch.tensor([encode(tokenizer, prompt)])
    out = model.generate(
        ids, max_new_tokens=n, do_sample=False, eos_token_id=None, pad_token_id=0, min_new_tokens=n
    )
    return [int(t) for t in out[0, ids.shape[1] :]]


def collect(backend: TransformersBackend, prompt: str, **kw: Any) -> tuple[list[str], Generation]:
    pieces: list[str] = []
    kw.setdefault("stop", [])
    kw.setdefault("max_new_tokens", 24)
    return pieces, run_stream(backend.stream(prompt, **kw), pieces.append)


def common_prefix(a: list[int] | tuple[int, ...], b: list[int]) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


# -- decoding -----------------------------------------------------------------------------------


def test_is_a_backend(backend: TransformersBackend) -> None:
    assert isinstance(backend, Backend)
    assert backend.context_length == 512


def test_greedy_output_matches_transformers_generate(
    backend: TransformersBackend, tiny_model: Any, tokenizer: Any
) -> None:
    expected = tokenizer.decode(reference(tiny_model, tokenizer, PROMPT, 24))
    pieces, gen = collect(backend, PROMPT, max_new_tokens=24)
    assert gen.text == expected
    assert "".join(pieces) == gen.text
    assert gen.stop is None and gen.completion_tokens == 24
    assert gen.prompt_tokens == gen.prefill_tokens == backend.count_tokens(PROMPT)


def test_stop_string_cuts_the_text_and_is_never_streamed(backend: TransformersBackend) -> None:
    _, full = collect(backend, PROMPT, max_new_tokens=30)
    stop = full.text[len(full.text) // 2 :][:3]  # some text from the middle of the output
    backend.reset()
    pieces, gen = collect(backend, PROMPT, stop=["never-appears", stop], max_new_tokens=30)
    assert gen.stop == stop
    assert gen.text == full.text[: full.text.index(stop)]
    assert "".join(pieces) == gen.text
    assert all(stop not in piece for piece in pieces)
    assert gen.completion_tokens < 30


def test_end_of_text_token_ends_generation(tiny_model: Any, tokenizer: Any) -> None:
    ids = reference(tiny_model, tokenizer, PROMPT, 12)
    k = next(i for i in range(2, len(ids)) if ids[i] not in ids[:i])  # first fresh token
    tiny_model.generation_config.eos_token_id = [tokenizer.eos_token_id, ids[k]]
    try:
        backend = TransformersBackend(tiny_model, tokenizer, device="cpu")
        pieces, gen = collect(backend, PROMPT, max_new_tokens=12)
    finally:
        tiny_model.generation_config.eos_token_id = tokenizer.eos_token_id
    assert gen.text == tokenizer.decode(ids[:k]) == "".join(pieces)
    assert gen.stop == tokenizer.decode([ids[k]])
    assert gen.completion_tokens == k + 1


@pytest.mark.parametrize("text", ["héllo 你好 🤖 ok", "ÅÄÖ → ∑ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢", " x\n\ty  "])
def test_incremental_decoding_never_splits_a_character(tokenizer: Any, text: str) -> None:
    decoder = _IncrementalDecoder(tokenizer)
    pieces = [decoder.push(t) for t in tokenizer(text, add_special_tokens=False)["input_ids"]]
    pieces.append(decoder.flush())
    assert "".join(pieces) == text
    assert not any("\ufffd" in p for p in pieces)


def test_sampling_is_reproducible_with_a_seed(tiny_model: Any, tokenizer: Any) -> None:
    def sample(seed: int) -> str:
        b = TransformersBackend(
            tiny_model, tokenizer, device="cpu", temperature=1.0, top_p=0.9, seed=seed
        )
        return collect(b, PROMPT, max_new_tokens=16)[1].text

    assert sample(1) == sample(1)
    assert len({sample(s) for s in range(2, 6)}) > 1


# -- KV cache reuse -----------------------------------------------------------------------------


def test_appended_text_prefills_only_the_new_tokens(
    backend: TransformersBackend, tokenizer: Any
) -> None:
    first = encode(tokenizer, PROMPT)
    longer = encode(tokenizer, PROMPT + THOUGHTS)
    assert longer[: len(first)] == first  # the boundary does not merge tokens
    collect(backend, PROMPT, max_new_tokens=1)  # the cache now covers exactly PROMPT
    assert backend.cached_ids == tuple(first)
    _, gen = collect(backend, PROMPT + THOUGHTS)
    assert gen.prefill_tokens == len(longer) - len(first)
    assert gen.prompt_tokens == len(longer)


def test_phase_two_reuses_prompt_and_generated_tokens_and_matches_a_fresh_run(
    tiny_model: Any, tokenizer: Any, backend: TransformersBackend
) -> None:
    _, phase1 = collect(backend, PROMPT, max_new_tokens=20)
    cached = backend.cached_ids
    assert len(cached) == len(encode(tokenizer, PROMPT)) + 19  # the last token is not run yet
    prompt2 = PROMPT + phase1.text + "<eoc>\n" + RESULTS
    ids2 = encode(tokenizer, prompt2)
    _, phase2 = collect(backend, prompt2)
    assert phase2.prefill_tokens == len(ids2) - common_prefix(cached, ids2)
    assert phase2.prefill_tokens < len(ids2) - len(encode(tokenizer, PROMPT))

    fresh = TransformersBackend(tiny_model, tokenizer, device="cpu", reuse_cache=False)
    _, again = collect(fresh, prompt2)
    assert again.prefill_tokens == len(ids2)
    assert again.text == phase2.text


def test_same_prompt_twice_recomputes_only_the_last_token(backend: TransformersBackend) -> None:
    _, a = collect(backend, PROMPT)
    _, b = collect(backend, PROMPT)
    assert b.prefill_tokens == 1
    assert b.text == a.text


def test_prompt_that_diverges_midway_is_cropped_and_still_correct(
    backend: TransformersBackend, tiny_model: Any, tokenizer: Any
) -> None:
    collect(backend, PROMPT + THOUGHTS + RESULTS)
    other = PROMPT + " The user wants a division.<eot>\n"
    ids = encode(tokenizer, other)
    shared = common_prefix(encode(tokenizer, PROMPT + THOUGHTS + RESULTS), ids)
    _, gen = collect(backend, other)
    assert gen.prefill_tokens == len(ids) - shared
    assert backend.cached_ids[: len(ids)] == tuple(ids)
    assert gen.text == tokenizer.decode(reference(tiny_model, tokenizer, other, 24))


def test_eight_turn_conversation_matches_fresh_runs(
    backend: TransformersBackend, tiny_model: Any, tokenizer: Any
) -> None:
    fresh = TransformersBackend(tiny_model, tokenizer, device="cpu", reuse_cache=False)
    history = ""
    prefilled = {"reused": 0, "fresh": 0}
    for turn in range(8):
        prompt = f"{history}<|Human|>: question {turn}?<eoh>\n<|Inner Thoughts|>:"
        ids = encode(tokenizer, prompt)
        expected_prefill = len(ids) - min(common_prefix(backend.cached_ids, ids), len(ids) - 1)
        _, reused = collect(backend, prompt, max_new_tokens=6)
        _, scratch = collect(fresh, prompt, max_new_tokens=6)
        assert reused.text == scratch.text
        assert reused.prefill_tokens == expected_prefill
        prefilled["reused"] += reused.prefill_tokens
        prefilled["fresh"] += scratch.prefill_tokens
        history = prompt + reused.text + "<eot>\n<|MOSS|>: ok<eom>\n"
    assert prefilled["reused"] * 3 < prefilled["fresh"]


# -- limits, errors and concurrency -------------------------------------------------------------


def test_prompt_beyond_the_context_raises_and_the_backend_still_works(
    backend: TransformersBackend,
) -> None:
    with pytest.raises(BackendError, match="exceeds the context length"):
        collect(backend, PROMPT * 40, max_new_tokens=16)
    with pytest.raises(BackendError, match="exceeds the context length"):
        collect(backend, PROMPT, max_new_tokens=500)
    assert collect(backend, PROMPT, max_new_tokens=4)[1].completion_tokens == 4


def test_empty_prompt_is_refused(backend: TransformersBackend) -> None:
    with pytest.raises(BackendError, match="empty"):
        collect(backend, "")


def test_closing_a_stream_early_leaves_a_usable_cache(
    backend: TransformersBackend, tiny_model: Any, tokenizer: Any
) -> None:
    stream = backend.stream(PROMPT, stop=[], max_new_tokens=20)
    next(stream)
    stream.close()
    _, gen = collect(backend, PROMPT + THOUGHTS)
    assert gen.prefill_tokens < gen.prompt_tokens
    assert gen.text == tokenizer.decode(reference(tiny_model, tokenizer, PROMPT + THOUGHTS, 24))


def test_second_stream_in_the_same_thread_is_refused(backend: TransformersBackend) -> None:
    first = backend.stream(PROMPT, stop=[], max_new_tokens=20)
    next(first)
    with pytest.raises(BackendError, match="still open"):
        collect(backend, PROMPT)
    first.close()
    assert collect(backend, PROMPT, max_new_tokens=2)[1].completion_tokens == 2


def test_concurrent_callers_get_the_same_results_as_sequential_ones(
    backend: TransformersBackend,
) -> None:
    prompts = [PROMPT, PROMPT + THOUGHTS + RESULTS, "<|Human|>: hello<eoh>\n<|Inner Thoughts|>:"]
    expected = []
    for p in prompts:
        backend.reset()
        expected.append(collect(backend, p)[1].text)
    got: dict[int, str] = {}

    def worker(i: int) -> None:
        for _ in range(3):
            got[i] = collect(backend, prompts[i])[1].text

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(prompts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [got[i] for i in range(len(prompts))] == expected


# -- batches ------------------------------------------------------------------------------------

BATCH = [
    PROMPT,
    PROMPT + THOUGHTS + RESULTS,  # longer: it shares PROMPT and is padded least
    "<|Human|>: hello there, how are you today?<eoh>\n<|Inner Thoughts|>:",
    "<|Human|>: 2+2?<eoh>\n<|Inner Thoughts|>:",
]


def test_a_batch_gives_each_prompt_what_generate_gives_it_alone(
    backend: TransformersBackend, tiny_model: Any, tokenizer: Any
) -> None:
    gens = backend.generate_batch(BATCH, stop=[], max_new_tokens=20)
    for prompt, gen in zip(BATCH, gens, strict=True):
        assert gen.text == tokenizer.decode(reference(tiny_model, tokenizer, prompt, 20))
        assert gen.stop is None and gen.completion_tokens == 20
        assert gen.prompt_tokens == backend.count_tokens(prompt)
    # The four share only their first tokens ("<|Human|>:"), encoded once for all of them.
    shared = gens[0].prompt_tokens - gens[0].prefill_tokens
    assert shared == common_prefix(encode(tokenizer, BATCH[0]), encode(tokenizer, BATCH[2])) > 0
    assert [g.prompt_tokens - g.prefill_tokens for g in gens] == [shared] * 4


def test_rows_stop_on_their_own_and_match_streaming(backend: TransformersBackend) -> None:
    # A stop string taken from one row's output ends that row early; the others run on.
    alone = [collect(backend, p, max_new_tokens=24)[1] for p in BATCH]
    stop = alone[1].text[6:9]
    expected = []
    for p in BATCH:
        backend.reset()
        expected.append(collect(backend, p, stop=[stop], max_new_tokens=24)[1])
    gens = backend.generate_batch(BATCH, stop=[stop], max_new_tokens=24)
    assert [(g.text, g.stop, g.completion_tokens) for g in gens] == [
        (g.text, g.stop, g.completion_tokens) for g in expected
    ]
    assert gens[1].stop == stop and gens[1].completion_tokens < 24


def test_prompts_with_nothing_in_common_decode_without_nans(
    backend: TransformersBackend, tiny_model: Any, tokenizer: Any
) -> None:
    # No shared prefix: the shorter prompt's padding starts the sequence, with nothing to attend
    # to; a NaN there would spread to every later token of that row.
    prompts = ["Hello", "<|Human|>: a much longer prompt than the first one<eoh>"]
    assert common_prefix(encode(tokenizer, prompts[0]), encode(tokenizer, prompts[1])) == 0
    gens = backend.generate_batch(prompts, stop=[], max_new_tokens=12)
    assert [g.text for g in gens] == [
        tokenizer.decode(reference(tiny_model, tokenizer, p, 12)) for p in prompts
    ]


def test_a_batch_leaves_the_streaming_cache_alone(backend: TransformersBackend) -> None:
    collect(backend, PROMPT)
    cached = backend.cached_ids
    backend.generate_batch(BATCH, stop=[], max_new_tokens=5)
    assert backend.cached_ids == cached
    _, again = collect(backend, PROMPT)
    assert again.prefill_tokens == 1  # still the cache of the last stream


def test_a_batch_refuses_what_a_stream_refuses(backend: TransformersBackend) -> None:
    assert backend.generate_batch([], stop=[], max_new_tokens=5) == []
    with pytest.raises(BackendError, match="prompt 1 is empty"):
        backend.generate_batch([PROMPT, ""], stop=[], max_new_tokens=5)
    with pytest.raises(BackendError, match=r"prompt 0 .* exceeds the context length"):
        backend.generate_batch([PROMPT * 40], stop=[], max_new_tokens=5)
    stream = backend.stream(PROMPT, stop=[], max_new_tokens=20)
    next(stream)
    with pytest.raises(BackendError, match="still open"):
        backend.generate_batch([PROMPT], stop=[], max_new_tokens=5)
    stream.close()


def test_from_pretrained_loads_a_folder_and_a_lora_adapter(
    tiny_model: Any, tokenizer: Any, tmp_path: Path
) -> None:
    peft = pytest.importorskip("peft")
    tiny_model.save_pretrained(tmp_path / "base")
    tokenizer.save_pretrained(tmp_path / "base")
    plain = TransformersBackend.from_pretrained(tmp_path / "base", device="cpu")
    assert plain.name == "transformers:base"
    base_text = collect(plain, PROMPT)[1].text
    assert (
        base_text
        == collect(TransformersBackend(tiny_model, tokenizer, device="cpu"), PROMPT)[1].text
    )

    torch.manual_seed(1)
    lora = peft.get_peft_model(
        transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "base"),
        peft.LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
    )
    lora.save_pretrained(tmp_path / "adapter")
    tuned = TransformersBackend.from_pretrained(
        tmp_path / "base", adapter=tmp_path / "adapter", device="cpu", dtype="float32"
    )
    assert tuned.name == "transformers:base+adapter"
    _, first = collect(tuned, PROMPT)
    _, second = collect(tuned, PROMPT + first.text + RESULTS)
    assert second.prefill_tokens < second.prompt_tokens  # the cache works as before
    assert first.text != base_text  # the adapter changes the output
    # ... and it was folded into the weights: generation runs a plain model, no LoRA layers.
    assert not any("lora" in name for name, _ in tuned.model.named_modules())
    # An Agent on it takes the preset the adapter was trained with, unless told otherwise.
    (tmp_path / "adapter" / SETTINGS_FILE).write_text('{"meta_instruction_preset": "short"}')
    assert Agent.from_pretrained(tmp_path / "base", adapter=tmp_path / "adapter").preset == "short"
    assert Agent.from_pretrained(tmp_path / "base").preset == "moss"
    told = Agent.from_pretrained(tmp_path / "base", adapter=tmp_path / "adapter", preset="moss")
    assert told.preset == "moss"
    # A local folder that holds no adapter is refused as such, never looked up on the hub.
    (tmp_path / "empty-adapter").mkdir()
    with pytest.raises(ModelNotAvailableError, match=r"has no adapter_config\.json"):
        TransformersBackend.from_pretrained(tmp_path / "base", adapter=tmp_path / "empty-adapter")


def test_missing_model_folder_is_a_model_not_available_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotAvailableError, match="not a folder"):
        TransformersBackend.from_pretrained(tmp_path / "nothing-here")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotAvailableError, match="could not load"):
        TransformersBackend.from_pretrained(tmp_path / "empty")


# -- the real default model ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def real(default_path: Path) -> Iterator[TransformersBackend]:
    yield TransformersBackend.from_pretrained(default_path, device="cpu")


@pytest.mark.slow
def test_default_model_answers_and_reuses_its_cache(real: TransformersBackend) -> None:
    chat = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
    pieces, gen = collect(real, chat, stop=["<|im_end|>"], max_new_tokens=24)
    assert "Paris" in gen.text
    assert "".join(pieces) == gen.text
    assert gen.stop == "<|im_end|>"  # the end-of-text token, reported as the stop

    moss = PROMPT + THOUGHTS + RESULTS
    _, phase1 = collect(real, moss, stop=["<eom>"], max_new_tokens=16)
    follow = moss + phase1.text + "<eom>\n<|Human|>: And 5/7?<eoh>\n<|Inner Thoughts|>:"
    _, turn2 = collect(real, follow, stop=["<eoc>"], max_new_tokens=16)
    new_text_tokens = real.count_tokens("<eom>\n<|Human|>: And 5/7?<eoh>\n<|Inner Thoughts|>:")
    assert turn2.prefill_tokens <= new_text_tokens + 2  # + the last generated token, a merge
    real.reset()
    _, scratch = collect(real, follow, stop=["<eoc>"], max_new_tokens=16)
    assert scratch.text == turn2.text


# -- alternatives (beam search) -----------------------------------------------------------------


def test_one_alternative_is_the_greedy_output(backend: TransformersBackend) -> None:
    _, greedy = collect(backend, PROMPT, max_new_tokens=16)
    [alt] = backend.alternatives(PROMPT, stop=[], max_new_tokens=16, n=1)
    assert (alt.text, alt.stop, alt.completion_tokens) == (greedy.text, None, 16)
    assert alt.prompt_tokens == alt.prefill_tokens == greedy.prompt_tokens


def test_alternatives_are_distinct_beams_ranked_by_likelihood(
    backend: TransformersBackend, tiny_model: Any, tokenizer: Any
) -> None:
    n, length = 4, 6
    gens = backend.alternatives(PROMPT, stop=[], max_new_tokens=length, n=n)
    assert len(gens) == n and len({g.text for g in gens}) == n
    # Their log-likelihoods, from a forward pass of our own, never rise down the list (beams of
    # one length are ranked by their summed log-probabilities).
    prompt_ids = encode(tokenizer, PROMPT)
    x = torch.tensor([prompt_ids])
    beams = tiny_model.generate(
        x, attention_mask=torch.ones_like(x), num_beams=n, num_return_sequences=n,
        do_sample=False, max_new_tokens=length, eos_token_id=None, pad_token_id=0,
    )  # fmt: skip
    assert [tokenizer.decode(b[len(prompt_ids) :]) for b in beams] == [g.text for g in gens]
    with torch.no_grad():
        logp = torch.log_softmax(tiny_model(beams).logits[:, :-1].float(), dim=-1)
    picked = logp.gather(2, beams[:, 1:, None])[:, len(prompt_ids) - 1 :, 0].sum(dim=1)
    assert all(a >= b - 1e-4 for a, b in zip(picked.tolist(), picked.tolist()[1:], strict=False))


def test_alternatives_end_at_a_stop_string(backend: TransformersBackend) -> None:
    _, full = collect(backend, PROMPT, max_new_tokens=12)
    stop = full.text[4:7]
    backend.reset()
    _, greedy = collect(backend, PROMPT, stop=["never-appears", stop], max_new_tokens=12)
    [one] = backend.alternatives(PROMPT, stop=["never-appears", stop], max_new_tokens=12, n=1)
    assert (one.text, one.stop, one.completion_tokens) == (
        greedy.text, stop, greedy.completion_tokens)  # fmt: skip
    # A beam that reaches the stop string ends there; none of them runs on past one.
    for g in backend.alternatives(PROMPT, stop=[stop], max_new_tokens=12, n=3):
        assert stop not in g.text and (g.stop == stop or g.completion_tokens == 12)


def test_alternatives_leave_the_streaming_cache_alone_and_refuse_bad_calls(
    backend: TransformersBackend,
) -> None:
    collect(backend, PROMPT)
    cached = backend.cached_ids
    backend.alternatives(PROMPT, stop=[], max_new_tokens=4, n=2)
    assert backend.cached_ids == cached
    with pytest.raises(ValueError, match="n >= 1"):
        backend.alternatives(PROMPT, stop=[], max_new_tokens=4, n=0)
    with pytest.raises(BackendError, match="exceeds the context length"):
        backend.alternatives(PROMPT * 40, stop=[], max_new_tokens=4, n=2)
    stream = backend.stream(PROMPT, stop=[], max_new_tokens=20)
    next(stream)
    with pytest.raises(BackendError, match="still open"):
        backend.alternatives(PROMPT, stop=[], max_new_tokens=4, n=2)
    stream.close()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"device": "gpu"}, r"unknown device 'gpu'; use auto, cpu or cuda"),
        ({"dtype": "float17"}, r"unknown dtype 'float17'"),
    ]
    + ([] if torch.cuda.is_available() else [({"device": "cuda"}, "needs CUDA")]),
)
def test_a_bad_device_or_dtype_is_said_before_any_model_loads(
    kwargs: dict[str, str], message: str, tmp_path: Path
) -> None:
    # tmp_path holds no model: the check comes first, so this takes no loading time.
    with pytest.raises(BackendError, match=message):
        TransformersBackend.from_pretrained(str(tmp_path), **kwargs)
