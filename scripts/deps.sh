#!/usr/bin/env bash
# deps.sh — install the system packages Hexward needs on Debian, when
# missing: PostgreSQL with PostGIS 3 and pgRouting, GDAL's command-line tools
# (ogrinfo, an outside client of the OGC API and tiles in the tests), Node.js
# and npm (the map UI's assets and browser tests). Idempotent; quiet when
# everything is there. Go itself is expected at /usr/local/go or on PATH.
set -euo pipefail

missing=()
pgver=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1 || true)
[[ -n $pgver ]] || { missing+=(postgresql); pgver=15; }
ls /usr/share/postgresql/"$pgver"/extension/postgis.control >/dev/null 2>&1 || missing+=("postgresql-$pgver-postgis-3")
ls /usr/share/postgresql/"$pgver"/extension/pgrouting.control >/dev/null 2>&1 || missing+=("postgresql-$pgver-pgrouting")
command -v ogrinfo >/dev/null || missing+=(gdal-bin)
command -v npm >/dev/null || missing+=(nodejs npm)

((${#missing[@]})) || exit 0
if [[ $(id -u) != 0 ]]; then
	sudo=sudo
else
	sudo=
fi
echo "deps: apt-get install ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y -qq "${missing[@]}" >/dev/null; then
	$sudo apt-get update -qq >/dev/null
	$sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
