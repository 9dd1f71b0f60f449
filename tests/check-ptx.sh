#!/usr/bin/env bash
# Assembles every PTX file with ptxas for its own target (sm_70 or sm_75), sm_80 and sm_90, prints each
# kernel's register count, launch bounds and static shared memory, and fails if
#   - any kernel spills registers,
#   - an entry has no launch bounds (.maxntid, from SHARPMAX_MAX_THREADS): the
#     C# side launches every kernel within them (the driver refuses more, and so
#     does the CPU device, which reads the same .maxntid),
#   - a block of that many threads does not fit the 65536-register file
#     (registers are allocated per warp in units of 256: ⌈regs·32/256⌉·256),
#   - static shared memory exceeds the 48 KiB every GPU allows without opt-in.
set -euo pipefail
PTX_DIR=${1:-build/native/ptx}
if ! command -v ptxas >/dev/null; then echo "ptxas not found: install nvidia-cuda-toolkit" >&2; exit 1; fi
shopt -s nullglob
files=("$PTX_DIR"/*.ptx)
if [[ ${#files[@]} -eq 0 ]]; then echo "no PTX in $PTX_DIR" >&2; exit 1; fi
failures=0
declare -A regs smem bounds
kernels=()
# Launch bounds: the .maxntid line after each .entry.
for f in "${files[@]}"; do
  entry=
  while IFS= read -r line; do
    if [[ $line =~ \.entry\ ([A-Za-z0-9_]+) ]]; then entry=${BASH_REMATCH[1]}
    elif [[ -n $entry && $line =~ \.maxntid\ ([0-9]+),\ ([0-9]+),\ ([0-9]+) ]]; then
      bounds[$entry]=$((BASH_REMATCH[1] * BASH_REMATCH[2] * BASH_REMATCH[3])); entry=
    fi
  done < "$f"
done
# The oldest GPU the PTX serves is its .target (sm_70 from CUDA 11/12, sm_75 from
# CUDA 13: runtime/cmake/SharpmaxPtxArch.cmake); ptxas refuses older ones.
target=$(sed -nE 's/^\.target (sm_[0-9]+).*/\1/p' "${files[0]}" | head -1)
[[ -n $target ]] || { echo "no .target line in ${files[0]}" >&2; exit 1; }
archs=("$target")
for a in sm_80 sm_90; do [[ ${a#sm_} -gt ${target#sm_} ]] && archs+=("$a"); done
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
          echo "SPILL: $kernel on $arch: $line" >&2; failures=$((failures + 1))
        fi
      elif [[ $line =~ Used\ ([0-9]+)\ registers ]]; then
        regs[$kernel,$arch]=${BASH_REMATCH[1]}
        smem[$kernel]=0
        [[ $line =~ ([0-9]+)\ bytes\ smem ]] && smem[$kernel]=${BASH_REMATCH[1]}
      fi
    done <<< "$log"
  done
done
printf '%-48s' kernel; printf ' %6s' "${archs[@]}"; printf ' %8s %8s\n' threads smem
for k in "${kernels[@]}"; do
  threads=${bounds[$k]:-}
  printf '%-48s' "$k"; for arch in "${archs[@]}"; do printf ' %6s' "${regs[$k,$arch]:-?}"; done; printf ' %8s %8s\n' "${threads:-none}" "${smem[$k]:-?}"
  if [[ -z $threads ]]; then
    echo "NO BOUNDS: $k has no .maxntid (declare SHARPMAX_MAX_THREADS(n) before its name)" >&2; failures=$((failures + 1)); continue
  fi
  for arch in "${archs[@]}"; do
    r=${regs[$k,$arch]:-0}
    per_warp=$(( (r * 32 + 255) / 256 * 256 ))
    need=$(( per_warp * ((threads + 31) / 32) ))
    if (( need > 65536 )); then
      echo "REGISTERS: $k on $arch: $r registers × $threads threads need $need of 65536" >&2; failures=$((failures + 1))
    fi
  done
  if (( ${smem[$k]:-0} > 49152 )); then
    echo "SHARED: $k has ${smem[$k]} bytes of static shared memory, over 48 KiB" >&2; failures=$((failures + 1))
  fi
done
if [[ $failures -gt 0 ]]; then echo "$failures PTX check failures" >&2; exit 1; fi
echo "PTX check: ${#kernels[@]} kernels assembled for ${archs[*]} without spills, each within its launch bounds' register and shared-memory limits"
