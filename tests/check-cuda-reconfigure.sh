#!/usr/bin/env bash
# A CUDA toolkit installed after the first configure must be found by the next
# one (the README's order on a fresh machine: `./build.sh train` configures
# without nvcc, `./build.sh test` installs it and configures again).
#
#   tests/check-cuda-reconfigure.sh BUILD_DIR
#
# Configures a separate build dir with nvcc hidden from PATH (expects no PTX and
# a NOTFOUND compiler in the cache, the state that used to stick), configures it
# again with nvcc visible, builds only the PTX and checks that there is one PTX
# file per kernel source, for the virtual architecture runtime/cmake/SharpmaxPtxArch.cmake
# picks for this nvcc's version. Exit 77 (a ctest skip) when nvcc is not on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${1:?usage: tests/check-cuda-reconfigure.sh BUILD_DIR}
CMAKE=${CMAKE:-cmake}
fail() { echo "FAIL: $*" >&2; exit 1; }

NVCC=$(command -v nvcc) || { echo "nvcc not on PATH: nothing to check"; exit 77; }
unset CUDACXX CUDA_PATH CUDAHOSTCXX

# PATH without nvcc: each PATH entry holding nvcc is replaced by a folder of
# links to everything in it but the CUDA tools.
rm -rf "$BUILD"; mkdir -p "$BUILD/hidden-path"
hidden_path=
IFS=: read -ra dirs <<< "$PATH"
for dir in "${dirs[@]}"; do
  if [[ -n $dir && -x $dir/nvcc ]]; then
    shadow="$BUILD/hidden-path/$(printf '%s' "$dir" | tr '/' '_')"
    mkdir -p "$shadow"
    for tool in "$dir"/*; do
      case ${tool##*/} in nvcc|nvcc.*|ptxas|cudafe++|fatbinary|nvlink|cuobjdump|nvdisasm) continue ;; esac
      ln -s "$tool" "$shadow/"
    done
    dir=$shadow
  fi
  hidden_path=${hidden_path:+$hidden_path:}$dir
done
PATH=$hidden_path command -v nvcc >/dev/null && fail "nvcc still visible on the hidden PATH"

configure() { "$CMAKE" -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release "-DSHARPMAX_NATIVE_DIR=$BUILD/native" > "$BUILD/$1.log" 2>&1 \
  || { cat "$BUILD/$1.log"; fail "configure ($1) failed"; }; }

echo "1. configure with nvcc hidden from PATH"
PATH=$hidden_path configure configure-without-nvcc
grep -q "Sharpmax: no CUDA compiler found" "$BUILD/configure-without-nvcc.log" || { cat "$BUILD/configure-without-nvcc.log"; fail "nvcc was found although hidden"; }
grep -qE "^CMAKE_CUDA_COMPILER:FILEPATH=(.*-)?NOTFOUND$" "$BUILD/CMakeCache.txt" \
  || fail "the cache does not record the failed search (CMAKE_CUDA_COMPILER NOTFOUND): this check no longer tests the case it was written for"

echo "2. configure again with nvcc on PATH ($NVCC)"
configure configure-with-nvcc
grep -E "^-- Sharpmax:" "$BUILD/configure-with-nvcc.log" | sed 's/^-- /   /'
grep -q "Sharpmax: CUDA compiler .*: building compute_[0-9]* PTX" "$BUILD/configure-with-nvcc.log" \
  || { cat "$BUILD/configure-with-nvcc.log"; fail "the second configure did not find the CUDA compiler that is now on PATH"; }

echo "3. build the PTX"
"$CMAKE" --build "$BUILD" --target sharpmax_ptx_copy -j"$(nproc)" > "$BUILD/build-ptx.log" 2>&1 || { tail -40 "$BUILD/build-ptx.log"; fail "PTX build failed"; }
version=$("$NVCC" --version | sed -nE 's/.*release [0-9.]+, V([0-9.]+).*/\1/p')
arch=$("$CMAKE" "-DVERSION=$version" -P "$ROOT/tests/cmake/ptx_arch_one.cmake" | sed -nE 's/^-- compute_([0-9]+)$/\1/p')
[[ -n $arch ]] || fail "no architecture for CUDA $version"
count=0
for cu in "$ROOT"/kernels/*.cu; do
  ptx="$BUILD/native/ptx/$(basename "${cu%.cu}").ptx"
  [[ -s $ptx ]] || fail "no PTX for $(basename "$cu") ($ptx)"
  grep -qE "^\.target sm_$arch\b" "$ptx" || fail "$ptx: $(grep -m1 -E '^\.target' "$ptx" || echo 'no .target'), expected sm_$arch (compute_$arch for CUDA $version)"
  count=$((count + 1))
done
echo "cuda reconfigure check: nvcc found on the second configure, $count PTX files for compute_$arch (CUDA $version)"
rm -rf "$BUILD"
