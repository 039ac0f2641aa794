#!/usr/bin/env bash
# Install Debian's Chromium (for tests/test_report_browser.py) and a CJK font (so report
# screenshots show Chinese text) when missing. Idempotent; needs root or sudo; apt only.
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
fc-list 2>/dev/null | grep -qiE 'wqy|noto (sans|serif) cjk' || need+=(fonts-wqy-microhei)

if [ ${#need[@]} -eq 0 ]; then
    echo "setup_browser: chromium and a CJK font already installed ($(/usr/bin/chromium --version 2>/dev/null || echo chromium))"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "setup_browser: need root or sudo to install ${need[*]}" >&2; exit 1; }
    SUDO="sudo"
fi
echo "setup_browser: installing ${need[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
/usr/bin/chromium --version
