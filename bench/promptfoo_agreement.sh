#!/usr/bin/env bash
# Runs the same promptfoo configs through promptfoo and through Driftwatch
# against the same deterministic simulator endpoint, and reports how often
# the two agree on each assertion's pass/fail, on the deterministic
# assertion types (goal: 100%). See BENCHMARKS.md and docs/promptfoo.md.
#
#   bench/promptfoo_agreement.sh [CONFIG...]
#
# Default configs: eval/promptfoo/testdata/corpus/*/promptfooconfig.yaml but
# javascript-limits (an endless loop: promptfoo has no time limit and would
# wait forever).
# Each config is copied to a work folder and its providers: are replaced by
# one OpenAI provider pointed at the simulator (keeping the first
# provider's tools), for promptfoo; Driftwatch ignores providers anyway.
# Verdicts are matched by (config, test row, prompt, assertion index).
# Model-graded, similarity, cost and latency verdicts are not compared
# (they depend on a judge, an embedder, prices or timing).
#
# Environment:
#   PROMPTFOO_BIN, PROMPTFOO_NODE  as for bench/promptfoo.sh (which locates
#                                  promptfoo and Node 22; its --install DIR
#                                  installs both from the npm registry)
#   PORT                           the simulator's port (18189)
#   KEEP                           keep the work folder when set
# Without a usable promptfoo the script says so and exits 0: the test suite
# never depends on it. Nothing is sent beyond 127.0.0.1.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
PORT=${PORT:-18189}

if ! check=$(bench/promptfoo.sh --check 2>&1); then
	echo "promptfoo_agreement: skipped: $check"
	exit 0
fi
echo "promptfoo_agreement: $check"
BIN=${PROMPTFOO_BIN:-$(command -v promptfoo)}
NODE=$(readlink -f "${PROMPTFOO_NODE:-$(command -v node)}")
PATH="$(dirname "$NODE"):$PATH"
export PATH
export PROMPTFOO_DISABLE_TELEMETRY=1 PROMPTFOO_DISABLE_UPDATE=1 PROMPTFOO_DISABLE_SHARING=1 \
	PROMPTFOO_DISABLE_REMOTE_GENERATION=1 PROMPTFOO_DISABLE_REDTEAM_REMOTE_GENERATION=1 \
	PROMPTFOO_DISABLE_SHARE_EMAIL_REQUEST=1 NO_COLOR=1 FORCE_COLOR=0 CI=true NODE_USE_ENV_PROXY=1 \
	HTTP_PROXY=http://127.0.0.1:9 HTTPS_PROXY=http://127.0.0.1:9 http_proxy=http://127.0.0.1:9 \
	https_proxy=http://127.0.0.1:9 NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
unset OPENAI_API_KEY OPENAI_BASE_URL OPENAI_API_HOST OPENAI_API_BASE_URL ALL_PROXY all_proxy
# promptfoo's own js-yaml rewrites the providers.
JSYAML=$(dirname "$(readlink -f "$BIN")")/../../js-yaml
[[ -d "$JSYAML" ]] || JSYAML=$(cd "$(dirname "$BIN")/.." && pwd)/js-yaml
[[ -d "$JSYAML" ]] || { echo "promptfoo_agreement: js-yaml not found next to $BIN" >&2; exit 1; }
export JSYAML

if (($# > 0)); then
	CONFIGS=("$@")
else
	CONFIGS=()
	for c in eval/promptfoo/testdata/corpus/*/promptfooconfig.yaml; do
		[[ $c == */javascript-limits/* ]] || CONFIGS+=("$c")
	done
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/promptfoo-agreement.XXXXXX")
SIM_PID=
cleanup() {
	[[ -n "$SIM_PID" ]] && kill "$SIM_PID" 2>/dev/null && wait "$SIM_PID" 2>/dev/null
	[[ -n "${KEEP:-}" ]] || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

go build -o "$WORK/promptfooagree" ./bench/promptfooagree
"$WORK/promptfooagree" sim -addr "127.0.0.1:$PORT" >"$WORK/sim.log" 2>&1 &
SIM_PID=$!
for _ in $(seq 50); do
	(exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
	sleep 0.1
done
BASE=http://127.0.0.1:$PORT/v1

"$WORK/promptfooagree" grade -base "$BASE" -out "$WORK/dw.jsonl" "${CONFIGS[@]}"

cat >"$WORK/rewrite.js" <<'EOF'
// Points a promptfoo config's providers at the simulator, keeping tools.
const fs = require('fs');
const yaml = require(process.env.JSYAML);
const [file, base] = process.argv.slice(2);
const cfg = yaml.load(fs.readFileSync(file, 'utf8'));
let tools;
for (const p of [].concat(cfg.providers || [])) {
  if (p && typeof p === 'object' && p.config && p.config.tools) { tools = p.config.tools; break; }
}
const config = { apiBaseUrl: base, apiKey: 'sk-bench' };
if (tools) config.tools = tools;
cfg.providers = [{ id: 'openai:chat:pf-sim', config }];
fs.writeFileSync(file, yaml.dump(cfg));
EOF

pairs=()
mkdir -p "$WORK/home/.promptfoo"
for cfg in "${CONFIGS[@]}"; do
	dir=$(dirname "$cfg")
	name=$(basename "$dir")
	[[ $(basename "$cfg") == promptfooconfig.* ]] || name=$(basename "${cfg%.*}")
	mkdir -p "$WORK/configs"
	rm -rf "$WORK/configs/$name"
	cp -r "$dir" "$WORK/configs/$name"
	copy=$WORK/configs/$name/$(basename "$cfg")
	env -u NODE_USE_ENV_PROXY node "$WORK/rewrite.js" "$copy" "$BASE"
	set +e
	(cd "$WORK/configs/$name" && HOME=$WORK/home PROMPTFOO_CONFIG_DIR=$WORK/home/.promptfoo \
		timeout 180 "$BIN" eval -c "$copy" -j 4 --no-cache --no-progress-bar --no-table \
		-o "$WORK/$name.json" </dev/null >"$WORK/$name.out" 2>&1)
	rc=$?
	set -e
	# 100: the eval ran and some tests failed (several corpus tests fail on purpose).
	if ((rc != 0 && rc != 100)) || [[ ! -s "$WORK/$name.json" ]]; then
		echo "promptfoo_agreement: $name: promptfoo eval exited $rc: $(grep -v '^[[:space:]]*$' "$WORK/$name.out" | tail -1)" >&2
		continue
	fi
	pairs+=("$name=$WORK/$name.json")
done

"$WORK/promptfooagree" compare -dw "$WORK/dw.jsonl" "${pairs[@]}"
