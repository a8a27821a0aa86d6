#!/usr/bin/env bash
# The plugin zip as users install it: st_analyzer/ (with LICENSE and metadata) plus the backend as a wheel in
# st_analyzer/backend_wheel/, which 'Set up backend' installs. One zip, made by qgis-plugin-ci.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}   # needs pip, setuptools and qgis-plugin-ci
VERSION=$(sed -n 's/^version=//p' st_analyzer/metadata.txt)
rm -rf st_analyzer/backend_wheel
"$PYTHON" -m pip wheel -q --no-deps --no-build-isolation -w st_analyzer/backend_wheel . >/dev/null
WHEEL=$(ls st_analyzer/backend_wheel/st_analyzer_backend-"$VERSION"-*.whl)
"$PYTHON" -m qgispluginci package "$VERSION" --allow-uncommitted-changes --asset-path "$WHEEL"
rm -rf st_analyzer/backend_wheel build
echo "st_analyzer.$VERSION.zip"
