"""finetune.data: MOSS records in, token ids and loss labels out (real tokenizers, no mocks).

The tokenizer here is a real byte-level BPE trained in the test on the MOSS markers and a little
text, so the tests run on a fresh machine without network. ``tiny_tokenizer`` and
``save_tiny_model`` are reused by tests/test_finetune_train.py.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from finetune.data import (
    IGNORE_INDEX,
    Conversation,
    LoadReport,
    PadCollator,
    build_examples,
    encode_conversation,
    load_conversations,
    parse_moss_record,
    read_conversations,
    rebuild_meta_instruction,
    render_for_training,
    write_conversations,
)
from moss_core import protocol
from moss_core.errors import ConversationError

META = protocol.MOSS_META_INSTRUCTION


def sample_conversations(n: int = 12) -> list[Conversation]:
    """Calculator, search and solver turns, one- and two-turn, English and Chinese."""
    out = []
    for i in range(n):
        a, b = 3 + i, 7 + 2 * i
        calc = protocol.Exchange(
            human=f"What is {a}*{b}?",
            thoughts="I should use the calculator.",
            commands=f'Calculate("{a}*{b}")',
            results=f"Calculate(\"{a}*{b}\") => '{a * b}'",
            reply=f"{a} times {b} is {a * b}.",
        )
        search = protocol.Exchange(
            human="谁写了《红楼梦》？",
            thoughts="这需要搜索。",
            commands='Search("红楼梦 作者")',
            results="Search(\"红楼梦 作者\") =>\n<|1|>: '曹雪芹著。'\n<|2|>: 'A classic novel.'",
            reply="《红楼梦》的作者是曹雪芹。",
        )
        solve = protocol.Exchange(
            human=f"Solve x^2 = {a * a}",
            thoughts="Use the solver.",
            commands=f'Solve("x^2 = {a * a}")',
            results=f'Solve("x^2 = {a * a}") =>\nx_0 = -{a}\nx_1 = {a}',
            reply=f"x = -{a} or x = {a}.",
        )
        chat = protocol.Exchange(
            human="Thanks!", thoughts="No tool needed.", reply="You're welcome!"
        )
        turns = [[calc], [search, chat], [solve, calc], [chat]][i % 4]
        out.append(Conversation(META, turns))
    return out


def tiny_tokenizer() -> Any:
    """A real byte-level BPE (any text encodes, offsets are exact) that prepends a BOS token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        special_tokens=["<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    corpus = [render_for_training(c).text for c in sample_conversations(8)]
    tok.train_from_iterator(corpus, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", tok.token_to_id("<s>"))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="</s>"
    )


def save_tiny_model(folder: Path) -> Path:
    """A 2-layer, 32-wide random Llama with ``tiny_tokenizer``, saved like any HF model."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = tiny_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def trained_runs(tokenizer: Any, example: dict[str, list[int]]) -> list[str]:
    """Decode each maximal run of tokens that carry loss."""
    runs: list[list[int]] = []
    previous = IGNORE_INDEX
    for token, label in zip(example["input_ids"], example["labels"], strict=True):
        if label != IGNORE_INDEX:
            if previous == IGNORE_INDEX:
                runs.append([])
            runs[-1].append(token)
        previous = label
    return [tokenizer.decode(run) for run in runs]


def expected_runs(conversation: Conversation) -> list[str]:
    """What the model writes at inference, turn by turn: phase 1, then phase 2."""
    out = []
    for ex in conversation.exchanges:
        out.append(f" {ex.thoughts}<eot>\n<|Commands|>: {ex.commands}<eoc>")
        out.append(f" {ex.reply}<eom>")
    return out


def moss_turn(**override: Any) -> dict[str, Any]:
    turn = {
        "Human": "<|Human|>: What is 4/7?<eoh>\n",
        "Inner Thoughts": "<|Inner Thoughts|>: I should calculate this.<eot>\n",
        "Commands": '<|Commands|>: Calculate("4/7")<eoc>\n',
        "Tool Responses": "<|Results|>:\nCalculate(\"4/7\") => '0.5714285714285714'\n<eor>\n",
        "MOSS": "<|MOSS|>: 4/7 is about 0.5714.<eom>\n",
    }
    turn.update(override)
    return turn


def moss_record(*turns: dict[str, Any], **override: Any) -> dict[str, Any]:
    record = {
        "conversation_id": 1,
        "meta_instruction": META,
        "num_turns": len(turns),
        "chat": {f"turn_{k}": t for k, t in enumerate(turns, start=1)},
    }
    record.update(override)
    return record


# ---------------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------------


def test_moss_record_becomes_exchanges() -> None:
    conv = parse_moss_record(
        moss_record(moss_turn(), moss_turn(Human="<|Human|>: And 1/3?<eoh>\n"))
    )
    assert conv.meta_instruction == META
    first = conv.exchanges[0]
    assert first == protocol.Exchange(
        human="What is 4/7?",
        thoughts="I should calculate this.",
        commands='Calculate("4/7")',
        results="Calculate(\"4/7\") => '0.5714285714285714'",
        reply="4/7 is about 0.5714.",
    )
    assert conv.exchanges[1].human == "And 1/3?"
    # Rendering through the protocol gives the record's own text back, byte for byte.
    assert protocol.render_exchange(first) == "".join(moss_turn().values())


def test_moss_samples_all_load(moss_samples: Path) -> None:
    conversations, report = load_conversations([moss_samples])
    print(f"\nmoss_samples: {report.summary()}; samples: {report.samples}")
    assert report.loaded + report.total_skipped == 250
    assert report.loaded == len(conversations) == 250, report.samples
    # Every turn renders back to the published text, except text2img's inline Results
    # ("<|Results|>: Image generated successfully.<eor>"), which the protocol writes as a block.
    differing: Counter[str] = Counter()
    for file in sorted(moss_samples.rglob("*.json")):
        record = json.loads(file.read_text(encoding="utf-8"))
        conv = parse_moss_record(record)
        for k, ex in enumerate(conv.exchanges, start=1):
            original = "".join(record["chat"][f"turn_{k}"].values())
            if protocol.render_exchange(ex) != original:
                differing[file.parent.name] += 1
                assert record["chat"][f"turn_{k}"]["Tool Responses"].startswith("<|Results|>: ")
    assert set(differing) <= {"text2img"}


def test_bad_records_are_skipped_with_reasons(tmp_path: Path) -> None:
    good = moss_record(moss_turn())
    no_reply = moss_turn()
    del no_reply["MOSS"]
    lines = [
        json.dumps(good),
        "{not json",
        json.dumps([1, 2]),
        json.dumps(moss_record(no_reply)),
        json.dumps(moss_record(moss_turn(Human=7))),
        json.dumps(moss_record(moss_turn(Human="<|Human|>: no terminator\n"))),
        json.dumps(moss_record(moss_turn(MOSS="<|MOSS|>: hi<eom> there<eom>\n"))),
        json.dumps(moss_record(moss_turn(), num_turns=2)),
        json.dumps({"text": "hello"}),
        json.dumps({"meta_instruction": "M", "turns": []}),
        json.dumps({"meta_instruction": "M", "turns": [{"human": "hi"}]}),
        json.dumps({"meta_instruction": "M", "turns": [{"human": "hi", "reply": "yo"}]}),
        "",
    ]
    data = tmp_path / "data"
    (data / "nested").mkdir(parents=True)
    (data / "mixed.jsonl").write_bytes(("\n".join(lines) + "\n").encode() + b"\xff\xfe\n")
    (data / "nested" / "broken.json").write_text("[{", encoding="utf-8")
    (data / "nested" / "one.json").write_text(json.dumps(good), encoding="utf-8")
    (data / "notes.txt").write_text("not data", encoding="utf-8")

    conversations, report = load_conversations([data])
    assert report.loaded == len(conversations) == 3
    assert report.skipped == Counter(
        {
            "bad JSON": 2,
            "not an object": 1,
            "missing field": 2,
            "wrong type": 1,
            "bad markers": 1,
            "marker inside text": 1,
            "num_turns mismatch": 1,
            "unknown format": 1,
            "no turns": 1,
            "not UTF-8": 1,
        }
    )
    assert any("mixed.jsonl:2: bad JSON" in s for s in report.samples)
    assert "12 skipped" in report.summary()
    # Without a report, the first bad record stops loading and says where it is.
    with pytest.raises(ConversationError, match=r"mixed\.jsonl:2: bad JSON"):
        read_conversations(data / "mixed.jsonl")
    with pytest.raises(ConversationError, match="No training data"):
        load_conversations([tmp_path / "missing"])


def test_write_and_read_conversations(tmp_path: Path) -> None:
    path = tmp_path / "out" / "synth.jsonl"
    conversations = sample_conversations(6)
    assert write_conversations(path, conversations) == 6
    assert read_conversations(path) == conversations
    line = json.loads(path.read_text(encoding="utf-8").splitlines()[1])
    assert sorted(line) == ["meta_instruction", "turns"]
    assert sorted(line["turns"][0]) == ["commands", "human", "reply", "results", "thoughts"]

    def failing() -> Any:
        yield conversations[0]
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_conversations(path, failing())
    assert read_conversations(path) == conversations  # the old file survives
    assert sorted(p.name for p in path.parent.iterdir()) == ["synth.jsonl"]


def test_short_preset_keeps_the_tools() -> None:
    calculator_only = protocol.build_meta_instruction(
        [protocol.Capability("Calculator", "Calculate(expression)")]
    )
    short = rebuild_meta_instruction(calculator_only, "short")
    assert short.startswith(protocol.SHORT_HEAD)
    assert short.endswith("- Calculator: enabled. API: Calculate(expression)\n")
    assert "Web search" not in short
    assert rebuild_meta_instruction(short, "moss") == calculator_only


# ---------------------------------------------------------------------------------------------
# Loss mask
# ---------------------------------------------------------------------------------------------


def test_loss_covers_exactly_what_the_model_writes() -> None:
    tokenizer = tiny_tokenizer()
    report = LoadReport()
    for conv in sample_conversations(8):
        example = encode_conversation(tokenizer, conv, max_length=4096, report=report)
        assert example is not None
        assert trained_runs(tokenizer, example) == expected_runs(conv)
        # All the rest is masked: the meta-instruction, Human lines, Results, prompt markers.
        full = tokenizer.decode(example["input_ids"], skip_special_tokens=True)
        assert full == render_for_training(conv).text
        assert example["labels"][0] == IGNORE_INDEX  # BOS
    assert report.adjusted["tokens crossing a prompt end"] == 0


def test_training_tokens_are_the_inference_tokens() -> None:
    """Each inference prompt, tokenized alone, is a prefix of the training tokens; the next
    token is the first one trained."""
    tokenizer = tiny_tokenizer()
    conv = sample_conversations(3)[2]  # two turns, with Solve results
    example = encode_conversation(tokenizer, conv, max_length=4096)
    assert example is not None
    rendered = render_for_training(conv)
    prompts = []
    for k, ex in enumerate(conv.exchanges):
        phase1 = protocol.render_prompt(conv.meta_instruction, conv.exchanges[:k], ex.human)
        phase2 = phase1 + protocol.results_prefix(ex.thoughts, ex.commands, ex.results)
        prompts += [phase1, phase2]
    assert [len(p) for p in prompts] == rendered.prompt_ends
    for prompt in prompts:
        ids = tokenizer(prompt)["input_ids"]
        assert example["input_ids"][: len(ids)] == ids
        assert example["labels"][len(ids) - 1] == IGNORE_INDEX
        assert example["labels"][len(ids)] != IGNORE_INDEX


def test_human_text_carries_no_loss() -> None:
    tokenizer = tiny_tokenizer()
    conv = Conversation("M\n", [protocol.Exchange("unique words here", "ok", reply="done")])
    example = encode_conversation(tokenizer, conv, max_length=512)
    assert example is not None
    trained = "".join(trained_runs(tokenizer, example))
    assert "unique" not in trained and "<eoh>" not in trained and "<|Results|>" not in trained
    assert trained == " ok<eot>\n<|Commands|>: None<eoc> done<eom>"


def test_truncation_drops_later_turns_not_half_turns() -> None:
    tokenizer = tiny_tokenizer()
    conv = Conversation(
        META, [*sample_conversations(3)[2].exchanges, sample_conversations(1)[0].exchanges[0]]
    )
    rendered = render_for_training(conv)
    full = encode_conversation(tokenizer, conv, max_length=10_000)
    assert full is not None
    two_turns = len(tokenizer(rendered.text[: rendered.turn_ends[1]])["input_ids"])
    report = LoadReport()
    cut = encode_conversation(tokenizer, conv, max_length=two_turns + 5, report=report)
    assert cut is not None and len(cut["input_ids"]) == two_turns
    assert (
        tokenizer.decode(cut["input_ids"], skip_special_tokens=True)
        == rendered.text[: rendered.turn_ends[1]]
    )
    assert trained_runs(tokenizer, cut) == expected_runs(conv)[:4]
    assert report.adjusted == Counter({"later turns dropped": 1})

    meta_tokens = len(tokenizer(META)["input_ids"])
    first_turn = len(tokenizer(rendered.text[: rendered.turn_ends[0]])["input_ids"])
    cut = encode_conversation(tokenizer, conv, max_length=first_turn - 3, report=report)
    assert cut is not None and len(cut["input_ids"]) == first_turn - 3
    assert report.adjusted["first turn cut"] == 1
    assert encode_conversation(tokenizer, conv, max_length=meta_tokens + 2, report=report) is None
    assert report.skipped == Counter({"no trained token within max_length": 1})


def test_build_examples_matches_one_by_one() -> None:
    tokenizer = tiny_tokenizer()
    conversations = sample_conversations(9)
    batched = build_examples(tokenizer, conversations, max_length=4096, batch_size=4)
    single = [encode_conversation(tokenizer, c, max_length=4096) for c in conversations]
    assert batched == single


def test_collator_pads_labels_with_ignore_index() -> None:
    batch = PadCollator(pad_token_id=1)(
        [{"input_ids": [5, 6, 7], "labels": [-100, 6, 7]}, {"input_ids": [8], "labels": [8]}]
    )
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 1, 1]]
    assert batch["labels"].tolist() == [[-100, 6, 7], [8, -100, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    wide = PadCollator(pad_token_id=0, pad_to_multiple_of=8)([{"input_ids": [1], "labels": [1]}])
    assert wide["input_ids"].shape == (1, 8)


def test_default_model_tokenizer_on_moss_samples(moss_samples: Path) -> None:
    """The embedded model's real tokenizer: the mask is exact on all of MOSS's conversations."""
    from agent import models

    folder = models.cache_dir() / "models" / models.MODEL_NAME
    if not models.is_converted(folder):
        pytest.skip(f"default model not converted at {folder} (agent.models.default_model_path)")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    conversations, _ = load_conversations([moss_samples])
    report = LoadReport()
    examples = build_examples(tokenizer, conversations, max_length=100_000, report=report)
    assert len(examples) == len(conversations)
    assert report.adjusted["tokens crossing a prompt end"] == 0
    for conv, example in zip(conversations, examples, strict=True):
        assert trained_runs(tokenizer, example) == expected_runs(conv)
