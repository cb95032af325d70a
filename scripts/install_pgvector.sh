#!/usr/bin/env bash
# pgvector for the installed PostgreSQL server (gallery tests, FACEPROOF_DATABASE_URL).
# Debian's binary package when the release has one (postgresql-NN-pgvector); Debian 12 has
# none, so otherwise Debian's own source package (pgvector from trixie, fetched with
# `apt-get source` through a private deb-src list that leaves the system's apt sources
# alone) is built against the installed server's headers. A no-op when vector.so exists.
set -euo pipefail
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -n "$bindir" ]] || { echo "install_pgvector.sh: PostgreSQL server not installed" >&2; exit 1; }
major=$(basename "$(dirname "$bindir")")
if [[ -f "/usr/lib/postgresql/$major/lib/vector.so" ]]; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if apt-cache policy "postgresql-$major-pgvector" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  apt-get install -y -qq "postgresql-$major-pgvector"
  exit 0
fi
apt-get install -y -qq --no-install-recommends "postgresql-server-dev-$major" make gcc dpkg-dev
work=$(mktemp -d /tmp/pgvector-build.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/apt/lists/partial"
cat >"$work/apt/src.sources" <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
opts=(-o "Dir::Etc::sourcelist=/dev/null" -o "Dir::Etc::sourceparts=$work/apt"
      -o "Dir::State::Lists=$work/apt/lists" -o "APT::Sandbox::User=root")
apt-get "${opts[@]}" update -qq
(cd "$work" && apt-get "${opts[@]}" source -qq --download-only pgvector)
dpkg-source -x --no-check "$work"/pgvector_*.dsc "$work/src" >/dev/null
make -s -C "$work/src" PG_CONFIG="$bindir/pg_config" OPTFLAGS="" >/dev/null
make -s -C "$work/src" PG_CONFIG="$bindir/pg_config" install >/dev/null
echo "install_pgvector.sh: built pgvector from Debian's source package for PostgreSQL $major"
