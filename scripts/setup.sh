#!/usr/bin/env bash
# Idempotent set-up: Debian packages (when missing), .venv, the project with its
# pinned-range dependencies. A second run only checks.
#   scripts/setup.sh          what `make run` needs
#   scripts/setup.sh --test   plus what the tests and benchmarks need (chromium, wrk)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

pkgs=(postgresql-15 postgresql-15-postgis-3 postgresql-15-pgrouting fonts-noto-cjk)
[ $want_test = 1 ] && pkgs+=(chromium wrk)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    SUDO=sudo
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=""
for c in python3.11 python3; do
  if command -v "$c" >/dev/null && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    PY=$(command -v "$c"); break
  fi
done
[ -n "$PY" ] || { echo "Python 3.11 is required (python3.11 not found)" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $PY"
  "$PY" -m venv .venv
fi

stamp=.venv/.servicemap-installed
sig=$(cat pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sig" ]; then
  echo "==> installing ServiceMap and its dependencies into .venv"
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e ".[test]"
  echo "$sig" > "$stamp"
fi
# axe-core (npm) for the accessibility checks of the browser tests
if [ $want_test = 1 ]; then
  axe=.venv/axe-core/node_modules/axe-core/axe.min.js
  if [ ! -f "$axe" ]; then
    if ! command -v npm >/dev/null; then
      echo "==> installing Debian package: npm"
      SUDO=""; [ "$(id -u)" != 0 ] && SUDO=sudo
      $SUDO apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends npm >/dev/null
    fi
    echo "==> installing axe-core into .venv/axe-core"
    npm install --silent --no-audit --no-fund --prefix .venv/axe-core "axe-core@>=4.10 <5" >/dev/null
  fi
fi
echo "==> set-up complete"
