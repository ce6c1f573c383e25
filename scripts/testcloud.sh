#!/usr/bin/env bash
# A real OpenStack on loopback for tests: PostgreSQL 15, Keystone (Zed) and Gnocchi (4.4) from Debian,
# served by uwsgi on 127.0.0.1. Idempotent.
#   scripts/testcloud.sh up     install what is missing, start everything, print the env file's path
#   scripts/testcloud.sh env    print the env file (OS_* for the admin, GNOCCHI_URL, TESTCLOUD_DATABASE_URL)
#   scripts/testcloud.sh down   stop only the processes this script started (by recorded pids), remove its dir
# TESTCLOUD_DIR (default: <repo>/.testcloud) holds everything: data, configs, logs, pids.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${TESTCLOUD_DIR:-$REPO/.testcloud}"
PG_BIN=/usr/lib/postgresql/15/bin
PY=/usr/bin/python3 # Debian's Python: the OpenStack packages live there, not in any other python3 on PATH
ADMIN_PASSWORD="testcloud-admin-pw"
GNOCCHI_SERVICE_PASSWORD="testcloud-gnocchi-pw"
PACKAGES=(python3-keystone python3-gnocchi python3-openstackclient python3-gnocchiclient python3-psycopg2
  python3-keystonemiddleware uwsgi-core uwsgi-plugin-python3 postgresql)

log() { printf 'testcloud: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

install_missing() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_http() { # url, seconds
  local deadline=$((SECONDS + $2))
  until curl -s -o /dev/null "$1"; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.2
  done
}

up() {
  if [ -f "$DIR/env" ] && alive "$DIR/keystone.pid" && alive "$DIR/gnocchi-api.pid" && alive "$DIR/gnocchi-metricd.pid" \
    && su postgres -s /bin/sh -c "$PG_BIN/pg_ctl status -D '$DIR/pg'" >/dev/null 2>&1; then
    echo "$DIR/env"; return 0
  fi
  [ -d "$DIR" ] && down
  install_missing
  local t0=$SECONDS
  mkdir -p "$DIR"/{pgsock,fernet-keys,credential-keys,gnocchi-data,logs}
  local PGPORT KPORT GPORT
  PGPORT=$(free_port); KPORT=$(free_port); GPORT=$(free_port)
  while [ "$GPORT" = "$KPORT" ] || [ "$GPORT" = "$PGPORT" ]; do GPORT=$(free_port); done

  # PostgreSQL: initdb refuses root, so the cluster belongs to the postgres user.
  mkdir -p "$DIR/pg"; chown postgres:postgres "$DIR/pg" "$DIR/pgsock" "$DIR/logs"; chmod 755 "$DIR"
  su postgres -s /bin/sh -c "$PG_BIN/initdb -D '$DIR/pg' -A trust -U postgres >/dev/null"
  su postgres -s /bin/sh -c "$PG_BIN/pg_ctl -D '$DIR/pg' -l '$DIR/logs/postgres.log' -w -o \"-c listen_addresses=127.0.0.1 -p $PGPORT -k $DIR/pgsock -c fsync=off -c max_connections=200\" start >/dev/null"
  for db in keystone gnocchi tenants_test; do
    su postgres -s /bin/sh -c "$PG_BIN/createdb -h 127.0.0.1 -p $PGPORT -U postgres $db"
  done

  # Keystone on PostgreSQL (SQLite fails under uwsgi), fernet tokens, bootstrap admin + public endpoint.
  cat > "$DIR/keystone.conf" <<CONF
[DEFAULT]
use_stderr = true
[database]
connection = postgresql+psycopg2://postgres@127.0.0.1:$PGPORT/keystone
[token]
provider = fernet
[fernet_tokens]
key_repository = $DIR/fernet-keys
[fernet_receipts]
key_repository = $DIR/fernet-keys
[credential]
key_repository = $DIR/credential-keys
CONF
  local KM="keystone-manage --config-file $DIR/keystone.conf"
  $KM db_sync >"$DIR/logs/keystone-manage.log" 2>&1
  $KM fernet_setup --keystone-user root --keystone-group root >>"$DIR/logs/keystone-manage.log" 2>&1
  $KM credential_setup --keystone-user root --keystone-group root >>"$DIR/logs/keystone-manage.log" 2>&1
  $KM bootstrap --bootstrap-password "$ADMIN_PASSWORD" --bootstrap-public-url "http://127.0.0.1:$KPORT/v3" \
    --bootstrap-internal-url "http://127.0.0.1:$KPORT/v3" --bootstrap-admin-url "http://127.0.0.1:$KPORT/v3" \
    --bootstrap-region-id RegionOne >>"$DIR/logs/keystone-manage.log" 2>&1
  OS_KEYSTONE_CONFIG_FILES="$DIR/keystone.conf" uwsgi --http-socket "127.0.0.1:$KPORT" --plugin python3 \
    --wsgi-file /usr/bin/keystone-wsgi-public --master --processes 2 --threads 2 --die-on-term \
    --add-header "Connection: close" --buffer-size 65535 \
    --pidfile "$DIR/keystone.pid" --daemonize "$DIR/logs/keystone.log"
  wait_http "http://127.0.0.1:$KPORT/v3" 60 || die "keystone did not start (see $DIR/logs/keystone.log)"

  cat > "$DIR/env" <<ENV
OS_AUTH_URL=http://127.0.0.1:$KPORT/v3
OS_USERNAME=admin
OS_PASSWORD=$ADMIN_PASSWORD
OS_PROJECT_NAME=admin
OS_USER_DOMAIN_ID=default
OS_PROJECT_DOMAIN_ID=default
OS_REGION_NAME=RegionOne
OS_IDENTITY_API_VERSION=3
OS_INTERFACE=public
GNOCCHI_URL=http://127.0.0.1:$GPORT
TESTCLOUD_DATABASE_URL=postgres://postgres@127.0.0.1:$PGPORT/tenants_test
TESTCLOUD_PG_PORT=$PGPORT
TESTCLOUD_DIR=$DIR
ENV
  cat > "$DIR/clouds.yaml" <<YAML
clouds:
  testcloud:
    auth:
      auth_url: http://127.0.0.1:$KPORT/v3
      username: admin
      password: $ADMIN_PASSWORD
      project_name: admin
      user_domain_id: default
      project_domain_id: default
    region_name: RegionOne
    interface: public
    identity_api_version: 3
YAML

  # Gnocchi's service user and its catalog entry (Keystone's REST API: the openstack CLI takes ~2 s a call).
  local KS="http://127.0.0.1:$KPORT/v3" TOKEN SERVICE_PROJECT GNOCCHI_USER ADMIN_ROLE METRIC_SERVICE
  TOKEN=$(curl -sf -D - -o /dev/null -H 'Content-Type: application/json' "$KS/auth/tokens" -d '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"id":"default"},"password":"'"$ADMIN_PASSWORD"'"}}},"scope":{"project":{"name":"admin","domain":{"id":"default"}}}}}' \
    | tr -d '\r' | awk 'tolower($1)=="x-subject-token:"{print $2}')
  [ -n "$TOKEN" ] || die "could not get an admin token from keystone"
  ks_post() { # path, json, top-level key -> id
    curl -sf -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' "$KS/$1" -d "$2" \
      | "$PY" -c "import json,sys; print(json.load(sys.stdin)['$3']['id'])"
  }
  SERVICE_PROJECT=$(ks_post projects '{"project":{"name":"service","domain_id":"default"}}' project)
  GNOCCHI_USER=$(ks_post users '{"user":{"name":"gnocchi","domain_id":"default","default_project_id":"'"$SERVICE_PROJECT"'","password":"'"$GNOCCHI_SERVICE_PASSWORD"'"}}' user)
  ADMIN_ROLE=$(curl -sf -H "X-Auth-Token: $TOKEN" "$KS/roles?name=admin" | "$PY" -c "import json,sys; print(json.load(sys.stdin)['roles'][0]['id'])")
  curl -sf -X PUT -H "X-Auth-Token: $TOKEN" "$KS/projects/$SERVICE_PROJECT/users/$GNOCCHI_USER/roles/$ADMIN_ROLE"
  METRIC_SERVICE=$(ks_post services '{"service":{"name":"gnocchi","type":"metric","description":"Metric service"}}' service)
  for iface in public internal admin; do
    ks_post endpoints '{"endpoint":{"service_id":"'"$METRIC_SERVICE"'","interface":"'"$iface"'","region_id":"RegionOne","url":"http://127.0.0.1:'"$GPORT"'"}}' endpoint >/dev/null
  done

  cat > "$DIR/gnocchi.conf" <<CONF
[DEFAULT]
use_stderr = true
[indexer]
url = postgresql://postgres@127.0.0.1:$PGPORT/gnocchi
[storage]
driver = file
file_basepath = $DIR/gnocchi-data
[incoming]
driver = file
file_basepath = $DIR/gnocchi-data
[metricd]
metric_processing_delay = 1
workers = 1
[api]
auth_mode = keystone
uwsgi_mode = http-socket
host = 127.0.0.1
port = $GPORT
workers = 2
paste_config = $DIR/api-paste.ini
[keystone_authtoken]
www_authenticate_uri = http://127.0.0.1:$KPORT/v3
auth_url = http://127.0.0.1:$KPORT/v3
auth_type = password
username = gnocchi
password = $GNOCCHI_SERVICE_PASSWORD
project_name = service
user_domain_id = default
project_domain_id = default
region_name = RegionOne
service_token_roles_required = true
interface = public
CONF
  # Gnocchi's paste pipeline makes keystonemiddleware read /etc/gnocchi/gnocchi.conf, not --config-file:
  # a copy of the pipeline that names our config file keeps everything inside $DIR.
  sed "s|^oslo_config_project = gnocchi|oslo_config_project = gnocchi\noslo_config_file = $DIR/gnocchi.conf|" \
    "$("$PY" -c 'import gnocchi.rest, os; print(os.path.dirname(gnocchi.rest.__file__))')/api-paste.ini" > "$DIR/api-paste.ini"
  gnocchi-upgrade --config-file "$DIR/gnocchi.conf" >"$DIR/logs/gnocchi-upgrade.log" 2>&1
  setsid gnocchi-api --config-file "$DIR/gnocchi.conf" >"$DIR/logs/gnocchi-api.log" 2>&1 < /dev/null &
  echo $! > "$DIR/gnocchi-api.pid"
  setsid gnocchi-metricd --config-file "$DIR/gnocchi.conf" >"$DIR/logs/gnocchi-metricd.log" 2>&1 < /dev/null &
  echo $! > "$DIR/gnocchi-metricd.pid"
  wait_http "http://127.0.0.1:$GPORT/" 60 || die "gnocchi-api did not start (see $DIR/logs/gnocchi-api.log)"

  log "up in $((SECONDS - t0))s: keystone :$KPORT, gnocchi :$GPORT, postgresql :$PGPORT ($DIR)"
  echo "$DIR/env"
}

stop_pid() { # pidfile: stop the recorded process (and its process group when it leads one)
  local f=$1 pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

down() {
  [ -d "$DIR" ] || return 0
  stop_pid "$DIR/gnocchi-metricd.pid"
  stop_pid "$DIR/gnocchi-api.pid"
  stop_pid "$DIR/keystone.pid"
  if [ -f "$DIR/pg/postmaster.pid" ]; then
    su postgres -s /bin/sh -c "$PG_BIN/pg_ctl -D '$DIR/pg' -m immediate -w stop >/dev/null" || true
  fi
  rm -rf "$DIR"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  env) [ -f "$DIR/env" ] || die "not running: scripts/testcloud.sh up"; cat "$DIR/env" ;;
  *) echo "usage: $0 up|down|env" >&2; exit 2 ;;
esac
