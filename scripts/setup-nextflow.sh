#!/usr/bin/env bash
# Make `nextflow` available to the pipeline, its tests and scripts/demo.sh.
# A Nextflow of the user's own on PATH always wins: then nothing is installed.
# Otherwise the runtime pinned in scripts/nextflow/pom.xml (io.nextflow:nextflow from Maven Central, no plugins)
# is resolved with Maven into a cache outside the repository (~/.cache/bertrbp-nextflow/<version>/lib), every
# jar is checked against scripts/nextflow/nextflow.lock, and .venv/bin/nextflow starts nextflow.cli.Launcher on
# that class path with Java >= 17. Idempotent: a verified cache costs one sha256 pass (well under a second).
#   --relock   resolve again and rewrite nextflow.lock (after changing the pom)
# Environment: BERTRBP_NEXTFLOW_CACHE (cache root), JAVA_HOME (Java to use), MVN (maven command).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
POM="$ROOT/scripts/nextflow/pom.xml"
LOCK="$ROOT/scripts/nextflow/nextflow.lock"
LAUNCHER="$ROOT/.venv/bin/nextflow"
VERSION=$(sed -n 's/^version=//p' "$LOCK")
CACHE="${BERTRBP_NEXTFLOW_CACHE:-$HOME/.cache/bertrbp-nextflow}/$VERSION"
RELOCK=0
[ "${1:-}" = "--relock" ] && RELOCK=1

note() { echo "setup-nextflow: $*" >&2; }

# nf-core's linter for the pipeline lint test (WITH_LINT=0 skips it), in a venv of its own
if [ "${WITH_LINT:-1}" = "1" ] && [ ! -x "${NFCORE_VENV:-$HOME/.cache/nfcore-venv}/bin/nf-core" ]; then
  NFCORE_VENV=${NFCORE_VENV:-$HOME/.cache/nfcore-venv}
  "${PYTHON:-python3}" -m venv "$NFCORE_VENV" && "$NFCORE_VENV/bin/pip" install -q nf-core==4.2.1 check-jsonschema \
    || note "could not install nf-core 4.2.1 into $NFCORE_VENV: the nf-core lint test will skip"
fi

# Debian's Slurm for the one-node cluster test (tests/test_pipeline_slurm.py): in CI, or with WITH_SLURM=1, as root
if { [ -n "${CI:-}" ] || [ "${WITH_SLURM:-0}" = "1" ]; } && [ "$(id -u)" = 0 ] && ! command -v sbatch >/dev/null 2>&1 \
  && command -v apt-get >/dev/null 2>&1; then
  note "installing slurm-wlm and munge (apt-get) for the Slurm test"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge; } >/dev/null 2>&1 \
    || note "could not install slurm-wlm: the Slurm test will skip"
fi

# a user's own Nextflow (anything on PATH that is not our launcher) wins
own=$(PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -vxF "$ROOT/.venv/bin" | paste -sd: -) command -v nextflow || true)
if [ -n "$own" ] && [ "$RELOCK" = 0 ]; then
  note "using your own Nextflow: $own (nothing installed)"
  exit 0
fi

# Java >= 17: JAVA_HOME, java on PATH, or the newest JDK under /usr/lib/jvm
java_major() { "$1" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1; }
JAVA=""
for candidate in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} "$(command -v java || true)" /usr/lib/jvm/*/bin/java; do
  if [ -n "$candidate" ] && [ -x "$candidate" ] && [ "$(java_major "$candidate")" -ge 17 ] 2>/dev/null; then
    JAVA=$candidate
    break
  fi
done
if [ -z "$JAVA" ]; then
  note "no Java >= 17 found (JAVA_HOME, PATH, /usr/lib/jvm): nextflow not installed; the pipeline tests will skip." \
    "Install one (e.g. apt-get install openjdk-17-jre-headless) and run this script again."
  exit 0
fi

verify() {  # the cache holds exactly the locked jars, unchanged
  [ -d "$CACHE/lib" ] || return 1
  local want have
  want=$(grep -E '^[0-9a-f]{64}  ' "$LOCK" | awk '{print $2}' | sort)
  have=$(cd "$CACHE/lib" && ls -1 | sort)
  [ "$want" = "$have" ] || return 1
  (cd "$CACHE/lib" && grep -E '^[0-9a-f]{64}  ' "$LOCK" | sha256sum --quiet --strict -c -) >/dev/null 2>&1
}

if [ "$RELOCK" = 1 ] || ! verify; then
  MVN=${MVN:-mvn}
  if ! command -v "$MVN" >/dev/null 2>&1; then
    note "Maven ($MVN) not found: cannot resolve Nextflow $VERSION; install maven (apt-get install maven) and rerun."
    exit 0
  fi
  note "resolving Nextflow $VERSION and its dependencies from Maven Central into $CACHE"
  tmp="$CACHE.tmp-$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  "$MVN" -q -B -f "$POM" dependency:copy-dependencies -DoutputDirectory="$tmp/lib" >"$tmp/mvn.log" 2>&1 || {
    cat "$tmp/mvn.log" >&2
    note "error: Maven could not resolve $POM (see above)"
    exit 1
  }
  rm -f "$tmp/mvn.log"
  if [ "$RELOCK" = 1 ]; then
    version=$(grep -A1 '<artifactId>nextflow</artifactId>' "$POM" | sed -n 's:.*<version>\(.*\)</version>.*:\1:p')
    { sed -n '/^#/p' "$LOCK"; echo "version=$version"; (cd "$tmp/lib" && sha256sum -- *.jar); } >"$LOCK.tmp-$$"
    mv "$LOCK.tmp-$$" "$LOCK"
    VERSION=$version
    CACHE="${BERTRBP_NEXTFLOW_CACHE:-$HOME/.cache/bertrbp-nextflow}/$VERSION"
    note "wrote $LOCK for Nextflow $VERSION"
  fi
  rm -rf "$CACHE"
  mv "$tmp" "$CACHE"
  trap - EXIT
  if ! verify; then
    note "error: the jars resolved into $CACHE/lib differ from $LOCK (a changed artifact or an incomplete download);" \
      "delete $CACHE and rerun, or run --relock after changing the pom on purpose"
    exit 1
  fi
fi

# the launcher: the same JVM options as Nextflow's own launcher needs on Java 17+ (reflective access), and the JIT's
# first tier only (-XX:TieredStopAtLevel=1): the Nextflow head process mostly waits on its tasks, and the optimizing
# C2 compiler spent more CPU than it ever saved (the test profile's stub run: 50 CPU s and 28 s wall with C2, 30 CPU s
# and 20 s wall without, on 2 cores). NXF_OPTS comes after it, so NXF_OPTS=-XX:TieredStopAtLevel=4 turns C2 back on.
mkdir -p "$(dirname "$LAUNCHER")"
classpath=$(grep -E '^[0-9a-f]{64}  ' "$LOCK" | awk -v d="$CACHE/lib" '{printf "%s%s/%s", (NR>1?":":""), d, $2}')
cat >"$LAUNCHER.tmp-$$" <<EOF
#!/usr/bin/env bash
# Nextflow $VERSION for bert-rbp, written by scripts/setup-nextflow.sh (jars checked against scripts/nextflow/nextflow.lock).
JAVA_CMD=\${NXF_JAVA:-${JAVA}}
exec "\$JAVA_CMD" -XX:TieredStopAtLevel=1 \${NXF_OPTS:-} -Djava.awt.headless=true -Dfile.encoding=UTF-8 \\
  --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED \\
  --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/java.net=ALL-UNNAMED \\
  --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED \\
  --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED --add-opens=java.base/java.util.regex=ALL-UNNAMED \\
  --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/sun.nio.fs=ALL-UNNAMED \\
  --add-opens=java.base/sun.net.www.protocol.http=ALL-UNNAMED --add-opens=java.base/sun.net.www.protocol.https=ALL-UNNAMED \\
  --add-opens=java.base/sun.net.www.protocol.file=ALL-UNNAMED --add-opens=java.base/jdk.internal.misc=ALL-UNNAMED \\
  --add-opens=java.base/jdk.internal.vm=ALL-UNNAMED \\
  -cp "$classpath" nextflow.cli.Launcher "\$@"
EOF
chmod +x "$LAUNCHER.tmp-$$"
mv "$LAUNCHER.tmp-$$" "$LAUNCHER"
note "nextflow $VERSION ready: $LAUNCHER (Java: $JAVA)"
