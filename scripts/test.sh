#!/usr/bin/env bash
# Runs the test suite (unit tests without QGIS, then QGIS and qgis_process tests).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/qgis_env.sh
export QGIS_CUSTOM_CONFIG_PATH="$PWD/.qgis-profile-test"
rm -rf "$QGIS_CUSTOM_CONFIG_PATH"
export GDAL_PAM_ENABLED=NO  # QGIS would write .aux.xml statistics next to the sample rasters
exec .venv/bin/python -m pytest -p no:cacheprovider "${@:-tests}"
