#!/usr/bin/env bash
# Sharpmax build driver (Linux). build.ps1 does the same steps on Windows.
#
#   ./build.sh            install what is missing, build native parts and .NET
#   ./build.sh train ...  build, then train on Fashion-MNIST (args go to `sharpmax train`)
#   ./build.sh test       build (with PTX), then run every test; ends with "N passed, N failed, N skipped"
#   ./build.sh test STAGE...  only those stages of tests/run-all.sh (ptx golden native sanitize dotnet bench gpu-check)
#   ./build.sh bench ...  build, then run the benchmark harness (args go to it)
#   ./build.sh run ...    build, then run the sharpmax CLI with the given args
#   ./build.sh gpu-bundle build (with PTX), then the GPU check's bundle in build/gpu-bundle (docs/gpu-check.md)
#
# Environment: SHARPMAX_NO_INSTALL=1 skips package installation;
#              SHARPMAX_CUDA=0 skips the CUDA toolkit (no PTX; the CPU device binds kernels by name).
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$PWD
COMMAND=${1:-build}
[[ $# -gt 0 ]] && shift

say() { printf '==> %s\n' "$*"; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "error: '$*' needs root (or sudo)" >&2; exit 1
  fi
}

apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  say "installing Debian packages: ${missing[*]}"
  if [[ -z ${APT_UPDATED:-} ]]; then as_root apt-get update -q >/dev/null; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
}

install_dependencies() {
  local want_cuda=$1
  if [[ ${SHARPMAX_NO_INSTALL:-0} == 1 ]]; then say "SHARPMAX_NO_INSTALL=1: not installing packages"; return; fi
  if ! command -v apt-get >/dev/null; then say "not a Debian system: install cmake, a C++ compiler, Boost.Context, GoogleTest and the .NET 10 SDK yourself"; return; fi
  apt_install cmake make g++ clang-14 libboost-context-dev libgtest-dev libopenblas0 python3-numpy dataset-fashion-mnist
  if [[ $want_cuda == 1 && ${SHARPMAX_CUDA:-1} != 0 ]] && ! command -v nvcc >/dev/null; then
    # Debian ships the CUDA toolkit in the non-free component; enable it explicitly.
    # "non-free" as a whole word: Debian 12 installs list "non-free-firmware", which does not hold the toolkit.
    if ! grep -rqsE "non-free([[:space:]]|$)" /etc/apt/sources.list /etc/apt/sources.list.d/; then
      say "enabling Debian's contrib and non-free components for nvidia-cuda-toolkit (/etc/apt/sources.list.d/sharpmax-non-free.sources)"
      local codename; codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
      as_root tee /etc/apt/sources.list.d/sharpmax-non-free.sources >/dev/null <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: $codename $codename-updates
Components: contrib non-free
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
      APT_UPDATED=
    fi
    say "installing nvidia-cuda-toolkit (CUDA 11.8, about 1.5 GB) to build PTX"
    apt_install nvidia-cuda-toolkit
  fi
  if ! command -v dotnet >/dev/null; then echo "error: the .NET 10 SDK (dotnet) is not installed" >&2; exit 1; fi
}

build_native() {
  say "building the host library (CPU device) and PTX"
  cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=Release >"$ROOT/build-cmake.log" 2>&1 || { cat "$ROOT/build-cmake.log"; exit 1; }
  grep -E "^-- Sharpmax:" "$ROOT/build-cmake.log" | sed 's/^-- /    /'
  cmake --build "$ROOT/build" -j"$(nproc)" 2>&1 | grep -E "error|warning|Error" || true
  cmake --build "$ROOT/build" -j"$(nproc)" >/dev/null
  rm -f "$ROOT/build-cmake.log"
  if ls "$ROOT"/build/native/ptx/*.ptx >/dev/null 2>&1; then
    say "PTX: $(ls "$ROOT"/build/native/ptx/*.ptx | wc -l) files in build/native/ptx"
  else
    say "no CUDA compiler: PTX not built; the CPU device binds kernels by name"
  fi
}

build_dotnet() {
  say "building the .NET solution"
  dotnet build "$ROOT/Sharpmax.slnx" -c Release -v quiet -nologo | grep -E "error|warn" || true
  dotnet build "$ROOT/Sharpmax.slnx" -c Release -v quiet -nologo >/dev/null
}

# The CLI and the bench run from a ReadyToRun publish (framework-dependent, for this machine's runtime): their code
# and Sharpmax's is compiled ahead of time, so a run does not spend its start and first epoch in the JIT (10 epochs
# of softmax regression in the bench: 0.27-0.30 s against 0.36-0.37 s from bin/; bench/README.md). The tests run
# the plain build in bin/.
publish_ready_to_run() {
  local project=$1 out=$2
  say "publishing $(basename "$project" .csproj) ReadyToRun to ${out#"$ROOT"/}"
  dotnet publish "$project" -c Release --use-current-runtime --self-contained false -p:PublishReadyToRun=true \
    -o "$out" -v quiet -nologo | grep -E "error|warn" || true
  [[ -f $out/$(basename "$project" .csproj).dll ]] || { echo "error: publishing $project failed" >&2; exit 1; }
}

case $COMMAND in
  build)
    install_dependencies 1
    build_native
    build_dotnet
    ;;
  train|run)
    install_dependencies "${SHARPMAX_CUDA:-0}"
    build_native
    publish_ready_to_run "$ROOT/src/Sharpmax.Cli/Sharpmax.Cli.csproj" "$ROOT/build/publish/cli"
    [[ $COMMAND == train ]] && set -- train "$@"
    exec dotnet "$ROOT/build/publish/cli/Sharpmax.Cli.dll" "$@"
    ;;
  test)
    install_dependencies 1
    build_native
    build_dotnet
    exec "$ROOT/tests/run-all.sh" "$@"
    ;;
  bench)
    install_dependencies "${SHARPMAX_CUDA:-0}"
    # The PyTorch baseline of the end-to-end comparison (143 MB download, 610 MB installed; the harness skips it, saying so, when absent).
    if [[ ${SHARPMAX_NO_INSTALL:-0} != 1 ]] && command -v apt-get >/dev/null; then apt_install python3-torch; fi
    build_native
    publish_ready_to_run "$ROOT/bench/Sharpmax.Bench/Sharpmax.Bench.csproj" "$ROOT/build/publish/bench"
    exec dotnet "$ROOT/build/publish/bench/Sharpmax.Bench.dll" "$@"
    ;;
  gpu-bundle)
    install_dependencies 1
    build_native
    build_dotnet
    exec "$ROOT/tests/gpu-check/make-bundle.sh" "$@"
    ;;
  *)
    echo "usage: ./build.sh [build|train|test|bench|run|gpu-bundle] [args...]" >&2
    exit 2
    ;;
esac
