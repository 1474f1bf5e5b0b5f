"""``moss-agent eval``: how well a model uses its tools, measured on single-turn cases.

    moss-agent eval --cases finetune/assets/eval_cases.jsonl [--corpus CORPUS.jsonl]
                    [--adapter DIR | --base-only] [--no-tools | --fail-tools]
                    [--batch-size N] [--json OUT]

A case is one JSON line::

    {"id": "calc-000", "query": "What is 4,817 times 63?", "tool": "Calculate",
     "value": 303471, "answer": ["303471"]}
    {"id": ..., "tool": "Solve", "solutions": {"x": 24}, ...}
    {"id": ..., "tool": "Search", "doc": "h-mount-velar", ...}   # a corpus id holding the answer
    {"id": ..., "tool": null, "answer": []}                     # no tool wanted
    {"id": ..., "tool": "Convert", "arguments": ["5 km to miles"], "answer": ["3.10686"]}

(the last for any other plugin, installed or registered: its argument is right when it is one
of ``arguments``, ignoring case and collapsing runs of spaces, and is not scored without
them), and a corpus line is ``{"id", "title", "text"}``; the corpus feeds the local Search
backend while the cases run. Metrics, overall and by expected tool:

- ``format_valid``: the model's Commands line was readable (``Turn.problems`` names no
  problem with the Commands line or a command in it);
- ``tool_accuracy``: the first command's name (or no command) is the expected tool;
- ``argument_accuracy``: the first command is the expected tool and its argument is right:
  Calculate evaluates (with our calculator) to ``value`` within a relative 1e-6; Solve solves
  (with our solver) to ``solutions`` (by unknown name, or, when the model chose other names,
  the same values in some order); Search's top 3 results for the query include ``doc``;
  no-tool cases: no command at all;
- ``answer_accuracy``: over cases with a non-empty ``answer``: the reply contains one of them,
  case-insensitive, thousands separators ignored, a number not continuing into more digits;
- ``false_tool_rate``: no-tool cases that called a tool;
- ``made_up_on_failure``: over turns that called tools and got no result from any of them, the
  replies that state a number neither the question nor the Commands line holds: an answer made
  up where the tool gave none;
- ``latency_p50_s`` / ``latency_p95_s``: seconds per turn.

``--no-tools`` runs the same cases with every plugin disabled, so what the tools are worth is a
measured difference. ``--fail-tools`` lists the tools as enabled but makes every call fail, as
in an outage (no network for search, a crashed plugin): ``made_up_on_failure`` then covers
every turn that called a tool. Each case is a fresh conversation (``agent.reset()``).
"""

from finetune.evaluate.cases import (
    DEFAULT_CASES,
    KINDS,
    TOOLS,
    Case,
    read_cases,
    read_corpus,
    sample_cases,
)
from finetune.evaluate.cli import (
    EVAL_REPLY_TOKENS,
    EVAL_THOUGHT_TOKENS,
    add_eval_arguments,
    run_eval,
)
from finetune.evaluate.report import METRICS, Report, metrics
from finetune.evaluate.run import evaluate
from finetune.evaluate.scoring import (
    CaseResult,
    calculate_matches,
    contains_answer,
    format_valid,
    normalize,
    numbers_of_its_own,
    score,
    search_matches,
    solve_matches,
)

__all__ = [
    "DEFAULT_CASES",
    "EVAL_REPLY_TOKENS",
    "EVAL_THOUGHT_TOKENS",
    "KINDS",
    "METRICS",
    "TOOLS",
    "Case",
    "CaseResult",
    "Report",
    "add_eval_arguments",
    "calculate_matches",
    "contains_answer",
    "evaluate",
    "format_valid",
    "metrics",
    "normalize",
    "numbers_of_its_own",
    "read_cases",
    "read_corpus",
    "run_eval",
    "sample_cases",
    "score",
    "search_matches",
    "solve_matches",
]
