#!/usr/bin/env bash
# Makes sure PostgreSQL's server binaries (initdb, pg_ctl, postgres) are
# installed, for the embedded default database. Installs Debian's postgresql
# package without creating or starting its own cluster.
set -euo pipefail
for d in /usr/lib/postgresql/*/bin /usr/local/pgsql/bin; do
	[[ -x "$d/initdb" && -x "$d/pg_ctl" ]] && exit 0
done
command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1 && exit 0
if [[ $EUID -ne 0 ]]; then
	echo "PostgreSQL binaries not found: install PostgreSQL (sudo apt-get install postgresql) or set DATABASE_URL" >&2
	exit 1
fi
mkdir -p /etc/postgresql-common
[[ -e /etc/postgresql-common/createcluster.conf ]] ||
	echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q -o Dpkg::Options::=--force-confold postgresql >/dev/null
