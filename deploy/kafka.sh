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
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${ANBU_KAFKA_PORT:-19092}"
CONTROLLER_PORT="$((PORT + 1))"
DIR="${ANBU_KAFKA_DIR:-$ROOT/var/kafka}"
LIBS="$ROOT/var/kafka-libs"
HEAP="${ANBU_KAFKA_HEAP:-768m}"
POM="$ROOT/deploy/kafka/pom.xml"

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
  render
  local cp="$LIBS/*"
  if [[ ! -f "$DIR/data/meta.properties" ]]; then
    local cluster_id
    cluster_id="$(java -cp "$cp" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -n1)"
    java -Dlog4j2.configurationFile="$DIR/log4j2.yaml" -cp "$cp" kafka.tools.StorageTool format \
        -t "$cluster_id" -c "$DIR/server.properties" >"$DIR/logs/format.log" 2>&1 \
      || { say "storage format failed:"; cat "$DIR/logs/format.log" >&2; exit 1; }
    say "formatted KRaft storage in $DIR/data (cluster $cluster_id)"
  fi
  nohup java "-Xmx$HEAP" -Xms256m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$DIR/log4j2.yaml" -Dkafka.logs.dir="$DIR/logs" \
      -cp "$cp" kafka.Kafka "$DIR/server.properties" >"$DIR/logs/stdout.log" 2>&1 &
  echo $! > "$DIR/kafka.pid"
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

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) answers ;;
  *) echo "usage: $0 fetch|start|stop|status" >&2; exit 2 ;;
esac
