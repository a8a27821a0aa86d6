#!/usr/bin/env bash
# Runs the plugin's algorithms through qgis_process on the sample data shipped in sample_data/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/qgis_env.sh
OUT="$PWD/output/demo"
rm -rf "$OUT" && mkdir -p "$OUT"
SAMPLE="$OUT/sample_data"   # a copy: QGIS opens GeoPackages for update and may rewrite them
cp -r sample_data "$SAMPLE"
"$QGIS_PROCESS" plugins enable st_analyzer >/dev/null 2>&1 || true   # non-zero when already enabled

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
run stanalyzer:buildrasterstack FOLDER="$SAMPLE/era5_t2m_daily" FILE_FILTER='t2m_*.tif' \
  TIME_SOURCE=0 FILENAME_PATTERN=%Y%m%d OUTPUT="$OUT/t2m_daily_stack.tif"
echo ">> 2. Describe the stack (time axis, gaps, missing share per cell, statistics)"
run stanalyzer:describespacetime INPUT="$OUT/t2m_daily_stack.tif" OUTPUT_HTML="$OUT/t2m_stack_summary.html" \
  OUTPUT_TABLE="$OUT/t2m_stack_per_time.csv" OUTPUT_MISSING="$OUT/t2m_stack_missing_share.tif"
echo ">> 3. Describe the PM10 station layer (68 German stations, daily, Jan–Mar 2005)"
run stanalyzer:describespacetime INPUT="$SAMPLE/de_pm10_2005q1.gpkg" ID_FIELD=station_id TIME_FIELD=date \
  VALUE_FIELD=pm10 OUTPUT_HTML="$OUT/pm10_summary.html" OUTPUT_TABLE="$OUT/pm10_stations.gpkg"
PM10="INPUT=$SAMPLE/de_pm10_2005q1.gpkg ID_FIELD=station_id TIME_FIELD=date VALUE_FIELD=pm10"
echo ">> 4. Fit a space-time variogram to the PM10 stations (all five models, the best by cross-validation)"
run stanalyzer:fitstvariogram $PM10 MODEL=6 TLAGS=6 OUTPUT_MODEL="$OUT/pm10_variogram.json" \
  OUTPUT_REPORT="$OUT/pm10_variogram.html"
echo ">> 5. Space-time kriging of PM10 to a 10 km grid, 10–16 January 2005 (7 daily bands + variance)"
run stanalyzer:stkriging $PM10 MODEL_FILE="$OUT/pm10_variogram.json" NMAX=50 PIXEL_SIZE=10000 \
  START=2005-01-10T00:00:00 END=2005-01-16T00:00:00 STEP="1 day" OUTPUT="$OUT/pm10_kriged.tif" \
  OUTPUT_VARIANCE="$OUT/pm10_kriged_variance.tif"
echo ">> 6. Leave-one-station-out cross-validation, against pure spatial kriging per day"
run stanalyzer:stkrigingcv $PM10 MODEL_FILE="$OUT/pm10_variogram.json" NMAX=50 OUTPUT="$OUT/pm10_cv_stations.gpkg" \
  OUTPUT_REPORT="$OUT/pm10_cv.html"
grep -h "RMSE" "$OUT"/stkrigingcv_*.log | sed 's/^/   /'
T2M="$SAMPLE/era5_t2m_uk_2019_03_hourly.tif"
echo ">> 7. Baseline forecast of hourly 2 m temperature: persisted anomaly, next 6 hours"
run stanalyzer:baselineforecast INPUT="$T2M" METHOD=2 HORIZON=6 OUTPUT="$OUT/t2m_persisted_anomaly_6h.tif"
echo ">> 8. Train a small ConvLSTM on the CPU (3 epochs; the last 75 hours are held out as test) and forecast"
run stanalyzer:trainrasterforecaster INPUT="$T2M" MODEL_TYPE=0 LOOKBACK=12 HORIZON=6 EPOCHS=3 HIDDEN=8 \
  TEST_FRACTION=0.1008 DEVICE=0 OUTPUT_MODEL="$OUT/t2m_convlstm" OUTPUT_REPORT="$OUT/t2m_training.html"
grep -h "skill vs best baseline" "$OUT"/trainrasterforecaster_*.log | head -1 | sed 's/^/   /'
echo "   (a 3-epoch CPU demo model; benchmarks/forecast.py trains a full one: see the README's benchmarks)"
run stanalyzer:forecastraster INPUT="$T2M" MODEL="$OUT/t2m_convlstm" OUTPUT="$OUT/t2m_forecast_6h.tif" \
  OUTPUT_LOWER="$OUT/t2m_forecast_low.tif" OUTPUT_UPPER="$OUT/t2m_forecast_high.tif"
echo ">> 9. Anomalies: PM10 stations that disagree with their neighbours (space-time kriging), and unusual hours"
run stanalyzer:detectpointanomalies $PM10 METHOD=2 SMOOTH_STEPS=1 OUTPUT="$OUT/pm10_anomalies.gpkg" \
  OUTPUT_EVENTS="$OUT/pm10_anomaly_events.csv" OUTPUT_REPORT="$OUT/pm10_anomalies.html"
run stanalyzer:detectrasteranomalies INPUT="$T2M" METHOD=0 OUTPUT_SCORES="$OUT/t2m_anomaly_scores.tif" \
  OUTPUT_FLAGS="$OUT/t2m_anomaly_flags.tif" OUTPUT_SUMMARY="$OUT/t2m_anomaly_count.tif"
LA="SENSORS=$SAMPLE/metr_la_subset/sensors.gpkg ID_FIELD=sensor_id OBSERVATIONS=$SAMPLE/metr_la_subset/speed_wide.csv MISSING_VALUE=0"
echo ">> 10. Sensor network: a graph GRU on 30 Los Angeles detectors (5-min speeds), then the next hour"
run stanalyzer:trainnetworkforecaster $LA GRAPH=2 EDGES="$SAMPLE/metr_la_subset/edges.csv" MODEL_TYPE=0 LOOKBACK=12 \
  HORIZON=12 EPOCHS=3 BATCHES_PER_EPOCH=40 DEVICE=0 OUTPUT_MODEL="$OUT/la_graph_gru" OUTPUT_REPORT="$OUT/la_training.html"
grep -h "Test MAE per step" "$OUT"/trainnetworkforecaster_*.log | head -1 | cut -c1-160 | sed 's/^/   /'
echo "   (a 3-epoch demo on 10 days; benchmarks/network_forecast.py trains on METR-LA: see the README's benchmarks)"
run stanalyzer:forecastnetwork $LA MODEL="$OUT/la_graph_gru" ORIGIN=2012-03-09T07:30:00 OUTPUT="$OUT/la_next_hour.gpkg"
echo ">> 11. Diagnostics of the PM10 stations, weekly emerging hot spots and clusters of the hourly temperature"
run stanalyzer:timeseriesdiagnostics $PM10 OUTPUT="$OUT/pm10_diagnostics.gpkg" OUTPUT_REPORT="$OUT/pm10_diagnostics.html"
run stanalyzer:emerginghotspots $PM10 TIME_STEP=7D OUTPUT="$OUT/pm10_hot_spots.gpkg" OUTPUT_REPORT="$OUT/pm10_hot_spots.html"
run stanalyzer:timeseriesclustering INPUT="$T2M" FEATURES=1 OUTPUT="$OUT/t2m_clusters.tif" \
  OUTPUT_PROFILES="$OUT/t2m_cluster_profiles.csv" OUTPUT_REPORT="$OUT/t2m_clusters.html"
echo ">> 12. Next week per PM10 station (the best of ARIMA, ETS, curve, forest, seasonal naive and their mean on the"
echo "    last 14 days), and stations that stand out from their neighbours month by month (Local Moran's I)"
run stanalyzer:forecastbylocation $PM10 HORIZON=7 VALIDATION_STEPS=14 OUTPUT="$OUT/pm10_next_week.gpkg" \
  OUTPUT_EVALUATION="$OUT/pm10_forecast_evaluation.csv" OUTPUT_REPORT="$OUT/pm10_next_week.html"
grep -h "Methods used" "$OUT"/forecastbylocation_*.log | head -1 | cut -c1-160 | sed 's/^ */   /'
run stanalyzer:localoutliers $PM10 TIME_STEP=1M NEIGHBOURHOOD=2 K_NEIGHBOURS=6 OUTPUT="$OUT/pm10_local_outliers.gpkg" \
  OUTPUT_STEPS="$OUT/pm10_local_outliers_by_month.csv" OUTPUT_REPORT="$OUT/pm10_local_outliers.html"
echo
echo "Outputs in $OUT:"
ls -1 "$OUT" | grep -v -e '\.log$' -e '\.aux\.xml$' -e '^sample_data$' | sed 's/^/   /'
gdalinfo "$OUT/t2m_daily_stack.tif" 2>/dev/null | grep -E "^Size|Description" | head -3 | sed 's/^/   /'
echo "   … open the .html reports in a browser, or the .tif/.gpkg files in QGIS."
