#!/usr/bin/env bash
# Measures Driftwatch's performance goals (issue 8) side by side with their
# references and prints one line per goal. See BENCHMARKS.md.
#
#   bench/run.sh                    # everything (about 5-10 minutes on 2 cores)
#   REPS=5 BIG=0 bench/run.sh       # 5 repetitions, skip the 100,000-case runs
#
# Environment:
#   DATABASE_URL  PostgreSQL to store samples in; unset: the embedded default
#                 cluster in a temporary --data-dir (kept running during the
#                 benchmark, as a long-lived install would).
#   REPS          repetitions of each measurement; medians are reported (3).
#   N             cases of the small suite (2000).
#   BIG           cases of the large suite (100000); 0 skips it.
#   PORT          first of three free local ports (18089).
# Nothing is sent beyond 127.0.0.1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
REPS=${REPS:-3}
N=${N:-2000}
BIG=${BIG:-100000}
PORT=${PORT:-18089}
SIM0=$PORT SIM20=$((PORT + 1)) FIRST=$((PORT + 2))
# The generated configs read ${SIM_URL}; commands that send nothing (migrate,
# diff) use this one.
export SIM_URL="http://127.0.0.1:$SIM0/v1"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/driftwatch-bench.XXXXXX")
BIN=$WORK/bin
PIDS=()

log() { echo "bench: $*" >&2; }

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [[ -n "${HOLDER:-}" ]]; then
		# The last user stops the embedded cluster.
		"$BIN/driftwatch" --config "$WORK/c32-bench_one.yaml" --data-dir "$WORK/data" migrate >/dev/null 2>&1 || true
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT

median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "nan"}'; }
verdict() { awk -v v="$1" -v op="$2" -v lim="$3" 'BEGIN {ok = (op == ">=") ? v >= lim : v < lim; print ok ? "PASS" : "FAIL"}'; }

if [[ ! -x /usr/bin/time ]]; then
	log "installing Debian's time package for /usr/bin/time -v"
	if [[ $(id -u) == 0 ]]; then apt-get install -y -qq time >/dev/null; else sudo apt-get install -y -qq time >/dev/null; fi
fi

log "building into $BIN"
mkdir -p "$BIN"
(cd "$ROOT" && go build -o "$BIN/driftwatch" ./cmd/driftwatch && go build -o "$BIN/rawclient" ./bench/rawclient &&
	go build -o "$BIN/gensuite" ./bench/gensuite && go build -o "$BIN/firstreq" ./bench/firstreq)
DW=$BIN/driftwatch

log "generating suites ($N and $BIG cases)"
"$BIN/gensuite" -dir "$WORK" -name bench_small -n "$N"
"$BIN/gensuite" -dir "$WORK" -name bench_one -n 1
SUITES=(bench_small.yaml bench_one.yaml)
if ((BIG > 0)); then
	"$BIN/gensuite" -dir "$WORK" -name bench_big -n "$BIG"
	SUITES+=(bench_big.yaml)
fi
# One config per (concurrency, suite): driftwatch loads every suite its
# config lists, even those --suite does not select.
for s in "${SUITES[@]}"; do
	for c in 32 8; do
		"$BIN/gensuite" -dir "$WORK" -config "c$c-${s%.yaml}.yaml" -c "$c" "$s"
	done
done

DBARGS=()
if [[ -n "${DATABASE_URL:-}" ]]; then
	log "storage: DATABASE_URL"
	STORAGE="PostgreSQL from DATABASE_URL"
else
	STORAGE="embedded default PostgreSQL (temporary --data-dir)"
	DBARGS=(--data-dir "$WORK/data")
	mkdir -p "$WORK/data"
	# Hold a user lock so the cluster stays up between invocations
	# (storage/pglocal: the last user stops it).
	flock -s "$WORK/data/pglocal.users" sleep 1000000 &
	HOLDER=$!
	PIDS+=("$HOLDER")
	log "storage: starting the embedded cluster"
	"$DW" --config "$WORK/c32-bench_one.yaml" "${DBARGS[@]}" migrate >/dev/null
fi
export DATABASE_URL=${DATABASE_URL:-}

start_sim() { # port scenario
	"$DW" sim --addr "127.0.0.1:$1" --scenario "$ROOT/bench/$2" >"$WORK/sim-$1.log" 2>&1 &
	PIDS+=($!)
	local i
	for i in $(seq 100); do
		curl -sf "http://127.0.0.1:$1/healthz" >/dev/null && return 0
		sleep 0.05
	done
	log "simulator on port $1 did not start"
	exit 1
}
start_sim "$SIM0" scenario-0ms.yaml
start_sim "$SIM20" scenario-20ms.yaml

# raw PORT C N: the reference's req/s.
raw() { "$BIN/rawclient" -url "http://127.0.0.1:$1/v1/chat/completions" -c "$2" -n "$3" | awk '{print $(NF-3)}'; }

# dw PORT CONC SUITE: runs driftwatch; prints "run_cases_per_s process_cases_per_s rss_mb run_id".
dw() {
	local port=$1 cfg=c$2-$3.yaml suite=$3 n
	n=$(wc -l <"$WORK/$suite.jsonl")
	SIM_URL="http://127.0.0.1:$port/v1" /usr/bin/time -f "%e %M" -o "$WORK/time" \
		"$DW" --config "$WORK/$cfg" "${DBARGS[@]}" run --suite "$suite" --no-progress --json "$WORK/report.json" >"$WORK/run.out" 2>&1 || {
		local rc=$?
		if ((rc > 2)); then
			log "driftwatch run failed (exit $rc):"
			cat "$WORK/run.out" >&2
			exit 1
		fi
	}
	local wall run_wall rss id
	read -r wall rss <"$WORK/time"
	run_wall=$(jq 'if type == "array" then .[0] else . end | .wall_seconds' "$WORK/report.json")
	id=$(jq 'if type == "array" then .[0] else . end | .run_id' "$WORK/report.json")
	awk -v n="$n" -v w="$wall" -v rw="$run_wall" -v rss="$rss" -v id="$id" 'BEGIN {printf "%.1f %.1f %.1f %d\n", n / rw, n / w, rss / 1024, id}'
}

# measure NAME PORT C SUITE: REPS interleaved pairs (raw, driftwatch).
measure() {
	local name=$1 port=$2 c=$3 suite=$4 n i
	n=$(wc -l <"$WORK/$suite.jsonl")
	: >"$WORK/$name.raw"
	: >"$WORK/$name.dw"
	for i in $(seq "$REPS"); do
		raw "$port" "$c" "$n" >>"$WORK/$name.raw"
		dw "$port" "$c" "$suite" >>"$WORK/$name.dw"
		log "$name rep $i: raw $(tail -1 "$WORK/$name.raw") req/s; driftwatch (run, process cases/s, MB, run id) $(tail -1 "$WORK/$name.dw")"
	done
}
col() { awk -v c="$2" '{print $c}' "$WORK/$1.dw" | median; }
rawmed() { median <"$WORK/$1.raw"; }

# Warm-up: the first run of a suite is its baseline; later runs are compared
# with it, as in production.
log "warm-up"
dw "$SIM0" 32 bench_small >/dev/null
dw "$SIM0" 32 bench_one >/dev/null

measure lat20c32 "$SIM20" 32 bench_small
measure lat20c8 "$SIM20" 8 bench_small
measure lat0c32 "$SIM0" 32 bench_small

BIGRUNS=()
if ((BIG > 0)); then
	: >"$WORK/big.dw"
	: >"$WORK/big.raw"
	for i in 1 2; do # the first is the baseline, the second is compared with it
		dw "$SIM0" 32 bench_big >>"$WORK/big.dw"
		log "big run $i: $(tail -1 "$WORK/big.dw")"
	done
	raw "$SIM0" 32 "$BIG" >>"$WORK/big.raw"
	mapfile -t BIGRUNS < <(awk '{print $4}' "$WORK/big.dw")
	: >"$WORK/diff"
	for i in $(seq "$REPS"); do
		/usr/bin/time -f "%e %M" -o "$WORK/time" "$DW" --config "$WORK/c32-bench_big.yaml" "${DBARGS[@]}" diff "${BIGRUNS[0]}" "${BIGRUNS[1]}" >"$WORK/diff.out" 2>&1 || {
			rc=$?
			((rc <= 2)) || { cat "$WORK/diff.out" >&2; exit 1; }
		}
		cat "$WORK/time" >>"$WORK/diff"
		log "diff rep $i: $(cat "$WORK/time") (s, KB)"
	done
fi

log "start-up to first request"
: >"$WORK/startup"
for i in $(seq $((REPS + 2))); do
	"$BIN/firstreq" -addr "127.0.0.1:$FIRST" >"$WORK/first" &
	fpid=$!
	for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$FIRST/" && break; sleep 0.02; done
	: >"$WORK/first" # the readiness probe was its first request
	kill "$fpid"; wait "$fpid" 2>/dev/null || true
	"$BIN/firstreq" -addr "127.0.0.1:$FIRST" >"$WORK/first" &
	fpid=$!
	sleep 0.2
	t0=$(date +%s%N)
	SIM_URL="http://127.0.0.1:$FIRST/v1" "$DW" --config "$WORK/c32-bench_one.yaml" "${DBARGS[@]}" run --suite bench_one --no-progress >/dev/null 2>&1 || true
	t1=$(head -1 "$WORK/first")
	kill "$fpid"; wait "$fpid" 2>/dev/null || true
	[[ -n "$t1" ]] && awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f\n", (b - a) / 1e6}' >>"$WORK/startup"
done

PF="" PFMED=""
if pfv=$("$ROOT/bench/promptfoo.sh" --check 2>&1); then
	log "promptfoo: $pfv"
	: >"$WORK/promptfoo.runs"
	for i in $(seq "$REPS"); do
		if out=$("$ROOT/bench/promptfoo.sh" "$WORK" "$SIM0" "$N" 32 2>"$WORK/promptfoo.err"); then
			echo "$out" >>"$WORK/promptfoo.runs"
			log "promptfoo rep $i: $out"
		else
			PF="failed: $(tail -1 "$WORK/promptfoo.err")"
			break
		fi
	done
	if [[ -z "$PF" ]]; then
		PFMED=$(awk '{print $1}' "$WORK/promptfoo.runs" | median)
		pfproc=$(sed 's/.*\[\([0-9.]*\).*/\1/' "$WORK/promptfoo.runs" | median)
		pfrss=$(awk -F', ' '{split($2, a, " "); print a[1]}' "$WORK/promptfoo.runs" | sort -g | tail -1)
		PF="$PFMED cases/s [$pfproc], peak $pfrss MB"
	fi
else
	PF="skipped: ${pfv#promptfoo.sh: }"
fi

echo
echo "Driftwatch benchmarks: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(go version | awk '{print $3}'), storage: $STORAGE"
echo "medians of $REPS runs; N=$N cases x 1 sample, one contains check; cases/s over the run's wall (requests, checks, storage, analysis) [over the whole process]"
printf '%-58s %-34s %-22s %-7s %s\n' GOAL MEASURED REFERENCE RATIO RESULT
line() { printf '%-58s %-34s %-22s %-7s %s\n' "$@"; }

r=$(rawmed lat20c32) d=$(col lat20c32 1) p=$(col lat20c32 2)
line "latency 20ms conc 32: >= 90% of raw client" "$d cases/s [$p]" "$r req/s" "$(ratio "$d" "$r")" "$(verdict "$(ratio "$d" "$r")" ">=" 0.9)"
r=$(rawmed lat20c8) d=$(col lat20c8 1) p=$(col lat20c8 2)
line "latency 20ms conc 8 (info): >= 90% of raw client" "$d cases/s [$p]" "$r req/s" "$(ratio "$d" "$r")" "$(verdict "$(ratio "$d" "$r")" ">=" 0.9)"
r=$(rawmed lat0c32) d=$(col lat0c32 1) p=$(col lat0c32 2)
line "latency 0 conc 32: >= 5000 cases/s" "$d cases/s [$p]" "5000" "$(ratio "$d" 5000)" "$(verdict "$d" ">=" 5000)"
line "latency 0 conc 32: >= 20% of raw client" "$d cases/s [$p]" "$r req/s" "$(ratio "$d" "$r")" "$(verdict "$(ratio "$d" "$r")" ">=" 0.2)"
m=$(awk '{print $3}' "$WORK"/lat*.dw | sort -g | tail -1)
line "peak RSS, $N cases: <= 100 MB (max of all runs)" "$m MB" "100 MB" "$(ratio "$m" 100)" "$(verdict "$m" "<" 100.01)"
if ((BIG > 0)); then
	m=$(awk '{print $3}' "$WORK/big.dw" | sort -g | tail -1)
	d=$(col big 1) p=$(col big 2) r=$(rawmed big)
	line "peak RSS, $BIG cases: <= 150 MB (max of 2 runs)" "$m MB" "150 MB" "$(ratio "$m" 150)" "$(verdict "$m" "<" 150.01)"
	line "latency 0 conc 32, $BIG cases (info)" "$d cases/s [$p]" "$r req/s" "$(ratio "$d" "$r")" "-"
	t=$(awk '{print $1}' "$WORK/diff" | median)
	m=$(awk '{printf "%.1f\n", $2 / 1024}' "$WORK/diff" | median)
	line "diff $BIG vs $BIG samples: < 5 s" "$t s" "5 s" "$(ratio "$t" 5)" "$(verdict "$t" "<" 5)"
	line "diff $BIG vs $BIG samples: < 300 MB" "$m MB" "300 MB" "$(ratio "$m" 300)" "$(verdict "$m" "<" 300)"
fi
t=$(median <"$WORK/startup")
line "start-up to first request: < 300 ms (DB running)" "$t ms" "300 ms" "$(ratio "$t" 300)" "$(verdict "$t" "<" 300)"
if [[ -n "$PFMED" ]]; then
	d=$(col lat0c32 1) p=$(col lat0c32 2)
	line "latency 0 conc 32 vs promptfoo 0.123.1 -j 32 (info)" "$d cases/s [$p]" "$PF" "$(ratio "$d" "$PFMED")" "-"
else
	line "promptfoo eval -j 32 --no-cache (latency 0)" "$PF" "" "" "-"
fi
