#!/usr/bin/env bash
# Create .venv and install requirements.txt (again only when that file changes).
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
    .venv/bin/python -m pip install -q --upgrade pip
fi

# One stamp per requirements file (the hash of its content), so that demo.sh (the core) and test.sh
# (the core and the extras) never undo each other: each file is installed again only when it changes.
install() {  # FILE STAMP WHAT
    local want
    want=$(sha256sum "$1" | cut -d' ' -f1)
    if [ "$(cat "$2" 2>/dev/null)" = "$want" ]; then return; fi
    if [ -e "$2" ]; then
        echo "$1 changed since .venv was set up: updating $3..."
    else
        echo "Installing $3 into .venv (once; a few minutes)..."
    fi
    .venv/bin/python -m pip install -q -r "$1"
    echo "$want" > "$2"
}
install requirements.txt .venv/.requirements.sha256 "the Python packages of requirements.txt"
case "${1:-}" in --test|--scale)
    install requirements-scale.txt .venv/.requirements-scale.sha256 "the optional engines of requirements-scale.txt"
esac

# The person model shop the look frames worn garments with (recommender/person.py): fetched once into
# models/person/; without the registry, one line says so and shop the look keeps its windows alone.
bash scripts/fetch_person_model.sh
