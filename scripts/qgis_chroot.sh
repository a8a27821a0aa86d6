#!/usr/bin/env bash
# A newer QGIS from Debian's own packages in a chroot, made with debootstrap and kept between runs.
#   scripts/qgis_chroot.sh setup SUITE          build /var/cache/st_analyzer/chroot-SUITE once (trixie: QGIS 3.40 LTR,
#                                               sid: QGIS 3.44); ~6 min and ~2.7 GB each, idempotent
#   scripts/qgis_chroot.sh run SUITE CMD...     run CMD in it, with this checkout bind-mounted at /src (cwd)
# Needs root (debootstrap, mount, chroot) and Debian's mirrors.
set -euo pipefail
cd "$(dirname "$0")/.."
ACTION=${1:?setup or run}; SUITE=${2:?trixie or sid}; shift 2
ROOT=/var/cache/st_analyzer/chroot-$SUITE
STAMP=$ROOT/.st_analyzer-ready
PACKAGES="qgis python3-qgis qgis-providers python3-rasterio python3-geopandas python3-scipy python3-statsmodels
  python3-sklearn python3-matplotlib python3-netcdf4 python3-dask python3-distributed python3-xarray python3-rioxarray
  python3-threadpoolctl python3-venv python3-pip python3-pytest xvfb xauth git"

setup() {
  if [ -f "$STAMP" ]; then
    [ "$(cat "$STAMP")" = "$(echo $PACKAGES)" ] && return 0
    mount_all
    echo ">> apt in the $SUITE chroot: the package list changed"
    chroot "$ROOT" bash -c "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      $(echo $PACKAGES)" >/dev/null
    echo $PACKAGES > "$STAMP"
    return 0
  fi
  command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
  rm -rf "$ROOT"; mkdir -p "$(dirname "$ROOT")"
  echo ">> debootstrap $SUITE into $ROOT"
  debootstrap --variant=minbase "$SUITE" "$ROOT" http://deb.debian.org/debian >/dev/null
  cp /etc/resolv.conf "$ROOT/etc/"
  # the mirror's Release files may be older than this machine's clock says (unstable expires within days)
  echo 'Acquire::Check-Valid-Until "false";' > "$ROOT/etc/apt/apt.conf.d/99st-analyzer-valid-until"
  mount_all
  trap unmount_all EXIT
  echo ">> apt in the $SUITE chroot: QGIS and the Debian GDAL stack"
  chroot "$ROOT" bash -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends $(echo $PACKAGES)" >/dev/null
  echo $PACKAGES > "$STAMP"
}

mount_all() {
  mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
  mountpoint -q "$ROOT/dev" || mount --bind /dev "$ROOT/dev"
  mkdir -p "$ROOT/src"
  mountpoint -q "$ROOT/src" && umount -l "$ROOT/src"   # a run left over: bind this checkout, not that one
  mount --bind "$PWD" "$ROOT/src"
  if [ -d "$PWD/../shared" ]; then
    mkdir -p "$ROOT/shared"
    mountpoint -q "$ROOT/shared" && umount -l "$ROOT/shared"
    mount --bind "$PWD/../shared" "$ROOT/shared"
  fi
}

unmount_all() {
  for m in shared src dev proc; do mountpoint -q "$ROOT/$m" && umount -l "$ROOT/$m"; done; true
}

case "$ACTION" in
  setup) setup ;;
  run)
    setup
    mount_all
    trap unmount_all EXIT
    # pip inside trusts what the host trusts (a proxy's certificate authority, where there is one)
    cp /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/st_analyzer_host_ca.crt"
    chroot "$ROOT" env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
      PIP_CERT=/etc/st_analyzer_host_ca.crt PIP_DEFAULT_TIMEOUT=60 \
      ${HTTPS_PROXY:+HTTPS_PROXY=$HTTPS_PROXY} ${HTTP_PROXY:+HTTP_PROXY=$HTTP_PROXY} \
      bash -c 'cd /src && "$@"' _ "$@"
    ;;
  *) echo "unknown action $ACTION" >&2; exit 2 ;;
esac
