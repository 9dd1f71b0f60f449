#!/usr/bin/env bash
# Proves Sharpmax's CUDA path on a GPU machine in one command, from the repository root, with the bundle that
# `./build.sh gpu-bundle` made (build/gpu-bundle) carried along; no .NET SDK or network needed there. CI runs the
# same script with --device cpu, so it cannot rot. docs/gpu-check.md says how to run it.
#
#   tests/gpu-check/gpu-check.sh [--device cuda|cpu] [--deadline SECONDS] [--stage NAME]... [--bundle DIR] [--out DIR]
#
# Stages, in priority order (each also alone with --stage NAME; repeat --stage for several):
#   identity   device identity; driver-JIT registers/shared/local bytes of every kernel      -> kernels.csv
#   tests      the device fixtures of Sharpmax.Tests other than the op tests                  -> tests.log
#   kernels    the op fixtures: every kernel against the float64 reference at edge shapes     -> tests.log
#   train      10 epochs (1 on the CPU device) vs the CPU device's reference metrics.csv      -> train-metrics.csv
#   bench      event-timed bandwidth, 256 MiB shapes and L2 flush on a GPU                    -> bench.md
#   sanitizer  compute-sanitizer memcheck, racecheck, synccheck, initcheck (GPU only)         -> sanitizer.log
#   ncu        Nsight Compute: DRAM throughput and occupancy of the main kernels (GPU only)    -> ncu.csv
#   ptx13      the PTX rebuilt by this machine's nvcc, assembled for its GPU (GPU only)        -> stages.log
# Writes at most 8 files to $OUT when set, else to --out (default build/gpu-check), summary.md first. Every stage
# runs under `timeout` within one overall deadline (default 400 s); a failed, hung or skipped stage never stops the
# next, and summary.md is always written. Exit code 0 when no stage failed or timed out.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
DEVICE=cuda DEADLINE=400 BUNDLE=$ROOT/build/gpu-bundle OUTDIR=${OUT:-$ROOT/build/gpu-check}
ALL_STAGES=(identity tests kernels train bench sanitizer ncu ptx13)
SELECTED=()
usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --device) DEVICE=${2:-}; shift 2 ;;
    --deadline) DEADLINE=${2:-}; shift 2 ;;
    --stage) SELECTED+=("${2:-}"); shift 2 ;;
    --bundle) BUNDLE=${2:-}; shift 2 ;;
    --out) OUTDIR=${2:-}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "gpu-check: error: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
[[ $DEVICE == cuda || $DEVICE == cpu ]] || { echo "gpu-check: error: --device must be cuda or cpu, not '$DEVICE'" >&2; exit 2; }
[[ $DEADLINE =~ ^[0-9]+$ && $DEADLINE -ge 10 ]] || { echo "gpu-check: error: --deadline must be a whole number of seconds >= 10, not '$DEADLINE'" >&2; exit 2; }
for s in "${SELECTED[@]}"; do
  [[ " ${ALL_STAGES[*]} " == *" $s "* ]] || { echo "gpu-check: error: unknown stage '$s' (stages: ${ALL_STAGES[*]})" >&2; exit 2; }
done
[[ ${#SELECTED[@]} -eq 0 ]] && SELECTED=("${ALL_STAGES[@]}")

mkdir -p "$OUTDIR" || exit 2
rm -f "$OUTDIR"/{summary.md,tests.log,kernels.csv,train-metrics.csv,bench.md,sanitizer.log,ncu.csv,stages.log}
LOG=$OUTDIR/stages.log
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sharpmax-gpucheck.XXXXXX")
START=$SECONDS
declare -A OUTCOME SECS DETAIL
ORDER=()

note() { printf '%s\n' "$*" | tee -a "$LOG"; }
remaining() { echo $((DEADLINE - (SECONDS - START))); }

write_summary() {
  local s total=$((SECONDS - START)) failed=0
  {
    echo "# Sharpmax GPU check: --device $DEVICE"
    echo
    echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $(date -u +%FT%TZ), $(uname -n); ${total} s of a ${DEADLINE} s deadline"
    [[ -f $BUNDLE/MANIFEST.txt ]] && echo "bundle: $(head -1 "$BUNDLE/MANIFEST.txt"); $(grep '^bundle total' "$BUNDLE/MANIFEST.txt")"
    echo
    echo "| stage | outcome | s | detail |"
    echo "|---|---|---:|---|"
    for s in "${ORDER[@]}"; do
      echo "| $s | ${OUTCOME[$s]} | ${SECS[$s]} | ${DETAIL[$s]//|/\\|} |"
      [[ ${OUTCOME[$s]} == failed || ${OUTCOME[$s]} == "timed out" ]] && failed=$((failed + 1))
    done
    echo
    if [[ -f $WORK/identity.txt ]]; then echo '## Device'; echo; sed 's/^/    /' "$WORK/identity.txt" | head -12; echo; fi
    if [[ -f $OUTDIR/kernels.csv ]]; then
      echo "## Kernels (kernels.csv: $(($(wc -l <"$OUTDIR/kernels.csv") - 1)) entries)"; echo
      awk -F, 'NR > 1 && $3 ~ /^[0-9]+$/ { n++; if ($3 > r) { r = $3; k = $2 } if ($5 > 0) spill = spill " " $2 }
               END { if (n) printf "most registers: %s (%d); local memory (spills): %s\n", k, r, spill == "" ? "none" : spill;
                     else print "no driver figures (see kernels.csv)" }' "$OUTDIR/kernels.csv"
      echo
    fi
    if [[ -f $OUTDIR/bench.md ]]; then echo '## Bench'; echo; grep '^|' "$OUTDIR/bench.md" | head -16; echo; fi
    echo "Files: summary.md, tests.log, kernels.csv, train-metrics.csv, bench.md, sanitizer.log, ncu.csv, stages.log (those the stages wrote)."
    echo
    echo "Result: $([[ $failed -eq 0 ]] && echo PASSED || echo "FAILED ($failed stage(s))")"
  } >"$OUTDIR/summary.md.tmp" && mv "$OUTDIR/summary.md.tmp" "$OUTDIR/summary.md"
  return $failed
}

finish() {
  write_summary; local failed=$?
  rm -rf "$WORK"
  cat "$OUTDIR/summary.md"
  echo "gpu-check: results in $OUTDIR"
  exit $((failed > 0 ? 1 : 0))
}
trap 'note "gpu-check: interrupted"; finish' INT TERM

record() {  # stage outcome seconds detail
  ORDER+=("$1"); OUTCOME[$1]=$2; SECS[$1]=$3; DETAIL[$1]=$4
  note "--- $1: $2 (${3} s) ${4}"
}

# run_stage NAME BUDGET FUNCTION: runs FUNCTION under what is left of both its budget and the deadline.
run_stage() {
  local name=$1 budget=$2 fn=$3 left t0 rc
  [[ " ${SELECTED[*]} " == *" $name "* ]] || return 0
  left=$(remaining)
  if [[ $left -lt 15 ]]; then record "$name" skipped 0 "skipped: the ${DEADLINE} s deadline is spent"; return 0; fi
  STAGE_TIMEOUT=$((budget < left - 5 ? budget : left - 5))
  note "=== $name (timeout ${STAGE_TIMEOUT} s, ${left} s left)"
  STAGE_DETAIL="" t0=$SECONDS
  "$fn"; rc=$?
  local took=$((SECONDS - t0))
  case $rc in
    0) record "$name" passed "$took" "$STAGE_DETAIL" ;;
    124|137) record "$name" "timed out" "$took" "timed out after ${STAGE_TIMEOUT} s. $STAGE_DETAIL" ;;
    200) record "$name" skipped "$took" "$STAGE_DETAIL" ;;
    *) record "$name" failed "$took" "exit $rc. $STAGE_DETAIL" ;;
  esac
}

limited() { timeout -k 10 "$STAGE_TIMEOUT" "$@"; }     # the current stage's command under its timeout
gpu_only() { [[ $DEVICE == cuda ]] && return 1; STAGE_DETAIL="skipped: no GPU (--device cpu)"; return 0; }
last_line() { grep -v '^\s*$' "$1" 2>/dev/null | tail -1 | cut -c1-200; }

# --- the bundle: unpacked once into a temp dir --------------------------------------------------------------
RUNNER="" DATA=""
if [[ -f $BUNDLE/app.tar.xz ]]; then
  if tar -C "$WORK" -xJf "$BUNDLE/app.tar.xz" 2>>"$LOG"; then RUNNER=$WORK/app/Sharpmax.GpuCheck; fi
  DATA=$BUNDLE/fashion-mnist
fi
need_runner() { [[ -x $RUNNER ]] && return 0; STAGE_DETAIL="no runner: $BUNDLE/app.tar.xz missing or unreadable (./build.sh gpu-bundle makes it)"; return 1; }
export FASHION_MNIST_DIR=$DATA DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_gcServer=0

# Op tests for the sanitizers and the CPU device: the edge shapes up to C = 1000 (the large rows are the GPU's job).
SMALL_ONLY='C=(20000|30000|65537|262144)'

stage_identity() {
  need_runner || return 1
  limited "$RUNNER" identity --device "$DEVICE" --csv "$OUTDIR/kernels.csv" >"$WORK/identity.txt" 2>&1; local rc=$?
  cat "$WORK/identity.txt" >>"$LOG"
  STAGE_DETAIL=$(grep -m1 '^device:' "$WORK/identity.txt" | cut -c1-160); STAGE_DETAIL="$STAGE_DETAIL; $(grep '^kernels:' "$WORK/identity.txt" | cut -c1-120)"
  [[ $rc -ne 0 ]] && STAGE_DETAIL=$(last_line "$WORK/identity.txt")
  return $rc
}

run_fixtures() {  # label, runner test options...
  local label=$1; shift
  need_runner || return 1
  local extra=(); [[ $DEVICE == cuda ]] && extra=(--require-run)
  echo "=== $label" >>"$OUTDIR/tests.log"
  limited "$RUNNER" tests --device "$DEVICE" "${extra[@]}" --work "$WORK/tests" "$@" >"$WORK/$label.log" 2>&1; local rc=$?
  cat "$WORK/$label.log" >>"$OUTDIR/tests.log"
  STAGE_DETAIL=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$WORK/$label.log" | tail -1)
  [[ -z $STAGE_DETAIL ]] && STAGE_DETAIL=$(last_line "$WORK/$label.log")
  return $rc
}

stage_tests() { run_fixtures tests --exclude 'Sharpmax\.Tests\.Ops\.'; }

stage_kernels() {
  if [[ $DEVICE == cuda ]]; then run_fixtures kernels --include 'Sharpmax\.Tests\.Ops\.'
  else run_fixtures kernels --include 'Sharpmax\.Tests\.Ops\.' --exclude "$SMALL_ONLY"; fi
}

stage_train() {
  need_runner || return 1
  local epochs=10; [[ $DEVICE == cpu ]] && epochs=1
  [[ -f $BUNDLE/reference-metrics.csv ]] || { STAGE_DETAIL="no $BUNDLE/reference-metrics.csv"; return 1; }
  limited "$RUNNER" sharpmax train --epochs $epochs --seed 0 --device "$DEVICE" --data "$DATA" --out "$WORK/train" >"$WORK/train.log" 2>&1; local rc=$?
  cat "$WORK/train.log" >>"$LOG"
  if [[ $rc -ne 0 ]]; then STAGE_DETAIL="sharpmax train: $(last_line "$WORK/train.log")"; return $rc; fi
  # Tolerances: docs/gpu-check.md (accuracy 0.5 points absolute, loss 1e-3 relative, per epoch).
  "$RUNNER" compare-metrics --device "$DEVICE" --actual "$WORK/train/metrics.csv" --reference "$BUNDLE/reference-metrics.csv" \
    --accuracy-tolerance 0.005 --loss-tolerance 1e-3 >"$OUTDIR/train-metrics.csv" 2>&1; rc=$?
  STAGE_DETAIL="$epochs epoch(s), test accuracy $(tail -1 "$WORK/train/metrics.csv" | cut -d, -f5); $(last_line "$OUTDIR/train-metrics.csv")"
  return $rc
}

stage_bench() {
  need_runner || return 1
  limited "$RUNNER" bench --device "$DEVICE" --quick --md "$OUTDIR/bench.md" >"$WORK/bench.log" 2>&1; local rc=$?
  cat "$WORK/bench.log" >>"$LOG"
  STAGE_DETAIL=$(grep -c '^| softmax fused' "$WORK/bench.log") ; STAGE_DETAIL="$STAGE_DETAIL fused-softmax shapes timed and validated"
  [[ $rc -ne 0 ]] && STAGE_DETAIL=$(last_line "$WORK/bench.log")
  return $rc
}

stage_sanitizer() {
  gpu_only && return 200
  need_runner || return 1
  command -v compute-sanitizer >/dev/null || { STAGE_DETAIL="compute-sanitizer not found"; return 1; }
  local tool rc=0 bad=() per=$((STAGE_TIMEOUT / 5))
  for tool in memcheck racecheck synccheck initcheck; do
    echo "=== compute-sanitizer --tool $tool: op fixtures up to C = 1000" >>"$OUTDIR/sanitizer.log"
    timeout -k 10 "$per" compute-sanitizer --tool "$tool" --error-exitcode 99 --print-limit 20 \
      "$RUNNER" tests --device cuda --require-run --work "$WORK/tests" --include 'Sharpmax\.Tests\.Ops\.' --exclude "$SMALL_ONLY" \
      >>"$OUTDIR/sanitizer.log" 2>&1 || { rc=1; bad+=("$tool($?)"); }
  done
  echo "=== compute-sanitizer --tool memcheck: one training epoch" >>"$OUTDIR/sanitizer.log"
  timeout -k 10 "$per" compute-sanitizer --tool memcheck --error-exitcode 99 --print-limit 20 \
    "$RUNNER" sharpmax train --epochs 1 --seed 0 --device cuda --quiet --data "$DATA" --out "$WORK/train-sanitized" \
    >>"$OUTDIR/sanitizer.log" 2>&1 || { rc=1; bad+=("train-memcheck($?)"); }
  STAGE_DETAIL=$([[ $rc -eq 0 ]] && echo "memcheck, racecheck, synccheck, initcheck clean; one epoch memcheck clean" || echo "failed: ${bad[*]} (99: errors found, 124: timed out; sanitizer.log)")
  return $rc
}

stage_ncu() {
  gpu_only && return 200
  need_runner || return 1
  command -v ncu >/dev/null || { STAGE_DETAIL="ncu not found"; return 1; }
  local metrics=gpu__time_duration.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed,dram__bytes.sum.per_second,sm__warps_active.avg.pct_of_peak_sustained_active,sm__maximum_warps_per_active_cycle_pct
  # The bench's 256 MiB softmax kernels, then the kernels of training steps (past the first 200 launches).
  limited ncu --csv --metrics "$metrics" --kernel-name 'regex:softmax|xent' --launch-count 12 \
    "$RUNNER" bench --device cuda --quick --md "$WORK/ncu-bench.md" >"$WORK/ncu1.csv" 2>"$WORK/ncu1.err"; local rc=$?
  limited ncu --csv --metrics "$metrics" --launch-skip 200 --launch-count 12 \
    "$RUNNER" sharpmax train --epochs 1 --seed 0 --device cuda --quiet --data "$DATA" --out "$WORK/train-ncu" >"$WORK/ncu2.csv" 2>"$WORK/ncu2.err"; local rc2=$?
  grep -h '^"' "$WORK/ncu1.csv" "$WORK/ncu2.csv" | awk '!(NR > 1 && /^"ID"/)' >"$OUTDIR/ncu.csv"
  cat "$WORK"/ncu*.err >>"$LOG"
  STAGE_DETAIL="$(($(wc -l <"$OUTDIR/ncu.csv") - 1)) metric rows (ncu.csv)"
  [[ $rc -eq 0 ]] && rc=$rc2
  return $rc
}

stage_ptx13() {
  gpu_only && return 200
  command -v nvcc >/dev/null || { STAGE_DETAIL="nvcc not found"; return 1; }
  local cc; cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d .)
  [[ -n $cc ]] || cc=90
  local f rc=0 n=0
  for f in kernels/*.cu; do
    limited nvcc -cubin -arch=sm_$cc -O3 -Xptxas -v -I kernels -o "$WORK/$(basename "$f" .cu).cubin" "$f" >>"$LOG" 2>&1 || rc=1
    n=$((n + 1))
  done
  STAGE_DETAIL="$(nvcc --version | tail -2 | head -1 | cut -c1-60): $n files for sm_$cc, $(grep -c 'bytes spill stores' "$LOG" 2>/dev/null) ptxas reports; spills: $(grep -E '[1-9][0-9]* bytes spill stores' "$LOG" | wc -l)"
  return $rc
}

note "gpu-check: --device $DEVICE, deadline ${DEADLINE} s, stages: ${SELECTED[*]}, bundle $BUNDLE, out $OUTDIR"
run_stage identity 40 stage_identity
run_stage tests 90 stage_tests
run_stage kernels 100 stage_kernels
run_stage train 80 stage_train
run_stage bench 60 stage_bench
run_stage sanitizer 150 stage_sanitizer
run_stage ncu 90 stage_ncu
run_stage ptx13 40 stage_ptx13
finish
