#!/usr/bin/env bash
# Makes a local Docker daemon available, idempotently: installs docker.io when dockerd is missing,
# starts dockerd in the background when nothing answers on the socket, then waits until it does.
# Safe to run again and again (CI runs it before the container tests).
#
# Why --iptables=false: the machines this runs on (CI sandboxes, containers) usually cannot change
# the host's iptables, and dockerd refuses to start when it tries. Container-to-container traffic on a
# user-defined network still works, and so does container DNS (network aliases); only publishing
# ports to the outside world through NAT does not, which the tests never need. (--bridge=none would
# break network aliases: do not use it.)
set -euo pipefail

log() { echo "docker-setup: $*" >&2; }

DOCKER_WAIT_SECONDS="${DOCKER_WAIT_SECONDS:-60}"
DOCKERD_LOG="${DOCKERD_LOG:-/var/log/dockerd.log}"

daemon_answers() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

if daemon_answers; then
  log "daemon already running"
  exit 0
fi

# Two setups at once (parallel CI steps) must not start two daemons.
if command -v flock >/dev/null 2>&1; then
  exec 9>"${TMPDIR:-/tmp}/gradfleet-docker-setup.lock"
  flock -w 300 9 || { log "another docker-setup holds the lock"; exit 1; }
  if daemon_answers; then
    log "daemon already running"
    exit 0
  fi
fi

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    log "need root to run: $*"; exit 1
  fi
}

if ! command -v dockerd >/dev/null 2>&1; then
  log "dockerd not found: installing docker.io"
  export DEBIAN_FRONTEND=noninteractive
  # A stale package index makes the install fail with 404s: refresh it once and retry.
  apt_install() { as_root apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=120 docker.io >/dev/null; }
  if ! apt_install; then
    as_root apt-get update -o DPkg::Lock::Timeout=120 >/dev/null
    apt_install
  fi
fi

dockerd_running() {
  if [ -f /var/run/docker.pid ] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then return 0; fi
  command -v pgrep >/dev/null 2>&1 && pgrep -x dockerd >/dev/null 2>&1
}

# A dockerd that is still starting answers in a moment: only start one if none runs.
if ! dockerd_running; then
  # A dockerd that died uncleanly leaves its pid file behind and refuses to start.
  as_root rm -f /var/run/docker.pid
  log "starting dockerd --iptables=false (log: $DOCKERD_LOG)"
  as_root mkdir -p "$(dirname "$DOCKERD_LOG")"
  # setsid + nohup: the daemon outlives this script and the shell that called it.
  # 9>&-: the daemon must not inherit (and so hold forever) the setup lock.
  as_root setsid nohup dockerd --iptables=false >>"$DOCKERD_LOG" 2>&1 </dev/null 9>&- &
fi

for ((i = 0; i < DOCKER_WAIT_SECONDS; i++)); do
  if daemon_answers; then
    log "daemon ready after ${i}s"
    exit 0
  fi
  sleep 1
done
log "dockerd did not answer within ${DOCKER_WAIT_SECONDS}s; last lines of $DOCKERD_LOG:"
tail -n 20 "$DOCKERD_LOG" >&2 || true
exit 1
