#!/usr/bin/env bash
# System packages the course needs beyond python3, from Debian (nothing is downloaded
# from elsewhere):
#   bubblewrap - the sandbox every grading kernel runs in (backprop-grade grade)
#   chromium   - the browser the browser tests drive through Playwright
#   npm        - node for configurable-http-proxy, JupyterHub's proxy (backprop-grade hub)
#   python3-venv - the class environment every hub user can run (backprop-grade hub)
# Idempotent: installs only what is missing.
set -euo pipefail
missing=()
command -v bwrap > /dev/null 2>&1 || missing+=(bubblewrap)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v npm > /dev/null 2>&1 || missing+=(npm)
[ ! -x /usr/bin/python3 ] || /usr/bin/python3 -c "import ensurepip" > /dev/null 2>&1 || missing+=(python3-venv)
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
