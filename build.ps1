# Sharpmax build driver (Windows). build.sh does the same steps on Linux.
#
#   .\build.ps1            check prerequisites, build native parts and .NET
#   .\build.ps1 train ...  build, then train on Fashion-MNIST (args go to `sharpmax train`)
#   .\build.ps1 test       build (with PTX when nvcc is present), then run every test
#   .\build.ps1 bench ...  build, then run the benchmark harness
#   .\build.ps1 run ...    build, then run the sharpmax CLI with the given args
#
# Prerequisites (not installed by this script on Windows): Visual Studio 2022 with
# the C++ workload (MSVC, CMake), Boost.Context (vcpkg install boost-context, with
# CMAKE_TOOLCHAIN_FILE set), GoogleTest, the .NET 10 SDK, and optionally the
# CUDA toolkit for PTX.
param([Parameter(Position = 0)][string]$Command = "build", [Parameter(ValueFromRemainingArguments = $true)][string[]]$Rest)
$ErrorActionPreference = "Stop"
Set-Location $PSScriptRoot
$Root = $PSScriptRoot

function Say($message) { Write-Host "==> $message" }

function Install-Dependencies([bool]$WantCuda) {
    foreach ($tool in @("cmake", "dotnet")) {
        if (-not (Get-Command $tool -ErrorAction SilentlyContinue)) { throw "error: '$tool' is not installed" }
    }
    if ($WantCuda -and -not (Get-Command nvcc -ErrorAction SilentlyContinue)) {
        Say "no CUDA compiler: PTX not built; the CPU device binds kernels by name (install the CUDA toolkit for PTX)"
    }
}

function Build-Native {
    Say "building the host library (CPU device) and PTX"
    cmake -S $Root -B "$Root/build" | Select-String "^-- Sharpmax:" | ForEach-Object { "    " + $_.Line.Substring(3) }
    if ($LASTEXITCODE -ne 0) { throw "cmake configure failed" }
    cmake --build "$Root/build" --config Release --parallel
    if ($LASTEXITCODE -ne 0) { throw "native build failed" }
    # Multi-config generators put the DLL under a Release folder: bring it to lib/.
    Get-ChildItem "$Root/build/native/lib" -Recurse -Filter sharpmax_host.dll | Copy-Item -Destination "$Root/build/native/lib" -Force -ErrorAction SilentlyContinue
    $ptx = @(Get-ChildItem "$Root/build/native/ptx/*.ptx" -ErrorAction SilentlyContinue)
    if ($ptx.Count -gt 0) { Say "PTX: $($ptx.Count) files in build/native/ptx" }
    else { Say "no CUDA compiler: PTX not built; the CPU device binds kernels by name" }
}

function Build-Dotnet {
    Say "building the .NET solution"
    dotnet build "$Root/Sharpmax.slnx" -c Release -v quiet -nologo
    if ($LASTEXITCODE -ne 0) { throw ".NET build failed" }
}

switch ($Command) {
    "build" { Install-Dependencies $true; Build-Native; Build-Dotnet }
    { $_ -in "train", "run" } {
        Install-Dependencies $false; Build-Native; Build-Dotnet
        $cliArgs = if ($Command -eq "train") { @("train") + $Rest } else { $Rest }
        dotnet "$Root/src/Sharpmax.Cli/bin/Release/net10.0/Sharpmax.Cli.dll" @cliArgs
        exit $LASTEXITCODE
    }
    "test" {
        Install-Dependencies $true; Build-Native; Build-Dotnet
        Say "native tests (ctest)"
        ctest --test-dir "$Root/build" -C Release --output-on-failure
        $nativeFailed = $LASTEXITCODE -ne 0
        Say "dotnet test"
        dotnet test "$Root/tests/Sharpmax.Tests/Sharpmax.Tests.csproj" -c Release --no-build -nologo
        if ($nativeFailed -or $LASTEXITCODE -ne 0) { exit 1 }
    }
    "bench" {
        Install-Dependencies $false; Build-Native
        Say "building the benchmark harness"
        dotnet build "$Root/bench/Sharpmax.Bench" -c Release -v quiet -nologo
        dotnet "$Root/bench/Sharpmax.Bench/bin/Release/net10.0/Sharpmax.Bench.dll" @Rest
        exit $LASTEXITCODE
    }
    default { Write-Error "usage: .\build.ps1 [build|train|test|bench|run] [args...]"; exit 2 }
}
