#!/usr/bin/env bash
# Debian packages the tests and `make up` use: a real browser for the dashboard test (chromium,
# driven by Playwright without downloading browsers) and Prometheus for `make up`.
# Idempotent; needs root (or sudo) the first time. Called by `make test` and `make up`.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
[ ${#need[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: please install ${need[*]} with your package manager (no apt-get here)" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "==> installing ${need[*]} (Debian packages; log: .venv/apt.log)"
{ $sudo apt-get install -y --no-install-recommends "${need[@]}" \
  || { $sudo apt-get update && $sudo apt-get install -y --no-install-recommends "${need[@]}"; }; } \
  > .venv/apt.log 2>&1 || { tail -20 .venv/apt.log; echo "system-deps: apt-get failed (see .venv/apt.log)" >&2; exit 1; }
