"""Local search figures: indexing rate, query latency, snippet cost. Prints; asserts nothing.

Documents are synthetic (random sentences built from the sample corpus's own words), so the
figures measure the index, not the corpus. Run: ``.venv/bin/python benchmarks/bench_search.py``.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from plugins.search import SAMPLE_CORPUS, LocalIndex
from plugins.search.base import Hit, make_snippet, tokens

QUERIES = [
    "Which planet is the largest?",
    "who painted the Mona Lisa",
    'c++ -x:y "AND OR NOT (',
    "北京的故宫",
    "when did the French Revolution begin",
]


def synthetic_docs(n: int, words: list[str], rng: random.Random) -> list[Hit]:
    docs = []
    for i in range(n):
        sentences = [" ".join(rng.choices(words, k=12)).capitalize() + "." for _ in range(6)]
        docs.append(
            Hit(id=f"doc{i}", title=" ".join(rng.choices(words, k=3)), text=" ".join(sentences))
        )
    return docs


def query_ms(index: LocalIndex, rounds: int) -> tuple[float, float]:
    times = []
    for _ in range(rounds):
        for q in QUERIES:
            start = time.perf_counter()
            index.search(q, 3)
            times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def main() -> None:
    rng = random.Random(0)
    lines = SAMPLE_CORPUS.read_text("utf-8").splitlines()
    words = sorted({t for line in lines for t in tokens(json.loads(line)["text"]) if t.isascii()})

    start = time.perf_counter()
    sample = LocalIndex.from_path(SAMPLE_CORPUS)
    ms = (time.perf_counter() - start) * 1000
    print(f"sample corpus: {sample.count()} docs indexed in {ms:.1f} ms")
    med, p95 = query_ms(sample, 40)
    print(f"sample corpus: query median {med:.3f} ms, p95 {p95:.3f} ms")

    for n in (1_000, 10_000):
        docs = synthetic_docs(n, words, rng)
        index = LocalIndex()
        start = time.perf_counter()
        index.add_many(docs)
        seconds = time.perf_counter() - start
        print(f"{n} docs (~80 words each): indexed in {seconds:.2f} s ({n / seconds:,.0f} docs/s)")
        med, p95 = query_ms(index, 10)
        print(f"{n} docs: query median {med:.2f} ms, p95 {p95:.2f} ms")

    hit = synthetic_docs(1, words, rng)[0]
    start = time.perf_counter()
    for _ in range(1000):
        make_snippet(hit, QUERIES[0])
    ms_each = (time.perf_counter() - start) * 1000 / 1000
    print(f"snippet of an ~80-word doc: {ms_each:.3f} ms each")


if __name__ == "__main__":
    main()
