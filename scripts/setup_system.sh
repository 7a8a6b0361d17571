#!/usr/bin/env bash
# System packages the course needs beyond python3, from Debian (nothing is downloaded
# from elsewhere):
#   bubblewrap - the sandbox every grading kernel runs in (backprop-grade grade)
#   chromium   - the browser the browser tests drive through Playwright
# Idempotent: installs only what is missing.
set -euo pipefail
missing=()
command -v bwrap > /dev/null 2>&1 || missing+=(bubblewrap)
[ -x /usr/bin/chromium ] || missing+=(chromium)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if ! command -v apt-get > /dev/null 2>&1; then
  echo "setup_system: no apt-get; install ${missing[*]} yourself" >&2
  echo "  (bubblewrap is required to grade; chromium only for the browser tests)" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
echo "setup_system: installing Debian's ${missing[*]}"
$SUDO apt-get update -qq > /dev/null
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" > /dev/null
