#!/usr/bin/env bash
# A real OpenStack on loopback for tests: PostgreSQL 15, Keystone (Zed), Gnocchi (4.4) and the APIs of Nova,
# Cinder and Neutron (Zed) from Debian, on 127.0.0.1. Idempotent. No RabbitMQ (transport_url = fake://), no
# scheduler, compute, volume service or agents: the quota APIs, and the objects that count against them.
# Placement runs too, only because Nova's delete of a server that never had a host clears its allocations
# there (without it, the delete is done but answered with a 500: nova/compute/api.py _local_delete_cleanup).
# The verified recipe: /work/shared/nova-cinder-neutron-on-loopback.md.
#   scripts/testcloud.sh up     install what is missing, start everything, print the env file's path
#   scripts/testcloud.sh env    print the env file (OS_* for the admin, GNOCCHI_URL, TESTCLOUD_*)
#   scripts/testcloud.sh down   stop only the processes this script started (by recorded pids), remove its dir
#   scripts/testcloud.sh region-two       add RegionTwo to a running cloud (or start its processes again);
#                                         print its env file (TESTCLOUD_R2_*). Nothing of RegionOne restarts.
#   scripts/testcloud.sh region-two-stop  stop RegionTwo's processes only (a target down, for tests)
# TESTCLOUD_DIR (default: <repo>/.testcloud) holds everything: data, configs, logs, pids.
# TESTCLOUD_CACHE (default: ~/.cache/openstack-tenants/testcloud) keeps the six service .debs across up/down.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${TESTCLOUD_DIR:-$REPO/.testcloud}"
PG_BIN=/usr/lib/postgresql/15/bin
PY=/usr/bin/python3 # Debian's Python: the OpenStack packages live there, not in any other python3 on PATH
ADMIN_PASSWORD="testcloud-admin-pw"
GNOCCHI_SERVICE_PASSWORD="testcloud-gnocchi-pw"
NOVA_SERVICE_PASSWORD="testcloud-nova-pw"
CINDER_SERVICE_PASSWORD="testcloud-cinder-pw"
NEUTRON_SERVICE_PASSWORD="testcloud-neutron-pw"
PLACEMENT_SERVICE_PASSWORD="testcloud-placement-pw"
PACKAGES=(python3-keystone python3-gnocchi python3-openstackclient python3-gnocchiclient python3-psycopg2
  python3-keystonemiddleware uwsgi-core uwsgi-plugin-python3 postgresql
  python3-nova python3-cinder python3-neutron python3-placement python3-novaclient python3-cinderclient)
# The python3-* packages have no scripts and no api-paste.ini; these have them, but also dbconfig-common,
# init and sudoers wiring: they are unpacked into $DIR/x, never installed (recipe, "Install").
SERVICE_DEBS=(nova-common nova-api cinder-common cinder-api neutron-common neutron-server)
CACHE="${TESTCLOUD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/openstack-tenants/testcloud}"
SERVICES=(keystone gnocchi-api gnocchi-metricd nova-api cinder-api neutron-server placement-api)
# RegionTwo: a second Nova, Cinder, Neutron and Placement API with databases of their own, in Keystone's
# catalog under RegionTwo (one Keystone and one Gnocchi for both regions, as a real multi-region cloud
# shares its identity service). Added to a running cloud without restarting it.
REGION_TWO_SERVICES=(r2-nova-api r2-cinder-api r2-neutron-server r2-placement-api)
EXTERNAL_NETWORK=public

log() { printf 'testcloud: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

install_missing() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  bash "$REPO/scripts/apt-install.sh" "${missing[@]}"
}

# N distinct free ports (all bound at once, so none is handed out twice).
free_ports() { "$PY" -c 'import socket,sys
ss=[socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1",0))
print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"; }

# The six service packages at the installed version of python3-nova/cinder/neutron, from the cache or
# downloaded into it (apt-get download, ~400 kB), unpacked into $DIR/x.
unpack_service_debs() {
  mkdir -p "$CACHE"
  local deb ver file missing=() tmp
  for deb in "${SERVICE_DEBS[@]}"; do
    ver=$(dpkg-query -W -f='${Version}' "python3-${deb%%-*}")
    file="$CACHE/${deb}_${ver//:/%3a}.deb"
    [ -s "$file" ] || missing+=("$deb=$ver")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "downloading ${missing[*]}"
    tmp=$(mktemp -d "$CACHE/download.XXXXXX")
    ( cd "$tmp" && { apt-get download -qq "${missing[@]}" 2>/dev/null || { bash "$REPO/scripts/apt-install.sh" update && apt-get download -qq "${missing[@]}"; }; } ) \
      || { rm -rf "$tmp"; die "apt-get download ${missing[*]} failed"; }
    for file in "$tmp"/*.deb; do # renamed into place: a concurrent up never sees half a file
      mv -f "$file" "$CACHE/$(dpkg-deb -f "$file" Package)_$(dpkg-deb -f "$file" Version | sed 's/:/%3a/g').deb"
    done
    rm -rf "$tmp"
  fi
  for deb in "${SERVICE_DEBS[@]}"; do
    ver=$(dpkg-query -W -f='${Version}' "python3-${deb%%-*}")
    dpkg-deb -x "$CACHE/${deb}_${ver//:/%3a}.deb" "$DIR/x"
  done
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_http() { # url, seconds
  local deadline=$((SECONDS + $2))
  until curl -s -o /dev/null "$1"; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.2
  done
}

all_alive() {
  local svc
  for svc in "${SERVICES[@]}"; do alive "$DIR/$svc.pid" || return 1; done
  su postgres -s /bin/sh -c "$PG_BIN/pg_ctl status -D '$DIR/pg'" >/dev/null 2>&1
}

# keystone_authtoken for a service user (service_token_roles_required: nova -> neutron calls carry a service
# token, which neutron accepts only from a user with the `service` role; recipe, "Keystone catalog").
authtoken() { # user, password
  cat <<CONF
[keystone_authtoken]
www_authenticate_uri = http://127.0.0.1:$KPORT/v3
auth_url = http://127.0.0.1:$KPORT/v3
auth_type = password
username = $1
password = $2
project_name = service
user_domain_id = default
project_domain_id = default
region_name = RegionOne
interface = public
service_token_roles_required = true
[oslo_messaging_notifications]
driver = noop
CONF
}

write_configs() {
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
$(authtoken gnocchi "$GNOCCHI_SERVICE_PASSWORD" | grep -v -e '^\[oslo_messaging' -e '^driver = noop')
CONF
  # Gnocchi's paste pipeline makes keystonemiddleware read /etc/gnocchi/gnocchi.conf, not --config-file:
  # a copy of the pipeline that names our config file keeps everything inside $DIR.
  sed "s|^oslo_config_project = gnocchi|oslo_config_project = gnocchi\noslo_config_file = $DIR/gnocchi.conf|" \
    "$("$PY" -c 'import gnocchi.rest, os; print(os.path.dirname(gnocchi.rest.__file__))')/api-paste.ini" > "$DIR/api-paste.ini"

  mkdir -p "$DIR/placement"
  cat > "$DIR/placement/placement.conf" <<CONF
[DEFAULT]
use_stderr = true
[api]
auth_strategy = keystone
[placement_database]
connection = postgresql+psycopg2://postgres@127.0.0.1:$PGPORT/placement
$(authtoken placement "$PLACEMENT_SERVICE_PASSWORD")
CONF
  # python3-placement has the WSGI factory but no script (that is in placement-api, with dbconfig wiring).
  printf 'from placement.wsgi import init_application\napplication = init_application()\n' > "$DIR/placement/wsgi.py"

  # Nova: the os-compute API alone. [neutron] serves GET /servers/detail; [glance] only builds image URLs
  # for the notification of a local delete (never contacted); [placement] clears a deleted server's allocations.
  cp "$DIR/x/usr/share/nova-common/api-paste.ini" "$DIR/nova/api-paste.ini"
  cat > "$DIR/nova/nova.conf" <<CONF
[DEFAULT]
use_stderr = true
host = testcloud
state_path = $DIR/nova/state
transport_url = fake://
[api_database]
connection = postgresql+psycopg2://postgres@127.0.0.1:$PGPORT/nova_api
[database]
connection = postgresql+psycopg2://postgres@127.0.0.1:$PGPORT/nova
[neutron]
auth_type = password
auth_url = http://127.0.0.1:$KPORT/v3
username = neutron
password = $NEUTRON_SERVICE_PASSWORD
project_name = service
user_domain_id = default
project_domain_id = default
region_name = RegionOne
[glance]
api_servers = http://127.0.0.1:9/
[placement]
auth_type = password
auth_url = http://127.0.0.1:$KPORT/v3
username = placement
password = $PLACEMENT_SERVICE_PASSWORD
project_name = service
user_domain_id = default
project_domain_id = default
region_name = RegionOne
valid_interfaces = public
$(authtoken nova "$NOVA_SERVICE_PASSWORD")
[oslo_concurrency]
lock_path = $DIR/nova/lock
CONF

  cp "$DIR/x/usr/share/cinder-common/api-paste.ini" "$DIR/cinder/api-paste.ini"
  cp "$DIR/x/etc/cinder/resource_filters.json" "$DIR/cinder/resource_filters.json"
  cat > "$DIR/cinder/cinder.conf" <<CONF
[DEFAULT]
use_stderr = true
host = testcloud
state_path = $DIR/cinder/state
api_paste_config = $DIR/cinder/api-paste.ini
resource_query_filters_file = $DIR/cinder/resource_filters.json
auth_strategy = keystone
transport_url = fake://
[database]
connection = postgresql+psycopg2://postgres@127.0.0.1:$PGPORT/cinder
[coordination]
backend_url = file://$DIR/cinder/state
$(authtoken cinder "$CINDER_SERVICE_PASSWORD")
[oslo_concurrency]
lock_path = $DIR/cinder/lock
CONF

  # Neutron: ML2 without mechanism drivers or agents; a flat physical network for the external network.
  cp "$DIR/x/usr/share/neutron-common/api-paste.ini" "$DIR/neutron/api-paste.ini"
  cat > "$DIR/neutron/neutron.conf" <<CONF
[DEFAULT]
use_stderr = true
host = testcloud
bind_host = 127.0.0.1
bind_port = $QPORT
state_path = $DIR/neutron/state
api_paste_config = $DIR/neutron/api-paste.ini
auth_strategy = keystone
core_plugin = ml2
service_plugins = router
allow_overlapping_ips = true
transport_url = fake://
api_workers = 1
rpc_workers = 0
rpc_state_report_workers = 0
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
[database]
connection = postgresql+psycopg2://postgres@127.0.0.1:$PGPORT/neutron
$(authtoken neutron "$NEUTRON_SERVICE_PASSWORD")
[oslo_concurrency]
lock_path = $DIR/neutron/lock
CONF
  cat > "$DIR/neutron/ml2_conf.ini" <<CONF
[ml2]
type_drivers = flat,vxlan
tenant_network_types = vxlan
mechanism_drivers =
extension_drivers = port_security
[ml2_type_flat]
flat_networks = $EXTERNAL_NETWORK
[ml2_type_vxlan]
vni_ranges = 1:1000
CONF
}

# The database schemas, in parallel (they need only PostgreSQL): nova's alone takes ~20 s.
sync_schemas() {
  local KM="keystone-manage --config-file $DIR/keystone.conf" L="$DIR/logs"
  local NM="$PY $DIR/x/usr/bin/nova-manage --config-file $DIR/nova/nova.conf" PGURL="postgresql+psycopg2://postgres@127.0.0.1:$PGPORT"
  local NC="--config-file $DIR/neutron/neutron.conf --config-file $DIR/neutron/ml2_conf.ini"
  local pids=() names=(keystone nova cinder neutron gnocchi placement) i
  ( $KM db_sync && $KM fernet_setup --keystone-user root --keystone-group root \
      && $KM credential_setup --keystone-user root --keystone-group root \
      && $KM bootstrap --bootstrap-password "$ADMIN_PASSWORD" --bootstrap-public-url "http://127.0.0.1:$KPORT/v3" \
        --bootstrap-internal-url "http://127.0.0.1:$KPORT/v3" --bootstrap-admin-url "http://127.0.0.1:$KPORT/v3" \
        --bootstrap-region-id RegionOne ) >"$L/keystone-manage.log" 2>&1 & pids+=($!)
  ( $NM api_db sync && $NM cell_v2 map_cell0 --database_connection "$PGURL/nova_cell0" \
      && $NM cell_v2 create_cell --name cell1 --database_connection "$PGURL/nova" --transport-url fake:// \
      && $NM db sync ) >"$L/nova-manage.log" 2>&1 & pids+=($!)
  "$PY" "$DIR/x/usr/bin/cinder-manage" --config-file "$DIR/cinder/cinder.conf" db sync >"$L/cinder-manage.log" 2>&1 & pids+=($!)
  # shellcheck disable=SC2086
  "$PY" "$DIR/x/usr/bin/neutron-db-manage" $NC upgrade heads >"$L/neutron-db-manage.log" 2>&1 & pids+=($!)
  gnocchi-upgrade --config-file "$DIR/gnocchi.conf" >"$L/gnocchi-upgrade.log" 2>&1 & pids+=($!)
  "$PY" -c 'import sys; from placement.cmd.manage import main; sys.argv[0] = "placement-manage"; main()' \
    --config-file "$DIR/placement/placement.conf" db sync >"$L/placement-manage.log" 2>&1 & pids+=($!)
  local failed=()
  for i in "${!pids[@]}"; do wait "${pids[$i]}" || failed+=("${names[$i]}"); done
  [ ${#failed[@]} -eq 0 ] || die "schema sync failed: ${failed[*]} (see $L/*-manage.log, $L/gnocchi-upgrade.log)"
}

# uwsgi --daemonize: the master leads its own process group, which `down` stops.
uwsgi_daemon() { # name, port, uwsgi args...
  local name=$1 port=$2; shift 2
  uwsgi --http-socket "127.0.0.1:$port" --plugin python3 --master --die-on-term --buffer-size 65535 \
    --add-header "Connection: close" --pidfile "$DIR/$name.pid" --daemonize "$DIR/logs/$name.log" "$@"
}

start_services() {
  OS_KEYSTONE_CONFIG_FILES="$DIR/keystone.conf" uwsgi_daemon keystone "$KPORT" \
    --wsgi-file /usr/bin/keystone-wsgi-public --processes 2 --threads 2
  # "Connection: close": OSC reuses connections, and uwsgi's --http-socket resets them (recipe, error 3).
  # Nova's WSGI app monkey-patches with eventlet: two uwsgi threads of one process serving their first
  # requests at once die with "greenlet.error: cannot switch to a different thread" and leave nova-api
  # hung for good (seen when 4 tenants were created in parallel). Processes, one thread each, instead.
  OS_NOVA_CONFIG_DIR="$DIR/nova" uwsgi_daemon nova-api "$NPORT" \
    --wsgi-file "$DIR/x/usr/bin/nova-api-wsgi" --processes 2 --threads 1 --lazy-apps
  uwsgi_daemon cinder-api "$CPORT" --wsgi-file "$DIR/x/usr/bin/cinder-wsgi" \
    --pyargv "--config-file $DIR/cinder/cinder.conf" --processes 1 --threads 2 --enable-threads --lazy-apps
  OS_PLACEMENT_CONFIG_DIR="$DIR/placement" uwsgi_daemon placement-api "$PPORT" \
    --wsgi-file "$DIR/placement/wsgi.py" --processes 1 --threads 2 --enable-threads --lazy-apps
  setsid "$PY" "$DIR/x/usr/bin/neutron-server" --config-file "$DIR/neutron/neutron.conf" \
    --config-file "$DIR/neutron/ml2_conf.ini" >"$DIR/logs/neutron-server.log" 2>&1 < /dev/null &
  echo $! > "$DIR/neutron-server.pid"
  setsid gnocchi-api --config-file "$DIR/gnocchi.conf" >"$DIR/logs/gnocchi-api.log" 2>&1 < /dev/null &
  echo $! > "$DIR/gnocchi-api.pid"
  setsid gnocchi-metricd --config-file "$DIR/gnocchi.conf" >"$DIR/logs/gnocchi-metricd.log" 2>&1 < /dev/null &
  echo $! > "$DIR/gnocchi-metricd.pid"
}

# Service users and the catalog through Keystone's REST API (the openstack CLI needed 2.5 min for it).
register_catalog() {
  local KS="http://127.0.0.1:$KPORT/v3" SERVICE_PROJECT ADMIN_ROLE SERVICE_ROLE user pw uid svc type url iface
  TOKEN=$(curl -sf -D - -o /dev/null -H 'Content-Type: application/json' "$KS/auth/tokens" -d '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"id":"default"},"password":"'"$ADMIN_PASSWORD"'"}}},"scope":{"project":{"name":"admin","domain":{"id":"default"}}}}}' \
    | tr -d '\r' | awk 'tolower($1)=="x-subject-token:"{print $2}')
  [ -n "$TOKEN" ] || die "could not get an admin token from keystone"
  ks_post() { # path, json, top-level key -> id
    curl -sf -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' "$KS/$1" -d "$2" \
      | "$PY" -c "import json,sys; print(json.load(sys.stdin)['$3']['id'])"
  }
  SERVICE_PROJECT=$(ks_post projects '{"project":{"name":"service","domain_id":"default"}}' project)
  ADMIN_ROLE=$(curl -sf -H "X-Auth-Token: $TOKEN" "$KS/roles?name=admin" | "$PY" -c "import json,sys; print(json.load(sys.stdin)['roles'][0]['id'])")
  SERVICE_ROLE=$(ks_post roles '{"role":{"name":"service"}}' role)
  while read -r user pw; do
    uid=$(ks_post users '{"user":{"name":"'"$user"'","domain_id":"default","default_project_id":"'"$SERVICE_PROJECT"'","password":"'"$pw"'"}}' user)
    curl -sf -X PUT -H "X-Auth-Token: $TOKEN" "$KS/projects/$SERVICE_PROJECT/users/$uid/roles/$ADMIN_ROLE"
    curl -sf -X PUT -H "X-Auth-Token: $TOKEN" "$KS/projects/$SERVICE_PROJECT/users/$uid/roles/$SERVICE_ROLE"
  done <<USERS
gnocchi $GNOCCHI_SERVICE_PASSWORD
nova $NOVA_SERVICE_PASSWORD
cinder $CINDER_SERVICE_PASSWORD
neutron $NEUTRON_SERVICE_PASSWORD
placement $PLACEMENT_SERVICE_PASSWORD
USERS
  # volumev3 and block-storage both: OSC 6 and cinderclient look for volumev3, newer SDKs for block-storage.
  while read -r svc type url; do
    uid=$(ks_post services '{"service":{"name":"'"$svc"'","type":"'"$type"'"}}' service)
    for iface in public internal admin; do
      ks_post endpoints '{"endpoint":{"service_id":"'"$uid"'","interface":"'"$iface"'","region_id":"RegionOne","url":"'"$url"'"}}' endpoint >/dev/null
    done
  done <<SERVICES
gnocchi metric http://127.0.0.1:$GPORT
nova compute http://127.0.0.1:$NPORT/v2.1
cinderv3 volumev3 http://127.0.0.1:$CPORT/v3/%(project_id)s
cinder block-storage http://127.0.0.1:$CPORT/v3/%(project_id)s
neutron network http://127.0.0.1:$QPORT
placement placement http://127.0.0.1:$PPORT
SERVICES
}

# The admin's flat external network and its subnet (no DHCP), so that tenants can have router gateways
# and floating IPs. Prints the network's id.
create_external_network() {
  local NET="http://127.0.0.1:$QPORT/v2.0" id
  id=$(curl -sf -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' "$NET/networks" \
    -d '{"network":{"name":"'"$EXTERNAL_NETWORK"'","router:external":true,"provider:network_type":"flat","provider:physical_network":"'"$EXTERNAL_NETWORK"'"}}' \
    | "$PY" -c "import json,sys; print(json.load(sys.stdin)['network']['id'])") || die "could not create the external network"
  curl -sf -o /dev/null -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' "$NET/subnets" \
    -d '{"subnet":{"name":"'"$EXTERNAL_NETWORK"'-subnet","network_id":"'"$id"'","ip_version":4,"cidr":"203.0.113.0/24","gateway_ip":"203.0.113.1","enable_dhcp":false}}' \
    || die "could not create the external subnet"
  echo "$id"
}

up() {
  if [ -f "$DIR/env" ] && all_alive; then
    echo "$DIR/env"; return 0
  fi
  [ -d "$DIR" ] && down
  local t0=$SECONDS
  install_missing
  local t1=$SECONDS
  mkdir -p "$DIR"/{pgsock,fernet-keys,credential-keys,gnocchi-data,logs,x} "$DIR"/{nova,cinder,neutron}/{state,lock}
  local PGPORT KPORT GPORT NPORT CPORT QPORT PPORT TOKEN EXTERNAL_NETWORK_ID
  read -r PGPORT KPORT GPORT NPORT CPORT QPORT PPORT <<<"$(free_ports 7)"

  # PostgreSQL: initdb refuses root, so the cluster belongs to the postgres user.
  mkdir -p "$DIR/pg"; chown postgres:postgres "$DIR/pg" "$DIR/pgsock" "$DIR/logs"; chmod 755 "$DIR"
  su postgres -s /bin/sh -c "$PG_BIN/initdb -D '$DIR/pg' -A trust -U postgres >/dev/null"
  su postgres -s /bin/sh -c "$PG_BIN/pg_ctl -D '$DIR/pg' -l '$DIR/logs/postgres.log' -w -o \"-c listen_addresses=127.0.0.1 -p $PGPORT -k $DIR/pgsock -c fsync=off -c max_connections=300\" start >/dev/null"
  for db in keystone gnocchi tenants_test nova_api nova nova_cell0 cinder neutron placement; do
    su postgres -s /bin/sh -c "$PG_BIN/createdb -h 127.0.0.1 -p $PGPORT -U postgres $db"
  done

  unpack_service_debs
  write_configs
  sync_schemas
  start_services
  wait_http "http://127.0.0.1:$KPORT/v3" 60 || die "keystone did not start (see $DIR/logs/keystone.log)"
  register_catalog
  wait_http "http://127.0.0.1:$GPORT/" 60 || die "gnocchi-api did not start (see $DIR/logs/gnocchi-api.log)"
  wait_http "http://127.0.0.1:$NPORT/" 90 || die "nova-api did not start (see $DIR/logs/nova-api.log)"
  wait_http "http://127.0.0.1:$CPORT/" 90 || die "cinder-api did not start (see $DIR/logs/cinder-api.log)"
  wait_http "http://127.0.0.1:$QPORT/" 90 || die "neutron-server did not start (see $DIR/logs/neutron-server.log)"
  wait_http "http://127.0.0.1:$PPORT/" 90 || die "placement-api did not start (see $DIR/logs/placement-api.log)"
  EXTERNAL_NETWORK_ID=$(create_external_network)

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
  # Written last: its presence (with every process alive) is what makes the next `up` a no-op.
  cat > "$DIR/env.tmp" <<ENV
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
TESTCLOUD_NOVA_URL=http://127.0.0.1:$NPORT/v2.1
TESTCLOUD_CINDER_URL=http://127.0.0.1:$CPORT/v3
TESTCLOUD_NEUTRON_URL=http://127.0.0.1:$QPORT
TESTCLOUD_NOVA_API_DATABASE_URL=postgres://postgres@127.0.0.1:$PGPORT/nova_api
TESTCLOUD_NOVA_CELL_DATABASE_URL=postgres://postgres@127.0.0.1:$PGPORT/nova
TESTCLOUD_EXTERNAL_NETWORK=$EXTERNAL_NETWORK
TESTCLOUD_EXTERNAL_NETWORK_ID=$EXTERNAL_NETWORK_ID
ENV
  mv "$DIR/env.tmp" "$DIR/env"

  log "up in $((SECONDS - t1))s (+$((t1 - t0))s installing): keystone :$KPORT, gnocchi :$GPORT, nova :$NPORT, cinder :$CPORT, neutron :$QPORT, placement :$PPORT, postgresql :$PGPORT ($DIR)"
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

region_two_alive() {
  local svc
  for svc in "${REGION_TWO_SERVICES[@]}"; do alive "$DIR/$svc.pid" || return 1; done
}

# RegionTwo's configs: region one's, on databases, paths and a port of its own.
region_two_configs() { # R QPORT
  local R=$1 QPORT2=$2
  mkdir -p "$R"/{nova,cinder,neutron}/{state,lock} "$R/placement"
  sed -e 's|/nova_api$|/nova_api_r2|' -e 's|/nova$|/nova_r2|' -e "s|$DIR/nova|$R/nova|g" "$DIR/nova/nova.conf" > "$R/nova/nova.conf"
  cp "$DIR/nova/api-paste.ini" "$R/nova/api-paste.ini"
  sed -e 's|/cinder$|/cinder_r2|' -e "s|$DIR/cinder|$R/cinder|g" "$DIR/cinder/cinder.conf" > "$R/cinder/cinder.conf"
  cp "$DIR/cinder/api-paste.ini" "$DIR/cinder/resource_filters.json" "$R/cinder/"
  sed -e 's|/neutron$|/neutron_r2|' -e "s|$DIR/neutron|$R/neutron|g" -e "s|^bind_port = .*|bind_port = $QPORT2|" "$DIR/neutron/neutron.conf" > "$R/neutron/neutron.conf"
  cp "$DIR/neutron/api-paste.ini" "$DIR/neutron/ml2_conf.ini" "$R/neutron/"
  sed -e 's|/placement$|/placement_r2|' "$DIR/placement/placement.conf" > "$R/placement/placement.conf"
  cp "$DIR/placement/wsgi.py" "$R/placement/wsgi.py"
}

region_two_schemas() { # R PGPORT
  local R=$1 PGPORT=$2 L="$DIR/logs" pids=() i failed=()
  local NM="$PY $DIR/x/usr/bin/nova-manage --config-file $R/nova/nova.conf" PGURL="postgresql+psycopg2://postgres@127.0.0.1:$2"
  for db in nova_api_r2 nova_r2 nova_cell0_r2 cinder_r2 neutron_r2 placement_r2; do
    su postgres -s /bin/sh -c "$PG_BIN/createdb -h 127.0.0.1 -p $PGPORT -U postgres $db" 2>/dev/null || true
  done
  ( $NM api_db sync && $NM cell_v2 map_cell0 --database_connection "$PGURL/nova_cell0_r2" \
      && { $NM cell_v2 list_cells | grep -q cell1 || $NM cell_v2 create_cell --name cell1 --database_connection "$PGURL/nova_r2" --transport-url fake://; } \
      && $NM db sync ) >"$L/r2-nova-manage.log" 2>&1 & pids+=($!)
  "$PY" "$DIR/x/usr/bin/cinder-manage" --config-file "$R/cinder/cinder.conf" db sync >"$L/r2-cinder-manage.log" 2>&1 & pids+=($!)
  "$PY" "$DIR/x/usr/bin/neutron-db-manage" --config-file "$R/neutron/neutron.conf" --config-file "$R/neutron/ml2_conf.ini" upgrade heads >"$L/r2-neutron-db-manage.log" 2>&1 & pids+=($!)
  "$PY" -c 'import sys; from placement.cmd.manage import main; sys.argv[0] = "placement-manage"; main()' \
    --config-file "$R/placement/placement.conf" db sync >"$L/r2-placement-manage.log" 2>&1 & pids+=($!)
  for i in "${!pids[@]}"; do wait "${pids[$i]}" || failed+=("$i"); done
  [ ${#failed[@]} -eq 0 ] || die "RegionTwo schema sync failed (see $L/r2-*-manage.log)"
}

region_two_start() { # R NPORT CPORT QPORT PPORT
  local R=$1
  alive "$DIR/r2-nova-api.pid" || OS_NOVA_CONFIG_DIR="$R/nova" uwsgi_daemon r2-nova-api "$2" \
    --wsgi-file "$DIR/x/usr/bin/nova-api-wsgi" --processes 1 --threads 1 --lazy-apps
  alive "$DIR/r2-cinder-api.pid" || uwsgi_daemon r2-cinder-api "$3" --wsgi-file "$DIR/x/usr/bin/cinder-wsgi" \
    --pyargv "--config-file $R/cinder/cinder.conf" --processes 1 --threads 2 --enable-threads --lazy-apps
  alive "$DIR/r2-placement-api.pid" || OS_PLACEMENT_CONFIG_DIR="$R/placement" uwsgi_daemon r2-placement-api "$5" \
    --wsgi-file "$R/placement/wsgi.py" --processes 1 --threads 2 --enable-threads --lazy-apps
  if ! alive "$DIR/r2-neutron-server.pid"; then
    setsid "$PY" "$DIR/x/usr/bin/neutron-server" --config-file "$R/neutron/neutron.conf" \
      --config-file "$R/neutron/ml2_conf.ini" >"$DIR/logs/r2-neutron-server.log" 2>&1 < /dev/null &
    echo $! > "$DIR/r2-neutron-server.pid"
  fi
  wait_http "http://127.0.0.1:$2/" 120 || die "RegionTwo nova-api did not start (see $DIR/logs/r2-nova-api.log)"
  wait_http "http://127.0.0.1:$3/" 120 || die "RegionTwo cinder-api did not start (see $DIR/logs/r2-cinder-api.log)"
  wait_http "http://127.0.0.1:$4/" 120 || die "RegionTwo neutron-server did not start (see $DIR/logs/r2-neutron-server.log)"
  wait_http "http://127.0.0.1:$5/" 120 || die "RegionTwo placement-api did not start (see $DIR/logs/r2-placement-api.log)"
}

# RegionTwo in Keystone's catalog: the region, and an endpoint of each existing service there (Keystone's
# and Gnocchi's are RegionOne's own: one identity and one metering store for both; the openstack CLI with
# --os-region-name RegionTwo looks for an identity endpoint in that region).
region_two_catalog() { # NPORT CPORT QPORT PPORT GNOCCHI_URL
  local KS="${OS_AUTH_URL%/}" TOKEN svc type url iface sid
  TOKEN=$(curl -sf -D - -o /dev/null -H 'Content-Type: application/json' "$KS/auth/tokens" -d '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"admin","domain":{"id":"default"},"password":"'"$ADMIN_PASSWORD"'"}}},"scope":{"project":{"name":"admin","domain":{"id":"default"}}}}}' \
    | tr -d '\r' | awk 'tolower($1)=="x-subject-token:"{print $2}')
  [ -n "$TOKEN" ] || die "could not get an admin token from keystone"
  curl -sf -o /dev/null -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' "$KS/regions" -d '{"region":{"id":"RegionTwo"}}' \
    || curl -sf -o /dev/null -H "X-Auth-Token: $TOKEN" "$KS/regions/RegionTwo" || die "could not create RegionTwo"
  while read -r type url; do
    sid=$(curl -sf -H "X-Auth-Token: $TOKEN" "$KS/services?type=$type" | "$PY" -c "import json,sys; print(json.load(sys.stdin)['services'][0]['id'])")
    for iface in public internal admin; do
      curl -sf -o /dev/null -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' "$KS/endpoints" \
        -d '{"endpoint":{"service_id":"'"$sid"'","interface":"'"$iface"'","region_id":"RegionTwo","url":"'"$url"'"}}' || die "could not register $type in RegionTwo"
    done
  done <<SERVICES
identity $KS
metric $5
compute http://127.0.0.1:$1/v2.1
volumev3 http://127.0.0.1:$2/v3/%(project_id)s
block-storage http://127.0.0.1:$2/v3/%(project_id)s
network http://127.0.0.1:$3
placement http://127.0.0.1:$4
SERVICES
}

region_two() {
  [ -f "$DIR/env" ] || die "not running: scripts/testcloud.sh up first"
  if [ -f "$DIR/env-region-two" ] && region_two_alive; then echo "$DIR/env-region-two"; return 0; fi
  set -a; . "$DIR/env"; set +a
  local R="$DIR/r2" NPORT CPORT QPORT PPORT t0=$SECONDS
  # Its ports are kept: the catalog names them, so a restart (after region-two-stop) takes the same ones.
  if [ -f "$R/ports" ]; then read -r NPORT CPORT QPORT PPORT < "$R/ports"
  else
    read -r NPORT CPORT QPORT PPORT <<<"$(free_ports 4)"
    region_two_configs "$R" "$QPORT"
    region_two_schemas "$R" "$TESTCLOUD_PG_PORT"
  fi
  region_two_start "$R" "$NPORT" "$CPORT" "$QPORT" "$PPORT"
  if [ ! -f "$R/ports" ]; then
    region_two_catalog "$NPORT" "$CPORT" "$QPORT" "$PPORT" "$GNOCCHI_URL"
    echo "$NPORT $CPORT $QPORT $PPORT" > "$R/ports"
  fi
  cat > "$DIR/env-region-two.tmp" <<ENV
TESTCLOUD_R2_REGION=RegionTwo
TESTCLOUD_R2_NOVA_URL=http://127.0.0.1:$NPORT/v2.1
TESTCLOUD_R2_CINDER_URL=http://127.0.0.1:$CPORT/v3
TESTCLOUD_R2_NEUTRON_URL=http://127.0.0.1:$QPORT
TESTCLOUD_R2_PLACEMENT_URL=http://127.0.0.1:$PPORT
ENV
  mv "$DIR/env-region-two.tmp" "$DIR/env-region-two"
  log "RegionTwo up in $((SECONDS - t0))s: nova :$NPORT, cinder :$CPORT, neutron :$QPORT, placement :$PPORT"
  echo "$DIR/env-region-two"
}

region_two_stop() {
  local svc
  for svc in "${REGION_TWO_SERVICES[@]}"; do stop_pid "$DIR/$svc.pid" & done
  wait
}

down() {
  [ -d "$DIR" ] || return 0
  local svc
  for svc in "${SERVICES[@]}" "${REGION_TWO_SERVICES[@]}"; do stop_pid "$DIR/$svc.pid" & done
  wait
  if [ -f "$DIR/pg/postmaster.pid" ]; then
    su postgres -s /bin/sh -c "$PG_BIN/pg_ctl -D '$DIR/pg' -m immediate -w stop >/dev/null" || true
  fi
  rm -rf "$DIR"
}

case "${1:-}" in
  # One `up` at a time (two test projects' setups may ask at once): the second finds the first's cloud.
  # The services it starts inherit the lock's descriptor: it is released by hand (flock locks belong to the
  # open file, so one unlock frees it for all), or the next `up` would wait for them forever.
  up) mkdir -p "$(dirname "$DIR")"; exec 9>"$DIR.lock"; flock 9; trap 'flock -u 9' EXIT; up ;;
  down) down ;;
  env) [ -f "$DIR/env" ] || die "not running: scripts/testcloud.sh up"; cat "$DIR/env" ;;
  # Its own lock: RegionOne's `up` is never held by it (and it never restarts RegionOne).
  region-two) exec 8>"$DIR.region-two.lock"; flock 8; trap 'flock -u 8' EXIT; region_two ;;
  region-two-stop) region_two_stop ;;
  *) echo "usage: $0 up|down|env|region-two|region-two-stop" >&2; exit 2 ;;
esac
