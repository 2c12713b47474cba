#!/usr/bin/env bash
# Builds the gradfleet image from this checkout without any registry: the host's Node runtime and
# the libraries it links against, the app, and the production node_modules go into one root
# filesystem (deploy/docker/stage-rootfs.mjs) that `docker import` turns into an image.
#
#   deploy/docker/build-image.sh [tag]        (default tag: gradfleet:local, or $GRADFLEET_IMAGE)
#
# The image has no shell. Run either process with node:
#   docker run gradfleet:local                                   # coordinator start (the default job)
#   docker run gradfleet:local node --initial-heap-size=256 /app/bin/worker.mjs start --coordinator HOST:7070
# With a registry, deploy/docker/Dockerfile builds the equivalent image FROM node:20-slim.
set -euo pipefail
cd "$(dirname "$0")/../.."

tag="${1:-${GRADFLEET_IMAGE:-gradfleet:local}}"

if ! docker info >/dev/null 2>&1; then
  echo "build-image: no Docker daemon answers (run scripts/docker-setup.sh)" >&2
  exit 1
fi

# Install dependencies only when there are none: `npm ci` in a checkout that others are using
# (tests running) would pull node_modules out from under them.
[ -d node_modules ] || bash scripts/ensure-deps.sh

stage="$(mktemp -d "${TMPDIR:-/tmp}/gradfleet-rootfs.XXXXXX")"
trap 'rm -rf "$stage"' EXIT
node deploy/docker/stage-rootfs.mjs "$stage/rootfs"

revision="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
version="$(node -p 'require("./package.json").version')"

# Root owns every file; /tmp and /app/runs are world-writable (see stage-rootfs.mjs), so the image
# runs as any uid. Sorted names and one fixed mtime make the tarball a function of the files'
# contents alone, so its digest says whether the image is already up to date.
tarball="$stage/rootfs.tar"
tar -C "$stage/rootfs" --sort=name --numeric-owner --owner=0 --group=0 --mtime='2000-01-01 00:00Z' -cf "$tarball" .
digest="$(sha256sum "$tarball" | cut -c1-64)"
key="$digest-$revision"

old_id="$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)"
if [ -n "$old_id" ] && [ -z "${GRADFLEET_REBUILD:-}" ] &&
  [ "$(docker image inspect --format '{{index .Config.Labels "io.gradfleet.build-key"}}' "$tag")" = "$key" ]; then
  echo "build-image: $tag is up to date ($(echo "$old_id" | cut -c1-19); GRADFLEET_REBUILD=1 forces a rebuild)" >&2
  exit 0
fi

docker import \
  --change 'ENV PATH=/usr/local/bin' \
  --change 'ENV NODE_ENV=production' \
  --change 'ENV HOME=/tmp' \
  --change 'ENV MALLOC_MMAP_THRESHOLD_=33554432' \
  --change 'ENV MALLOC_TRIM_THRESHOLD_=268435456' \
  --change 'WORKDIR /app' \
  --change 'USER 1000:1000' \
  --change 'EXPOSE 7070' \
  --change "LABEL org.opencontainers.image.title=gradfleet org.opencontainers.image.version=$version org.opencontainers.image.revision=$revision io.gradfleet.build-key=$key" \
  --change 'CMD ["node", "--initial-heap-size=256", "/app/bin/coordinator.mjs", "start", "--port", "7070", "--host", "0.0.0.0"]' \
  --message "gradfleet $version ($revision) built by deploy/docker/build-image.sh" \
  "$tarball" "$tag" >/dev/null

new_id="$(docker image inspect --format '{{.Id}}' "$tag")"
# The image this tag named before is now dangling: remove it unless a container still uses it.
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then docker image rm "$old_id" >/dev/null 2>&1 || true; fi
echo "build-image: $tag ($(echo "$new_id" | cut -c1-19), $(docker image inspect --format '{{.Size}}' "$tag" | awk '{printf "%.0f MiB", $1/1048576}'))" >&2
