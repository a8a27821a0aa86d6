#!/usr/bin/env bash
# Runs the plugin's algorithms through qgis_process on the sample data shipped in sample_data/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/qgis_env.sh
OUT="$PWD/output/demo"
rm -rf "$OUT" && mkdir -p "$OUT"
"$QGIS_PROCESS" plugins enable st_analyzer >/dev/null

run() {  # run ALGORITHM ARGS... : prints a one-line status, the full log goes to output/demo/<alg>.log
  local alg=$1; shift
  local log="$OUT/${alg#stanalyzer:}_$(( ++step )).log"
  local t0=$SECONDS
  if "$QGIS_PROCESS" run "$alg" -- "$@" >"$log" 2>&1; then
    echo "   ok  $alg ($(( SECONDS - t0 )) s)"
  else
    echo "FAILED $alg — see $log"; tail -5 "$log"; exit 1
  fi
}
step=0
echo ">> 1. Build a raster time stack from 27 daily ERA5 temperature files (time from file names)"
run stanalyzer:buildrasterstack FOLDER=sample_data/era5_t2m_daily FILE_FILTER='t2m_*.tif' \
  TIME_SOURCE=0 FILENAME_PATTERN=%Y%m%d OUTPUT="$OUT/t2m_daily_stack.tif"
echo ">> 2. Describe the stack (time axis, gaps, missing share per cell, statistics)"
run stanalyzer:describespacetime INPUT="$OUT/t2m_daily_stack.tif" OUTPUT_HTML="$OUT/t2m_stack_summary.html" \
  OUTPUT_TABLE="$OUT/t2m_stack_per_time.csv" OUTPUT_MISSING="$OUT/t2m_stack_missing_share.tif"
echo ">> 3. Describe the PM10 station layer (68 German stations, daily, Jan–Mar 2005)"
run stanalyzer:describespacetime INPUT=sample_data/de_pm10_2005q1.gpkg ID_FIELD=station_id TIME_FIELD=date \
  VALUE_FIELD=pm10 OUTPUT_HTML="$OUT/pm10_summary.html" OUTPUT_TABLE="$OUT/pm10_stations.gpkg"
echo
echo "Outputs in $OUT:"
ls -1 "$OUT" | grep -v '\.log$' | sed 's/^/   /'
gdalinfo "$OUT/t2m_daily_stack.tif" 2>/dev/null | grep -E "^Size|Description" | head -3 | sed 's/^/   /'
echo "   … open the .html reports in a browser, or the .tif/.gpkg files in QGIS."
