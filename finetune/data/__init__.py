"""Training data: MOSS records in, token ids with loss labels out.

- ``finetune.data.records`` reads MOSS's plugin SFT files and the project's own JSONL into
  ``moss_core.protocol.Conversation`` objects, counting bad records by reason in a ``LoadReport``,
  and writes conversations back;
- ``finetune.data.encoding`` renders a conversation through ``moss_core.protocol.segments`` (so
  training text is inference text) and labels exactly what the model writes at inference.
"""

from agent.files import atomic_text_file
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
from moss_core.protocol import Conversation

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
