#!/usr/bin/env bash
# `make run`: install what is missing, start Kafka, create the topics, start every service
# on a shared accelerated clock and the population simulator (with simulated field staff),
# print where to look. Ctrl-C stops everything this script started.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
"$ROOT/deploy/install.sh" run
export PATH="$HOME/.local/bin:$PATH" UV_PYTHON_DOWNLOADS=never
export ANBU_VAR_DIR="$ROOT/var"
# A development stack: the services accept the development secrets (refused otherwise).
export ANBU_ENV=dev
export ANBU_REGISTRY_SEED_FILE="${ANBU_REGISTRY_SEED_FILE:-$ROOT/deploy/seed/demo.yaml}"
# One accelerated clock for every process (600: ten simulated minutes per real second), so a
# day-1/day-2 protocol runs in minutes. The clock starts at the next 13:30 (Seoul) that is
# not behind the simulated time a previous run reached (services keep their state).
SIM_STATE="$ANBU_VAR_DIR/simulator/clock.txt"
mkdir -p "$ANBU_VAR_DIR/simulator" "$ANBU_VAR_DIR/log"
export ANBU_CLOCK_SPEED="${ANBU_CLOCK_SPEED:-600}"
export ANBU_CLOCK_START="${ANBU_CLOCK_START:-$(uv run --frozen anbu-simulator clock-start --state "$SIM_STATE")}"
export ANBU_CLOCK_EPOCH="${ANBU_CLOCK_EPOCH:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}"
# Simulated staff log in as the seeded accounts, accept offers and record outcomes.
export ANBU_SIMULATOR_FIELD_STAFF="${ANBU_SIMULATOR_FIELD_STAFF:-1}"

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
uv run --frozen anbu-simulator run --seed-file "$ANBU_REGISTRY_SEED_FILE" --demo --days 365 \
  --clock-state "$SIM_STATE" --ground-truth "$ANBU_VAR_DIR/simulator/ground-truth.jsonl" \
  > "$ANBU_VAR_DIR/log/simulator.log" 2>&1 &
pids+=($!)

cat <<MSG

anbu is running (Ctrl-C stops everything).
  dashboard (console)   http://127.0.0.1:8700/          English: http://127.0.0.1:8700/?lang=en
  partner ingest API    http://127.0.0.1:8702/docs
  registry API          http://127.0.0.1:8701/docs
  field tasks API       http://127.0.0.1:8704/docs
  detector              http://127.0.0.1:8703/v1/alerts
  messages sent         $ANBU_VAR_DIR/notifier/sink.jsonl
  simulator             $ANBU_VAR_DIR/log/simulator.log   (injected crises: $ANBU_VAR_DIR/simulator/ground-truth.jsonl)
  clock                 x$ANBU_CLOCK_SPEED, simulated time from $ANBU_CLOCK_START (x600: a day in 2.4 min)
  field app             http://127.0.0.1:8704/app   (official-515 / anbu-demo-2026; simulated staff: $ANBU_SIMULATOR_FIELD_STAFF)
  logs                  $ANBU_VAR_DIR/log/
  supervisor            a service that dies is restarted (backoff 1 s doubling to 30 s; given up
                        after 5 restarts in 60 s); counts: $ANBU_VAR_DIR/supervisor/metrics.prom
  kafka                 127.0.0.1:19092   (kcat -b 127.0.0.1:19092 -L)
MSG
wait "${pids[0]}"
