"""finetune.memory: freed activations go back to the system instead of staying in the heap.

Two child processes (each with a fresh C heap) allocate what a training step does: many blocks
of a few MB, of sizes that change from step to step, around a few small blocks that live on,
then free them. With glibc's own settings the heap keeps most of that memory; with
``return_freed_memory``, or ``trim_free_pages`` after each step, it is handed back. Compared
as ratios within one run.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from finetune.memory import return_freed_memory, trim_free_pages

STEPS = textwrap.dedent("""
    import random, sys
    if sys.argv[1] == "fixed":
        from finetune.memory import return_freed_memory
        assert return_freed_memory()
    from finetune.memory import trim_free_pages
    rng = random.Random(0)
    kept = []
    for step in range(20):
        live = [bytearray(rng.randint(8_000_000, 20_000_000)) for _ in range(10)]
        kept.append(bytearray(200_000))  # a small block that outlives the step
        del live
        if sys.argv[1] == "trim":
            assert trim_free_pages()
    status = open("/proc/self/status").read()
    print(int(status.split("VmRSS:")[1].split()[0]))  # kB
""")


def resident_kb(mode: str) -> int:
    run = subprocess.run(
        [sys.executable, "-c", STEPS, mode], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    return int(run.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc, on Linux")
def test_freed_blocks_go_back_to_the_system() -> None:
    if not return_freed_memory():
        pytest.skip("the C library is not glibc")
    default, fixed = resident_kb("default"), resident_kb("fixed")
    print(f"resident after the steps: {default} kB with glibc's settings, {fixed} kB fixed")
    assert fixed * 2 < default, (default, fixed)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc, on Linux")
def test_trimming_each_step_hands_the_heap_back() -> None:
    if not trim_free_pages():
        pytest.skip("the C library is not glibc")
    default, trimmed = resident_kb("default"), resident_kb("trim")
    print(f"resident after the steps: {default} kB with glibc's settings, {trimmed} kB trimmed")
    assert trimmed * 2 < default, (default, trimmed)
