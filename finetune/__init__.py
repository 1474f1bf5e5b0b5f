"""Teaching a model to use its tools: MOSS data in, LoRA adapters out, and their evaluation.

    moss-agent synth --n 4000 --out data.jsonl       # finetune.synth
    moss-agent train --data data.jsonl --out ad/     # finetune.train (TrainConfig)
    moss-agent eval --adapter ad/                    # finetune.evaluate
    moss-agent merge --adapter ad/ --out merged/     # finetune.merge

Nothing here imports torch until training or evaluation starts.
"""

from finetune.config import TrainConfig, TrainConfigError
from finetune.data import (
    LoadReport,
    build_examples,
    load_conversations,
    read_conversations,
    write_conversations,
)
from finetune.loss import LossPositions, selected_loss
from finetune.merge import merge
from finetune.train import TrainResult, train

__all__ = [
    "LoadReport",
    "LossPositions",
    "TrainConfig",
    "TrainConfigError",
    "TrainResult",
    "build_examples",
    "load_conversations",
    "merge",
    "read_conversations",
    "selected_loss",
    "train",
    "write_conversations",
]
