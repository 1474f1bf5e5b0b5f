"""A local Hugging Face ``transformers`` model as a Backend, reusing its KV cache between calls.

The Agent passes the whole conversation as the prompt on every call. This backend keeps the
attention cache of the previous call and the token ids it covers; a new prompt is tokenized,
compared with those ids, the cache is cut back to the longest common prefix and only the rest is
encoded. Phase 2 of a turn (phase-1 prompt + generated text + Results) and the next turn therefore
encode just the new tokens::

    backend = TransformersBackend.from_pretrained(default_model_path())
    first = run_stream(backend.stream(prompt, stop=["<eoc>"], max_new_tokens=64))
    again = run_stream(backend.stream(prompt + first.text + "<eoc>\\n<|Results|>:...", ...))
    again.prefill_tokens   # only the tokens after the first call's prompt and output

Decoding is a hand-written loop (not ``model.generate``) so the cache stays under our control.
Greedy by default; set ``temperature`` (and ``top_p``) on the instance to sample.
"""

from __future__ import annotations

import inspect
import os
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from agent.backends.constrain import Constraint, Grammars, vocabulary_of_hf
from agent.turnlock import TurnLock
from moss_core.errors import BackendError, ModelNotAvailableError

if TYPE_CHECKING:
    import torch


class TransformersBackend:
    """Streams completions from a causal LM, reusing the KV cache across calls.

    >>> backend = TransformersBackend.from_pretrained("path/to/model")  # doctest: +SKIP
    >>> run_stream(backend.stream("<|Human|>: hi<eoh>\\n<|Inner Thoughts|>:",
    ...                           stop=["<eot>"], max_new_tokens=32)).text  # doctest: +SKIP
    ' The user greets me.'

    ``reuse_cache=False`` encodes every prompt from scratch (for comparisons); ``reset()`` drops
    the cache once.
    """

    constrains = True  # stream and generate_batch take grammar=; alternatives filters by it

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        name: str = "transformers",
        device: str = "auto",
        dtype: Any = None,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
        reuse_cache: bool = True,
        add_special_tokens: bool = True,
    ) -> None:
        import torch

        self.name = name
        self.device = torch.device(_pick_device(device))
        self.dtype = dtype if dtype is not None else _default_dtype(self.device)
        try:
            self.model = model.to(device=self.device, dtype=self.dtype).eval()
        except (RuntimeError, ValueError, AssertionError) as error:
            raise BackendError(
                f"could not move the model to {self.device} as {self.dtype} ({error}); "
                "pass device='cpu' or another dtype"
            ) from error
        self.tokenizer = tokenizer
        self.temperature = temperature
        self.top_p = top_p
        self.reuse_cache = reuse_cache
        self.add_special_tokens = add_special_tokens
        config = model.config
        self.context_length: int = int(getattr(config, "max_position_embeddings", 0) or 2048)
        # Token ids that end generation like a stop string; an empty set decodes to the limit.
        self.eos_token_ids: frozenset[int] = _eos_ids(model, tokenizer)
        self._generator = torch.Generator(device=self.device)
        if seed is not None:
            self._generator.manual_seed(seed)
        accepted = _forward_parameters(model)
        self._keep_last_logits = "logits_to_keep" in accepted
        # transformers 5.x renamed past_key_values to cache; older releases only know the former.
        self._cache_kwarg = "cache" if "cache" in accepted else "past_key_values"
        # The KV cache and exactly the token ids whose keys and values it holds.
        self._cache: Any = None
        self._cached_ids: list[int] = []
        # One generation at a time; a stream holds it until read to its end or closed.
        self._turns = TurnLock(stream_still_open)
        # llguidance's view of the tokenizer, as wide as the logits (an embedding table may be
        # padded past the tokenizer).
        self._grammars = Grammars(
            lambda: vocabulary_of_hf(
                self.tokenizer, n_vocab=self.model.get_output_embeddings().weight.shape[0]
            )
        )

    @classmethod
    def from_pretrained(
        cls,
        path_or_id: str | os.PathLike[str] | None = None,
        adapter: str | os.PathLike[str] | None = None,
        device: str = "auto",
        dtype: Any = None,
        *,
        trust_remote_code: bool = False,
        **kw: Any,
    ) -> TransformersBackend:
        """Load a model folder or hub id (default: the embedded SmolLM2), optionally with LoRA.

        ``adapter`` is a PEFT adapter folder; its tokenizer is used when it saved one. ``dtype``
        is a ``torch.dtype`` or its name ("bfloat16"); None picks float32 on CPU, bfloat16 on
        GPU. Extra keyword arguments go to ``TransformersBackend`` (``temperature``, ``name``).

        >>> TransformersBackend.from_pretrained(adapter="finetune/adapters/moss")  # doctest: +SKIP
        """
        from agent.models import resolve_model

        torch_dtype = _torch_dtype(dtype)  # a bad dtype or device is said before loading
        device = _pick_device(device)
        source = resolve_model(path_or_id)
        try:
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as error:
            raise ModelNotAvailableError(
                f"the transformers backend needs torch and transformers ({error}); "
                "run: pip install torch transformers"
            ) from error
        tokenizer_source = source
        if adapter is not None and any(
            (Path(adapter) / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json")
        ):
            tokenizer_source = str(adapter)
        try:
            tokenizer = AutoTokenizer.from_pretrained(
                tokenizer_source, trust_remote_code=trust_remote_code
            )
            model = AutoModelForCausalLM.from_pretrained(
                source, dtype=torch_dtype or "auto", trust_remote_code=trust_remote_code
            )
        except (OSError, ValueError) as error:
            raise ModelNotAvailableError(
                f"could not load the model {source!r} ({error}). Pass a folder holding "
                "config.json, the weights and the tokenizer, or leave it unset for the default."
            ) from error
        name = f"transformers:{Path(source).name}"
        if adapter is not None:
            model = _load_adapter(model, adapter)
            name += f"+{Path(adapter).name}"
        kw.setdefault("name", name)
        return cls(model, tokenizer, device=device, dtype=torch_dtype, **kw)

    # -- Backend protocol ---------------------------------------------------------------------

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes as (part of) a prompt.

        >>> backend.count_tokens("<|Human|>: hi")  # doctest: +SKIP
        7
        """
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
            except (RuntimeError, ValueError, IndexError) as error:
                # The cache may hold half an update: forget it so the next call starts clean.
                self.reset()
                raise BackendError(
                    f"{self.name} failed while generating ({type(error).__name__}: {error}); "
                    "try a shorter prompt or max_new_tokens, or device='cpu'"
                ) from error
        return result

    def generate_batch(
        self,
        prompts: Sequence[str],
        *,
        stop: Sequence[str],
        max_new_tokens: int,
        grammar: str | None = None,
    ) -> list[Generation]:
        """Decode all ``prompts`` together; return one ``Generation`` per prompt, in order.

        The longest token prefix the prompts share (the meta-instruction, usually) is encoded
        once; each prompt's own rest is left-padded into one block, and a row leaves the batch
        when it reaches a stop string, an end-of-text token or ``max_new_tokens``. Greedy output
        is the same as ``stream``'s except where two tokens all but tie: a padded batch can
        round a matrix product differently from a single row. This call neither uses nor
        changes the cache that ``stream`` keeps. ``grammar`` holds every row to it.

        >>> [g.text for g in backend.generate_batch(prompts, stop=["<eoc>"],
        ...                                         max_new_tokens=64)]  # doctest: +SKIP
        """
        if not prompts:
            return []
        with self._turns.hold("generate_batch"):
            return self._run_batch(prompts, stop, max_new_tokens, grammar)

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
        ``temperature``, so the same prompt gets the same samples (on the same device).
        ``grammar`` holds every row to it."""
        import torch

        check_sampling(n, temperature, top_p)
        with self._turns.hold("samples"):
            # _pick reads these; swapped only while the turn lock keeps every other call out.
            saved = self.temperature, self.top_p, self._generator
            self.temperature, self.top_p = temperature, top_p
            self._generator = torch.Generator(device=self.device).manual_seed(seed)
            try:
                return self._run_batch([prompt] * n, stop, max_new_tokens, grammar)
            finally:
                self.temperature, self.top_p, self._generator = saved

    def _run_batch(
        self, prompts: Sequence[str], stop: Sequence[str], max_new_tokens: int, grammar: str | None
    ) -> list[Generation]:
        try:
            rows = [self._encode(p) for p in prompts]
            return self._generate_batch(rows, stop, max_new_tokens, grammar)
        except BackendError:
            raise
        except (RuntimeError, ValueError, IndexError) as error:
            raise BackendError(
                f"{self.name} failed while generating a batch of {len(prompts)} "
                f"({type(error).__name__}: {error}); try fewer prompts at once"
            ) from error

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

        Each ends at a stop string, an end-of-text token or ``max_new_tokens``. Beam search
        scores whole sequences, so its first completion can differ from greedy decoding's. This
        call neither uses nor changes the cache that ``stream`` keeps, and ignores
        ``temperature``: alternatives are the model's ranking, not samples.

        ``grammar`` is applied after the search, not during it: Hugging Face's beam search
        reorders beams inside ``generate``, where a grammar's state cannot follow them, so the
        completions the grammar refuses are dropped and fewer than ``n`` may come back.
        (``LlamaCppBackend`` holds each beam to the grammar while it searches.)

        >>> [g.text for g in backend.alternatives(prompt, stop=["<eoc>"], max_new_tokens=64,
        ...                                       n=4)]  # doctest: +SKIP
        """
        if n < 1:
            raise ValueError(f"alternatives needs n >= 1, got {n}")
        with self._turns.hold("alternatives"):
            try:
                found = self._alternatives(prompt, stop, max_new_tokens, n)
                if grammar is None:
                    return found
                return [g for g in found if self._grammars.start(grammar).accepts(
                    self._encode(g.text + (g.stop or "")))]  # fmt: skip
            except BackendError:
                raise
            except (RuntimeError, ValueError, IndexError) as error:
                raise BackendError(
                    f"{self.name} failed during beam search with {n} beams "
                    f"({type(error).__name__}: {error}); try fewer alternatives"
                ) from error

    def reset(self) -> None:
        """Forget the KV cache; the next call encodes its whole prompt."""
        self._cache = None
        self._cached_ids = []

    @property
    def cached_ids(self) -> tuple[int, ...]:
        """The token ids the KV cache covers now: the last prompt and all but the last new token.

        The last generated token was sampled but never run through the model, so it is not in
        the cache; the next call encodes it again if its prompt continues with it.
        """
        return tuple(self._cached_ids)

    # -- internals ----------------------------------------------------------------------------

    def _encode(self, text: str) -> list[int]:
        ids: list[int] = self.tokenizer(text, add_special_tokens=self.add_special_tokens)[
            "input_ids"
        ]
        return ids

    def _masked(self, constraint: Constraint | None, logits: torch.Tensor) -> torch.Tensor:
        """``logits`` (one row) with the tokens ``constraint`` forbids at ``-inf``."""
        import torch

        if constraint is None:
            return logits
        allowed = torch.from_numpy(constraint.allowed(logits.shape[-1])).to(logits.device)
        return logits.masked_fill(~allowed, float("-inf"))

    def _stream(
        self, prompt: str, stop: Sequence[str], max_new_tokens: int, grammar: str | None
    ) -> TextStream:
        import torch

        ids = self._encode(prompt)
        check_prompt(ids, max_new_tokens, self, "the prompt")
        constraint = None if grammar is None else self._grammars.start(grammar)
        matcher = StopMatcher(stop)
        detok = _IncrementalDecoder(self.tokenizer)
        started = time.perf_counter()
        with torch.inference_mode():
            reused = self._prepare_cache(ids)
            logits = self._forward(ids[reused:])
            prefill_seconds = time.perf_counter() - started
            decode_started = time.perf_counter()
            completion = 0
            eos: str | None = None
            while completion < max_new_tokens:
                token = self._pick(self._masked(constraint, logits))
                completion += 1
                if token in self.eos_token_ids:
                    eos = self.tokenizer.decode([token])
                    break
                if constraint is not None:
                    constraint.advance(token)
                piece = matcher.feed(detok.push(token))
                if piece:
                    yield piece
                if matcher.done:
                    break
                if completion < max_new_tokens:
                    logits = self._forward([token])
            tail = finish(matcher, detok, eos)
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

    def _alternatives(
        self, prompt: str, stop: Sequence[str], max_new_tokens: int, n: int
    ) -> list[Generation]:
        import torch

        ids = self._encode(prompt)
        check_prompt(ids, max_new_tokens, self, "the prompt")
        eos = sorted(self.eos_token_ids)
        started = time.perf_counter()
        with torch.inference_mode():
            x = torch.tensor([ids], device=self.device)
            out = self.model.generate(
                input_ids=x,
                attention_mask=torch.ones_like(x),
                num_beams=n,
                num_return_sequences=n,
                do_sample=False,
                max_new_tokens=max_new_tokens,
                # Stop strings end a beam as an end-of-text token would, so each beam is one
                # phase's text and beams are ranked on that text alone.
                stop_strings=[s for s in stop if s] or None,
                tokenizer=self.tokenizer,
                eos_token_id=eos or None,
                pad_token_id=self._pad_id(),
            )
        seconds = time.perf_counter() - started
        gens = []
        for row in out[:, len(ids) :].tolist():
            cut = next((i for i, t in enumerate(row) if t in self.eos_token_ids), None)
            tokens = row if cut is None else row[:cut]
            matcher = StopMatcher(stop)
            matcher.feed(self.tokenizer.decode(tokens))
            matcher.flush()
            gens.append(
                Generation(
                    text=matcher.text,
                    stop=matcher.stop
                    or (self.tokenizer.decode([row[cut]]) if cut is not None else None),
                    prompt_tokens=len(ids),
                    prefill_tokens=len(ids),
                    completion_tokens=len(tokens) + (cut is not None),
                    # One search made them all: its whole time is each one's decode time.
                    prefill_seconds=0.0,
                    decode_seconds=seconds,
                )
            )
        return gens

    def _prepare_cache(self, ids: list[int]) -> int:
        """Cut the cache back to its common prefix with ``ids``; return how many ids it keeps.

        At least the last prompt token is always encoded again: its logits pick the first token.
        """
        keep = 0
        if self._cache is not None and self._cache.get_seq_length() != len(self._cached_ids):
            self._cache = None  # an interrupted forward left it out of step with our ids
        if self.reuse_cache and self._cache is not None:
            limit = min(len(ids) - 1, len(self._cached_ids))
            while keep < limit and ids[keep] == self._cached_ids[keep]:
                keep += 1
        if keep == 0:
            self._cache = self._new_cache()
            self._cached_ids = []
            return 0
        drop = len(self._cached_ids) - keep
        if drop:
            try:
                self._cache.crop(-drop)  # a negative count removes that many (all versions)
            except (RuntimeError, ValueError, AttributeError):
                # Caches that cannot be rolled back (e.g. past a sliding window): start over.
                self._cache = self._new_cache()
                self._cached_ids = []
                return 0
            del self._cached_ids[keep:]
        return keep

    def _new_cache(self) -> Any:
        from transformers import DynamicCache

        try:
            return DynamicCache(config=self.model.config)
        except TypeError:  # transformers < 4.56 takes no config
            return DynamicCache()

    def _forward(self, new_ids: list[int]) -> torch.Tensor:
        """Run ``new_ids`` through the model on top of the cache; return the last logits."""
        import torch

        inputs = torch.tensor([new_ids], dtype=torch.long, device=self.device)
        kwargs: dict[str, Any] = {self._cache_kwarg: self._cache, "use_cache": True}
        if self._keep_last_logits:
            kwargs["logits_to_keep"] = 1  # skip the vocabulary projection of all but the last
        out = self.model(input_ids=inputs, **kwargs)
        for field in ("cache", "past_key_values"):  # (a Cache may be falsy: no `or` here)
            returned = getattr(out, field, None)
            if returned is not None:
                self._cache = returned
                break
        self._cached_ids.extend(new_ids)
        logits: torch.Tensor = out.logits[0, -1].float()
        return logits

    def _generate_batch(
        self,
        rows: list[list[int]],
        stop: Sequence[str],
        max_new_tokens: int,
        grammar: str | None,
    ) -> list[Generation]:
        import torch

        for i, ids in enumerate(rows):
            check_prompt(ids, max_new_tokens, self, f"prompt {i}")
        n = len(rows)
        # Each row's last prompt token stays in its own part: its logits pick the first token.
        shared = common_prefix(rows, limit=min(len(r) for r in rows) - 1)
        matchers = [StopMatcher(stop) for _ in rows]
        constraints = [None if grammar is None else self._grammars.start(grammar) for _ in rows]
        decoders = [_IncrementalDecoder(self.tokenizer) for _ in rows]
        completion = [0] * n
        eos: list[str | None] = [None] * n
        decode_seconds = [0.0] * n
        started = time.perf_counter()
        with torch.inference_mode():
            cache = self._new_cache()
            if shared:
                prefix = torch.tensor([rows[0][:shared]], dtype=torch.long, device=self.device)
                _, cache = self._forward_rows(cache, prefix, None, None)
                cache.batch_repeat_interleave(n)
            # [shared prefix | padding | the row's own tokens]: padding sits in the middle,
            # masked out, so every row's last token is in the last column and positions run on.
            width = max(len(r) - shared for r in rows)
            pad = self._pad_id()
            block = torch.full((n, width), pad, dtype=torch.long)
            mask = torch.zeros((n, shared + width), dtype=torch.long)
            mask[:, :shared] = 1
            for i, r in enumerate(rows):
                own = len(r) - shared
                block[i, width - own :] = torch.tensor(r[shared:], dtype=torch.long)
                mask[i, shared + width - own :] = 1
            positions = (mask.cumsum(-1) - 1).clamp(min=0)[:, shared:]
            logits, cache = self._forward_rows(cache, block, mask, positions)
            prefill_seconds = time.perf_counter() - started
            decode_started = time.perf_counter()
            active = list(range(n))  # the rows still decoding, in the cache's row order
            next_position = mask.sum(-1)
            step = 0
            while active:
                step += 1
                continuing: list[tuple[int, int]] = []  # (index in active, token)
                if grammar is not None:
                    logits = torch.stack([self._masked(constraints[row], logits[k])
                                          for k, row in enumerate(active)])  # fmt: skip
                for k, (row, token) in enumerate(zip(active, self._pick_rows(logits), strict=True)):
                    completion[row] += 1
                    finished = token in self.eos_token_ids
                    if finished:
                        eos[row] = self.tokenizer.decode([token])
                    else:
                        if (constraint := constraints[row]) is not None:
                            constraint.advance(token)
                        matchers[row].feed(decoders[row].push(token))
                        finished = matchers[row].done
                    if finished or step >= max_new_tokens:
                        finish(matchers[row], decoders[row], eos[row])
                        decode_seconds[row] = time.perf_counter() - decode_started
                    else:
                        continuing.append((k, token))
                if not continuing:
                    break
                if len(continuing) < len(active):
                    keep = [k for k, _ in continuing]
                    cache.batch_select_indices(torch.tensor(keep, device=self.device))
                    mask, next_position = mask[keep], next_position[keep]
                    active = [active[k] for k in keep]
                mask = torch.cat([mask, torch.ones((len(active), 1), dtype=torch.long)], dim=1)
                tokens = torch.tensor([[t] for _, t in continuing], dtype=torch.long)
                logits, cache = self._forward_rows(cache, tokens, mask, next_position[:, None])
                next_position = next_position + 1
        return [
            Generation(
                text=matchers[i].text,
                stop=matchers[i].stop,
                prompt_tokens=len(rows[i]),
                prefill_tokens=len(rows[i]) - shared,
                completion_tokens=completion[i],
                prefill_seconds=prefill_seconds,
                decode_seconds=decode_seconds[i],
            )
            for i in range(n)
        ]

    def _forward_rows(
        self,
        cache: Any,
        inputs: torch.Tensor,
        mask: torch.Tensor | None,
        positions: torch.Tensor | None,
    ) -> tuple[torch.Tensor, Any]:
        """One forward of a batch block on ``cache``; the last column's logits and the cache."""
        kwargs: dict[str, Any] = {self._cache_kwarg: cache, "use_cache": True}
        if mask is not None:
            kwargs["attention_mask"] = mask.to(self.device)
            kwargs["position_ids"] = positions.to(self.device) if positions is not None else None
        if self._keep_last_logits:
            kwargs["logits_to_keep"] = 1
        out = self.model(input_ids=inputs.to(self.device), **kwargs)
        for field in ("cache", "past_key_values"):
            returned = getattr(out, field, None)
            if returned is not None:
                cache = returned
                break
        return out.logits[:, -1].float(), cache

    def _pick_rows(self, logits: torch.Tensor) -> list[int]:
        """One token per row of ``logits``, as ``_pick`` would choose each."""
        import torch

        if self.temperature <= 0:
            picked: list[int] = torch.argmax(logits, dim=-1).tolist()
            return picked
        return [self._pick(row) for row in logits]

    def _pad_id(self) -> int:
        for value in (getattr(self.tokenizer, "pad_token_id", None), *sorted(self.eos_token_ids)):
            if isinstance(value, int):
                return value
        return 0

    def _pick(self, logits: torch.Tensor) -> int:
        """Greedy when temperature is 0, else temperature + nucleus (top-p) sampling.

        Sampling inverts the cumulative distribution with one uniform draw; the nucleus comes
        from growing ``topk`` calls, because sorting the whole vocabulary (and
        ``torch.multinomial``) costs more than the forward pass of a small model on a CPU.
        """
        import torch

        if self.temperature <= 0:
            return int(torch.argmax(logits).item())
        probs = torch.softmax(logits / self.temperature, dim=-1)
        order: torch.Tensor | None = None
        if self.top_p < 1.0:
            k = 64
            while True:
                k = min(k, probs.numel())
                top, order = torch.topk(probs, k)  # descending
                mass = torch.cumsum(top, dim=0)
                if k == probs.numel() or float(mass[-1]) >= self.top_p:
                    break
                k *= 4
            # Keep each token whose higher-ranked tokens hold less than top_p of the mass.
            keep = max(1, int(((mass - top) < self.top_p).sum()))
            probs, order = top[:keep], order[:keep]
        cumulative = torch.cumsum(probs, dim=0)
        draw = torch.rand(1, generator=self._generator, device=probs.device) * cumulative[-1]
        index = int(torch.searchsorted(cumulative, draw, right=True).clamp(max=probs.numel() - 1))
        return int(order[index]) if order is not None else index


class _IncrementalDecoder:
    """Turns token ids into text pieces, never splitting a multi-byte character.

    Decodes a short window of recent ids with and without the newest one and emits the
    difference; while the window ends in an incomplete UTF-8 sequence (decoded as U+FFFD) it
    waits for more ids. Decoding with a little left context keeps tokenizers that drop a leading
    space on the first token (SentencePiece) correct.
    """

    def __init__(self, tokenizer: Any) -> None:
        self._tok = tokenizer
        self._ids: list[int] = []
        self._prefix = 0  # start of the context window
        self._read = 0  # ids before this index have been emitted

    def push(self, token: int) -> str:
        self._ids.append(token)
        return self._emit(final=False)

    def flush(self) -> str:
        return self._emit(final=True)

    def _emit(self, *, final: bool) -> str:
        done = self._decode(self._ids[self._prefix : self._read])
        text = self._decode(self._ids[self._prefix :])
        if len(text) <= len(done) or (text.endswith("\ufffd") and not final):
            return ""
        self._prefix, self._read = self._read, len(self._ids)
        return text[len(done) :]

    def _decode(self, ids: list[int]) -> str:
        text: str = self._tok.decode(ids, skip_special_tokens=False)
        return text


def _torch_dtype(dtype: Any) -> Any:
    """``"bfloat16"`` -> ``torch.bfloat16``; None and torch dtypes pass through."""
    if not isinstance(dtype, str) or dtype == "auto":
        return None if dtype == "auto" else dtype
    import torch

    value = getattr(torch, dtype, None)
    if not isinstance(value, torch.dtype):
        raise BackendError(f"unknown dtype {dtype!r}; use float32, bfloat16 or float16")
    return value


def _pick_device(device: str) -> str:
    """``device`` checked ("auto": CUDA when there is one, else the CPU), so a wrong one is
    said before the model loads, not as torch's error while moving it."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        kind = torch.device(device).type
    except (RuntimeError, TypeError):
        raise BackendError(
            f"unknown device {device!r}; use auto, cpu or cuda (cuda:1 for a second GPU)"
        ) from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise BackendError(
            f"device {device!r} needs CUDA, which this torch build or machine does not have; "
            "use device='cpu' or 'auto'"
        )
    return device


def _default_dtype(device: torch.device) -> torch.dtype:
    """float32 on CPU (bfloat16 matmuls are slow there); bfloat16 on GPUs that support it."""
    import torch

    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def _eos_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    """End-of-text ids from the generation config and the tokenizer."""
    found: set[int] = set()
    config = getattr(model, "generation_config", None)
    for value in (getattr(config, "eos_token_id", None), getattr(tokenizer, "eos_token_id", None)):
        if isinstance(value, int):
            found.add(value)
        elif isinstance(value, (list, tuple)):
            found.update(int(v) for v in value)
    return frozenset(found)


def _forward_parameters(model: Any) -> set[str]:
    """Keyword arguments the underlying model's forward accepts (unwrapping PEFT)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return set(inspect.signature(base.forward).parameters)


def _load_adapter(model: Any, adapter: str | os.PathLike[str]) -> Any:
    try:
        from peft import PeftModel
    except ImportError as error:
        raise ModelNotAvailableError(
            f"loading a LoRA adapter needs peft ({error}); run: pip install peft"
        ) from error
    path = Path(adapter)
    if path.is_dir() and not (path / "adapter_config.json").is_file():
        # An existing folder is never a hub id: say so now instead of asking the hub (retries,
        # half a minute offline) and failing with the same news.
        raise ModelNotAvailableError(
            f"the adapter folder {str(adapter)!r} has no adapter_config.json; pass a folder "
            "written by PeftModel.save_pretrained or `moss-agent train --out`"
        )
    try:
        with warnings.catch_warnings():
            # peft asks transformers a deprecated question while loading; not the user's concern.
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
            tuned = PeftModel.from_pretrained(model, str(adapter))
    except (OSError, ValueError) as error:
        raise ModelNotAvailableError(
            f"could not load the adapter {str(adapter)!r} ({error}); pass a folder written by "
            "PeftModel.save_pretrained (adapter_config.json + adapter weights)"
        ) from error
    # Fold the LoRA update into the base weights: generation then runs the plain model, with
    # none of the extra per-layer matmuls an unmerged adapter costs on every token. This backend
    # only generates, so nothing needs the adapter kept apart.
    return tuned.merge_and_unload()
