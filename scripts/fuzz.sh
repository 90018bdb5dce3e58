#!/usr/bin/env bash
# fuzz.sh — run every Go fuzz target for a short while, one after the
# other, and print one line per target. FUZZTIME (default 10s) is passed
# to -fuzztime: a duration ("30s") or a number of executions ("5000x").
# FUZZMINIMIZETIME (default 3s) bounds -fuzzminimizetime: go test shrinks
# every new interesting input for up to a minute by default, which stalls
# a short run on the larger seeds (the 15 KB OSM fixture).
#
# The seed corpora (f.Add in each fuzz_test.go, and the files under
# testdata/fuzz/FuzzXxx/ of each package) also run as ordinary tests in
# `go test ./...`. When a target fails, go test writes the failing input
# to testdata/fuzz/FuzzXxx/ in the package: commit it with the fix, so it
# stays in the corpus. Exits non-zero if any target failed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export PATH="/usr/local/go/bin:$PATH"

fuzztime=${FUZZTIME:-10s}
minimizetime=${FUZZMINIMIZETIME:-3s}

# package target
targets=(
	"./layers/geojsonio FuzzRead"
	"./layers/osm FuzzRead"
	"./layers FuzzValidate"
	"./web FuzzParseBBox"
	"./web FuzzParseItemsQuery"
	"./web FuzzParseTile"
	"./web FuzzDecodeBody"
	"./web FuzzOsmand"
	"./web FuzzDecodeReadings"
	"./web/live FuzzParseSubscribe"
	"./tiles FuzzTile"
	"./layers/readings FuzzDecodeBatch"
	"./layers/positions FuzzDecodeJSON"
	"./ingest/mqttingest FuzzParseTopic"
	"./bus FuzzDecode"
)

log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed=0
for t in "${targets[@]}"; do
	read -r pkg name <<<"$t"
	start=$SECONDS
	if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimizetime" "$pkg" >"$log" 2>&1; then
		execs=$(grep -o 'execs: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2 || true)
		printf 'ok    %-22s %-20s %4ds %10s execs\n' "$pkg" "$name" $((SECONDS - start)) "${execs:-?}"
	else
		printf 'FAIL  %-22s %-20s %4ds\n' "$pkg" "$name" $((SECONDS - start))
		sed 's/^/      /' "$log" | grep -v '^      fuzz: elapsed' >&2 || true
		failed=1
	fi
done
exit "$failed"
