#!/usr/bin/env bash
# One entry point for a fresh machine.
#   bash deploy/dev.sh run    install into .venv, build the index if missing, start the bot
#   bash deploy/dev.sh test   install into .venv (with dev tools and voice), then ruff, mypy and pytest
# Anything after the verb is passed on (to `citizenbot run`, or to pytest).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
VENV=.venv
verb=${1:-}
[ $# -gt 0 ] && shift

install() {
    # $1: extras ("" or "dev"). Re-installs only when pyproject.toml changed.
    local extras=$1 stamp
    [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
    stamp="$VENV/.installed-$(sha256sum pyproject.toml | cut -c1-16)-${extras:-base}"
    if [ ! -f "$stamp" ]; then
        "$VENV/bin/python" -m pip install -q --upgrade pip
        if [ "$extras" = dev ]; then
            # CPU build of torch first, so sentence-transformers does not pull a CUDA one.
            "$VENV/bin/python" -m pip install -q "torch==2.13.0"
            "$VENV/bin/python" -m pip install -q -e ".[dev,voice]"
        else
            "$VENV/bin/python" -m pip install -q -e .
        fi
        touch "$stamp"
    fi
}

case "$verb" in
    run)
        install ""
        exec "$VENV/bin/citizenbot" run "$@"
        ;;
    test)
        install dev
        export PATH="$PWD/$VENV/bin:$PATH"
        echo "== ruff"; ruff check .
        echo "== mypy"; mypy
        echo "== pytest"; exec pytest "$@"
        ;;
    *)
        echo "usage: bash deploy/dev.sh run|test [args...]" >&2
        exit 2
        ;;
esac
