#!/usr/bin/env bash
# Installs Debian's headless Chromium for the dashboard's browser tests when it
# is missing. Browser tests skip (with a message) only when this fails.
set -uo pipefail
if command -v chromium >/dev/null 2>&1 || [[ -x /usr/bin/chromium ]]; then
	exit 0
fi
if [[ $EUID -ne 0 ]]; then
	echo "chromium.sh: chromium not found and not root: browser tests will be skipped" >&2
	exit 0
fi
echo "chromium.sh: installing Debian's chromium" >&2
apt-get update -q >/dev/null 2>&1 || true
DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null 2>&1 ||
	echo "chromium.sh: could not install chromium: browser tests will be skipped" >&2
exit 0
