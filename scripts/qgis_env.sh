# Source this: environment for running qgis_process with the plugin from this checkout.
# Uses a private QGIS profile folder (.qgis-profile) so the user's own profile is untouched.
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_site="$("$_root/.venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
export QT_QPA_PLATFORM=offscreen
export QGIS_PLUGINPATH="$_root"
export QGIS_CUSTOM_CONFIG_PATH="${QGIS_CUSTOM_CONFIG_PATH:-$_root/.qgis-profile}"
export PYTHONPATH="$_root:$_site${PYTHONPATH:+:$PYTHONPATH}"
export PROJ_DATA="${PROJ_DATA:-/usr/share/proj}" PROJ_LIB="${PROJ_LIB:-/usr/share/proj}"
export ST_ANALYZER_PYTHON="${ST_ANALYZER_PYTHON:-$_root/.venv/bin/python}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/runtime-$(id -u)}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
QGIS_PROCESS=/usr/bin/qgis_process.bin
