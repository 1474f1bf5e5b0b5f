"""What every benchmark prints first: figures on a shared CPU mean little without its load."""

from __future__ import annotations

import os


def report_machine(threads: int | None) -> None:
    """Pin torch's thread count (when given) and print CPUs, load average and threads."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} CPUs, load average {load}, torch threads {torch.get_num_threads()}")
