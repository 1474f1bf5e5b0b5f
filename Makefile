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

# Reproduces the shipped default adapter from its seeds, in three stages (flags as they ran):
# 1. a fresh LoRA on every layer, 1,000 steps of 32 at lr 1e-3 over 31,000 conversations
#    (seeds 7-14: the default mix, MIX3 and MIX4, which oversample Calculate and Solve);
# 2. 750 more steps at lr 4e-4 over the same data, shuffled by another seed;
# 3. 80 steps of 8 at lr 2e-4 on 1,200 new conversations heavy in no-tool chat (MIX5).
# Stages 1 and 2 ran on one H200 GPU (9 minutes together); on this project's 2 CPU cores they
# would take about a day and a half (estimated from stage 3's 19 s per step of 8). Stage 3 ran
# on those 2 CPU cores (25 minutes).
SYNTH = $(BIN)/moss-agent synth --split train
MIX3 := Calculate=0.38,Solve=0.24,Search=0.10,none=0.15,disabled=0.04,multi=0.06,pair=0.03
MIX4 := Calculate=0.34,Solve=0.20,Search=0.15,none=0.15,disabled=0.05,multi=0.08,pair=0.03
MIX5 := Calculate=0.26,Solve=0.16,Search=0.16,none=0.07,chat=0.20,disabled=0.05,multi=0.07,pair=0.03
LORA := --top-layers 0 --target-modules q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj \
	--max-length 448 --eval-steps 0
STAGE12_DATA = $(foreach s,7 8 9 10 11 12 13 14,build/synth/s$(s).jsonl)
adapter: install
	mkdir -p build/synth
	$(SYNTH) --n 4000 --seed 7 --out build/synth/s7.jsonl
	$(SYNTH) --n 4000 --seed 8 --out build/synth/s8.jsonl
	$(SYNTH) --n 3000 --seed 9 --mix $(MIX3) --out build/synth/s9.jsonl
	for s in 10 11 12 13 14; do \
		$(SYNTH) --n 4000 --seed $$s --mix $(MIX4) --out build/synth/s$$s.jsonl || exit 1; done
	$(SYNTH) --n 1200 --seed 15 --mix $(MIX5) --out build/synth/s15.jsonl
	$(BIN)/moss-agent train --data $(STAGE12_DATA) --out build/adapter_stage1 $(LORA) \
		--batch-size 32 --grad-accum 1 --max-steps 1000 --learning-rate 1e-3 --seed 0 \
		--eval-fraction 0.01 --logging-steps 50 --save-steps 150 --save-total-limit 1
	$(BIN)/moss-agent train --data $(STAGE12_DATA) --out build/adapter_stage2 $(LORA) \
		--init-adapter build/adapter_stage1 --batch-size 32 --grad-accum 1 --max-steps 750 \
		--learning-rate 4e-4 --seed 1 --eval-fraction 0.01 --logging-steps 50 --save-steps 0
	$(BIN)/moss-agent train --data build/synth/s15.jsonl --out build/adapter $(LORA) \
		--init-adapter build/adapter_stage2 --batch-size 4 --grad-accum 2 --max-steps 80 \
		--learning-rate 2e-4 --seed 0 --eval-fraction 0.02 --save-steps 20 --save-total-limit 2 \
		--logging-steps 10
	@echo "adapter written to build/adapter; copy it to finetune/adapters/default to ship it"

eval: install
	$(BIN)/moss-agent eval --cases finetune/assets/eval_cases.jsonl --json build/eval.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info test-output
