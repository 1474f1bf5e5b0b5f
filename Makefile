# Everything `make test` needs is installed here, from nothing but python3, the package
# registries (PyPI, Debian) and root for apt-get.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SERVER_STAMP := $(VENV)/.llama-server
LLAMA_STAMP := $(VENV)/.llama-cpp

.PHONY: test lint fix demo bench adapter adapter-stage3 install clean browser server eval

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# llama.cpp, the engine that runs the model (llama-cpp-python builds from source, minutes),
# built for this machine's instruction sets and never AMX, which crashes llama.cpp on Intel
# Xeons (scripts/llama_cpp_cmake_args.sh says why). No wheel cache: a wheel built on another
# machine may use instructions this one lacks. When it cannot build, the project installs
# without it and the slower transformers engine runs the model.
$(LLAMA_STAMP): $(BIN)/python scripts/llama_cpp_cmake_args.sh
	CMAKE_ARGS="$$(scripts/llama_cpp_cmake_args.sh)" $(BIN)/pip install -q --no-cache-dir \
		--force-reinstall --no-deps 'llama-cpp-python>=0.3' \
		|| echo "warning: llama-cpp-python did not build: the transformers engine runs the model"
	touch $(LLAMA_STAMP)

# torch first, pinned: the CPU build lies on local disk; an unpinned torch would pull a CUDA
# build of several GB. Then the project with the dev and train extras (torch, transformers and
# peft are the `train` extra: chatting needs none of them).
$(STAMP): $(LLAMA_STAMP) pyproject.toml scripts/requirements.py
	$(BIN)/pip install -q torch==2.13.0
	if $(BIN)/pip show -q llama-cpp-python >/dev/null 2>&1; then \
		$(BIN)/pip install -q -e '.[dev,train]'; \
	else \
		$(BIN)/pip install -q --no-deps -e . && $(BIN)/pip install -q \
			$$($(BIN)/python scripts/requirements.py dev train --without llama-cpp-python); \
	fi
	touch $(STAMP)

install: $(STAMP)

# llama.cpp's server, for the OpenAI-compatible backend's tests and benchmark: the server
# extra's packages on top of the llama-cpp-python built above. When that did not build, the
# server tests skip and say why.
$(SERVER_STAMP): $(STAMP)
	if $(BIN)/pip show -q llama-cpp-python >/dev/null 2>&1; then \
		$(BIN)/pip install -q 'llama-cpp-python[server]>=0.3'; fi
	touch $(SERVER_STAMP)

server: $(SERVER_STAMP)

# Debian's Chromium for the end-to-end demo test (Playwright drives it; no browser download).
browser:
	scripts/install_browser.sh || echo "warning: no Chromium; the browser tests will skip"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

fix: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install lint browser server
	$(BIN)/python -m pytest

demo: install
	$(BIN)/moss-agent demo

bench: install server
	for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

# Reproduces the shipped default adapter from its seeds (flags as they ran), in two stages.
# Stage 1: a fresh LoRA on every layer, 1,300 steps of 32 at lr 1e-3 over 36,000 conversations
# (seeds 20-28, MIX6: every kind of the mix, the wider wordings and the no-tool chat kinds among
# them, from the first step). It ran on one H100 GPU in 8 minutes, beside two other runs; on
# 2 CPU cores it would take about 8 hours with AVX512-BF16 (5.5 s per step of 8, measured) and
# about 29 without fast bf16 (about 20 s per step).
# Stage 2: 120 steps of 8 at lr 2e-4 from stage 1 over 1,000 conversations of MIX6 plus every
# tool off at once (all_off) and calls that fail (failed); it ran on the 2 CPU cores in 59
# minutes, beside evaluations.
SYNTH = $(BIN)/moss-agent synth --split train
MIX6 := Calculate=0.12,calc_wide=0.22,Solve=0.06,solve_wide=0.10,Search=0.13,none=0.07,chat=0.07,chat_wide=0.06,contrast=0.05,disabled=0.04,multi=0.05,pair=0.03
ADAPTER_SEEDS = 20 21 22 23 24 25 26 27 28
ADAPTER_DATA = $(foreach s,$(ADAPTER_SEEDS),build/synth/s$(s).jsonl)
LORA_FLAGS = --top-layers 0 --target-modules q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj \
	--max-length 448 --grad-accum 1 --seed 0 --eval-steps 0 --save-total-limit 1
adapter: install
	mkdir -p build/synth
	for s in $(ADAPTER_SEEDS); do \
		$(SYNTH) --n 4000 --seed $$s --mix $(MIX6) --out build/synth/s$$s.jsonl || exit 1; done
	$(BIN)/moss-agent train --data $(ADAPTER_DATA) --out build/adapter_stage1 $(LORA_FLAGS) \
		--batch-size 32 --max-steps 1300 --learning-rate 1e-3 --eval-fraction 0.01 \
		--logging-steps 100 --save-steps 100
	$(SYNTH) --n 1000 --seed 41 --mix $(MIX6),all_off=0.12,failed=0.12 --out build/synth/s41.jsonl
	$(BIN)/moss-agent train --data build/synth/s41.jsonl --out build/adapter $(LORA_FLAGS) \
		--init-adapter build/adapter_stage1 --batch-size 8 --max-steps 120 --learning-rate 2e-4 \
		--eval-fraction 0 --logging-steps 10 --save-steps 40
	@echo "adapter written to build/adapter; copy it to finetune/adapters/default to ship it"

# Stage 3, from the shipped stage 2 (`make adapter` rebuilds that): 260 steps of 8 at lr 2e-4
# over 4,000 conversations that put word problems beside the whole recipe: MIX6 plus the
# `steps` (one- and two-step stories by schema) and `story` (GSM8K train problems of at most 3
# calculator steps) kinds, and 400 Solve stories with two real unknowns. It ran on 2 CPU cores
# (AMD EPYC with AVX512-BF16) in 55 minutes. The shipped adapter is that stage blended 0.75 /
# 0.25 with stage 2, stored in float16 (the model card has the figures of each). STAGE2 is the
# stage-2 adapter: what `make adapter` writes, or the folder shipped before this stage
# (`git show 7ea18b7:finetune/adapters/default/...`).
STAGE2 ?= build/adapter
adapter-stage3: install
	mkdir -p build/stage3
	$(SYNTH) --n 3600 --seed 91 --mix $(MIX6),all_off=0.05,failed=0.05,steps=0.5,story=0.15 \
		--stories ../shared/benchmarks/gsm8k_train.jsonl --max-story-steps 3 \
		--out build/stage3/mixed.jsonl
	$(SYNTH) --n 3000 --seed 73 --mix Calculate=0,Search=0,none=0,disabled=0,multi=0,pair=0,Solve=0.5,solve_wide=0.5 \
		--out build/stage3/solve_pool.jsonl
	$(BIN)/python scripts/two_unknown_stories.py build/stage3/solve_pool.jsonl build/stage3/solve.jsonl --n 400
	$(BIN)/moss-agent train --data build/stage3/mixed.jsonl build/stage3/solve.jsonl \
		--out build/stage3/adapter $(LORA_FLAGS) --init-adapter $(STAGE2) --rank 16 --alpha 32 \
		--batch-size 8 --micro-batch-size 2 --max-steps 260 --learning-rate 2e-4 \
		--eval-fraction 0 --logging-steps 10 --save-steps 65
	$(BIN)/moss-agent blend --adapter build/stage3/adapter --adapter $(STAGE2) --weights 0.75,0.25 \
		--half --out build/stage3/blend
	@echo "adapter written to build/stage3/blend; copy it to finetune/adapters/default to ship it"

eval: install
	$(BIN)/moss-agent eval --cases finetune/assets/eval_cases.jsonl --json build/eval.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info test-output
