"""``moss-agent eval``'s flags and its run: read the cases, build the agent, print the table."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.options import add_engine_flags, non_negative_int, positive_int
from agent.retry import DEFAULT_ALTERNATIVES
from finetune.evaluate.cases import DEFAULT_CASES, read_cases, read_corpus, sample_cases
from finetune.evaluate.run import evaluate
from finetune.evaluate.scoring import CaseResult

if TYPE_CHECKING:
    from agent.loop import Agent


# Held-out cases are single questions with short answers; these limits bound the time a model
# that never stops (the untuned base model, a runaway digit loop) takes per case. They must not
# cut what the data teaches: the longest phase 1 in the shipped adapter's training data
# (thoughts and a three-equation Commands line, markers included) is 138 tokens, the longest
# reply 62. An earlier limit of 96 cut 44 of an earlier adapter's 7,893 phase-1 turns (646 of
# the 40,271 now), and scored correct three-equation calls as unreadable.
EVAL_THOUGHT_TOKENS = 160
EVAL_REPLY_TOKENS = 128


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``moss-agent eval``.

    >>> p = argparse.ArgumentParser(); add_eval_arguments(p)
    >>> p.parse_args(["--no-tools"]).no_tools
    True
    """
    parser.add_argument("--cases", default=str(DEFAULT_CASES), help="cases JSONL (default: the "
                        "held-out cases shipped in finetune/assets)")  # fmt: skip
    parser.add_argument("--corpus", help="corpus JSONL for Search (default: eval_corpus.jsonl "
                        "next to the cases file, if there is one)")  # fmt: skip
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--adapter", help="PEFT LoRA adapter folder to evaluate")
    which.add_argument("--base-only", action="store_true", help="the base model, no adapter")
    parser.add_argument("--model", help="Hugging Face model id or folder, or a .gguf file "
                        "(default: the embedded model)")  # fmt: skip
    parser.add_argument("--preset", choices=["short", "moss"], help="meta-instruction preset "
                        "(default: the adapter's own; else short for the embedded model, moss "
                        "for --model)")  # fmt: skip
    add_engine_flags(parser)
    outage = parser.add_mutually_exclusive_group()
    outage.add_argument("--no-tools", action="store_true", help="disable every plugin")
    outage.add_argument("--fail-tools", action="store_true", help="list the plugins as enabled "
                        "but make every call fail, as in an outage")  # fmt: skip
    parser.add_argument("--disable", action="append", default=[], metavar="PLUGIN",
                        help="switch this plugin off, as a demo user can (repeatable)")  # fmt: skip
    parser.add_argument("--limit", type=positive_int, help="evaluate only the first N cases "
                        "(of the --sample, when one is drawn)")  # fmt: skip
    parser.add_argument("--sample", type=positive_int, metavar="N", help="evaluate N cases drawn "
                        "at random (the same N for the same --sample-seed), for a benchmark "
                        "too long to run whole in one sitting")  # fmt: skip
    parser.add_argument("--sample-seed", type=int, default=0, metavar="S",
                        help="seed of --sample (default: %(default)s)")  # fmt: skip
    parser.add_argument("--batch-size", type=positive_int, default=1, help="cases run together: "
                        "faster, but latency is then per batch (default: %(default)s)")  # fmt: skip
    parser.add_argument("--max-thought-tokens", type=positive_int, default=EVAL_THOUGHT_TOKENS,
                        help="phase-1 token limit per turn (default: %(default)s)")  # fmt: skip
    parser.add_argument("--max-reply-tokens", type=positive_int, default=EVAL_REPLY_TOKENS,
                        help="reply token limit per turn (default: %(default)s)")  # fmt: skip
    parser.add_argument("--alternatives", type=non_negative_int, default=DEFAULT_ALTERNATIVES,
                        help="when a command fails, rank this many readings by beam search "
                        "and keep a result two agree on; 0: off (default: %(default)s, as "
                        "Agent)")  # fmt: skip
    parser.add_argument("--votes", type=non_negative_int, default=0, metavar="K",
                        help="for a turn that calls Calculate or Solve, also rank K readings by "
                        "beam search and keep the values most grounded ones reach (Agent(votes="
                        "K)); 0: off (default: %(default)s)")  # fmt: skip
    parser.add_argument("--vote-draw", choices=["beams", "samples"], default="beams",
                        help="where --votes' candidates come from: the K most likely readings, "
                        "or K drawn at temperature 0.7, seeded (default: %(default)s)")  # fmt: skip
    parser.add_argument("--grounding", choices=["off", "numbers", "single-use"],
                        default="numbers", help="which readings may vote (default: "
                        "%(default)s; see agent.grounding)")  # fmt: skip
    parser.add_argument(
        "--no-constrain",
        dest="constrain",
        action="store_false",
        help="let the model write phase 1 freely instead of holding its "
        "Commands line to the enabled plugins' grammar (Agent(constrain=False))",
    )
    parser.add_argument("--json", metavar="OUT", help="write metrics and every transcript here")


def _factory(args: argparse.Namespace) -> Callable[[], Agent]:
    limits: dict[str, Any] = {
        "max_thought_tokens": getattr(args, "max_thought_tokens", EVAL_THOUGHT_TOKENS),
        "max_reply_tokens": getattr(args, "max_reply_tokens", EVAL_REPLY_TOKENS),
        "alternatives": getattr(args, "alternatives", DEFAULT_ALTERNATIVES),
        "votes": getattr(args, "votes", 0),
        "grounding": getattr(args, "grounding", "numbers"),
        "vote_draw": getattr(args, "vote_draw", "beams"),
        "constrain": getattr(args, "constrain", True),
    }
    if getattr(args, "engine", "auto") != "auto":
        limits["engine"] = args.engine

    def build() -> Agent:
        from agent.loop import Agent

        if args.model or args.adapter or args.base_only:
            from agent.shipped import preset_for

            preset = args.preset or preset_for(args.model, args.adapter)
            return Agent.from_pretrained(
                args.model or None,
                adapter=args.adapter,
                device=args.device,
                preset=preset,
                **limits,
            )
        agent = Agent.default(device=args.device, **limits)
        if args.preset:
            agent.preset = args.preset
        return agent

    return build


def run_eval(args: argparse.Namespace) -> int:
    """Run ``moss-agent eval`` with parsed ``args``: print the table, write ``--json``."""
    from agent.files import write_atomic

    cases = read_cases(args.cases)
    if getattr(args, "sample", None) is not None:
        cases = sample_cases(cases, args.sample, getattr(args, "sample_seed", 0))
    if args.limit is not None:  # after the sample: the first N of it are a smaller sample
        cases = cases[: args.limit]
    corpus_path = args.corpus
    if corpus_path is None:
        sibling = Path(args.cases).with_name("eval_corpus.jsonl")
        corpus_path = str(sibling) if sibling.is_file() else None
    corpus = read_corpus(corpus_path) if corpus_path else None
    searches = sum(1 for c in cases if c.tool == "Search")
    if corpus is None and searches:
        # Not an error: with a network, the answers of web searches can still be scored.
        print(
            f"warning: {searches} Search cases but no corpus (no eval_corpus.jsonl next to "
            f"{args.cases}): Search runs on the web and its arguments are not scored. Pass "
            "--corpus CORPUS.jsonl to search the documents the cases name.",
            file=sys.stderr,
        )

    from plugins import default_registry

    installed_names = set(default_registry().names())
    for tool in sorted({c.tool for c in cases if c.tool and c.tool not in installed_names}):
        n = sum(1 for c in cases if c.tool == tool)
        print(
            f"warning: {n} case(s) expect {tool}, which is not an installed plugin (see "
            f"`moss-agent plugins`): the model cannot call it, so they score 0 on tools.",
            file=sys.stderr,
        )

    def progress(i: int, r: CaseResult) -> None:
        mark = "ok" if r.argument_correct and r.tool_correct else "--"
        print(f"[{i + 1}/{len(cases)}] {mark} {r.id}: {r.called}({r.argument!r})", file=sys.stderr)

    report = evaluate(
        _factory(args),
        cases,
        corpus,
        no_tools=args.no_tools,
        fail_tools=getattr(args, "fail_tools", False),
        progress=progress,
        batch_size=getattr(args, "batch_size", 1),
        disabled=getattr(args, "disable", []),
    )
    print(f"model: {report.backend}")
    print(report.table())
    if args.json:
        out = Path(args.json)
        write_atomic(out, json.dumps(report.to_dict(), ensure_ascii=False, indent=1))
        print(f"wrote {out}")
    return 0
