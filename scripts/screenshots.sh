#!/usr/bin/env bash
# Screenshots for the README from a real QGIS window: QGIS desktop under Xvfb with this checkout's plugin,
# in a throw-away profile. Writes docs/images/*.png and docs/images/screenshots.log.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
source "$root/scripts/qgis_env.sh"
unset QT_QPA_PLATFORM
profiles="$(mktemp -d)"
mkdir -p "$profiles/profiles/default/QGIS"
cat > "$profiles/profiles/default/QGIS/QGIS3.ini" <<INI
[PythonPlugins]
st_analyzer=true
processing=true

[qgis]
showTips=false
checkVersion=false
INI
export ST_ANALYZER_REPO="$root"  # ST_ANALYZER_SCENES=network_scene,… limits the scenes
timeout 900 xvfb-run -a -s "-screen 0 1600x1000x24" qgis --nologo --noversioncheck \
    --profiles-path "$profiles" --code "$root/scripts/screenshots.py" >/dev/null 2>&1 || true
rm -rf "$profiles"
cat "$root/docs/images/screenshots.log"
