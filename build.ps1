# Sharpmax build driver (Windows; also PowerShell 7 on Linux). build.sh does the same steps on Linux.
#
#   .\build.ps1            check prerequisites, build native parts and .NET
#   .\build.ps1 train ...  build, then train on Fashion-MNIST (args go to `sharpmax train`)
#   .\build.ps1 test       build (with PTX when nvcc is present), then run every test
#                          (on Linux `test STAGE...` runs only those stages of tests/run-all.sh)
#   .\build.ps1 bench ...  build, then run the benchmark harness
#   .\build.ps1 run ...    build, then run the sharpmax CLI with the given args
#
# Prerequisites (not installed by this script on Windows): Visual Studio 2022 with
# the C++ workload (MSVC, CMake), Boost.Context (vcpkg install boost-context, with
# CMAKE_TOOLCHAIN_FILE set), GoogleTest, the .NET 10 SDK, and optionally the
# CUDA toolkit for PTX. On Linux, ./build.sh installs them (Debian); `test` then
# runs tests/run-all.sh, the same runner ./build.sh test uses.
#
# No param() block on purpose: [Parameter] attributes make a script an advanced
# function, whose common parameters (-OutVariable, -OutBuffer, -ErrorAction, ...)
# would capture the CLI's own flags (--out is "ambiguous"). A plain script keeps
# every argument after the command in $args, passed to the CLI as written.
$Command = if ($args.Count -gt 0) { [string]$args[0] } else { "build" }
$Rest = @($args | Select-Object -Skip 1 | ForEach-Object { [string]$_ })
$ErrorActionPreference = "Stop"
Set-Location $PSScriptRoot
$Root = $PSScriptRoot

function Say($message) { Write-Host "==> $message" }

function Install-Dependencies([bool]$WantCuda) {
    $hint = if ($IsLinux) { " (on Debian, ./build.sh installs everything)" } else { "" }
    foreach ($tool in @("cmake", "dotnet")) {
        if (-not (Get-Command $tool -ErrorAction SilentlyContinue)) { throw "error: '$tool' is not installed$hint" }
    }
    if ($WantCuda -and -not (Get-Command nvcc -ErrorAction SilentlyContinue)) {
        Say "no CUDA compiler: PTX not built; the CPU device binds kernels by name (install the CUDA toolkit for PTX)"
    }
}

function Build-Native {
    Say "building the host library (CPU device) and PTX"
    # Native tools write progress to stderr: collect it, and judge by the exit code alone.
    $ErrorActionPreference = "Continue"
    $log = @(cmake -S $Root -B "$Root/build" -DCMAKE_BUILD_TYPE=Release 2>&1 | ForEach-Object { "$_" })
    if ($LASTEXITCODE -ne 0) { $log | Write-Host; throw "cmake configure failed" }
    $log | Select-String "^-- Sharpmax:" | ForEach-Object { "    " + $_.Line.Substring(3) } | Write-Host
    $log = @(cmake --build "$Root/build" --config Release --parallel 2>&1 | ForEach-Object { "$_" })
    if ($LASTEXITCODE -ne 0) { $log | Write-Host; throw "native build failed" }
    $log | Select-String '(warning|error)(:| [A-Z]+[0-9]+)' | ForEach-Object { $_.Line } | Write-Host
    # Multi-config generators (Visual Studio) put the DLL under a Release folder: bring it to lib/.
    Get-ChildItem "$Root/build/native/lib" -Recurse -Filter sharpmax_host.dll | Copy-Item -Destination "$Root/build/native/lib" -Force -ErrorAction SilentlyContinue
    $ptx = @(Get-ChildItem "$Root/build/native/ptx/*.ptx" -ErrorAction SilentlyContinue)
    if ($ptx.Count -gt 0) { Say "PTX: $($ptx.Count) files in build/native/ptx" }
    else { Say "no CUDA compiler: PTX not built; the CPU device binds kernels by name" }
}

function Build-Dotnet {
    Say "building the .NET solution"
    $ErrorActionPreference = "Continue"
    $log = @(dotnet build "$Root/Sharpmax.slnx" -c Release -v quiet -nologo 2>&1 | ForEach-Object { "$_" })
    if ($LASTEXITCODE -ne 0) { $log | Write-Host; throw ".NET build failed" }
    $log | Select-String '(warning|error)(:| [A-Z]+[0-9]+)' | ForEach-Object { $_.Line } | Write-Host
}

# The CLI and the bench run from a ReadyToRun publish (framework-dependent, for this machine's runtime), as in
# build.sh: compiled ahead of time, a run does not spend its start and first epoch in the JIT. Tests use bin/.
function Publish-ReadyToRun([string]$Project, [string]$Out) {
    Say "publishing $([IO.Path]::GetFileNameWithoutExtension($Project)) ReadyToRun to $Out"
    $ErrorActionPreference = "Continue"
    $log = @(dotnet publish $Project -c Release --use-current-runtime --self-contained false -p:PublishReadyToRun=true -o $Out -v quiet -nologo 2>&1 | ForEach-Object { "$_" })
    if ($LASTEXITCODE -ne 0) { $log | Write-Host; throw "publishing $Project failed" }
}

switch ($Command) {
    "build" { Install-Dependencies $true; Build-Native; Build-Dotnet }
    { $_ -in "train", "run" } {
        Install-Dependencies $false; Build-Native
        Publish-ReadyToRun "$Root/src/Sharpmax.Cli/Sharpmax.Cli.csproj" "$Root/build/publish/cli"
        $cliArgs = if ($Command -eq "train") { @("train") + $Rest } else { $Rest }
        dotnet "$Root/build/publish/cli/Sharpmax.Cli.dll" @cliArgs
        exit $LASTEXITCODE
    }
    "test" {
        Install-Dependencies $true; Build-Native; Build-Dotnet
        if ($IsLinux) {
            # The same runner as ./build.sh test: every check, ending with "N passed, N failed, N skipped".
            bash "$Root/tests/run-all.sh" @Rest
            exit $LASTEXITCODE
        }
        Say "native tests (ctest)"
        ctest --test-dir "$Root/build" -C Release --output-on-failure
        $nativeFailed = $LASTEXITCODE -ne 0
        Say "dotnet test"
        dotnet test "$Root/tests/Sharpmax.Tests/Sharpmax.Tests.csproj" -c Release --no-build -nologo
        if ($nativeFailed -or $LASTEXITCODE -ne 0) { exit 1 }
    }
    "bench" {
        Install-Dependencies $false; Build-Native
        Publish-ReadyToRun "$Root/bench/Sharpmax.Bench/Sharpmax.Bench.csproj" "$Root/build/publish/bench"
        dotnet "$Root/build/publish/bench/Sharpmax.Bench.dll" @Rest
        exit $LASTEXITCODE
    }
    default { [Console]::Error.WriteLine("usage: .\build.ps1 [build|train|test|bench|run] [args...]"); exit 2 }
}
