#!/usr/bin/env bash
# Compares the throughput of two or more driftwatch binaries, run in turn
# against the same simulators and embedded PostgreSQL so that a busy
# machine slows them alike, and prints one line per scenario: the raw
# client's req/s and each binary's median cases/s (over the run's wall, as
# bench/run.sh measures it). See BENCHMARKS.md.
#
#   bench/ab.sh OLD_BINARY NEW_BINARY [MORE_BINARIES...]
#     -> lat0c32 raw 12729.1 OLD_BINARY 3656.9 NEW_BINARY 3680.0
#
# Environment: REPS repetitions (5; medians are reported), N cases (2000),
# SCEN the scenarios among "lat0c32 lat20c32 lat20c8" (all), PORT the first
# of two free local ports (18389). Nothing is sent beyond 127.0.0.1.
set -euo pipefail

(($# >= 2)) || { echo "usage: bench/ab.sh OLD_BINARY NEW_BINARY [MORE_BINARIES...]" >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REPS=${REPS:-5}
N=${N:-2000}
SCEN=${SCEN:-"lat0c32 lat20c32 lat20c8"}
PORT=${PORT:-18389}
SIM0=$PORT SIM20=$((PORT + 1))
NAMES=("$@") BINS=()
for b in "$@"; do BINS+=("$(cd "$(dirname "$b")" && pwd)/$(basename "$b")"); done
WORK=$(mktemp -d "${TMPDIR:-/tmp}/driftwatch-ab.XXXXXX")
chmod 755 "$WORK" # the embedded cluster runs as the postgres user when started by root
PIDS=()

log() { echo "ab: $*" >&2; }

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	# The last user stops the embedded cluster.
	"${BINS[0]}" --config "$WORK/c32-bench_one.yaml" --data-dir "$WORK/data" migrate >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

(cd "$ROOT" && go build -o "$WORK/rawclient" ./bench/rawclient && go build -o "$WORK/gensuite" ./bench/gensuite)
"$WORK/gensuite" -dir "$WORK" -name bench_small -n "$N"
"$WORK/gensuite" -dir "$WORK" -name bench_one -n 1
for s in bench_small bench_one; do
	for c in 32 8; do "$WORK/gensuite" -dir "$WORK" -config "c$c-$s.yaml" -c "$c" "$s.yaml"; done
done
mkdir -m 700 "$WORK/data"
# Hold a user lock so the cluster stays up between runs (storage/pglocal).
flock -s "$WORK/data/pglocal.users" sleep 1000000 &
PIDS+=($!)
export SIM_URL="http://127.0.0.1:$SIM0/v1"
"${BINS[0]}" --config "$WORK/c32-bench_one.yaml" --data-dir "$WORK/data" migrate >/dev/null
for p in "$SIM0:scenario-0ms.yaml" "$SIM20:scenario-20ms.yaml"; do
	"${BINS[0]}" sim --addr "127.0.0.1:${p%%:*}" --scenario "$ROOT/bench/${p#*:}" >"$WORK/sim-${p%%:*}.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 100); do curl -sf "http://127.0.0.1:${p%%:*}/healthz" >/dev/null && break; sleep 0.05; done
done

median() { sort -g | awk '{a[NR]=$1} END {if (NR % 2) m = a[(NR + 1) / 2]; else m = (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.1f\n", m}'; }
raw() { "$WORK/rawclient" -url "http://127.0.0.1:$1/v1/chat/completions" -c "$2" -n "$N" | awk '{print $(NF-3)}'; }
# dw BINARY PORT CONC: one run of the small suite; prints its cases/s.
dw() {
	SIM_URL="http://127.0.0.1:$2/v1" "$1" --config "$WORK/c$3-bench_small.yaml" --data-dir "$WORK/data" \
		run --suite bench_small --no-progress --json "$WORK/report.json" >"$WORK/run.out" 2>&1 || {
		local rc=$?
		if ((rc > 2)); then
			log "$1 run failed (exit $rc):"
			cat "$WORK/run.out" >&2
			exit 1
		fi
	}
	jq -r --arg n "$N" 'if type == "array" then .[0] else . end | ($n | tonumber) / .wall_seconds * 10 | round / 10' "$WORK/report.json"
}

# Warm-up: each binary's first run is a baseline; later ones are compared.
for b in "${BINS[@]}"; do dw "$b" "$SIM0" 32 >/dev/null; done
for sc in "lat0c32 $SIM0 32" "lat20c32 $SIM20 32" "lat20c8 $SIM20 8"; do
	read -r name port conc <<<"$sc"
	[[ " $SCEN " == *" $name "* ]] || continue
	for i in $(seq "$REPS"); do
		raw "$port" "$conc" >>"$WORK/$name.raw"
		line="$name rep $i: raw $(tail -1 "$WORK/$name.raw")"
		for j in "${!BINS[@]}"; do
			dw "${BINS[$j]}" "$port" "$conc" >>"$WORK/$name.$j"
			line="$line ${NAMES[$j]} $(tail -1 "$WORK/$name.$j")"
		done
		log "$line"
	done
	line="$name raw $(median <"$WORK/$name.raw")"
	for j in "${!BINS[@]}"; do line="$line ${NAMES[$j]} $(median <"$WORK/$name.$j")"; done
	echo "$line"
done
