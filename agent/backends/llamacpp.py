"""A GGUF model run in-process by llama.cpp (``llama-cpp-python``) as a Backend.

The default engine wherever llama-cpp-python is installed: it decodes the default model 3 to 5
times faster than the fp32 transformers loop on the same CPU cores, and needs no torch::

    backend = LlamaCppBackend.from_gguf(adapter="finetune/adapters/default")
    run_stream(backend.stream(prompt, stop=["<eoc>"], max_new_tokens=64)).text

It keeps the contract ``TransformersBackend`` keeps:

- **Prefix reuse.** The KV cache of sequence 0 holds exactly the token ids in ``cached_ids``; a
  new prompt is cut back to the longest prefix it shares with them, and only the rest is
  encoded (``Generation.prefill_tokens`` counts it).
- **Stop strings, end-of-text tokens, streaming and cancellation.** Text pieces stream as they
  decode, never holding part of a stop string; closing the stream stops before the next token
  and leaves the cache consistent.
- **Alternatives.** llama.cpp has no beam search any more, so ``alternatives`` runs one here:
  each beam is a llama.cpp sequence in one unified KV cache, beams that continue the same
  parent share its cells, and all beams advance in one batch per token.
- **Batches.** ``generate_batch`` decodes several prompts as sequences of one llama.cpp batch:
  their shared prefix is encoded once and every still-running row advances in one decode.

The sampler is ours (NumPy over the logits llama.cpp returns): greedy, or temperature and
nucleus sampling, the same rule as the transformers engine, so both engines pick alike.
"""

from __future__ import annotations

import codecs
import os
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.backends.base import (
    Generation,
    StopMatcher,
    TextStream,
    check_prompt,
    check_sampling,
    common_prefix,
    finish,
    stream_still_open,
)
from agent.backends.constrain import Constraint, Grammars, vocabulary_of_llama
from agent.backends.llamacpp_load import open_llama
from agent.turnlock import TurnLock
from moss_core.errors import BackendError

MAX_BEAMS = 16  # alternatives(n) takes n up to this; each beam needs two sequence slots
MAX_ROWS = 16  # generate_batch decodes at most this many prompts at once


class LlamaCppBackend:
    """Streams completions from a llama.cpp model, reusing its KV cache across calls.

    ``llm`` is a ``llama_cpp.Llama`` opened with ``open_llama(..., n_seq_max=SEQUENCES)``;
    ``from_gguf`` opens one. ``reuse_cache=False`` encodes every prompt from scratch.
    """

    constrains = True  # stream, generate_batch and alternatives take grammar= (agent.grammar)

    SEQUENCES = 1 + max(2 * MAX_BEAMS, MAX_ROWS)

    def __init__(
        self,
        llm: Any,
        *,
        name: str = "llama.cpp",
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
        reuse_cache: bool = True,
    ) -> None:
        import numpy as np
        from llama_cpp import llama_cpp as native

        self.llm = llm
        self.name = name
        self.temperature = temperature
        self.top_p = top_p
        self.reuse_cache = reuse_cache
        self.context_length: int = int(llm.n_ctx())
        self._native = native
        self._np = np
        self._ctx = llm.ctx
        self._memory = native.llama_get_memory(self._ctx)
        self._vocab = native.llama_model_get_vocab(llm.model)
        self._n_vocab = int(llm.n_vocab())
        self._n_batch = int(llm.n_batch)
        self._sequences = int(native.llama_n_seq_max(self._ctx))
        self._batch = native.llama_batch_init(self._n_batch, 0, 1)
        # Freed with the backend, not before: the batch's arrays are written on every decode.
        self._free = weakref.finalize(self, native.llama_batch_free, self._batch)
        self._rng = np.random.default_rng(seed)
        self._cached_ids: list[int] = []  # exactly the ids sequence 0's KV cells hold
        self._grammars = Grammars(lambda: vocabulary_of_llama(self.llm))
        self._turns = TurnLock(stream_still_open)

    @classmethod
    def from_gguf(
        cls,
        gguf: str | os.PathLike[str] | None = None,
        adapter: str | os.PathLike[str] | None = None,
        *,
        n_ctx: int = 8192,
        n_threads: int | None = None,
        cache: str | os.PathLike[str] | None = None,
        **kw: Any,
    ) -> LlamaCppBackend:
        """Open ``gguf`` (default: the embedded SmolLM2), optionally with a PEFT LoRA adapter.

        The adapter is converted once to a llama.cpp LoRA file, cached beside the model
        (``agent.backends.gguf_lora``); one that does not fit the model is refused here.
        ``n_threads`` defaults to every core this process may use. Extra keyword arguments go
        to ``LlamaCppBackend`` (``temperature``, ``name``...).
        """
        from agent.models import default_gguf_path

        path = Path(gguf) if gguf is not None else default_gguf_path(cache)
        lora = None
        if adapter is not None:
            from agent.backends.gguf_lora import lora_gguf

            lora = str(lora_gguf(adapter, path, cache))
        threads = n_threads or _usable_cores()
        llm = open_llama(
            path,
            n_seq_max=cls.SEQUENCES,
            n_ctx=n_ctx,
            n_threads=threads,
            n_threads_batch=threads,
            lora_path=lora,
        )
        name = f"llama.cpp:{path.stem}" + (f"+{Path(adapter).name}" if adapter else "")
        kw.setdefault("name", name)
        return cls(llm, **kw)

    # -- Backend protocol ---------------------------------------------------------------------

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes as (part of) a prompt."""
        return len(self._encode(text))

    def stream(
        self,
        prompt: str,
        *,
        stop: Sequence[str],
        max_new_tokens: int,
        grammar: str | None = None,
    ) -> TextStream:
        """Generate after ``prompt`` until a stop string, an end-of-text token or the limit.

        Yields text pieces (never part of a stop string) and returns the ``Generation``.
        ``grammar``: llguidance grammar text the completion is held to (``agent.grammar``).
        """
        with self._turns.hold("starting another"):
            try:
                result = yield from self._stream(prompt, stop, max_new_tokens, grammar)
            except BackendError:
                self.reset()
                raise
        return result

    def alternatives(
        self,
        prompt: str,
        *,
        stop: Sequence[str],
        max_new_tokens: int,
        n: int,
        grammar: str | None = None,
    ) -> list[Generation]:
        """The ``n`` most likely completions of ``prompt`` by beam search, most likely first.

        Beams are ranked by their mean token log-probability (the transformers engine's
        ``length_penalty=1``), and each ends at a stop string, an end-of-text token or
        ``max_new_tokens``. The prompt is encoded on top of the streaming cache (so a phase-1
        prompt just streamed costs nothing again) and the cache afterwards holds that prompt.
        ``temperature`` is ignored: alternatives are the model's ranking, not samples.
        ``grammar`` holds every beam to it, as in ``stream``.
        """
        if not 1 <= n <= MAX_BEAMS:
            raise ValueError(f"alternatives needs n >= 1 and at most {MAX_BEAMS}, got {n}")
        with self._turns.hold("alternatives"):
            try:
                return self._beam_search(prompt, stop, max_new_tokens, n, grammar)
            except BackendError:
                self.reset()
                raise
            finally:
                self._drop_sequences()

    def samples(
        self,
        prompt: str,
        *,
        stop: Sequence[str],
        max_new_tokens: int,
        n: int,
        temperature: float,
        top_p: float = 1.0,
        seed: int = 0,
        grammar: str | None = None,
    ) -> list[Generation]:
        """``n`` completions of ``prompt`` drawn independently at ``temperature`` (nucleus
        ``top_p``), decoded as rows of one batch, as ``generate_batch`` decodes them.

        The draws depend on ``seed`` alone, not on earlier calls or on the backend's own
        ``temperature``, so the same prompt gets the same samples. ``grammar`` holds every row
        to it."""
        check_sampling(n, temperature, top_p)
        with self._turns.hold("samples"):
            # _pick reads these; swapped only while the turn lock keeps every other call out.
            saved = self.temperature, self.top_p, self._rng
            self.temperature, self.top_p = temperature, top_p
            self._rng = self._np.random.default_rng(seed)
            try:
                return self._run_batch([prompt] * n, stop, max_new_tokens, grammar)
            finally:
                self.temperature, self.top_p, self._rng = saved

    def generate_batch(
        self,
        prompts: Sequence[str],
        *,
        stop: Sequence[str],
        max_new_tokens: int,
        grammar: str | None = None,
    ) -> list[Generation]:
        """Decode all ``prompts`` as sequences of one batch; one ``Generation`` each, in order.

        Their longest shared token prefix is encoded once (on top of the streaming cache) and
        every row still running advances in one decode per token. Prompts go in groups of at
        most ``MAX_ROWS`` whose tokens fit the KV cache together. ``grammar`` holds every row
        to it, as in ``stream``.
        """
        if not prompts:
            return []
        with self._turns.hold("generate_batch"):
            return self._run_batch(prompts, stop, max_new_tokens, grammar)

    def _run_batch(
        self, prompts: Sequence[str], stop: Sequence[str], max_new_tokens: int, grammar: str | None
    ) -> list[Generation]:
        try:
            rows = [self._encode(p) for p in prompts]
            for i, ids in enumerate(rows):
                check_prompt(ids, max_new_tokens, self, f"prompt {i}")
            out: list[Generation] = []
            for group in self._groups(rows, max_new_tokens):
                out += self._generate_batch(group, stop, max_new_tokens, grammar)
                self._drop_sequences()
            return out
        except BackendError:
            self.reset()
            raise
        finally:
            self._drop_sequences()

    def _groups(self, rows: list[list[int]], max_new_tokens: int) -> list[list[list[int]]]:
        """Consecutive groups of ``rows`` that fit the cache together (shared prefixes
        counted as if they were not shared, to be safe)."""
        groups: list[list[list[int]]] = [[]]
        cells = 0
        for ids in rows:
            need = len(ids) + max_new_tokens
            if groups[-1] and (len(groups[-1]) == MAX_ROWS or cells + need > self.context_length):
                groups.append([])
                cells = 0
            groups[-1].append(ids)
            cells += need
        return groups

    def reset(self) -> None:
        """Forget every KV cache; the next call encodes its whole prompt."""
        self._native.llama_memory_clear(self._memory, True)
        self._cached_ids = []

    @property
    def cached_ids(self) -> tuple[int, ...]:
        """The token ids the streaming KV cache covers now (as ``TransformersBackend``'s)."""
        return tuple(self._cached_ids)

    def close(self) -> None:
        """Free llama.cpp's model and context now rather than when garbage-collected."""
        self._free()
        self.llm.close()

    # -- internals ----------------------------------------------------------------------------

    def _encode(self, text: str) -> list[int]:
        # special=True: "<|im_end|>" in a prompt is the special token, as Hugging Face
        # tokenizers read it; MOSS's markers are ordinary text to this vocabulary either way.
        ids: list[int] = self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        return ids

    def _stream(
        self, prompt: str, stop: Sequence[str], max_new_tokens: int, grammar: str | None
    ) -> TextStream:
        ids = self._encode(prompt)
        check_prompt(ids, max_new_tokens, self, "the prompt")
        constraint = self._constraint(grammar)
        matcher = StopMatcher(stop)
        text = _Detokenizer(self.llm)
        started = time.perf_counter()
        reused = self._reuse(ids)
        logits = self._decode_seq0(ids[reused:])
        prefill_seconds = time.perf_counter() - started
        decode_started = time.perf_counter()
        completion = 0
        eos: str | None = None
        while completion < max_new_tokens:
            if constraint is not None:
                logits = constraint.mask(logits)
            token = self._pick(logits)
            completion += 1
            if self._is_eog(token):
                eos = self._piece(token)
                break
            if constraint is not None:
                constraint.advance(token)
            piece = matcher.feed(text.push(token))
            if piece:
                yield piece  # a closed stream stops here, before decoding another token
            if matcher.done:
                break
            if completion < max_new_tokens:
                logits = self._decode_seq0([token])
        tail = finish(matcher, text, eos)
        if tail:
            yield tail
        return Generation(
            text=matcher.text,
            stop=matcher.stop,
            prompt_tokens=len(ids),
            prefill_tokens=len(ids) - reused,
            completion_tokens=completion,
            prefill_seconds=prefill_seconds,
            decode_seconds=time.perf_counter() - decode_started,
        )

    def _reuse(self, ids: list[int]) -> int:
        """Cut sequence 0 back to its common prefix with ``ids``; return how many it keeps.

        The last prompt token is always encoded again: its logits pick the first token."""
        keep = 0
        if self.reuse_cache:
            limit = min(len(ids) - 1, len(self._cached_ids))
            while keep < limit and ids[keep] == self._cached_ids[keep]:
                keep += 1
        if not self._native.llama_memory_seq_rm(self._memory, 0, keep, -1):
            self.reset()
            return 0
        del self._cached_ids[keep:]
        return keep

    def _decode_seq0(self, tokens: list[int]) -> Any:
        """Encode ``tokens`` after sequence 0's cache; return the last token's logits."""
        start = len(self._cached_ids)
        for i in range(0, len(tokens), self._n_batch):
            chunk = tokens[i : i + self._n_batch]
            last = i + len(chunk) == len(tokens)
            self._submit([(t, start + i + j, 0, last and j == len(chunk) - 1)
                          for j, t in enumerate(chunk)])  # fmt: skip
            # Count tokens as cached only once decoded: an error leaves ids and cells in step.
            self._cached_ids.extend(chunk)
        return self._logits(-1)

    def _submit(self, rows: list[tuple[int, int, int, bool]]) -> None:
        """One ``llama_decode`` of (token, position, sequence, wants logits) rows."""
        batch = self._batch
        for j, (token, pos, seq, wants) in enumerate(rows):
            batch.token[j] = token
            batch.pos[j] = pos
            batch.n_seq_id[j] = 1
            batch.seq_id[j][0] = seq
            batch.logits[j] = wants
        batch.n_tokens = len(rows)
        code = self._native.llama_decode(self._ctx, batch)
        if code != 0:
            raise BackendError(
                f"{self.name}: llama_decode failed with code {code} "
                f"({'the KV cache is full' if code == 1 else 'a compute error'}); "
                "start a new conversation or lower max_new_tokens"
            )

    def _logits(self, i: int) -> Any:
        pointer = self._native.llama_get_logits_ith(self._ctx, i)
        return self._np.ctypeslib.as_array(pointer, shape=(self._n_vocab,)).copy()

    def _constraint(self, grammar: str | None) -> Constraint | None:
        return None if grammar is None else self._grammars.start(grammar)

    def _is_eog(self, token: int) -> bool:
        return bool(self._native.llama_vocab_is_eog(self._vocab, token))

    def _piece(self, token: int) -> str:
        piece: bytes = self.llm.detokenize([token], special=True)
        return piece.decode("utf-8", errors="replace")

    def _pick(self, logits: Any) -> int:
        """Greedy when temperature is 0, else temperature + nucleus (top-p) sampling."""
        np = self._np
        if self.temperature <= 0:
            return int(np.argmax(logits))
        z = logits / self.temperature
        probs = np.exp(z - z.max())
        probs /= probs.sum()
        order = self._ranked(probs)
        ranked = probs[order]
        if self.top_p < 1.0:
            # Keep each token whose higher-ranked tokens hold less than top_p of the mass.
            keep = max(1, int(((np.cumsum(ranked) - ranked) < self.top_p).sum()))
            order, ranked = order[:keep], ranked[:keep]
        cumulative = np.cumsum(ranked)
        index = int(np.searchsorted(cumulative, self._rng.random() * cumulative[-1], "right"))
        return int(order[min(index, len(order) - 1)])

    def _ranked(self, probs: Any) -> Any:
        """Token ids by falling probability (ties by id), as many as ``top_p`` needs.

        Sorting the whole vocabulary (49,152 ids) costs ~4 ms a token, about 40% of a decode
        step of the default model on 2 cores; the nucleus is nearly always within a few dozen
        tokens, so partition out the top k and sort those (~0.4 ms), growing k until they hold
        ``top_p`` of the mass."""
        np = self._np
        if self.top_p >= 1.0:
            return np.argsort(-probs, kind="stable")
        k = 64
        while k < probs.size:
            top = np.sort(np.argpartition(-probs, k - 1)[:k])
            if probs[top].sum() >= self.top_p:
                return top[np.argsort(-probs[top], kind="stable")]
            k *= 4
        return np.argsort(-probs, kind="stable")

    def _drop_sequences(self) -> None:
        """Remove every sequence but the streaming one (beams, batch rows)."""
        for seq in range(1, self._sequences):
            self._native.llama_memory_seq_rm(self._memory, seq, -1, -1)

    def _log_softmax(self, logits: Any) -> Any:
        z = logits - logits.max()
        return z - self._np.log(self._np.exp(z).sum())

    def _beam_search(
        self, prompt: str, stop: Sequence[str], max_new_tokens: int, n: int, grammar: str | None
    ) -> list[Generation]:
        np = self._np
        ids = self._encode(prompt)
        check_prompt(ids, max_new_tokens, self, "the prompt")
        started = time.perf_counter()
        reused = self._reuse(ids)
        live = [_Beam(tokens=[], score=0.0, seq=0, logits=self._decode_seq0(ids[reused:]),
                      constraint=self._constraint(grammar))]  # fmt: skip
        done: list[_Beam] = []
        free = list(range(1, self._sequences))
        for step in range(1, max_new_tokens + 1):
            candidates: list[tuple[float, _Beam, int]] = []
            for beam in live:
                logp = self._log_softmax(beam.logits)
                if beam.constraint is not None:
                    # Ranked among the tokens the grammar allows, by their unmasked probability:
                    # a beam's score stays the model's own, comparable across beams.
                    logp[~beam.constraint.allowed(logp.shape[0])] = -np.inf
                top = np.argpartition(-logp, 2 * n)[: 2 * n]
                candidates += [(beam.score + float(logp[t]), beam, int(t))
                               for t in top if logp[t] > -np.inf]  # fmt: skip
            candidates.sort(key=lambda c: -c[0])
            chosen: list[_Beam] = []
            for score, parent, token in candidates:
                if len(chosen) == n:
                    break
                child = _Beam(tokens=[*parent.tokens, token], score=score, seq=parent.seq)
                if self._is_eog(token):
                    child.stop = self._piece(token)
                    child.text = self._text(parent.tokens, stop)[0]
                    done.append(child)
                    continue
                child.text, child.stop = self._text(child.tokens, stop)
                if child.stop is not None:
                    done.append(child)
                else:
                    if parent.constraint is not None:
                        child.constraint = parent.constraint.copy()
                        child.constraint.advance(token)
                    chosen.append(child)
            if step == max_new_tokens or not chosen:
                done += chosen
                break
            best_live = max(c.score for c in chosen) / step
            if len(done) >= n and sorted(d.mean for d in done)[-n] >= best_live:
                break
            # Each chosen beam gets a sequence of its own: a copy of its parent's cells (shared,
            # not duplicated, in the unified cache), then its new token in one batch for all.
            for child in chosen:
                seq = free.pop()
                self._native.llama_memory_seq_cp(self._memory, child.seq, seq, -1, -1)
                child.seq = seq
            for beam in live:
                if beam.seq != 0:
                    self._native.llama_memory_seq_rm(self._memory, beam.seq, -1, -1)
                    free.append(beam.seq)
            position = len(ids) + step - 1
            self._submit([(c.tokens[-1], position, c.seq, True) for c in chosen])
            for j, child in enumerate(chosen):
                child.logits = self._logits(j)
            live = chosen
        seconds = time.perf_counter() - started
        ranked = sorted(done, key=lambda b: -b.mean)[:n]
        return [
            Generation(
                text=b.text,
                stop=b.stop,
                prompt_tokens=len(ids),
                prefill_tokens=len(ids) - reused,
                completion_tokens=len(b.tokens),
                # One search made them all: its whole time is each one's decode time.
                prefill_seconds=0.0,
                decode_seconds=seconds,
            )
            for b in ranked
        ]

    def _text(self, tokens: list[int], stop: Sequence[str]) -> tuple[str, str | None]:
        """The text of ``tokens``, cut at the first stop string, and that stop string."""
        matcher = StopMatcher(stop)
        raw: bytes = self.llm.detokenize(tokens, special=True)
        matcher.feed(raw.decode("utf-8", errors="replace"))
        matcher.flush()
        return matcher.text, matcher.stop

    def _generate_batch(
        self,
        rows: list[list[int]],
        stop: Sequence[str],
        max_new_tokens: int,
        grammar: str | None,
    ) -> list[Generation]:
        n = len(rows)
        started = time.perf_counter()
        # The shared prefix goes on sequence 0 (the streaming cache, so a next stream of the
        # same conversation reuses it); each row's own rest on a sequence of its own.
        first = rows[0]
        shared = common_prefix(rows, limit=min(len(r) for r in rows) - 1)
        reused = self._reuse(first[: shared + 1])  # keeps at most `shared` ids
        if shared > reused:
            self._decode_seq0(first[reused:shared])
        logits = []
        for i, ids in enumerate(rows):
            seq = i + 1
            self._native.llama_memory_seq_cp(self._memory, 0, seq, -1, -1)
            own = ids[shared:]
            for k in range(0, len(own), self._n_batch):
                chunk = own[k : k + self._n_batch]
                last = k + len(chunk) == len(own)
                self._submit([(t, shared + k + j, seq, last and j == len(chunk) - 1)
                              for j, t in enumerate(chunk)])  # fmt: skip
            logits.append(self._logits(-1))
        prefill_seconds = time.perf_counter() - started
        decode_started = time.perf_counter()
        matchers = [StopMatcher(stop) for _ in rows]
        constraints = [self._constraint(grammar) for _ in rows]
        texts = [_Detokenizer(self.llm) for _ in rows]
        completion = [0] * n
        eos: list[str | None] = [None] * n
        decode_seconds = [0.0] * n
        newest = [0] * n  # each running row's newest token, decoded in the next step
        active = list(range(n))
        while active:
            running: list[int] = []
            for i in active:
                constraint = constraints[i]
                if constraint is not None:
                    logits[i] = constraint.mask(logits[i])
                token = self._pick(logits[i])
                completion[i] += 1
                finished = self._is_eog(token)
                if finished:
                    eos[i] = self._piece(token)
                else:
                    if constraint is not None:
                        constraint.advance(token)
                    matchers[i].feed(texts[i].push(token))
                    finished = matchers[i].done
                if finished or completion[i] >= max_new_tokens:
                    finish(matchers[i], texts[i], eos[i])
                    decode_seconds[i] = time.perf_counter() - decode_started
                    self._native.llama_memory_seq_rm(self._memory, i + 1, -1, -1)
                else:
                    running.append(i)
                    newest[i] = token
            if not running:
                break
            self._submit([(newest[i], len(rows[i]) + completion[i] - 1, i + 1, True)
                          for i in running])  # fmt: skip
            for j, i in enumerate(running):
                logits[i] = self._logits(j)
            active = running
        return [
            Generation(
                text=matchers[i].text,
                stop=matchers[i].stop,
                prompt_tokens=len(rows[i]),
                # The shared prefix is counted once, with the first row.
                prefill_tokens=len(rows[i]) - shared + (shared - reused if i == 0 else 0),
                completion_tokens=completion[i],
                prefill_seconds=prefill_seconds,
                decode_seconds=decode_seconds[i],
            )
            for i in range(n)
        ]


@dataclass
class _Beam:
    tokens: list[int]
    score: float  # sum of token log-probabilities
    seq: int  # the llama.cpp sequence holding its KV cells (its parent's until it advances)
    logits: Any = None
    text: str = ""
    stop: str | None = None
    constraint: Constraint | None = None  # where the beam stands in the grammar, if any

    @property
    def mean(self) -> float:
        return self.score / max(1, len(self.tokens))


@dataclass
class _Detokenizer:
    """Token ids to text pieces, never splitting a multi-byte character (UTF-8 held back)."""

    llm: Any
    _utf8: Any = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace"))

    def push(self, token: int) -> str:
        piece: str = self._utf8.decode(self.llm.detokenize([token], special=True))
        return piece

    def flush(self) -> str:
        piece: str = self._utf8.decode(b"", final=True)
        return piece


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may run on (Linux)
    except AttributeError:
        return os.cpu_count() or 1
