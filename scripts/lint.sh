#!/usr/bin/env bash
# Offline checks of the pipeline and the Galaxy wrappers (see docs in the README):
#   nf-lint (Nextflow language server; needs Java 17) on the repository, then planemo lint on galaxy/.
# Sets up what it needs once: planemo in ~/.cache/planemo-venv (PLANEMO_VENV to change).
# NF_LINT: path of nf-lint (default ../shared/tools/nf-lint next to the repository).
set -euo pipefail
cd "$(dirname "$0")/.."
NF_LINT=${NF_LINT:-../shared/tools/nf-lint}
PLANEMO_VENV=${PLANEMO_VENV:-$HOME/.cache/planemo-venv}
PYTHON=${PYTHON:-python3}
status=0

if [ -f "$NF_LINT" ]; then
  echo ">> nf-lint"
  "$PYTHON" "$NF_LINT" . || status=1
else
  echo ">> nf-lint skipped: $NF_LINT not found" >&2
fi

if [ ! -x "$PLANEMO_VENV/bin/planemo" ]; then
  echo ">> installing planemo==0.75.47 into $PLANEMO_VENV"
  "$PYTHON" -m venv "$PLANEMO_VENV"
  "$PLANEMO_VENV/bin/pip" install -q planemo==0.75.47
fi
echo ">> planemo lint"
"$PLANEMO_VENV/bin/planemo" lint --fail_level warn --skip BioToolsValid galaxy/ > /tmp/planemo-lint.$$.log 2>&1 || status=1
grep -E "^Linting|WARNING|ERROR|FAIL" /tmp/planemo-lint.$$.log || true
rm -f /tmp/planemo-lint.$$.log

exit $status
