#!/bin/sh
# The runtime tree of one service, for its image (infra/docker/app.Dockerfile):
#
#   sh infra/docker/runtime-tree.sh services/<name> OUT [EXTRA_PATH...]
#
# Run from the repository root after the build (tsc -b, the web bundle). It
# installs the service's production dependencies only (npm ci --omit=dev
# --workspace; this replaces node_modules), then copies into OUT: the root
# package.json and node_modules, and for every workspace npm linked (the service
# and the workspace packages it depends on; no service or the web client depends
# on another workspace for its tests) its package.json, its compiled dist/src
# and any node_modules of its own; then each EXTRA_PATH (e.g. web/dist).
# No install scripts run: drop --ignore-scripts if a runtime dependency ever
# needs one.
set -eu
service=${1:?usage: runtime-tree.sh services/NAME OUT [EXTRA_PATH...]}
out=${2:?usage: runtime-tree.sh services/NAME OUT [EXTRA_PATH...]}
shift 2

npm ci --omit=dev --ignore-scripts --no-audit --no-fund --workspace "$service"
mkdir -p "$out"
cp -a package.json node_modules "$out/"
for link in node_modules/@ephemeral-chat/*; do
  workspace=$(readlink "$link" | sed 's#^\.\./\.\./##')
  [ -d "$workspace/dist/src" ] || { echo "$workspace: no dist/src (run tsc -b first)" >&2; exit 1; }
  mkdir -p "$out/$workspace/dist"
  cp -a "$workspace/package.json" "$out/$workspace/"
  cp -a "$workspace/dist/src" "$out/$workspace/dist/"
  if [ -d "$workspace/node_modules" ]; then cp -a "$workspace/node_modules" "$out/$workspace/"; fi
done
for extra in "$@"; do
  [ -e "$extra" ] || { echo "$extra does not exist" >&2; exit 1; }
  mkdir -p "$out/$(dirname "$extra")"
  cp -a "$extra" "$out/$(dirname "$extra")/"
done
echo "runtime tree of $service in $out: $(ls node_modules/@ephemeral-chat | tr '\n' ' ')"
