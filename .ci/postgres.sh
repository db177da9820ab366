#!/usr/bin/env bash
# Runs a command with TEST_DATABASE_URL pointing at a PostgreSQL database.
#
#   .ci/postgres.sh go test ./...
#
# If TEST_DATABASE_URL (or DATABASE_URL) is already set, the command just runs
# against it. Otherwise this starts a throwaway cluster: it installs Debian's
# postgresql package when initdb is missing, initdbs a cluster in a temporary
# directory owned by an unprivileged user (PostgreSQL refuses to run as root),
# starts it on a free 127.0.0.1 port, creates a database, runs the command and
# always stops and removes the cluster on exit.
set -euo pipefail

log() { echo "postgres.sh: $*" >&2; }

if [[ -n "${TEST_DATABASE_URL:-}" ]]; then
	exec "$@"
fi
if [[ -n "${DATABASE_URL:-}" ]]; then
	export TEST_DATABASE_URL="$DATABASE_URL"
	exec "$@"
fi

find_bindir() {
	local d
	if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
		dirname "$(readlink -f "$(command -v initdb)")"
		return 0
	fi
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -rn) /usr/local/pgsql/bin; do
		if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

if ! bindir=$(find_bindir); then
	if [[ $EUID -ne 0 ]]; then
		log "PostgreSQL binaries not found; run as root to install them, or set TEST_DATABASE_URL"
		exit 1
	fi
	log "installing Debian's postgresql package"
	# We only need the binaries: don't create or start the package's own cluster.
	mkdir -p /etc/postgresql-common
	[[ -e /etc/postgresql-common/createcluster.conf ]] ||
		echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Dpkg::Options::=--force-confold postgresql >/dev/null
	bindir=$(find_bindir) || { log "postgresql installed but initdb not found"; exit 1; }
fi

# PostgreSQL refuses to run as root: use the postgres user (or create one).
as_user=()
pguser=$(id -un)
if [[ $EUID -eq 0 ]]; then
	pguser=postgres
	if ! id "$pguser" >/dev/null 2>&1; then
		pguser=driftwatch-pg
		id "$pguser" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$pguser"
	fi
	if command -v runuser >/dev/null 2>&1; then
		as_user=(runuser -u "$pguser" --)
	else
		as_user=(setpriv --reuid="$pguser" --regid="$(id -g "$pguser")" --init-groups)
	fi
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/dwpg.XXXXXX")
chmod 0755 "$tmp"
[[ $EUID -eq 0 ]] && chown "$pguser" "$tmp"

cleanup() {
	local rc=$?
	if [[ -f "$tmp/data/postmaster.pid" ]]; then
		(cd / && "${as_user[@]}" "$bindir/pg_ctl" -D "$tmp/data" -m immediate -w stop >/dev/null 2>&1) || true
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cd_run() { (cd / && "${as_user[@]}" "$@"); }

cd_run "$bindir/initdb" -D "$tmp/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$tmp/initdb.log" 2>&1 ||
	{ cat "$tmp/initdb.log" >&2; exit 1; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

started=
for _ in 1 2 3 4 5 6 7 8 9 10; do
	port=$((20000 + RANDOM % 30000))
	port_in_use "$port" && continue
	# Throwaway cluster: trade durability for speed.
	if cd_run "$bindir/pg_ctl" -D "$tmp/data" -l "$tmp/postgres.log" -w -t 60 start \
		-o "-p $port -k $tmp -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
		>/dev/null; then
		started=1
		break
	fi
done
if [[ -z "$started" ]]; then
	log "could not start PostgreSQL"; cat "$tmp/postgres.log" >&2 || true
	exit 1
fi

db=driftwatch_test
if [[ -x "$bindir/psql" ]]; then
	"$bindir/psql" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE $db" >/dev/null
else
	db=postgres
fi
export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/$db?sslmode=disable"
log "throwaway PostgreSQL $("$bindir/postgres" -V | awk '{print $3}') on 127.0.0.1:$port (data in $tmp)"

"$@"
