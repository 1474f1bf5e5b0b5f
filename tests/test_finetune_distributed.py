"""``moss-agent train`` as two processes on the CPU (torchrun, torch.distributed over gloo).

The same command runs on several GPUs (``--nproc_per_node`` = GPUs per machine) and several
machines (``--nnodes``, ``--node_rank``, ``--master_addr``), as docs/fine-tuning.md shows; here
two CPU processes train the tiny real Llama of the other training tests for a few steps. The
run records a fingerprint of each replica's LoRA weights (``TrainResult.replicas``): both ranks
must have run and ended with identical weights, and the saved adapter must load.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from finetune.data import Conversation, rebuild_meta_instruction, write_conversations
from tests.test_finetune_data import sample_conversations, save_tiny_model


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_two_processes_train_one_adapter_with_identical_replicas(tmp_path: Path) -> None:
    model = save_tiny_model(tmp_path / "tiny")
    data = tmp_path / "train.jsonl"
    short = rebuild_meta_instruction(sample_conversations(1)[0].meta_instruction, "short")
    write_conversations(data, [Conversation(short, c.exchanges) for c in sample_conversations(16)])
    out = tmp_path / "run"
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    command += ["--master_addr", "127.0.0.1", "--master_port", str(free_port())]
    command += ["-m", "finetune.train", "--data", str(data), "--out", str(out)]
    command += ["--base-model", str(model), "--rank", "4", "--alpha", "8", "--dropout", "0"]
    command += ["--max-steps", "4", "--batch-size", "2", "--learning-rate", "5e-3"]
    command += ["--eval-fraction", "0", "--save-steps", "0", "--logging-steps", "1"]
    command += ["--bf16", "off"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert run.returncode == 0, run.stderr[-3000:]

    info = json.loads((out / "moss_agent.json").read_text())
    replicas = info["result"]["replicas"]
    assert len(replicas) == 2, "both ranks must report their weights"
    assert replicas[0] == replicas[1], "the replicas ended with different LoRA weights"
    assert info["result"]["steps"] == 4
    assert 0 < info["result"]["train_loss"] < 100

    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32)
    initial = {n: p.clone() for n, p in base.named_parameters()}
    tuned = PeftModel.from_pretrained(base, str(out))
    lora = {n: p for n, p in tuned.named_parameters() if "lora_B" in n}
    assert lora and any(p.abs().sum() > 0 for p in lora.values())  # B starts at zero
    merged = tuned.merge_and_unload()
    changed = [n for n, p in merged.named_parameters() if not torch.equal(p, initial[n])]
    assert changed
