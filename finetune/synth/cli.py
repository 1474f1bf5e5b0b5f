"""``moss-agent synth``: write synthetic conversations (or the evaluation assets) to disk."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from moss_core.protocol import Conversation


def add_synth_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``moss-agent synth``.

    >>> p = argparse.ArgumentParser(); add_synth_arguments(p)
    >>> p.parse_args(["--n", "10", "--out", "x.jsonl"]).split
    'train'
    """
    parser.add_argument("--n", type=int, default=2000, help="number of conversations")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same data)")
    parser.add_argument(
        "--split",
        choices=["train", "heldout"],
        default="train",
        help="template and entity pool to draw from (default: train)",
    )
    parser.add_argument("--mix", default="", metavar="KIND=SHARE,...",
                        help="reweight the kinds of conversation, e.g. 'Calculate=0.4,Solve=0.25' "
                             "(kinds: Calculate, Solve, Search, none, disabled, multi, pair, "
                             "and, 0 by default, chat: no-tool turns from a wider set of families; "
                             "calc_wide, solve_wide: more train wordings of those skills; "
                             "chat_wide: chat plus questions about operations and methods without "
                             "numbers; contrast: one of those beside a turn that computes the same "
                             "thing; all_off: every tool switched off at once; more: a second "
                             "round of Calculate and Solve wordings; failed: a call that fails "
                             "and a reply that says so; story: a word problem from --stories; "
                             "steps: a one- or two-step word problem by schema; "
                             "unnamed kinds keep their default "
                             "share)")  # fmt: skip
    parser.add_argument("--stories", metavar="FILE",
                        help="GSM8K-style word problems (id, query, value, solution) for the "
                             "story kind; --split heldout draws the held-out slice")  # fmt: skip
    parser.add_argument(
        "--max-story-steps",
        type=int,
        default=None,
        metavar="N",
        help="keep word problems of at most N calculator steps (default 3)",
    )
    parser.add_argument(
        "--story-single-use",
        action="store_true",
        help="drop word problems whose folded expression uses a number of the question more "
        "often than the question writes it (the Agent's single-use grounding rule)",
    )
    parser.add_argument("--out", help="JSONL file to write (the finetune.data format)")
    parser.add_argument("--corpus-out", help="also write the split's search corpus as JSONL")
    parser.add_argument("--eval-assets", metavar="DIR",
                        help="instead, regenerate the held-out evaluation files in DIR "
                             "(eval_cases.jsonl, eval_corpus.jsonl, eval_smoke.jsonl)")  # fmt: skip


def run_synth(args: argparse.Namespace) -> int:
    """Run ``moss-agent synth`` with parsed ``args``; print what was written."""
    from finetune.data import write_conversations
    from finetune.synth.corpus import documents
    from finetune.synth.evalcases import write_assets
    from finetune.synth.generate import iter_conversations, parse_mix

    if args.eval_assets:
        for path, count in write_assets(Path(args.eval_assets)).items():
            print(f"wrote {count} lines to {path}")
        return 0
    if not args.out:
        print("error: give --out FILE (or --eval-assets DIR)", file=sys.stderr)
        return 2
    if args.n < 1:
        print("error: --n must be at least 1", file=sys.stderr)
        return 2
    try:
        mix = parse_mix(args.mix) if args.mix else None
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    kinds: Counter[str] = Counter()
    stories = []
    if args.stories:
        from finetune.synth.stories import DEFAULT_MAX_STEPS, StoryError, load_file

        steps = args.max_story_steps or DEFAULT_MAX_STEPS
        try:
            loaded = load_file(args.stories, args.split, steps, args.story_single_use)
        except StoryError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"word problems from {args.stories} ({args.split}): {loaded.summary()}")
        stories = loaded.samples
        if mix and mix.get("story", 0) > 0 and not stories:
            print(f"error: no word problem of {args.stories} qualifies for the story kind "
                  "(counts above); loosen --max-story-steps or --story-single-use, or set "
                  "story=0 in --mix", file=sys.stderr)  # fmt: skip
            return 2

    def counted() -> Iterator[Conversation]:
        for conv in iter_conversations(args.n, args.seed, args.split, mix, stories):
            kinds[_kind(conv)] += 1
            yield conv

    try:
        written = write_conversations(args.out, counted())
    except ValueError as exc:  # a kind that cannot be drawn, said before anything is written
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {written} conversations to {args.out}: " + ", ".join(
        f"{k} {v}" for k, v in sorted(kinds.items())))  # fmt: skip
    if args.corpus_out:
        from finetune.synth.evalcases import write_jsonl

        write_jsonl(Path(args.corpus_out), [d.to_json() for d in documents(args.split)])
        print(f"wrote the {args.split} corpus to {args.corpus_out}")
    return 0


def _kind(conv: object) -> str:
    samples = getattr(conv, "samples", [])
    if getattr(conv, "disabled", ()):
        return "tool-off"
    if len(samples) > 1:
        return "multi-turn"
    if samples and samples[0].template.startswith("story/"):
        return "story"
    if samples and samples[0].template.startswith("step"):
        return "steps"
    if samples and len(samples[0].calls) > 1:
        return "two-commands"
    return (samples[0].tool or "none") if samples else "none"
