#!/usr/bin/env bash
# Install Debian's chromium for the browser tests (tests/test_demo_browser.py), if it is missing.
#
# Playwright drives this system browser through executable_path, so `playwright install`
# (which downloads its own browser builds from a CDN) is never needed.
# Usage: scripts/install_browser.sh        (root, or sudo available)
set -euo pipefail

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

if [ -x "$CHROMIUM" ] && fc-list 2>/dev/null | grep -qi "color emoji"; then
    echo "chromium already installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "No apt-get here: install Chromium with your package manager and set CHROMIUM=/path/to/it." >&2
    exit 1
fi

# Root runs apt-get directly; anyone else needs sudo.
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "Installing chromium needs root: run this script as root or install sudo." >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# The fonts make screenshots show real glyphs: the page's text and its emoji icons.
$SUDO apt-get install -y -q --no-install-recommends chromium fonts-liberation fonts-noto-color-emoji
echo "installed: $("$CHROMIUM" --version)"
