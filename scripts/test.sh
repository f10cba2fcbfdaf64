#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the whole test suite. Exit 0 only when tests ran and passed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup-browser.sh  # chromium for tests/test_report_browser.py (skips there when it cannot install)
bash scripts/setup-galaxy.sh  # Galaxy from PyPI for tests/test_galaxy.py -m galaxy (skips there when it cannot install)
set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: failing the run" >&2
  exit 1
fi
exit "$status"
