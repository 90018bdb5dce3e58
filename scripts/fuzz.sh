#!/usr/bin/env bash
# fuzz.sh — run every Go fuzz target for a short while, one after the
# other, and print one line per target.
#
# Each target runs for a fixed number of executions (the third column
# below, about 5 s on a 2-core machine), not for a duration: with a
# duration, Go 1.26's fuzz coordinator can report a spurious "context
# deadline exceeded" failure when the time runs out under CPU load
# (go.dev/issue/75804, fixed in Go 1.27). FUZZTIME, when set, replaces
# every target's budget: a number of executions ("50000x") or, for long
# local runs where a spurious failure at the very end can be rerun, a
# duration ("10m").
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

minimizetime=${FUZZMINIMIZETIME:-3s}

# package target budget
targets=(
	"./layers/geojsonio FuzzRead 100000x"
	"./layers/osm FuzzRead 50x"
	"./layers FuzzValidate 30000x"
	"./web FuzzParseBBox 25000x"
	"./web FuzzParseItemsQuery 25000x"
	"./web FuzzParseTile 30000x"
	"./web FuzzDecodeBody 40000x"
	"./web FuzzOsmand 8000x"
	"./web FuzzDecodeReadings 15000x"
	"./web/live FuzzParseSubscribe 20000x"
	"./tiles FuzzTile 100000x"
	"./layers/readings FuzzDecodeBatch 40000x"
	"./layers/positions FuzzDecodeJSON 50000x"
	"./ingest/mqttingest FuzzParseTopic 40000x"
	"./bus FuzzDecode 20000x"
)

log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed=0
for t in "${targets[@]}"; do
	read -r pkg name budget <<<"$t"
	fuzztime=${FUZZTIME:-$budget}
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
