# Sourced by .ci/run: installs PostgreSQL from Debian's packages if missing, starts a
# throwaway cluster on 127.0.0.1 only, and exports MEMCATALOG_TEST_POSTGRES_URI.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
PG_BIN="$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")"
PG_DATA="$(mktemp -d /tmp/memcatalog-pg.XXXXXX)"
PG_PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
chown postgres "$PG_DATA"
su postgres -c "$PG_BIN/initdb -D $PG_DATA -A trust -U postgres" >/dev/null
su postgres -c "$PG_BIN/pg_ctl -D $PG_DATA -w -l $PG_DATA/server.log \
    -o '-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DATA' start" >/dev/null
trap 'su postgres -c "$PG_BIN/pg_ctl -D $PG_DATA -m fast stop" >/dev/null 2>&1 || true' EXIT
su postgres -c "$PG_BIN/createdb -h 127.0.0.1 -p $PG_PORT memcatalog"
export MEMCATALOG_TEST_POSTGRES_URI="postgresql+psycopg2://postgres@127.0.0.1:$PG_PORT/memcatalog"
echo "PostgreSQL $(basename "$(dirname "$PG_BIN")") on 127.0.0.1:$PG_PORT for the registry tests"
