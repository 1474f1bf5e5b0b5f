# Everything `make test` needs is installed here, from nothing but python3, the package
# registries (PyPI, Debian) and root for apt-get.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SERVER_STAMP := $(VENV)/.llama-server

.PHONY: test lint fix demo bench adapter install clean browser server eval

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first, pinned: the CPU build lies on local disk; an unpinned torch would pull a CUDA
# build of several GB.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# llama.cpp's server, for the OpenAI-compatible backend's tests and benchmark. It builds from
# source (minutes); the multimodal library is left out because text completion never uses it.
# When it cannot build, its tests skip and say why.
$(SERVER_STAMP): $(STAMP)
	CMAKE_ARGS="-DLLAVA_BUILD=OFF" $(BIN)/pip install -q 'llama-cpp-python[server]>=0.3' \
		|| echo "warning: llama-cpp-python did not build; the llama.cpp server tests will skip"
	touch $(SERVER_STAMP)

server: $(SERVER_STAMP)

# Debian's Chromium for the end-to-end demo test (Playwright drives it; no browser download).
browser:
	scripts/install_browser.sh || echo "warning: no Chromium; the browser tests will skip"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

fix: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install lint browser server
	$(BIN)/python -m pytest

demo: install
	$(BIN)/moss-agent demo

bench: install server
	for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

# Reproduces the shipped default adapter from its seeds, in three stages: 450 steps from a fresh
# LoRA at lr 1e-3; 360 more at 5e-4 on 4,000 new conversations (another seed); 330 more at 4e-4
# on 3,000 conversations that oversample Calculate and Solve (--mix). On this project's 2 CPU
# cores the stages took 90, 78 and 58 minutes; a GPU takes minutes.
LORA := --max-length 448 --batch-size 4 --grad-accum 2 --top-layers 10 \
	--target-modules q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj \
	--eval-fraction 0.01 --eval-steps 0 --save-steps 25 --save-total-limit 4 --seed 0
MIX3 := Calculate=0.38,Solve=0.24,Search=0.10,none=0.15,disabled=0.04,multi=0.06,pair=0.03
adapter: install
	mkdir -p build
	$(BIN)/moss-agent synth --n 4000 --seed 7 --split train --out build/synth_train.jsonl
	$(BIN)/moss-agent synth --n 4000 --seed 8 --split train --out build/synth_train2.jsonl
	$(BIN)/moss-agent synth --n 3000 --seed 9 --split train --mix $(MIX3) \
		--out build/synth_train3.jsonl
	$(BIN)/moss-agent train --data build/synth_train.jsonl --out build/adapter_stage1 \
		--max-steps 450 --learning-rate 1e-3 $(LORA)
	$(BIN)/moss-agent train --data build/synth_train2.jsonl --out build/adapter_stage2 \
		--init-adapter build/adapter_stage1 --max-steps 360 --learning-rate 5e-4 $(LORA)
	$(BIN)/moss-agent train --data build/synth_train3.jsonl --out build/adapter \
		--init-adapter build/adapter_stage2 --max-steps 330 --learning-rate 4e-4 $(LORA) \
		--eval-steps 100 --save-total-limit 2
	@echo "adapter written to build/adapter; copy it to finetune/adapters/default to ship it"

eval: install
	$(BIN)/moss-agent eval --cases finetune/assets/eval_cases.jsonl --json build/eval.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info test-output
