"""Cold start: from starting a Python process to the first streamed token of the default agent,
per engine, with the model and the adapter already cached (a second run of ``moss-agent chat``).

Each measurement is a fresh process: imports, loading the model and adapter, encoding the
prompt and decoding one token all count. Best and median of ``--repeats`` runs.

Run: .venv/bin/python benchmarks/bench_cold_start.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

CHILD = """
from agent import Agent
from agent.events import Token
agent = Agent.default(engine={engine!r})
for event in agent.stream("What is 12 times 7?"):
    if isinstance(event, Token):
        print("first token", flush=True)
        break
"""


def cold_start(engine: str) -> float:
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(engine=engine)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    seconds = time.perf_counter() - started
    child.kill()
    child.wait()
    if "first token" not in line:
        raise SystemExit(f"{engine}: the child process gave no token")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cold_start("llama.cpp")  # a first run converts the adapter for llama.cpp once: not counted
    for engine in ("llama.cpp", "transformers"):
        times = [cold_start(engine) for _ in range(args.repeats)]
        print(
            f"{engine:<12} process start to first token: best {min(times):.2f} s, "
            f"median {statistics.median(times):.2f} s"
        )


if __name__ == "__main__":
    main()
