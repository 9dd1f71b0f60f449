#!/usr/bin/env bash
# Builds the GPU check's bundle (./build.sh gpu-bundle calls this after building the native parts and .NET):
# everything the GPU machine cannot build, because it has no .NET SDK and no network, in one git-ignored folder
# (default build/gpu-bundle, at most 60 MiB) that gpu-check.sh finds when it is carried along:
#
#   app.tar.xz             self-contained linux-x64 publish of tests/Sharpmax.GpuCheck: the test runner, the
#                          sharpmax CLI (its `sharpmax` sub-command), Sharpmax.Tests.dll with golden/, Sharpmax.dll
#                          with the PTX embedded, libsharpmax_host.so; gpu-check.sh unpacks it into a temp dir
#   fashion-mnist/*.gz     the four Fashion-MNIST files (already gzip: carried as they are)
#   reference-metrics.csv  metrics.csv of `sharpmax train --epochs 10 --seed 0 --device cpu` (the bundled CLI)
#   MANIFEST.txt           commit, sizes, what built it
#
# Usage: tests/gpu-check/make-bundle.sh [OUT_DIR]     Environment: FASHION_MNIST_DIR (default: Debian's copy).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=${1:-$ROOT/build/gpu-bundle}
DATA=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
LIMIT_BYTES=$((60 << 20))
say() { printf '==> %s\n' "$*"; }

[[ -n $(ls "$ROOT"/build/native/ptx/*.ptx 2>/dev/null) ]] || { echo "error: no PTX in build/native/ptx: build with nvcc installed first (./build.sh)" >&2; exit 1; }
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  [[ -f $DATA/$f.gz ]] || { echo "error: $DATA/$f.gz not found (set FASHION_MNIST_DIR to the folder of the four .gz files)" >&2; exit 1; }
done

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/sharpmax-bundle.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
APP=$STAGE/app
# Trimmed in partial mode: only the framework's own assemblies (marked trimmable) lose what nothing references;
# ours, NUnit and the other packages stay whole, so reflection over the test assembly sees everything (about
# 107 MB untrimmed, which does not fit 60 MiB with the data even as xz).
say "publishing tests/Sharpmax.GpuCheck self-contained for linux-x64 (framework trimmed)"
dotnet publish "$ROOT/tests/Sharpmax.GpuCheck" -c Release -r linux-x64 --self-contained -nologo -v quiet \
  -p:DebugType=none -p:GenerateDocumentationFile=false -p:SharpmaxGpuBundle=true -o "$APP" >"$STAGE/publish.log" 2>&1 || { cat "$STAGE/publish.log"; exit 1; }
# The referenced executables' framework-dependent launchers and configs do not run here; the runner carries the CLI.
rm -f "$APP"/Sharpmax.Cli "$APP"/Sharpmax.Cli.runtimeconfig.json "$APP"/Sharpmax.Cli.deps.json \
      "$APP"/Sharpmax.Tests.runtimeconfig.json "$APP"/Sharpmax.Tests.deps.json "$APP"/*.pdb "$APP"/createdump
[[ -d $APP/golden ]] || { echo "error: the publish has no golden/ folder (Sharpmax.Tests' golden CSVs)" >&2; exit 1; }

say "reference metrics: 10 epochs, seed 0, on the CPU device, with the bundled CLI"
"$APP/Sharpmax.GpuCheck" sharpmax train --epochs 10 --seed 0 --device cpu --quiet --data "$DATA" --out "$STAGE/reference" >"$STAGE/train.log" 2>&1 \
  || { cat "$STAGE/train.log"; exit 1; }

say "compressing (xz)"
rm -rf "$OUT"; mkdir -p "$OUT/fashion-mnist"
tar -C "$STAGE" -cf - app | xz -6 -T0 >"$OUT/app.tar.xz"
cp "$DATA"/*-ubyte.gz "$OUT/fashion-mnist/"
cp "$STAGE/reference/metrics.csv" "$OUT/reference-metrics.csv"
total=$(du -sb "$OUT" | cut -f1)
{
  echo "commit: $(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  echo "built: $(date -u +%FT%TZ) with $(dotnet --version) on $(uname -sm)"
  echo "app unpacked: $(du -sb "$APP" | cut -f1) bytes; app.tar.xz: $(stat -c %s "$OUT/app.tar.xz") bytes"
  echo "fashion-mnist: $(du -cb "$OUT"/fashion-mnist/*.gz | tail -1 | cut -f1) bytes"
  echo "bundle total: $total bytes (limit $LIMIT_BYTES)"
} >"$OUT/MANIFEST.txt"
cat "$OUT/MANIFEST.txt"
if [[ $total -gt $LIMIT_BYTES ]]; then echo "error: the bundle is $total bytes, over the 60 MiB limit" >&2; exit 1; fi
say "bundle ready: $OUT ($((total >> 20)) MiB); carry it and run tests/gpu-check/gpu-check.sh"
