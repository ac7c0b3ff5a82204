#!/bin/sh
# The image's entry point: the first argument chooses the role, the rest go to its command.
#   backend   the API (python -m backend), on BACKEND_HOST:BACKEND_PORT
#   voxie     the Voxie worker (python -m voxie start)
#   spawner   the spawner worker (python -m spawner start); run as many replicas as needed
#   migrate   apply the database migrations and exit (python -m shared.db migrate)
# `exec` makes the platform process PID 1, so SIGTERM from `docker stop` or Kubernetes reaches
# it directly and a worker drains its calls (WORKER_DRAIN_TIMEOUT_S) before it exits.
set -eu

role=${1:-}
[ "$#" -gt 0 ] && shift

case "$role" in
  backend) exec python -m backend "$@" ;;
  voxie) exec python -m voxie start "$@" ;;
  spawner) exec python -m spawner start "$@" ;;
  migrate) exec python -m shared.db migrate "$@" ;;
  *)
    echo "usage: <image> backend | voxie | spawner | migrate  (got: '${role}')" >&2
    exit 64
    ;;
esac
