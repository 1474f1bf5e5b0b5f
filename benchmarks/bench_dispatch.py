"""Per-turn cost of the protocol and dispatcher, and concurrency of slow plugins.

    .venv/bin/python benchmarks/bench_dispatch.py

Prints figures (no pass/fail): run it on a quiet machine and compare the ratios.
1. parse a Commands line + dispatch to trivial plugins + format the Results block, per turn,
   for 1 and 4 commands, and for the real Calculate plugin.
2. four plugins that each sleep 0.2 s: wall time of one turn vs the sum of their durations.
"""

from __future__ import annotations

import time

from agent.dispatch import Dispatcher
from moss_core.protocol import format_results, parse_commands
from plugins import Registry, default_registry


def per_turn(line: str, dispatcher: Dispatcher, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        format_results(dispatcher.run(parse_commands(line).calls))
    return (time.perf_counter() - start) / n


def main() -> None:
    reg = Registry()

    @reg.plugin("Echo")
    def echo(text: str) -> str:
        return text

    @reg.plugin("Nap")
    def nap(seconds: str) -> str:
        time.sleep(float(seconds))
        return "done"

    d = Dispatcher(reg)
    one = per_turn('Echo("hello")', d, 2000)
    four = per_turn(", ".join(f'Echo("{i}")' for i in range(4)), d, 1000)
    calc = per_turn('Calculate("4,817*63 + sqrt(7056)")', Dispatcher(default_registry()), 200)
    print(f"protocol+dispatch overhead per turn, 1 trivial command : {one * 1e3:7.3f} ms")
    print(f"protocol+dispatch overhead per turn, 4 trivial commands: {four * 1e3:7.3f} ms")
    print(f"one real Calculate turn (sympy included)              : {calc * 1e3:7.3f} ms")
    # A turn of the default model generates ~60 tokens at ~20 tokens/s on this CPU: ~3 s.
    print(f"overhead as a share of a 3 s model turn (4 commands)  : {four / 3.0:.4%}")

    results = d.run(parse_commands(", ".join('Nap("0.2")' for _ in range(4))).calls)
    start = time.perf_counter()
    results = d.run(parse_commands(", ".join('Nap("0.2")' for _ in range(4))).calls)
    wall = time.perf_counter() - start
    total = sum(r.duration for r in results)
    print(
        f"4 plugins sleeping 0.2 s: wall {wall:.3f} s vs sum {total:.3f} s "
        f"(ratio {wall / total:.2f}; 0.25 is perfect overlap)"
    )


if __name__ == "__main__":
    main()
