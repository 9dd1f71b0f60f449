#!/usr/bin/env bash
# Assembles every PTX file with ptxas for the PTX's own target (sm_70 from
# CUDA 11/12, sm_75 from CUDA 13: cmake/SharpmaxPtxArch.cmake), sm_80 and sm_90,
# prints each kernel's register count, and fails if any kernel spills registers.
set -euo pipefail
PTX_DIR=${1:-build/native/ptx}
if ! command -v ptxas >/dev/null; then echo "ptxas not found: install nvidia-cuda-toolkit" >&2; exit 1; fi
shopt -s nullglob
files=("$PTX_DIR"/*.ptx)
if [[ ${#files[@]} -eq 0 ]]; then echo "no PTX in $PTX_DIR" >&2; exit 1; fi
# The oldest GPU the PTX serves is its .target; ptxas refuses older ones.
target=$(sed -nE 's/^\.target (sm_[0-9]+).*/\1/p' "${files[0]}" | head -1)
[[ -n $target ]] || { echo "no .target line in ${files[0]}" >&2; exit 1; }
archs=("$target")
for arch in sm_80 sm_90; do [[ ${arch#sm_} -gt ${target#sm_} ]] && archs+=("$arch"); done
spills=0
printf '%-48s' kernel; printf ' %6s' "${archs[@]}"; printf '\n'
declare -A regs
kernels=()
for arch in "${archs[@]}"; do
  for f in "${files[@]}"; do
    log=$(ptxas -arch=$arch -v "$f" -o /dev/null 2>&1) || { echo "$log" >&2; echo "ptxas failed on $f for $arch" >&2; exit 1; }
    kernel=
    while IFS= read -r line; do
      if [[ $line =~ Compiling\ entry\ function\ \'([A-Za-z0-9_]+)\' ]]; then
        kernel=${BASH_REMATCH[1]}
        [[ -z ${regs[$kernel,seen]:-} ]] && { kernels+=("$kernel"); regs[$kernel,seen]=1; }
      elif [[ $line =~ ([0-9]+)\ bytes\ spill\ stores,\ ([0-9]+)\ bytes\ spill\ loads ]]; then
        if [[ ${BASH_REMATCH[1]} != 0 || ${BASH_REMATCH[2]} != 0 ]]; then
          echo "SPILL: $kernel on $arch: $line" >&2; spills=$((spills + 1))
        fi
      elif [[ $line =~ Used\ ([0-9]+)\ registers ]]; then
        regs[$kernel,$arch]=${BASH_REMATCH[1]}
      fi
    done <<< "$log"
  done
done
for k in "${kernels[@]}"; do
  printf '%-48s' "$k"; for arch in "${archs[@]}"; do printf ' %6s' "${regs[$k,$arch]:-?}"; done; printf '\n'
done
if [[ $spills -gt 0 ]]; then echo "$spills kernel/arch pairs spill registers" >&2; exit 1; fi
echo "PTX check: ${#kernels[@]} kernels assembled for ${archs[*]} without spills"
