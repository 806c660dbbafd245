#!/usr/bin/env bash
# Re-resolve requirements-dev.txt (which includes requirements.txt) in a throw-away venv and write
# every distribution it installed, at its exact version, to requirements.lock. Every environment
# installs under that lock (`pip install -c requirements.lock`): the dev venv, and the Lambda
# requirement sets pin the same versions (tests/infra/test_lock.py). Run it after changing a pin,
# then `make install` and the tests: a clone next month then installs what CI tested.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$PYTHON" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q -U pip
"$tmp/venv/bin/python" -m pip install -q -r requirements-dev.txt
"$tmp/venv/bin/python" -m pip check
{
  echo "# Every distribution of the dev venv at its exact version, resolved from requirements-dev.txt on"
  echo "# $(date -u +%Y-%m-%d) by scripts/lock.sh (Python $("$tmp/venv/bin/python" -c 'import platform; print(platform.python_version())'), $(uname -m))."
  echo "# Installed as a constraint (pip install -r requirements-dev.txt -c requirements.lock). Regenerate"
  echo "# with \`make lock\`; never edit by hand. The Lambda requirement sets pin the same versions."
  "$tmp/venv/bin/python" -m pip freeze --exclude-editable | LC_ALL=C sort -f
} > requirements.lock
echo "requirements.lock: $(grep -c '==' requirements.lock) distributions"
