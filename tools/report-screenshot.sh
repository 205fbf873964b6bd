#!/usr/bin/env bash
# Renders a ContainmentLab HTML report to a PNG with headless Chromium (1400×900, the first screen of the report).
# Installs Debian's chromium with apt-get when it is missing, so a fresh machine needs nothing by hand.
# usage: tools/report-screenshot.sh REPORT.html OUT.png
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 REPORT.html OUT.png" >&2
    exit 2
fi

report=$(realpath -e -- "$1")
out=$(realpath -m -- "$2")

if ! command -v chromium >/dev/null 2>&1; then
    echo "report-screenshot: chromium is missing; installing it with apt-get install -y chromium" >&2
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "report-screenshot: cannot install chromium: apt-get is not available (install chromium by hand)" >&2
        exit 1
    fi
    sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            echo "report-screenshot: cannot install chromium: not root and no password-less sudo (run apt-get install -y chromium as root)" >&2
            exit 1
        fi
    fi
    export DEBIAN_FRONTEND=noninteractive
    # The package lists may be missing or stale on a fresh image: update once if the first attempt fails.
    if ! "${sudo[@]}" apt-get install -y --no-install-recommends chromium >&2; then
        "${sudo[@]}" apt-get update >&2
        "${sudo[@]}" apt-get install -y --no-install-recommends chromium >&2
    fi
fi

profile=$(mktemp -d)
trap 'rm -rf -- "$profile"' EXIT
rm -f -- "$out"

# No network at all: the report is self-contained, and Chromium's own background traffic is switched off.
timeout 45 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --screenshot="$out" --window-size=1400,900 "file://$report" >&2

if [[ ! -s $out ]]; then
    echo "report-screenshot: chromium wrote no screenshot to $out" >&2
    exit 1
fi
echo "$out"
