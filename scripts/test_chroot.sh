#!/usr/bin/env bash
# Runs the test suite (default: the QGIS tests) against a newer QGIS from Debian in a chroot:
#   scripts/test_chroot.sh trixie [pytest args]   QGIS 3.40 LTR, Python 3.13, numpy 2, geopandas with pyogrio
#   scripts/test_chroot.sh sid [pytest args]      QGIS 3.44
# The chroot and its test venv (pytest, pytest-qgis, reference libraries; no torch: the torch algorithms are
# tested on the host) are made once and kept (scripts/qgis_chroot.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
SUITE=${1:?trixie or sid}; shift
bash scripts/qgis_chroot.sh setup "$SUITE"
exec bash scripts/qgis_chroot.sh run "$SUITE" bash -c '
set -euo pipefail
VENV=/opt/st_analyzer_test_venv
if [ ! -f $VENV/.ready ]; then
  rm -rf $VENV
  python3 -m venv --system-site-packages $VENV
  # Debian'"'"'s packages as constraints: pip adds the test tools around them and never replaces them
  python3 -c "import importlib.metadata as m; print(\"\\n\".join(sorted({d.name + \"==\" + d.version for d in m.distributions() if d.name})))" > $VENV/debian-constraints.txt
  PIP="$VENV/bin/pip install -q --disable-pip-version-check -c $VENV/debian-constraints.txt"
  $PIP pytest pytest-qgis qgis-plugin-ci setuptools wheel
  for reference in pymannkendall esda libpysal ruptures; do  # the diagnostics tests compare with these
    $PIP --only-binary=:all: $reference || echo ">> no wheel of $reference for this Python: its comparison tests skip"
  done
  touch $VENV/.ready
fi
if ! $VENV/bin/python -c "import statsforecast" 2>/dev/null; then  # forecastbylocation; may lift statsmodels
  grep -v "^statsmodels==" $VENV/debian-constraints.txt > $VENV/statsforecast-constraints.txt
  $VENV/bin/pip install -q --disable-pip-version-check -c $VENV/statsforecast-constraints.txt --only-binary=:all: \
    statsforecast || echo ">> no statsforecast wheel for this Python: the forecast-by-location tests skip"
fi
export ST_ANALYZER_TEST_TORCH=none ST_ANALYZER_TEST_MATRIX=1 QT_QPA_PLATFORM=offscreen QGIS_PLUGINPATH=/src PYTHONPATH=/src ST_ANALYZER_PYTHON=$VENV/bin/python \
  PROJ_DATA=/usr/share/proj GDAL_PAM_ENABLED=NO XDG_RUNTIME_DIR=/tmp/runtime-root \
  QGIS_CUSTOM_CONFIG_PATH=/tmp/st_analyzer_profile_$$ ST_ANALYZER_QGIS_LABEL="$(qgis_process --version 2>/dev/null | head -1)"
mkdir -p $XDG_RUNTIME_DIR && chmod 700 $XDG_RUNTIME_DIR
echo ">> $ST_ANALYZER_QGIS_LABEL, $(python3 --version)"
exec $VENV/bin/python -m pytest -p no:cacheprovider -o cache_dir=/tmp/pytest_cache "${@:-tests/qgis}"
' _ "$@"
