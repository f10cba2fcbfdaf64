#!/usr/bin/env bash
# Install a local Galaxy server from PyPI for tests/test_galaxy.py -m galaxy, which starts it and runs
# `planemo test` on every wrapper in galaxy/ against it (tools from .venv/bin, no containers, no conda).
# Idempotent and cached outside the repository: $BERTRBP_GALAXY_HOME (default ~/.cache/bertrbp-galaxy)/galaxy-VERSION,
# ready once it holds .bertrbp-ready. Also makes sure planemo is in $PLANEMO_VENV (as scripts/lint.sh does).
# Where it cannot install, it says why, writes the reason to $BERTRBP_GALAXY_HOME/setup-failed.txt (the test skips
# with it) and exits 0, like scripts/setup-browser.sh.
set -euo pipefail
GALAXY_VERSION=26.1.2
GALAXY_HOME=${BERTRBP_GALAXY_HOME:-$HOME/.cache/bertrbp-galaxy}
VENV="$GALAXY_HOME/galaxy-$GALAXY_VERSION"
PLANEMO_VENV=${PLANEMO_VENV:-$HOME/.cache/planemo-venv}
PYTHON=${PYTHON:-python3}
FAILED="$GALAXY_HOME/setup-failed.txt"
mkdir -p "$GALAXY_HOME"

give_up() {
  echo "setup-galaxy: $1; tests/test_galaxy.py -m galaxy will skip" >&2
  echo "$1" > "$FAILED"
  exit 0
}

if [ ! -x "$PLANEMO_VENV/bin/planemo" ]; then
  echo "setup-galaxy: installing planemo==0.75.47 into $PLANEMO_VENV"
  { "$PYTHON" -m venv "$PLANEMO_VENV" && "$PLANEMO_VENV/bin/pip" install -q planemo==0.75.47; } \
    || give_up "pip could not install planemo==0.75.47 into $PLANEMO_VENV"
fi

# Every Galaxy job (each test upload, each metadata step) starts Python and imports pulsar, which imports
# google-cloud-batch when installed (only Galaxy's GCP Batch runner uses it); google-api-core then scans every
# installed distribution at import: 2.6 of the 13 CPU s a metadata step takes. The local runner never needs it.
drop_gcp_batch() {
  if [ -n "$(compgen -G "$VENV/lib/python*/site-packages/google/cloud/batch_v1")" ]; then
    "$VENV/bin/pip" uninstall -y -q google-cloud-batch || give_up "pip could not uninstall google-cloud-batch"
  fi
}

if [ -f "$VENV/.bertrbp-ready" ]; then
  drop_gcp_batch
  echo "setup-galaxy: using Galaxy $GALAXY_VERSION in $VENV"
  rm -f "$FAILED"
  exit 0
fi

"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
  || give_up "Galaxy $GALAXY_VERSION needs Python 3.10 or newer; $PYTHON is $("$PYTHON" -V 2>&1)"

# A half-built venv from an interrupted run is rebuilt (a venv cannot be moved into place: its scripts name its path).
rm -rf "$VENV"
echo "setup-galaxy: installing Galaxy $GALAXY_VERSION from PyPI into $VENV (about 1.6 GB, a few minutes)"
"$PYTHON" -m venv "$VENV" || give_up "$PYTHON -m venv $VENV failed"
"$VENV/bin/pip" install -q --upgrade pip || give_up "pip could not upgrade itself in $VENV (is PyPI reachable?)"

# The metapackage `galaxy` pins every dependency exactly, and galaxy 26.1.2 pins certifi==2026.10.19, a version
# PyPI does not have (only 2026.10.19.post1), so `pip install galaxy==26.1.2` fails with "No matching distribution
# found for certifi==2026.10.19". Install its own pin list with that one pin corrected, then the metapackage alone.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$VENV/bin/pip" download -q --no-deps -d "$work" "galaxy==$GALAXY_VERSION" \
  || give_up "pip could not download galaxy==$GALAXY_VERSION from PyPI"
"$VENV/bin/python" - "$work" > "$work/requirements.txt" <<'EOF' || give_up "cannot read the galaxy wheel's pins"
import sys, zipfile, pathlib
wheel = next(pathlib.Path(sys.argv[1]).glob("galaxy-*.whl"))
with zipfile.ZipFile(wheel) as archive:
    metadata = archive.read(next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))).decode()
for line in metadata.splitlines():
    if line.startswith("Requires-Dist: ") and "extra ==" not in line:
        requirement = line[len("Requires-Dist: "):]
        print("certifi==2026.10.19.post1" if requirement == "certifi==2026.10.19" else requirement)
EOF
"$VENV/bin/pip" install -q -r "$work/requirements.txt" \
  || give_up "pip could not install galaxy $GALAXY_VERSION's pinned dependencies (see the pip output above)"
"$VENV/bin/pip" install -q --no-deps "$work"/galaxy-*.whl || give_up "pip could not install the galaxy metapackage"
drop_gcp_batch
"$VENV/bin/galaxy-web" --help > /dev/null || give_up "$VENV/bin/galaxy-web does not start"
touch "$VENV/.bertrbp-ready"
rm -f "$FAILED"
echo "setup-galaxy: Galaxy $GALAXY_VERSION ready in $VENV"
