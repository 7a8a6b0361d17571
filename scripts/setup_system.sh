#!/usr/bin/env bash
# System packages the course's tests need beyond python3: Debian's Chromium for the
# browser tests (Playwright drives it; no browser is downloaded).  Idempotent.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if ! command -v apt-get > /dev/null 2>&1; then
  echo "setup_system: no apt-get; install Chromium yourself for the browser tests" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
echo "setup_system: installing Debian's chromium (for the browser tests)"
$SUDO apt-get update -qq > /dev/null
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium > /dev/null
