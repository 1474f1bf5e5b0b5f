"""Synthetic MOSS-format training data for the built-in tools, and its held-out evaluation set.

    from finetune.synth import generate
    conversations = generate(2000, seed=0, split="train")   # moss_core.protocol.Conversation list

    moss-agent synth --n 2000 --seed 0 --split train --out data/synth.jsonl

Modules: ``base`` (samples, families of phrasings, splits), ``numfmt`` (numbers as questions
write them and replies state them), ``entities`` and ``corpus`` (the names and the searchable
world, split), ``templates_*`` (one module per tool, no-tool turns and follow-ups;
``templates_paraphrase`` and ``templates_rebalance``: more train wordings of the Calculate and
Solve skills; ``templates_explain``: what an operation means, asked without numbers),
``schemas`` and ``stories`` (word problems by schema, and GSM8K-style ones),
``generate`` (samples -> conversations through the real plugins), ``evalcases`` (the held-out
evaluation files under ``finetune/assets``) and ``cli``.

The phrasings that are plain text and the entity pools are data, under ``finetune/synth/data``
(read with ``importlib.resources``). Every phrasing template and every entity belongs to exactly
one split, ``train`` or ``heldout``, so evaluating on held-out cases measures generalisation to
new wordings and names.
"""

from finetune.synth.base import SPLITS, Sample, Split, SynthError
from finetune.synth.cli import add_synth_arguments, run_synth
from finetune.synth.generate import (
    SynthConversation,
    all_families,
    builtin_registry,
    generate,
    iter_conversations,
    meta_instruction,
    parse_mix,
    resolve_mix,
)

__all__ = [
    "SPLITS",
    "Sample",
    "Split",
    "SynthConversation",
    "SynthError",
    "add_synth_arguments",
    "all_families",
    "builtin_registry",
    "generate",
    "iter_conversations",
    "meta_instruction",
    "parse_mix",
    "resolve_mix",
    "run_synth",
]
