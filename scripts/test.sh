#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the whole test suite. Exit 0 only when tests ran and passed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup-browser.sh  # chromium for tests/test_report_browser.py (skips there when it cannot install)
bash scripts/setup-galaxy.sh  # Galaxy from PyPI for tests/test_galaxy.py -m galaxy (skips there when it cannot install)
set +e
# Test workers: BERTRBP_TEST_WORKERS, else one per core up to 4. One worker left a core idle half the time (Galaxy,
# Nextflow and their jobs run one at a time): pytest took 49 min on 2 cores, 35 min on two workers. --dist loadscope
# keeps each test module on one worker, so a module's server (Galaxy, Slurm) starts once; -n 0 runs all in this process.
workers=${BERTRBP_TEST_WORKERS:-$(.venv/bin/python -c 'import os; n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(); print(min(4, n or 1))')}
.venv/bin/python -m pytest -n "$workers" --dist loadscope "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: failing the run" >&2
  exit 1
fi
exit "$status"
