#!/usr/bin/env bash
# Install everything the project needs, idempotently, from the registries this machine
# reaches: Debian packages (apt), uv and the Python workspace (PyPI), Kafka's jars (Maven
# Central). Nothing here needs to have been installed by hand.
#
#   deploy/install.sh run     what `make run` needs
#   deploy/install.sh test    what `make test` needs as well (PostgreSQL, compose validator)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROFILE="${1:-run}"
say() { printf 'install: %s\n' "$*" >&2; }

SUDO=""
if [[ "$(id -u)" != 0 ]] && command -v sudo >/dev/null; then SUDO="sudo"; fi

packages=()
command -v java >/dev/null || packages+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || packages+=(maven)
command -v kcat >/dev/null || packages+=(kcat)
command -v sqlite3 >/dev/null || packages+=(sqlite3)
if [[ "$PROFILE" == test ]]; then
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || packages+=(postgresql)
  command -v docker-compose >/dev/null || packages+=(docker-compose)
  # browser tests drive Debian's Chromium with Playwright (no browser downloads)
  [[ -x /usr/bin/chromium ]] || packages+=(chromium)
  # a Korean font, so that the pages' screenshots (docs/screenshots) are legible
  [[ -d /usr/share/fonts/truetype/nanum ]] || packages+=(fonts-nanum)
  command -v promtool >/dev/null || packages+=(prometheus)
fi
if ((${#packages[@]})); then
  say "apt: ${packages[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
      "${packages[@]}" >/dev/null
fi

if ! command -v uv >/dev/null; then
  say "uv from PyPI"
  python3 -m pip install --quiet --user "uv>=0.8" 2>/dev/null || python3 -m pip install --quiet "uv>=0.8"
  export PATH="$HOME/.local/bin:$PATH"
fi

cd "$ROOT"
export UV_PYTHON_DOWNLOADS=never
uv sync --frozen --quiet
"$ROOT/deploy/kafka.sh" fetch
