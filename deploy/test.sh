#!/usr/bin/env bash
# `make test`: install what is missing, start a fresh Kafka broker and PostgreSQL cluster
# for this run, run lint, types, contract checks and every test, stop what it started.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
started=$(date +%s)
"$ROOT/deploy/install.sh" test
export PATH="$HOME/.local/bin:$PATH" UV_PYTHON_DOWNLOADS=never

TEST_VAR="$ROOT/var/test"
export ANBU_KAFKA_PORT="${ANBU_TEST_KAFKA_PORT:-29092}" ANBU_KAFKA_DIR="$TEST_VAR/kafka"
export ANBU_PG_PORT="${ANBU_TEST_PG_PORT:-55432}" ANBU_PG_DIR="$TEST_VAR/postgres"
cleanup() {
  deploy/kafka.sh stop || true
  deploy/postgres.sh stop || true
}
trap cleanup EXIT
deploy/kafka.sh stop >/dev/null 2>&1 || true
deploy/postgres.sh stop >/dev/null 2>&1 || true
rm -rf "$TEST_VAR"
mkdir -p "$TEST_VAR"

deploy/kafka.sh start
deploy/postgres.sh start
export ANBU_TEST_KAFKA="127.0.0.1:$ANBU_KAFKA_PORT"
export ANBU_TEST_POSTGRES_URL="$(deploy/postgres.sh url)"
uv run --frozen anbu-topics create --bootstrap "$ANBU_TEST_KAFKA"

step() { printf '\n== %s\n' "$*"; }
step "lint (ruff)"
uv run --frozen ruff check .
uv run --frozen ruff format --check .
step "types (mypy --strict on contracts and the domain packages)"
uv run --frozen mypy contracts/src libs/runtime/src services/*/src/anbu_*/domain
step "contracts: exported JSON Schemas, AsyncAPI, OpenAPI, protocol and rule documents are current"
uv run --frozen python -m anbu_contracts.export --check
uv run --frozen python tools/gen_asyncapi.py --check
uv run --frozen python tools/gen_openapi.py --check
uv run --frozen python tools/gen_protocols_doc.py --check
uv run --frozen python tools/gen_rules_doc.py --check
step "docker-compose.yml is valid"
docker-compose --env-file deploy/compose.env.example -f docker-compose.yml config --quiet
step "tests (unit, integration on the real broker and PostgreSQL, end-to-end)"
uv run --frozen pytest "$@"
printf '\nmake test: passed in %ss\n' "$(( $(date +%s) - started ))"
