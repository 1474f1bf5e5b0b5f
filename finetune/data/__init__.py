"""Training data: MOSS records in, token ids with loss labels out.

Two record formats are read, from ``.json`` files (one record, or a list), ``.jsonl`` files (one
record a line) and folders of them (recursively):

- MOSS's plugin SFT format (moss-003-sft-plugin-data)::

    {"meta_instruction": "...", "num_turns": 1, "chat": {"turn_1": {
        "Human": "<|Human|>: What is 4/7?<eoh>\\n", "Inner Thoughts": "<|Inner Thoughts|>: ...",
        "Commands": "...", "Tool Responses": "<|Results|>:\\n...\\n<eor>\\n", "MOSS": "..."}}}

- this project's own format, written by ``write_conversations`` (synthetic data)::

    {"meta_instruction": "...", "turns": [{"human": "What is 4/7?", "thoughts": "...",
        "commands": "Calculate(\\"4/7\\")", "results": "...", "reply": "4/7 is about 0.5714."}]}

Both become ``agent.protocol.Conversation``. Bad records are skipped and counted by reason in a
``LoadReport``; training never meets them.

Text is rendered only through ``agent.protocol.segments``, so training text is inference text.
Loss goes exactly on what the model writes at inference time: after the prompt's
``<|Inner Thoughts|>:`` it writes `` thoughts<eot>\\n<|Commands|>: commands<eoc>``; after
``<|MOSS|>:`` it writes `` reply<eom>``. Everything else carries no loss: the meta-instruction,
the Human line (the user writes it), the Results block (the plugins write it) and the markers
that end each prompt. The terminators carry loss, so the model learns to stop.

The whole text is tokenized in one call, as inference tokenizes a prompt, and labels are set by
character spans through the offset mapping: a token is trained when its first character lies in
a span the model writes.

``finetune.data.records`` reads and writes the records; ``finetune.data.encoding`` turns a
conversation into training tokens.
"""

from agent.files import atomic_text_file
from agent.protocol import Conversation
from finetune.data.encoding import (
    IGNORE_INDEX,
    PadCollator,
    RenderedConversation,
    build_examples,
    encode_conversation,
    render_for_training,
)
from finetune.data.records import (
    BadRecord,
    LoadReport,
    conversation_to_dict,
    load_conversations,
    parse_moss_record,
    parse_project_record,
    parse_record,
    read_conversations,
    rebuild_meta_instruction,
    write_conversations,
)

__all__ = [
    "IGNORE_INDEX",
    "BadRecord",
    "Conversation",
    "LoadReport",
    "PadCollator",
    "RenderedConversation",
    "atomic_text_file",
    "build_examples",
    "conversation_to_dict",
    "encode_conversation",
    "load_conversations",
    "parse_moss_record",
    "parse_project_record",
    "parse_record",
    "read_conversations",
    "rebuild_meta_instruction",
    "render_for_training",
    "write_conversations",
]
