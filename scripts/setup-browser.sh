#!/usr/bin/env bash
# Install Debian's chromium for tests/test_report_browser.py, which renders the summary report headless and
# checks the screenshot and the rendered text. Idempotent: does nothing when a chromium is already installed.
# Needs apt-get as root (or passwordless sudo); where it cannot install, it says why and exits 0, and the browser
# test skips with that reason. BERTRBP_CHROMIUM=/path/to/chrome points the test at another Chromium-based browser.
set -euo pipefail
for browser in "${BERTRBP_CHROMIUM:-}" chromium chromium-browser google-chrome; do
  if [ -n "$browser" ] && command -v "$browser" >/dev/null 2>&1; then
    echo "setup-browser: using $(command -v "$browser")"
    exit 0
  fi
done
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-browser: no apt-get here; install Chromium yourself to run tests/test_report_browser.py" >&2
  exit 0
fi
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
  else
    echo "setup-browser: not root and no passwordless sudo; run 'apt-get install chromium' as root" >&2
    exit 0
  fi
fi
echo "setup-browser: installing chromium with apt-get"
if ! { "${SUDO[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq chromium; }; then
  echo "setup-browser: apt-get could not install chromium; tests/test_report_browser.py will skip" >&2
  exit 0
fi
chromium --version
