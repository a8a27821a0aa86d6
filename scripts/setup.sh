#!/usr/bin/env bash
# Idempotent set-up on Debian 12: QGIS + the Debian GDAL stack (apt), then a virtual environment
# on top of the system Python with what Debian lacks (pip, constraints.txt keeps numpy & co).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(qgis python3-qgis qgis-providers xvfb python3-rasterio python3-geopandas python3-fiona
  python3-shapely python3-pyproj python3-pandas python3-scipy python3-numpy python3-matplotlib
  python3-statsmodels python3-netcdf4 python3-sklearn python3-dask python3-distributed python3-xarray
  python3-rioxarray python3-threadpoolctl python3-venv python3-pip git)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo ">> apt: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

STAMP=.venv/.st_analyzer-setup
if [ ! -x .venv/bin/python ]; then
  echo ">> creating .venv (system site packages visible: QGIS bindings, GDAL stack)"
  /usr/bin/python3 -m venv --system-site-packages .venv
fi
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ] || [ constraints.txt -nt "$STAMP" ] || [ requirements-dev.txt -nt "$STAMP" ]; then
  echo ">> pip: torch (CPU), pytest, pytest-qgis, qgis-plugin-ci, backend (editable)"
  .venv/bin/pip install -q -c constraints.txt -r requirements-dev.txt
  .venv/bin/pip install -q --no-deps --no-build-isolation -e .
  touch "$STAMP"
fi
