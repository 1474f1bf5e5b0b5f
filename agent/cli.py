"""``moss-agent``: a thin command line over the library.

    moss-agent chat                          terminal chat with the default model
    moss-agent ask "What is 2^17?" [--json]  one turn, for scripts
    moss-agent call 'Search("q"), Calculate("1+2")'   the Results block the model would see
    moss-agent plugins                       installed plugins, their state and API line
    moss-agent demo | train | merge | blend | synth | eval   (see each --help)

Heavy modules load inside the command that needs them, so ``--help`` and ``call`` are quick.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from agent.dispatch import DEFAULT_MAX_COMMANDS
from agent.options import (
    add_model_flags,
    agent_settings,
    load_agent,
    positive_int,
)
from moss_core.errors import MossAgentError


def _configure_search(args: argparse.Namespace) -> None:
    if getattr(args, "corpus", None) or getattr(args, "search", None):
        from plugins import search

        search.configure(corpus=args.corpus, backend=args.search)


def _add_search_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", help="JSONL file or folder of .txt/.md files for local search")
    p.add_argument(
        "--search",
        choices=["web", "local"],
        help="search backend (default: local when a corpus is given, else web)",
    )


def _build_agent(args: argparse.Namespace) -> Any:
    _configure_search(args)
    return load_agent(
        args.model or None,
        args.adapter or None,
        base_only=args.base_only,
        device=args.device,
        alternatives=args.alternatives,
        **agent_settings(args),
    )


# -- commands ---------------------------------------------------------------------------------
def cmd_call(args: argparse.Namespace) -> int:
    from agent.dispatch import Dispatcher
    from moss_core.protocol import EOR, RESULTS, format_results, parse_commands
    from plugins import default_registry

    _configure_search(args)
    parsed = parse_commands(args.commands)
    for error in parsed.errors:
        print(f"warning: {error}", file=sys.stderr)
    if not parsed.calls and not parsed.is_none:
        print(
            f"error: no command in {args.commands!r}: write the whole Commands line as one "
            """argument, e.g. moss-agent call 'Calculate("2^10")'""",
            file=sys.stderr,
        )
        return 2
    # Quiet: the failures are printed below, once, rather than logged as well.
    dispatcher = Dispatcher(default_registry(), max_commands=args.max_commands, quiet=True)
    results = dispatcher.run(parsed.calls)
    print(f"{RESULTS}:\n{format_results(results)}\n{EOR}")
    failed = [r for r in results if r.error]
    for r in failed:
        print(f"{r.call.render()}: {r.error}", file=sys.stderr)
    # A script can test the status: 1 when a call failed, as the model would see No result.
    return 1 if failed else 0


def cmd_plugins(args: argparse.Namespace) -> int:
    from plugins import default_registry, discover

    # Each load failure is listed below, once; the loader's own warning would repeat it.
    logging.getLogger("plugins.registry").setLevel(logging.ERROR)
    registry = default_registry()
    for p in registry:
        state = "enabled " if registry.is_enabled(p.name) else "disabled"
        print(f"{p.name:<12} {state}  {p.api:<28} {p.label} — {p.description}")
    for error in discover():
        print(
            f"failed to load {error.package} ({error.entry_point}): {error.reason}", file=sys.stderr
        )
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    # `ask` is for scripts: no loading bars on stderr, which carries only what went wrong.
    # (transformers is there only with the training extra; llama.cpp draws no bars.)
    try:
        from transformers.utils import logging as transformers_logging
    except ImportError:
        pass
    else:
        transformers_logging.disable_progress_bar()
    agent = _build_agent(args)
    turn = agent.chat(args.question)
    if args.json:
        print(json.dumps(turn.to_dict(), ensure_ascii=False, indent=1))
    else:
        print(turn.reply)
        # What went wrong along the way (a token limit hit, a repaired line), for the reader.
        for problem in turn.problems:
            print(f"note: {problem}", file=sys.stderr)
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from agent.terminal import run_terminal

    return run_terminal(_build_agent(args))


def _delegate(
    module: str, adder: str, runner: str
) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """(add_arguments, run) of a command that lives in another package, imported lazily."""

    def add(p: argparse.ArgumentParser) -> None:
        import importlib

        getattr(importlib.import_module(module), adder)(p)

    def run(args: argparse.Namespace) -> int:
        import importlib

        return int(getattr(importlib.import_module(module), runner)(args) or 0)

    return add, run


DELEGATED = {
    "demo": ("demo.app", "add_demo_arguments", "run_demo", "start the Gradio demo"),
    "train": ("finetune.train", "add_train_arguments", "run_from_args", "LoRA fine-tuning"),
    "merge": ("finetune.merge", "add_merge_arguments", "run_from_args", "fold an adapter in"),
    "blend": ("finetune.blend", "add_blend_arguments", "run_from_args", "average adapters"),
    "synth": ("finetune.synth", "add_synth_arguments", "run_synth", "synthetic training data"),
    "eval": ("finetune.evaluate", "add_eval_arguments", "run_eval", "evaluate a model"),
}


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moss-agent", description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("chat", help="terminal chat with streaming replies and live tool calls")
    add_model_flags(p)
    _add_search_flags(p)
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("ask", help="one question, one answer (for scripts)")
    p.add_argument("question")
    p.add_argument("--json", action="store_true", help="print the whole turn as JSON")
    add_model_flags(p)
    _add_search_flags(p)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser(
        "call", help="run a Commands line and print the Results block (exit 1 if a call failed)"
    )
    p.add_argument("commands", help='e.g. \'Search("q"), Calculate("1+2")\'')
    p.add_argument("--max-commands", type=positive_int, default=DEFAULT_MAX_COMMANDS,
                   help="calls run at most; the rest are refused "
                   "(default: %(default)s)")  # fmt: skip
    _add_search_flags(p)
    p.set_defaults(func=cmd_call)

    p = sub.add_parser("plugins", help="list plugins with their state and API line")
    p.set_defaults(func=cmd_plugins)

    # Only the chosen delegated command imports its module (gradio, torch...), so a plain
    # `moss-agent call` never pays for them.
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (module, adder, runner, help_text) in DELEGATED.items():
        p = sub.add_parser(name, help=help_text)
        add, run = _delegate(module, adder, runner)
        if name == chosen:
            add(p)
        p.set_defaults(func=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args))
    except MossAgentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
