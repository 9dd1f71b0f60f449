#!/usr/bin/env bash
# Runs every test of the project after ./build.sh has built it (./build.sh test
# calls this). Ends with the totals line "N passed, N failed, N skipped".
#
#   tests/run-all.sh                 every stage
#   tests/run-all.sh STAGE...        only those (./build.sh test STAGE... passes them on):
#     ptx golden native sanitize dotnet bench gpu-check
set -uo pipefail
cd "$(dirname "$0")/.."
ALL_STAGES=(ptx golden native sanitize dotnet bench gpu-check)
for stage in "$@"; do
  if [[ " ${ALL_STAGES[*]} " != *" $stage "* ]]; then
    echo "error: unknown test stage '$stage'; the stages are: ${ALL_STAGES[*]}" >&2
    exit 2
  fi
done
STAGES=("$@")
wants() { [[ ${#STAGES[@]} -eq 0 || " ${STAGES[*]} " == *" $1 "* ]]; }
[[ ${#STAGES[@]} -gt 0 ]] && printf '==> only the stages: %s\n' "${STAGES[*]}"
# The CPU device runs in its checked mode in every test (runtime/README.md).
export SHARPMAX_CHECKED=1
ROOT=$PWD
LOGS=$ROOT/build/test-logs
mkdir -p "$LOGS"
passed=0 failed=0 skipped=0 gate_failures=0
say() { printf '==> %s\n' "$*"; }

if wants ptx; then
  # 1. PTX: assemble for the PTX's target (sm_70, or sm_75 from CUDA 13), sm_80 and sm_90, print registers, fail on spills.
  if command -v nvcc >/dev/null; then
    say "PTX check (ptxas for the PTX's target, sm_80, sm_90)"
    tests/check-ptx.sh build/native/ptx || gate_failures=$((gate_failures + 1))
  else
    say "PTX check skipped: no CUDA toolkit (./build.sh test installs it on Debian)"
  fi
fi

if wants golden; then
  # 2. Golden data: the committed NumPy script must reproduce the committed CSVs.
  if [[ -f tests/golden/make_golden.py ]] && /usr/bin/python3 -c "import numpy" 2>/dev/null; then
    say "regenerating NumPy golden cases"
    if /usr/bin/python3 tests/golden/make_golden.py >"$LOGS/golden.log" 2>&1 && git diff --quiet --exit-code -- tests/golden 2>/dev/null; then
      echo "golden cases unchanged"
    else
      cat "$LOGS/golden.log"; git diff --stat -- tests/golden
      echo "error: tests/golden differs from what tests/golden/make_golden.py produces" >&2
      gate_failures=$((gate_failures + 1))
    fi
  fi
fi

count_ctest() {  # "…% tests passed, F tests failed out of T"; skipped ones are listed as "N - name (Skipped)"
  local log=$1 line skips
  skips=$(grep -cE "^[[:space:]]*[0-9]+ - .* \(Skipped\)$" "$log")
  line=$(grep -E "tests failed out of" "$log" | tail -1)
  if [[ $line =~ ([0-9]+)\ tests\ failed\ out\ of\ ([0-9]+) ]]; then
    failed=$((failed + BASH_REMATCH[1])); passed=$((passed + BASH_REMATCH[2] - BASH_REMATCH[1] - skips)); skipped=$((skipped + skips))
  else
    gate_failures=$((gate_failures + 1))
  fi
}

if wants native; then
  # 3. Native tests of the CPU grid runtime and the C embedding example.
  say "native tests (ctest)"
  ctest --test-dir build --output-on-failure -j2 >"$LOGS/ctest.log" 2>&1
  tail -3 "$LOGS/ctest.log"; grep -E "\*\*\*Failed|Not Run" "$LOGS/ctest.log" || true
  count_ctest "$LOGS/ctest.log"
fi

if wants sanitize; then
  # 4. The same native tests under AddressSanitizer and UBSan.
  say "native tests under AddressSanitizer + UBSan"
  if cmake -S . -B build-sanitize -DSHARPMAX_SANITIZE=ON -DSHARPMAX_PTX=OFF -DSHARPMAX_NATIVE_DIR="$ROOT/build-sanitize/native" >"$LOGS/sanitize-build.log" 2>&1 \
     && cmake --build build-sanitize -j"$(nproc)" >>"$LOGS/sanitize-build.log" 2>&1; then
    ctest --test-dir build-sanitize --output-on-failure -j2 >"$LOGS/ctest-sanitize.log" 2>&1
    tail -3 "$LOGS/ctest-sanitize.log"; grep -E "\*\*\*Failed|Not Run|ERROR: AddressSanitizer|runtime error" "$LOGS/ctest-sanitize.log" || true
    count_ctest "$LOGS/ctest-sanitize.log"
    # The kernels under the sanitizers too: the op and device tests, run by .NET
    # against the instrumented host library (the runtimes are preloaded; .NET's
    # own allocations are not ours to leak-check).
    say "kernel tests (.NET ops and device) under AddressSanitizer + UBSan"
    ASAN_OPTIONS=detect_leaks=0 LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
      SHARPMAX_HOST_LIBRARY="$ROOT/build-sanitize/native/lib/libsharpmax_host.so" \
      dotnet test tests/Sharpmax.Tests/Sharpmax.Tests.csproj -c Release --no-build -nologo \
        --filter "FullyQualifiedName~Sharpmax.Tests.Ops|FullyQualifiedName~Sharpmax.Tests.DeviceTests" >"$LOGS/dotnet-test-sanitize.log" 2>&1
    grep -E "^\s+Failed |AddressSanitizer|runtime error" -A3 "$LOGS/dotnet-test-sanitize.log" | head -60
    summary=$(grep -E "(Passed|Failed)! +- Failed:" "$LOGS/dotnet-test-sanitize.log" | tail -1)
    echo "$summary"
    if [[ $summary =~ Failed:\ +([0-9]+),\ Passed:\ +([0-9]+),\ Skipped:\ +([0-9]+) ]]; then
      failed=$((failed + BASH_REMATCH[1])); passed=$((passed + BASH_REMATCH[2])); skipped=$((skipped + BASH_REMATCH[3]))
    else
      echo "error: the sanitized .NET run ended without a summary (see $LOGS/dotnet-test-sanitize.log)" >&2
      gate_failures=$((gate_failures + 1))
    fi
  else
    tail -20 "$LOGS/sanitize-build.log"; gate_failures=$((gate_failures + 1))
  fi
fi

if wants dotnet; then
  # 5. The .NET tests (NUnit): ops against the references, on every device.
  say "dotnet test"
  dotnet test tests/Sharpmax.Tests/Sharpmax.Tests.csproj -c Release --no-build -nologo >"$LOGS/dotnet-test.log" 2>&1
  # Failures in full; skips counted by reason (CUDA fixtures skip without a GPU).
  grep -E "^\s+Failed |^\s+(Error Message|Stack Trace):|^\s+(Assert|Expected|But was)" -A3 "$LOGS/dotnet-test.log" | head -200
  grep -E "^\s+Skipped " "$LOGS/dotnet-test.log" >/dev/null && echo "skipped tests: $(grep -cE '^\s+Skipped ' "$LOGS/dotnet-test.log") (reasons in $LOGS/dotnet-test.log)"
  grep -E "(Passed|Failed)! +- Failed:" "$LOGS/dotnet-test.log" | tail -1
  summary=$(grep -E "(Passed|Failed)! +- Failed: +[0-9]+, Passed: +[0-9]+, Skipped: +[0-9]+" "$LOGS/dotnet-test.log" | tail -1)
  if [[ $summary =~ Failed:\ +([0-9]+),\ Passed:\ +([0-9]+),\ Skipped:\ +([0-9]+) ]]; then
    failed=$((failed + BASH_REMATCH[1])); passed=$((passed + BASH_REMATCH[2])); skipped=$((skipped + BASH_REMATCH[3]))
  else
    echo "error: no dotnet test summary found (see $LOGS/dotnet-test.log)" >&2
    gate_failures=$((gate_failures + 1))
  fi
fi

if wants bench; then
  # 6. The benchmark harness in quick mode (a few iterations, validation
  #    included), so it cannot rot. Speed is reported there, never asserted.
  #    Through the README's command, so its ReadyToRun publish (build/publish/bench) is what runs.
  say "benchmark harness, quick mode (./build.sh bench --quick)"
  if SHARPMAX_NO_INSTALL=1 "$ROOT/build.sh" bench --quick --out "$ROOT/build/bench-quick" >"$LOGS/bench-quick.log" 2>&1; then
    echo "bench quick mode: every benchmark validated and ran (summary: build/bench-quick/summary.md)"
  else
    tail -30 "$LOGS/bench-quick.log"
    echo "error: the benchmark harness failed to publish or in quick mode (see $LOGS/bench-quick.log)" >&2
    gate_failures=$((gate_failures + 1))
  fi
fi

if wants gpu-check; then
  # 7. The GPU check (tests/gpu-check/gpu-check.sh) against the CPU device, with its bundle, so that the script,
  #    the self-contained publish and the runner cannot rot; the GPU-only stages say they were skipped.
  say "GPU check script against the CPU device (bundle in build/gpu-bundle)"
  if tests/gpu-check/make-bundle.sh >"$LOGS/gpu-bundle.log" 2>&1 \
     && tests/gpu-check/gpu-check.sh --device cpu --deadline 240 --out "$ROOT/build/gpu-check-cpu" >"$LOGS/gpu-check.log" 2>&1; then
    grep -E "^\| |^Result" "$ROOT/build/gpu-check-cpu/summary.md"
  else
    tail -30 "$LOGS/gpu-bundle.log"; cat "$ROOT/build/gpu-check-cpu/summary.md" 2>/dev/null
    echo "error: the GPU check failed against the CPU device (see $LOGS/gpu-bundle.log, $LOGS/gpu-check.log)" >&2
    gate_failures=$((gate_failures + 1))
  fi
fi

if [[ $gate_failures -gt 0 ]]; then
  echo "$gate_failures check(s) outside the test runners failed (see above)"
  failed=$((failed + gate_failures))
fi
echo "$passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]
