"""The protocol against MOSS's own published conversations (../shared/moss_samples)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from moss_core import protocol as p


def _turns(root: Path):
    for f in sorted(root.glob("*/*.json")):
        data = json.loads(f.read_text(encoding="utf-8"))
        for key, turn in data["chat"].items():
            yield f"{f.name}:{key}", data, turn


def test_every_commands_line_parses(moss_samples: Path) -> None:
    n_calls, off_spec = 0, []
    for where, _, turn in _turns(moss_samples):
        line = turn["Commands"]
        parsed = p.parse_commands(line)
        body = line.removeprefix("<|Commands|>: ").removesuffix("<eoc>\n")
        expected = re.findall(r'(?<![\w.])([A-Za-z]\w*)\("', body)
        assert [c.name for c in parsed.calls] == expected, where
        if re.fullmatch(r'(\w+\("[^"]*"\)(, )?)+|None\.?', body):
            # A well-formed line renders back byte for byte.
            assert parsed.errors == [], where
            if not parsed.is_none:
                assert ", ".join(c.render() for c in parsed.calls) == body, where
        else:
            off_spec.append(where)
        n_calls += len(parsed.calls)
    assert n_calls > 500
    # Numbered lists with comments, two-argument calls, trailing None, prose after None.
    assert len(off_spec) <= 12, off_spec


def test_meta_instruction_is_byte_exact(moss_samples: Path) -> None:
    seen = 0
    for _, data, _ in _turns(moss_samples):
        meta = data["meta_instruction"]
        caps = [
            p.Capability(label, api)
            for label, api in re.findall(r"- ([\w -]+): enabled\. API: (\w+\(\w+\))\n", meta)
        ]
        assert p.build_meta_instruction(caps, "moss") == meta
        seen += 1
    assert seen > 0


def test_whole_conversations_parse_back(moss_samples: Path) -> None:
    for f in sorted(moss_samples.glob("*/*.json")):
        data = json.loads(f.read_text(encoding="utf-8"))
        parts = ["Human", "Inner Thoughts", "Commands", "Tool Responses", "MOSS"]
        text = data["meta_instruction"] + "".join(
            t[k] for t in data["chat"].values() for k in parts
        )
        conv = p.parse_conversation(text)
        assert conv.meta_instruction == data["meta_instruction"], f.name
        assert len(conv.exchanges) == data["num_turns"], f.name
        last = data["chat"][f"turn_{data['num_turns']}"]
        assert conv.exchanges[-1].reply == last["MOSS"].removeprefix("<|MOSS|>: ").strip()[:-5]


_HEAD = re.compile(r'^(\w+)\("(.*)"\) =>(.*)$')


def _reformat(body: str) -> str | None:
    """Rebuild a recorded Results body from its values with our formatter (None: off-spec)."""
    results: list[p.CommandResult] = []
    for line in body.split("\n"):
        m = _HEAD.match(line)
        if m:
            name, arg, tail = m.groups()
            call = p.Call(name, arg.replace('\\"', '"'))
            tail = tail.strip()
            if tail:
                if tail == "'No result.'":
                    results.append(p.CommandResult(call, error="failed"))
                elif tail[0] == tail[-1] == "'":
                    results.append(p.CommandResult(call, tail[1:-1]))
                else:
                    return None  # e.g. "No calculation results.": not MOSS's documented form
            else:
                layout = "snippets" if name == "Search" else "fields"
                results.append(p.CommandResult(call, {} if layout == "fields" else [], layout))
        elif not results:
            return None
        elif line == "No result.":
            results[-1].error = "failed"
        elif results[-1].layout == "fields":
            k, _, v = line.partition(" = ")
            results[-1].value[k] = v
        else:
            sm = re.match(r"<\|\d+\|>: (['\"])(.*)\1$", line, re.S)
            if sm is None:
                return None  # snippet text with real newlines, or an answer-box line
            results[-1].value.append(sm.group(2).replace("\\'", "'"))
    return p.format_results(results)


def test_results_blocks_reformat_identically(moss_samples: Path) -> None:
    checked = 0
    for where, _, turn in _turns(moss_samples):
        block = turn["Tool Responses"]
        if not block.startswith("<|Results|>:\n") or "Text2Image" in block:
            continue
        body = block.removeprefix("<|Results|>:\n").removesuffix("\n<eor>\n")
        rebuilt = _reformat(body)
        if rebuilt is None:
            continue
        assert rebuilt == body, where
        checked += 1
    assert checked > 200, checked
