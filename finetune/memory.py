"""Keep a CPU training run's resident memory near what its tensors need (glibc malloc).

A LoRA stage on the default model (batch 8, ``--max-length 448``) held 8 GB after its first
steps and 15.7 GB after 250: the live tensors do not grow, the heap does. glibc serves a block
from ``mmap`` (handed back to the system when freed) only above its mmap threshold, and raises
that threshold to the size of every mapped block freed, up to 32 MiB. After the first step
every activation (8 to 22 MiB here) therefore comes from the heap arenas, and length-grouped
batches, each with its own tensor sizes, leave freed blocks there that no later request fits
and that the heap never returns. Fixing the threshold (which also turns off its growth) keeps
each large block mapped, so freeing it returns the memory.

The price is a page fault for every page of every new block: on 2 cores with AVX512-BF16,
10 steps of the default model at batch 8 peaked at 6.8 GB against 9.9 GB, at 41.5 against
21.4 s a step (``benchmarks/bench_train_memory.py``). So it is opt-in:
``moss-agent train --return-freed-memory``, for a machine where memory, not time, runs out.

``trim_free_pages`` (on by default, once per optimizer step) returns the same pages at the
cost of one page fault per page per step; with micro-batches (``finetune.micro``) it sets the
default run's peak (``benchmarks/bench_train_memory.py`` measures each setting).
"""

from __future__ import annotations

import ctypes
import functools
import logging
import sys
from typing import Any

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # mallopt parameters, from glibc's malloc.h
MMAP_THRESHOLD = 1 << 20  # bytes: blocks this large and larger are mapped, and unmapped when freed


@functools.cache  # trim_free_pages runs once a training step
def _glibc(name: str, *argtypes: Any) -> Any:
    """The process's own C library function ``name`` (returning an int), or None where there
    is none: not Linux, or a C library other than glibc (musl has no mallopt or malloc_trim)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None
    function.argtypes = list(argtypes)
    function.restype = ctypes.c_int
    return function


def return_freed_memory(threshold: int = MMAP_THRESHOLD) -> bool:
    """Make glibc map blocks of ``threshold`` bytes and more, so that freeing them returns the
    memory; False where the C library is not glibc (nothing is changed then).
    """
    mallopt = _glibc("mallopt", ctypes.c_int, ctypes.c_int)
    if mallopt is None:
        return False
    done = mallopt(M_MMAP_THRESHOLD, threshold) == 1
    if not done:
        log.debug("mallopt(M_MMAP_THRESHOLD) refused; malloc keeps its defaults")
    return done


def trim_free_pages() -> bool:
    """Hand the free pages inside glibc's heaps back to the system (``malloc_trim(0)``); False
    where the C library is not glibc.

    A step's activations are freed when it ends, but the heap keeps their pages, and blocks of
    the next batch's other sizes are cut from elsewhere, so the heap's footprint ratchets up
    with every new batch shape. Trimming once a step returns those pages; only the pages the
    next step touches again are faulted back in, once a step rather than once a block (which is
    what makes ``return_freed_memory`` slow).
    """
    malloc_trim = _glibc("malloc_trim", ctypes.c_size_t)
    if malloc_trim is None:
        return False
    malloc_trim(0)
    return True
