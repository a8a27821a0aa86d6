#!/usr/bin/env bash
# Runs the test suite: unit tests without QGIS, then QGIS and qgis_process tests on the host's QGIS 3.22;
# with no arguments (the whole suite) the unit and QGIS tests again on QGIS 3.40 LTR (Debian 13) and QGIS 3.44
# (Debian unstable), each in a debootstrap chroot kept between runs (scripts/qgis_chroot.sh).
# ST_ANALYZER_QGIS_MATRIX lists the chroots to use ("" = host only).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/qgis_env.sh
export QGIS_CUSTOM_CONFIG_PATH="$PWD/.qgis-profile-test"
rm -rf "$QGIS_CUSTOM_CONFIG_PATH"
export GDAL_PAM_ENABLED=NO  # QGIS would write .aux.xml statistics next to the sample rasters
echo ">> host: $(qgis_process.bin --version 2>/dev/null | grep -m1 QGIS || true)"
.venv/bin/python -m pytest -p no:cacheprovider "${@:-tests}"
[ $# -eq 0 ] || exit 0

for suite in ${ST_ANALYZER_QGIS_MATRIX-trixie sid}; do
  if [ "$(id -u)" -ne 0 ]; then
    echo ">> SKIPPED the QGIS $suite chroot: making and entering it needs root (debootstrap, mount, chroot)."
    continue
  fi
  echo ">> unit and QGIS tests in the Debian $suite chroot"
  bash scripts/test_chroot.sh "$suite" tests/unit tests/qgis
done
