#!/usr/bin/env pwsh
# ContainmentLab's whole gate for PowerShell users: build, tests, then the demo (the main job for now).
# A thin wrapper over dotnet: it stops at the first step that fails and exits with that step's code.
param(
    [ValidateSet('Debug', 'Release')]
    [string] $Configuration = 'Release'
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
Invoke-Step 'test' { dotnet test ContainmentLab.sln -c $Configuration --no-build --logger 'trx;LogFileName=results.trx' --results-directory TestResults }
Invoke-Step 'demo' { dotnet run --project src/ContainmentLab.Cli -c $Configuration --no-build -- demo }
exit 0
