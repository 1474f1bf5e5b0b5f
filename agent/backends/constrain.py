"""Token masks from a grammar: what lets an in-process engine write only lines that parse.

A ``Constraint`` follows one completion through a grammar (llguidance's ``LLMatcher``): before
each token it sets the logits of every token that would leave the grammar to ``-inf``, and it
consumes the token the sampler picked. Both local engines use it over their own vocabulary
(``vocabulary_of_llama`` for llama.cpp, ``vocabulary_of_hf`` for a Hugging Face tokenizer); the
vocabulary is built once per backend, the matcher once per completion.

Why llguidance: it compiles a regex or Lark grammar against any tokenizer, computes a mask in
tens of microseconds for a 49k vocabulary, has no dependencies (one 7 MB wheel), and its Lark
dialect has lazy text (``thoughts[suffix="<eot>"]``), so the thoughts stay free while the Commands
line after them is held to the grammar. ``outlines`` needs torch and compiles slower;
llama.cpp's own GBNF sampler serves only llama.cpp and cannot leave the thoughts free without
writing them as a GBNF rule that forbids ``<`` in them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moss_core.errors import BackendError


class Constraint:
    """One completion held to ``grammar`` (llguidance grammar text) over ``vocabulary``."""

    def __init__(self, vocabulary: Any, grammar: str, *, _matcher: Any = None) -> None:
        import numpy as np
        from llguidance import LLMatcher

        self._np = np
        self._vocabulary = vocabulary
        self._matcher = _matcher if _matcher is not None else LLMatcher(vocabulary, grammar)
        self.grammar = grammar
        if self._matcher.is_error():
            error = self._matcher.get_error()
            raise BackendError(f"the Commands grammar does not compile: {error}")

    def allowed(self, size: int) -> Any:
        """A boolean array over ``size`` token ids: True where the grammar allows the token."""
        np = self._np
        bits = np.frombuffer(self._matcher.compute_bitmask(), dtype=np.uint8)
        mask = np.unpackbits(bits, bitorder="little").astype(bool)
        if mask.shape[0] >= size:
            return mask[:size]
        return np.concatenate([mask, np.zeros(size - mask.shape[0], dtype=bool)])

    def mask(self, logits: Any) -> Any:
        """``logits`` (a NumPy row) with every token the grammar forbids set to ``-inf``."""
        allowed = self.allowed(logits.shape[-1])
        out = logits.copy()
        out[~allowed] = -self._np.inf
        return out

    def advance(self, token: int) -> None:
        """Consume the token that was picked (it must be one ``mask`` allowed)."""
        if not self._matcher.consume_token(int(token)):
            raise BackendError(
                f"token {token} breaks the Commands grammar: {self._matcher.get_error()}"
            )

    def accepts(self, tokens: list[int]) -> bool:
        """Whether ``tokens``, from this point, stay within the grammar (checked on a copy)."""
        return bool(self._matcher.deep_copy().validate_tokens(tokens) == len(tokens))

    @property
    def finished(self) -> bool:
        """The grammar is complete: no token but the end of text may follow."""
        return bool(self._matcher.is_stopped())

    def copy(self) -> Constraint:
        """An independent copy at the same point (a beam that branches)."""
        return Constraint(self._vocabulary, self.grammar, _matcher=self._matcher.deep_copy())


class Grammars:
    """The grammars one backend has met, each compiled once over its vocabulary.

    ``start(grammar)`` gives each completion (a stream, a batch row, a beam search) a fresh
    ``Constraint`` by copying the compiled matcher, so a batch of 16 rows compiles the grammar
    once, not 16 times. The vocabulary is read on the first grammar (``vocabulary()``): a
    backend that never constrains never pays for it.
    """

    def __init__(self, vocabulary: Callable[[], Any]) -> None:
        self._read_vocabulary = vocabulary
        self._vocabulary: Any = None
        self._compiled: dict[str, Constraint] = {}

    def vocabulary(self) -> Any:
        """llguidance's view of the backend's vocabulary, read once."""
        if self._vocabulary is None:
            self._vocabulary = self._read_vocabulary()
        return self._vocabulary

    def start(self, grammar: str) -> Constraint:
        """A ``Constraint`` at the start of ``grammar``."""
        if grammar not in self._compiled:
            self._compiled[grammar] = Constraint(self.vocabulary(), grammar)
        return self._compiled[grammar].copy()


def vocabulary_of_llama(llm: Any) -> Any:
    """llguidance's view of a ``llama_cpp.Llama`` model's vocabulary (about a second)."""
    import warnings

    import llama_cpp
    from llguidance.llamacpp import lltokenizer_from_vocab

    with warnings.catch_warnings():
        # It reads each token's attributes through a call llama-cpp-python marks deprecated:
        # one warning per token (49,152 of them) would bury everything else.
        warnings.simplefilter("ignore", DeprecationWarning)
        return lltokenizer_from_vocab(llama_cpp.llama_model_get_vocab(llm.model))


def vocabulary_of_hf(tokenizer: Any, n_vocab: int | None = None) -> Any:
    """llguidance's view of a Hugging Face fast tokenizer (``n_vocab``: the model's logits
    width, when its embedding table is padded past the tokenizer)."""
    from llguidance.hf import from_tokenizer

    return from_tokenizer(tokenizer, n_vocab=n_vocab)
