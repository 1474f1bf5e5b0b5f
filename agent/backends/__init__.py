"""Model backends. Only the interface is imported here; each backend loads its own heavy
dependencies (torch, transformers) when it is constructed."""

from agent.backends.base import (
    AlternativesBackend,
    Backend,
    BatchBackend,
    Generation,
    SamplesBackend,
    StopMatcher,
    generate_all,
    run_stream,
)

__all__ = [
    "AlternativesBackend",
    "Backend",
    "BatchBackend",
    "Generation",
    "SamplesBackend",
    "StopMatcher",
    "generate_all",
    "run_stream",
]
