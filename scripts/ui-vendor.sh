#!/usr/bin/env bash
# ui-vendor.sh — put the map UI's third-party files into web/ui/vendor/,
# which web/ui.go embeds into the binary ("make ui" runs this).
#
#   - npm ci (npm install without a lockfile) when node_modules is missing
#     or older than package.json / package-lock.json;
#   - MapLibre GL JS (ES module build, its worker and CSS) from maplibre-gl;
#   - SDF glyph ranges of "Noto Sans Regular" from tileserver-gl-styles, so
#     map labels never need a glyph server outside this binary;
#   - for the headless-browser tests (web/e2e/): Chromium at /usr/bin/chromium
#     and the Noto CJK fonts that MapLibre draws Chinese labels with.
#     HEXWARD_UI_NO_SYSTEM=1 skips that part (builds that run no browser).
#
# Idempotent and quiet: prints only what it changes.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
vendor=web/ui/vendor
say() { printf 'ui-vendor: %s\n' "$*"; }

# --- node_modules -----------------------------------------------------------
command -v npm >/dev/null || { echo "ui-vendor: npm is required (apt-get install -y nodejs npm)" >&2; exit 1; }

inputs=(package.json)
[[ -f package-lock.json ]] && inputs+=(package-lock.json)
want=$(cat "${inputs[@]}" | sha256sum | cut -d' ' -f1)
stamp=node_modules/.hexward-ui-stamp
if [[ ! -f $stamp || "$(cat "$stamp")" != "$want" ]]; then
	if [[ -f package-lock.json ]]; then
		say "npm ci"
		npm ci --no-audit --no-fund --loglevel=error >/dev/null
	else
		say "npm install (no package-lock.json yet)"
		npm install --no-audit --no-fund --loglevel=error >/dev/null
		want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
	fi
	printf '%s\n' "$want" >"$stamp"
fi

# --- copy into web/ui/vendor --------------------------------------------------
changed=0
# put SRC DST [strip-sourcemap]: copy when the content differs.
put() {
	local src=$1 dst=$2 tmp
	tmp=$(mktemp)
	if [[ ${3:-} == strip ]]; then
		# The .map files are not vendored: drop the reference so no browser
		# (DevTools open or not) asks for one.
		sed '/^\/\/# sourceMappingURL=/d' "$src" >"$tmp"
	else
		cat "$src" >"$tmp"
	fi
	if [[ -f $dst ]] && cmp -s "$tmp" "$dst"; then
		rm -f "$tmp"
		return
	fi
	mkdir -p "$(dirname "$dst")"
	mv "$tmp" "$dst"
	chmod 0644 "$dst"
	changed=$((changed + 1))
}

ml=node_modules/maplibre-gl
put "$ml/dist/maplibre-gl.mjs" "$vendor/maplibre-gl.mjs" strip
put "$ml/dist/maplibre-gl-worker.mjs" "$vendor/maplibre-gl-worker.mjs" strip
put "$ml/dist/maplibre-gl.css" "$vendor/maplibre-gl.css"
put "$ml/LICENSE.txt" "$vendor/LICENSE-maplibre-gl.txt"
node -p 'require("./node_modules/maplibre-gl/package.json").version' >"$vendor/.maplibre-version.tmp"
put "$vendor/.maplibre-version.tmp" "$vendor/maplibre-gl.version"
rm -f "$vendor/.maplibre-version.tmp"

font="Noto Sans Regular"
src="node_modules/tileserver-gl-styles/fonts/$font"
[[ -d $src ]] || { echo "ui-vendor: $src missing (tileserver-gl-styles changed?)" >&2; exit 1; }
for f in "$src"/*.pbf; do
	put "$f" "$vendor/fonts/$font/$(basename "$f")"
done
put node_modules/tileserver-gl-styles/LICENSE.md "$vendor/fonts/LICENSE-tileserver-gl-styles.md"
# Old files of an earlier MapLibre build (it was maplibre-gl.js before 6.x).
rm -f "$vendor/maplibre-gl.js" "$vendor/maplibre-gl-csp.js" "$vendor/maplibre-gl-csp-worker.js"

((changed)) && say "updated $changed file(s) in $vendor (maplibre-gl $(cat "$vendor/maplibre-gl.version"))"

# --- browser and fonts for web/e2e -------------------------------------------
[[ ${HEXWARD_UI_NO_SYSTEM:-} == 1 ]] && exit 0

apt_install() {
	if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
		echo "ui-vendor: please install $* (needs root and apt-get)" >&2
		return 0
	fi
	say "apt-get install $*"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -qq "$@" >/dev/null 2>&1; then
		apt-get update -qq >/dev/null
		apt-get install -y -qq "$@" >/dev/null
	fi
}

[[ -x /usr/bin/chromium ]] || apt_install chromium
fams=$(fc-list : family 2>/dev/null || true)
if [[ $fams != *"Noto Sans CJK SC"* ]]; then
	apt_install fonts-noto-cjk
fi
exit 0
