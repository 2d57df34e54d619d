#!/usr/bin/env bash
# `make run`: install what is missing, start Kafka, create the topics, start every service
# and the demo feed, print where to look. Ctrl-C stops everything this script started.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
"$ROOT/deploy/install.sh" run
export PATH="$HOME/.local/bin:$PATH" UV_PYTHON_DOWNLOADS=never
export ANBU_VAR_DIR="$ROOT/var"
export ANBU_REGISTRY_SEED_FILE="${ANBU_REGISTRY_SEED_FILE:-$ROOT/deploy/seed/demo.yaml}"

started_kafka=0
if ! deploy/kafka.sh status; then
  deploy/kafka.sh start
  started_kafka=1
fi
pids=()
cleanup() {
  trap - INT TERM EXIT
  trap '' PIPE  # the terminal (or a pipe) may be gone: stopping must still finish
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if ((started_kafka)); then deploy/kafka.sh stop 2>/dev/null || true; fi
  echo "stopped." 2>/dev/null || true
}
trap cleanup INT TERM EXIT

uv run --frozen anbu-topics create
uv run --frozen python -m anbu_runtime.processes run &
pids+=($!)
for _ in $(seq 1 180); do
  curl -fsS http://127.0.0.1:8700/readyz >/dev/null 2>&1 && break
  kill -0 "${pids[0]}" 2>/dev/null || exit 1
  sleep 0.5
done
uv run --frozen python deploy/demo_feed.py > "$ANBU_VAR_DIR/log/demo-feed.log" 2>&1 &
pids+=($!)

cat <<MSG

anbu is running (Ctrl-C stops everything).
  dashboard (console)   http://127.0.0.1:8700/          English: http://127.0.0.1:8700/?lang=en
  partner ingest API    http://127.0.0.1:8702/docs
  registry API          http://127.0.0.1:8701/docs
  field tasks API       http://127.0.0.1:8704/docs
  detector              http://127.0.0.1:8703/v1/alerts
  messages sent         $ANBU_VAR_DIR/notifier/sink.jsonl
  logs                  $ANBU_VAR_DIR/log/
  kafka                 127.0.0.1:19092   (kcat -b 127.0.0.1:19092 -L)
MSG
wait "${pids[0]}"
