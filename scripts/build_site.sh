#!/usr/bin/env bash
# Build the course website into _build/html (or into $1/_build/html), with every warning an error.
# Installs the pinned front-end files (package-lock.json) and serves them from the site itself,
# so the pages need no network: MathJax, require.js and the widget manager. Every page is written
# again (--all): Sphinx would otherwise skip copying changed static files when no page changed.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund --loglevel=error
python scripts/vendor_assets.py
if [ $# -ge 1 ]; then
  jupyter-book build . --all -W -n --keep-going --path-output "$1"
else
  jupyter-book build . --all -W -n --keep-going
fi
