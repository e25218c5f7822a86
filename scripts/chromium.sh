#!/usr/bin/env bash
# Debian's Chromium for the status page's browser test (test/e2e/manual.test.ts drives it with
# playwright-core; no browser is downloaded from anywhere else). Idempotent: does nothing when it is there.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "chromium.sh: /usr/bin/chromium is missing; as root this installs Debian's chromium package" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
/usr/bin/chromium --version
