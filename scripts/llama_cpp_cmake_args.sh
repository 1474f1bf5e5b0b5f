#!/bin/sh
# CMAKE_ARGS for building llama.cpp (llama-cpp-python) on this machine: the instruction sets
# /proc/cpuinfo lists, named one by one, and never AMX.
#
# Why not llama.cpp's default native build (-march=native): on Intel Xeons with AMX it compiles
# the AMX kernels in, repacks the weights into its AMX buffer at load, and the first matrix
# multiply then crashes (segmentation fault) on our 2-core Sapphire Rapids machines, in-process
# and in llama_cpp.server alike. Turning GGML_AMX_* off does not help while GGML_NATIVE is on:
# -march=native defines the AMX macros anyway. With GGML_NATIVE off, each instruction set is
# enabled only by its own flag below, and the AMX ones are left off. On AMD (AVX2 only, or
# AVX512-BF16) this gives the same instruction sets the native build used.
set -eu
flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
has() { case " $flags " in *" $1 "*) return 0 ;; esac; return 1; }
on() { if has "$1"; then printf ' -D%s=ON' "$2"; else printf ' -D%s=OFF' "$2"; fi; }

args="-DLLAVA_BUILD=OFF"
if [ -z "$flags" ] || [ "$(uname -m)" != x86_64 ]; then
    # Not x86 (or no cpuinfo): AMX cannot be there, the native build is safe.
    echo "$args"
    exit 0
fi
args="$args -DGGML_NATIVE=OFF"
args="$args$(on sse4_2 GGML_SSE42)$(on avx GGML_AVX)$(on avx2 GGML_AVX2)$(on bmi2 GGML_BMI2)"
args="$args$(on fma GGML_FMA)$(on f16c GGML_F16C)$(on avx_vnni GGML_AVX_VNNI)"
args="$args$(on avx512f GGML_AVX512)$(on avx512_vbmi GGML_AVX512_VBMI)"
args="$args$(on avx512_vnni GGML_AVX512_VNNI)$(on avx512_bf16 GGML_AVX512_BF16)"
args="$args -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
echo "$args"
