#!/usr/bin/env pwsh
# ContainmentLab's whole gate for PowerShell users: build, tests, then the fixture suite (the main job; JUnit in
# TestResults/fixtures.junit.xml).
# -Bench instead runs the stop-latency benchmarks (a short job, ~10 minutes on 2 cores) and, with -Baseline, compares
# them with an earlier run's results (a *-report-full.json or a results directory): exit 1 on a significant regression.
# A thin wrapper over dotnet: it stops at the first step that fails and exits with that step's code.
param(
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release',
    [switch] $Bench,
    [string] $Baseline = ''
)

$ErrorActionPreference = 'Stop'
Set-Location -LiteralPath $PSScriptRoot

function Invoke-Step([string] $Name, [scriptblock] $Command) {
    "== $Name"
    & $Command
    if ($LASTEXITCODE -ne 0) {
        "== $Name failed (exit $LASTEXITCODE)"
        exit $LASTEXITCODE
    }
}

Invoke-Step 'build' { dotnet build ContainmentLab.sln -c $Configuration }
if ($Bench) {
    # Benchmarks always run in Release, whatever -Configuration says: a Debug number means nothing.
    Invoke-Step 'bench' { dotnet run --project benchmarks/ContainmentLab.Benchmarks -c Release -- --filter '*' --job short --artifacts BenchmarkDotNet.Artifacts }
    if ($Baseline -ne '') {
        Invoke-Step 'bench compare' { dotnet run --project src/ContainmentLab.Cli -c $Configuration --no-build -- bench compare $Baseline BenchmarkDotNet.Artifacts/results }
    }
    exit 0
}
Invoke-Step 'test' { dotnet test ContainmentLab.sln -c $Configuration --no-build --logger 'trx;LogFileName=results.trx' --results-directory TestResults }
Invoke-Step 'suite' { dotnet run --project src/ContainmentLab.Cli -c $Configuration --no-build -- suite fixtures --junit TestResults/fixtures.junit.xml }
exit 0
