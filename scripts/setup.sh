#!/usr/bin/env bash
# Create .venv and install requirements.txt (again only when it changed).
# With --test, also install what the browser tests need (Debian's chromium and chromium-driver), nginx for
# the reverse-proxy test (Debian's nginx-light, its service left stopped), and the
# optional engines the tests cover (requirements-scale.txt: psycopg, pyspark; Debian's Java for Spark).
# With --scale, only those optional engines.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

apt_install() {
    echo "Installing Debian packages: $*"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

if [ "${1:-}" = "--test" ] && { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; }; then
    apt_install chromium chromium-driver
fi
if [ "${1:-}" = "--test" ] && [ ! -x /usr/sbin/nginx ]; then
    apt_install nginx-light  # the hostile-traffic tests put deploy/nginx.conf in front of gunicorn
    if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true; fi
fi
if { [ "${1:-}" = "--test" ] || [ "${1:-}" = "--scale" ]; } && ! command -v java >/dev/null 2>&1; then
    apt_install default-jre-headless
fi

if [ ! -x .venv/bin/python ]; then
    if ! "$PYTHON" -m venv --help >/dev/null 2>&1; then apt_install python3-venv; fi
    "$PYTHON" -m venv .venv
fi

requirements=(-r requirements.txt)
case "${1:-}" in --test|--scale) requirements+=(-r requirements-scale.txt) ;; esac
stamp=.venv/.requirements.sha256
want=$(echo "${requirements[*]}" | cat - requirements.txt requirements-scale.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "Installing Python packages into .venv (first run takes a few minutes)..."
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q "${requirements[@]}"
    echo "$want" > "$stamp"
fi
