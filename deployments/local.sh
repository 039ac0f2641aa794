#!/usr/bin/env bash
# Run callqa's nightly deployment on this machine: a Prefect server on 127.0.0.1, the
# `callqa-local` process work pool, the `nightly` deployment (deployments/prefect.yaml) and a worker.
#
#   deployments/local.sh up      start everything (idempotent), print the UI address
#   deployments/local.sh run     trigger a run of nightly/nightly now and wait for it
#   deployments/local.sh down    stop the worker and the server
#
# Environment: CALLQA_ARCHIVE (default samples/calls), CALLQA_DB (default var/callqa.duckdb),
# CALLQA_PREFECT_PORT (default 4200), PREFECT_HOME (default .prefect-server).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PORT=${CALLQA_PREFECT_PORT:-4200}
STATE=${CALLQA_STATE_DIR:-$ROOT/var/prefect}
export PREFECT_HOME=${PREFECT_HOME:-$ROOT/.prefect-server}
export PREFECT_API_URL=http://127.0.0.1:$PORT/api
export DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false HF_HUB_OFFLINE=1
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS=180
export CALLQA_HOME=$ROOT
export CALLQA_ARCHIVE=${CALLQA_ARCHIVE:-$ROOT/samples/calls}
export CALLQA_DB=${CALLQA_DB:-$ROOT/var/callqa.duckdb}
PREFECT=$ROOT/.venv/bin/prefect
mkdir -p "$STATE"

alive() { [ -f "$STATE/$1.pid" ] && kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }

up() {
    if ! alive server; then
        nohup "$PREFECT" server start --host 127.0.0.1 --port "$PORT" >"$STATE/server.log" 2>&1 &
        echo $! >"$STATE/server.pid"
    fi
    for _ in $(seq 1 180); do
        if "$ROOT/.venv/bin/python" -c "import urllib.request,sys; urllib.request.urlopen('$PREFECT_API_URL/health', timeout=2)" 2>/dev/null; then
            break
        fi
        alive server || { echo "Prefect server failed to start; see $STATE/server.log" >&2; exit 1; }
        sleep 1
    done
    "$PREFECT" work-pool create callqa-local --type process --overwrite >/dev/null
    "$PREFECT" --no-prompt deploy --all --prefect-file deployments/prefect.yaml
    if ! alive worker; then
        nohup "$PREFECT" worker start --pool callqa-local --limit 1 >"$STATE/worker.log" 2>&1 &
        echo $! >"$STATE/worker.pid"
    fi
    echo "Prefect UI and API: http://127.0.0.1:$PORT  (worker log: $STATE/worker.log)"
}

run() {
    "$PREFECT" deployment run nightly/nightly --watch --watch-timeout "${CALLQA_RUN_TIMEOUT:-3600}" "$@"
}

down() {
    for name in worker server; do
        if alive "$name"; then
            kill "$(cat "$STATE/$name.pid")" 2>/dev/null || true
            for _ in $(seq 1 30); do alive "$name" || break; sleep 1; done
            alive "$name" && kill -9 "$(cat "$STATE/$name.pid")" 2>/dev/null || true
        fi
        rm -f "$STATE/$name.pid"
    done
}

case "${1:-}" in
    up) up ;;
    run) shift; run "$@" ;;
    down) down ;;
    *) echo "usage: $0 up|run|down" >&2; exit 2 ;;
esac
