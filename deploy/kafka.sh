#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft) assembled from Maven Central jars.
#
#   deploy/kafka.sh fetch     resolve the broker and its dependencies (cached)
#   deploy/kafka.sh start     format storage on first use, start, wait until it answers
#   deploy/kafka.sh stop      stop the broker started from the same directory
#   deploy/kafka.sh status    exit 0 when the broker answers
#
# Environment: ANBU_KAFKA_PORT (default 19092; the controller listens on PORT+1),
# ANBU_KAFKA_DIR (default var/kafka: data, logs, pid), ANBU_KAFKA_HEAP (default 768m).
#
# Cluster mode (the production replication settings on one machine, for fault tests):
# ANBU_KAFKA_NODES=3 runs three nodes, each broker and controller, node N under
# DIR/node-N on port PORT+2(N-1) (its controller on the next port), with replication
# factor 3 and min.insync.replicas=2 for the internal topics and as the topic default.
# ANBU_KAFKA_NODE=N restricts start/stop/status to node N (to kill one and bring it back).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${ANBU_KAFKA_PORT:-19092}"
CONTROLLER_PORT="$((PORT + 1))"
DIR="${ANBU_KAFKA_DIR:-$ROOT/var/kafka}"
LIBS="$ROOT/var/kafka-libs"
HEAP="${ANBU_KAFKA_HEAP:-768m}"
POM="$ROOT/deploy/kafka/pom.xml"
NODES="${ANBU_KAFKA_NODES:-1}"
BASE_PORT="$PORT"
BASE_DIR="$DIR"

say() { printf 'kafka: %s\n' "$*" >&2; }

fetch() {
  local stamp
  stamp="$(sha256sum "$POM" | cut -c1-16)"
  if [[ -f "$LIBS/.complete" && "$(cat "$LIBS/.complete")" == "$stamp" ]]; then
    return 0
  fi
  command -v mvn >/dev/null || { say "maven (mvn) is required: apt-get install -y maven"; exit 1; }
  command -v java >/dev/null || { say "java is required: apt-get install -y openjdk-17-jre-headless"; exit 1; }
  say "resolving the broker from Maven Central ($(grep -o '<kafka.version>[^<]*' "$POM" | cut -d'>' -f2))"
  rm -rf "$LIBS"
  mkdir -p "$LIBS"
  mvn -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
      -DoutputDirectory="$LIBS" -DincludeScope=runtime >&2
  echo "$stamp" > "$LIBS/.complete"
  say "$(ls "$LIBS"/*.jar | wc -l) jars in $LIBS"
}

render() {
  mkdir -p "$DIR/data" "$DIR/logs"
  sed -e "s#@PORT@#$PORT#g" -e "s#@CONTROLLER_PORT@#$CONTROLLER_PORT#g" \
      -e "s#@DATA_DIR@#$DIR/data#g" \
      "$ROOT/deploy/kafka/server.properties.template" > "$DIR/server.properties"
  if ((NODES > 1)); then
    # Later keys override the single-node template's (java.util.Properties keeps the last).
    cat >> "$DIR/server.properties" <<PROPS
# cluster mode: node $NODE of $NODES
node.id=$NODE
controller.quorum.voters=$(voters)
default.replication.factor=$NODES
min.insync.replicas=2
offsets.topic.replication.factor=$NODES
transaction.state.log.replication.factor=$NODES
transaction.state.log.min.isr=2
share.coordinator.state.topic.replication.factor=$NODES
share.coordinator.state.topic.min.isr=2
PROPS
  fi
  sed -e "s#@LOG_DIR@#$DIR/logs#g" "$ROOT/deploy/kafka/log4j2.yaml.template" > "$DIR/log4j2.yaml"
}

answers() {
  # The broker answers a metadata request on its listener.
  if command -v kcat >/dev/null; then
    kcat -b "127.0.0.1:$PORT" -L -m 3 >/dev/null 2>&1
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null
  fi
}

pid_alive() {
  [[ -f "$DIR/kafka.pid" ]] && kill -0 "$(cat "$DIR/kafka.pid")" 2>/dev/null
}

cluster_id() {
  # Every node of a cluster is formatted with the same id, kept beside the nodes.
  if ((NODES > 1)); then
    [[ -f "$BASE_DIR/cluster.id" ]] \
      || java -cp "$LIBS/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1 > "$BASE_DIR/cluster.id"
    cat "$BASE_DIR/cluster.id"
  else
    java -cp "$LIBS/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1
  fi
}

launch() {
  render
  local cp="$LIBS/*"
  if [[ ! -f "$DIR/data/meta.properties" ]]; then
    local cluster_id
    cluster_id="$(cluster_id)"
    java -Dlog4j2.configurationFile="$DIR/log4j2.yaml" -cp "$cp" kafka.tools.StorageTool format \
        -t "$cluster_id" -c "$DIR/server.properties" >"$DIR/logs/format.log" 2>&1 \
      || { say "storage format failed:"; cat "$DIR/logs/format.log" >&2; exit 1; }
    say "formatted KRaft storage in $DIR/data (cluster $cluster_id)"
  fi
  nohup java "-Xmx$HEAP" -Xms256m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$DIR/log4j2.yaml" -Dkafka.logs.dir="$DIR/logs" \
      -cp "$cp" kafka.Kafka "$DIR/server.properties" >"$DIR/logs/stdout.log" 2>&1 &
  echo $! > "$DIR/kafka.pid"
}

wait_up() {
  for _ in $(seq 1 120); do
    if answers && pid_alive; then
      say "broker up on 127.0.0.1:$PORT (pid $(cat "$DIR/kafka.pid"), logs in $DIR/logs)"
      return 0
    fi
    if ! pid_alive; then
      say "broker exited during start; last log lines:"
      tail -n 30 "$DIR/logs/stdout.log" "$DIR/logs/server.log" >&2 2>/dev/null || true
      exit 1
    fi
    sleep 0.5
  done
  say "broker did not answer within 60 s; see $DIR/logs"
  exit 1
}

start() {
  fetch
  if pid_alive && answers; then
    say "already running on 127.0.0.1:$PORT (pid $(cat "$DIR/kafka.pid"))"
    return 0
  fi
  if answers; then
    say "port $PORT already answers, but not for the broker of $DIR: stop that one or choose ANBU_KAFKA_PORT"
    exit 1
  fi
  launch
  wait_up
}

stop() {
  if ! pid_alive; then
    rm -f "$DIR/kafka.pid"
    return 0
  fi
  local pid
  pid="$(cat "$DIR/kafka.pid")"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$DIR/kafka.pid"; say "stopped"; return 0; }
    sleep 0.5
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$DIR/kafka.pid"
  say "killed after 30 s"
}

# Cluster mode: node N's port, controller port and directory.
select_node() {
  NODE="$1"
  PORT="$((BASE_PORT + 2 * (NODE - 1)))"
  CONTROLLER_PORT="$((PORT + 1))"
  DIR="$BASE_DIR/node-$NODE"
}

voters() {
  local n list=""
  for n in $(seq 1 "$NODES"); do
    list+="${list:+,}$n@127.0.0.1:$((BASE_PORT + 2 * (n - 1) + 1))"
  done
  echo "$list"
}

cluster() {
  local n nodes
  nodes="${ANBU_KAFKA_NODE:-$(seq 1 "$NODES")}"
  mkdir -p "$BASE_DIR"
  case "$1" in
    start)
      fetch
      # Launch every node before waiting: a broker answers only once a quorum is up.
      local launched=()
      for n in $nodes; do
        select_node "$n"
        if pid_alive && answers; then say "node $n already running on 127.0.0.1:$PORT"; continue; fi
        if answers; then say "port $PORT already answers, but not for node $n of $BASE_DIR"; exit 1; fi
        launch
        launched+=("$n")
      done
      for n in "${launched[@]}"; do select_node "$n"; wait_up; done
      ;;
    stop)
      # Signal every node before waiting on any: a node waits for a quorum to shut down
      # cleanly, which it would never find if the others were stopped one after another.
      for n in $nodes; do select_node "$n"; if pid_alive; then kill -TERM "$(cat "$DIR/kafka.pid")" 2>/dev/null || true; fi; done
      for n in $nodes; do select_node "$n"; stop; done
      ;;
    status) for n in $nodes; do select_node "$n"; answers; done ;;
  esac
}

if ((NODES > 1)); then
  case "${1:-}" in
    fetch) fetch ;;
    start|stop|status) cluster "$1" ;;
    *) echo "usage: $0 fetch|start|stop|status" >&2; exit 2 ;;
  esac
  exit 0
fi

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) answers ;;
  *) echo "usage: $0 fetch|start|stop|status" >&2; exit 2 ;;
esac
