#!/usr/bin/env bash
# Build the per-tool images (containers/<tool>/Dockerfile) from the repository root.
#   scripts/build-containers.sh                 # every tool
#   scripts/build-containers.sh fold predict    # some tools
#   PUSH=1 REGISTRY=ghcr.io/me scripts/build-containers.sh   # build and push
# Image names match the modules' `container` directives: ${REGISTRY}/bertrbp-<tool>:${VERSION}.
# Needs Docker with BuildKit (Docker >= 23), which reads containers/<tool>/Dockerfile.dockerignore.
set -euo pipefail
cd "$(dirname "$0")/.."
REGISTRY=${REGISTRY:-ghcr.io/bert-rbp}
VERSION=${VERSION:-$(sed -n 's/^__version__ = "\(.*\)"/\1/p' bin/bertrbp/__init__.py)}
if [ "$#" -gt 0 ]; then tools=("$@"); else tools=(); for d in containers/*/Dockerfile; do tools+=("$(basename "$(dirname "$d")")"); done; fi
for tool in "${tools[@]}"; do
  [ -f "containers/$tool/Dockerfile" ] || { echo "no containers/$tool/Dockerfile" >&2; exit 2; }
  image="$REGISTRY/bertrbp-$tool:$VERSION"
  echo ">> $image"
  DOCKER_BUILDKIT=1 docker build --build-arg VERSION="$VERSION" -f "containers/$tool/Dockerfile" -t "$image" .
  if [ "${PUSH:-0}" = 1 ]; then docker push "$image"; fi
done
# Singularity/Apptainer pull the same images: the modules name them docker://<image>.
