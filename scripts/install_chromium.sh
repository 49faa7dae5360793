#!/usr/bin/env bash
# Install Debian's headless-capable Chromium for the browser test of the service's page (tests/test_page.py).
#
# Idempotent: apt-get runs only when no chromium binary is found. Prints the binary's path on its last line of
# stdout and exits 0, or says in one line on stderr why it could not (no apt-get, no root, no network) and exits 1;
# the test then skips with that reason (fails under CI). `make test` runs it before the tests.
#
# Usage: bash scripts/install_chromium.sh
set -euo pipefail

find_chromium() {
  local name
  for name in chromium chromium-browser google-chrome; do
    if command -v "$name" >/dev/null 2>&1; then
      command -v "$name"
      return 0
    fi
  done
  return 1
}

if find_chromium; then
  exit 0
fi
echo "install_chromium: installing Debian's chromium" >&2
# shellcheck source=scripts/apt_install.sh
source "$(dirname "$0")/apt_install.sh"
if ! apt_install install_chromium chromium >&2; then
  echo "install_chromium: apt-get install chromium failed" >&2
  exit 1
fi
find_chromium || { echo "install_chromium: chromium still not found after installing" >&2; exit 1; }
