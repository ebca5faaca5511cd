#!/usr/bin/env bash
# A throw-away PostgreSQL server on loopback for the tests that need one (the coordinator journal on PostgreSQL).
#   .ci/postgres.sh start DIR   initdb + start in DIR (an empty folder); writes DIR/connection-string (Npgsql format)
#   .ci/postgres.sh stop DIR    stops it (fast shutdown) and deletes DIR
# Uses Debian's binaries (/usr/lib/postgresql/N/bin), installing the postgresql package when they are missing and we are
# root. As root the server runs as the 'postgres' user (PostgreSQL refuses to run as root). It listens on 127.0.0.1 on
# a free port with a random password; nothing is fsynced (a test database). Exit code != 0 when it cannot start: the
# caller goes on without it and the PostgreSQL tests skip.
set -euo pipefail
action="${1:-}"
dir="${2:-}"
if [[ -z "$action" || -z "$dir" ]]; then echo "usage: $0 start|stop DIR" >&2; exit 2; fi

bin_dir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [[ -x "$d/initdb" && -x "$d/pg_ctl" ]] && { echo "$d"; return 0; }
  done
  command -v pg_ctl > /dev/null && command -v initdb > /dev/null && { dirname "$(command -v pg_ctl)"; return 0; }
  return 1
}

# Runs a command as the server's user: 'postgres' when we are root, else ourselves.
as_owner() {
  if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

install_postgres() {
  [[ $(id -u) == 0 ]] && command -v apt-get > /dev/null || return 1
  echo "postgres: installing Debian's postgresql package" >&2
  # Keep the package's own service (the 'main' cluster on 5432) from starting: we run our own server.
  local policy=/usr/sbin/policy-rc.d added=0
  if [[ ! -e $policy ]]; then printf '#!/bin/sh\nexit 101\n' > $policy; chmod +x $policy; added=1; fi
  local ok=0
  if DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql > /dev/null 2>&1; then ok=1
  elif apt-get update -q > /dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql > /dev/null 2>&1; then ok=1
  fi
  [[ $added == 1 ]] && rm -f $policy
  [[ $ok == 1 ]]
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' 2>/dev/null && return
  local port=$((30000 + RANDOM % 20000))
  while (echo > "/dev/tcp/127.0.0.1/$port") 2> /dev/null; do port=$((port + 1)); done
  echo "$port"
}

case "$action" in
  start)
    bin="$(bin_dir)" || { install_postgres && bin="$(bin_dir)"; } || { echo "postgres: no PostgreSQL binaries and none could be installed" >&2; exit 1; }
    if [[ $(id -u) == 0 ]] && ! id postgres > /dev/null 2>&1; then echo "postgres: no 'postgres' user to run the server as" >&2; exit 1; fi
    mkdir -p "$dir"
    [[ $(id -u) == 0 ]] && chown postgres "$dir"
    password="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    printf '%s\n' "$password" > "$dir/pwfile"
    [[ $(id -u) == 0 ]] && chown postgres "$dir/pwfile"
    as_owner "$bin/initdb" -D "$dir/data" -U sharelora --pwfile="$dir/pwfile" -A scram-sha-256 -E UTF8 --locale=C --no-sync > "$dir/initdb.log" 2>&1 \
      || { echo "postgres: initdb failed (see $dir/initdb.log): $(tail -1 "$dir/initdb.log")" >&2; exit 1; }
    rm -f "$dir/pwfile"
    port="$(free_port)"
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start > /dev/null \
      || { echo "postgres: server did not start (see $dir/server.log): $(tail -1 "$dir/server.log")" >&2; exit 1; }
    printf 'Host=127.0.0.1;Port=%s;Database=postgres;Username=sharelora;Password=%s' "$port" "$password" > "$dir/connection-string"
    echo "postgres: $("$bin/postgres" --version) on 127.0.0.1:$port (data in $dir)" >&2
    ;;
  stop)
    if [[ -d "$dir/data" ]]; then
      bin="$(bin_dir)" && as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop > /dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
