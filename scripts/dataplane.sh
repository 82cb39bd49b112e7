#!/usr/bin/env bash
# MyWP single-host data plane: MariaDB, php-fpm and nginx run as this project's own
# processes, with every data file, config, socket, log and pid under the state directory.
# The system's services and their configuration (/etc/nginx, /etc/mysql, /etc/php) are
# read at most (mime.types, fastcgi_params, php.ini + extension list), never changed.
#
#   scripts/dataplane.sh install          apt-get install what is missing
#   scripts/dataplane.sh start|stop|status|restart
#   scripts/dataplane.sh start-postgres|stop-postgres   (a PostgreSQL for the store's tests)
#
# Environment: MYWP_STATE_DIR (default ./var), MYWP_SITES_PORT (default 8080),
# MYWP_SITES_BIND (default 127.0.0.1), MYWP_PG_PORT (default 5433), MYWP_MARIADB_PORT (unset:
# MariaDB listens on its socket only; set, as the tests do, it also listens on
# 127.0.0.1:<port> with a password-authenticated admin, standing in for RDS MySQL),
# MYWP_LOGIN_RATE (default 10r/m: requests to each site's wp-login.php and xmlrpc.php per
# client address, plus a burst of 10, before nginx answers 429).
# After `start`, `source "$MYWP_STATE_DIR/dataplane.env"` gives the paths the panel needs.
set -euo pipefail
# Everything this script writes is private unless it says otherwise (explicit modes below):
# the sites' PHP runs as other users on this host and must not read the panel's state.
umask 077

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_REL="${MYWP_STATE_DIR:-./var}"
# Its parents must stay passable for mysql, www-data and the sites (umask 077 is set above).
(umask 022; mkdir -p "$STATE_REL")
STATE="$(cd "$STATE_REL" && pwd)"
SITES_PORT="${MYWP_SITES_PORT:-8080}"
SITES_BIND="${MYWP_SITES_BIND:-127.0.0.1}"
PG_PORT="${MYWP_PG_PORT:-5433}"
MARIADB_PORT="${MYWP_MARIADB_PORT:-}"
LOGIN_RATE="${MYWP_LOGIN_RATE:-10r/m}"
[[ "$LOGIN_RATE" =~ ^[1-9][0-9]{0,5}r/[sm]$ ]] || { echo "MYWP_LOGIN_RATE=$LOGIN_RATE: expected e.g. 10r/m or 2r/s" >&2; exit 2; }
WP_SHARE=/usr/share/wordpress
WEB_USER=www-data

RUN="$STATE/run"
LOG="$STATE/log"
MARIADB_DIR="$STATE/mariadb"
MARIADB_DATA="$MARIADB_DIR/data"
MARIADB_SOCK="$RUN/mariadb.sock"
MARIADB_PID="$RUN/mariadb.pid"
MARIADB_ADMIN_USER=mywp_admin
MARIADB_ADMIN_PASSWORD_FILE="$MARIADB_DIR/admin.password"
FPM_DIR="$STATE/php-fpm"
FPM_CONF="$FPM_DIR/php-fpm.conf"
FPM_SOCK="$RUN/php-fpm.sock"
# Each site's pool (written by the files step) and its socket.
FPM_POOLS="$FPM_DIR/pools"
FPM_SOCKETS="$RUN/php-fpm"
# How this script starts the master (see start_fpm); a master started otherwise is restarted.
FPM_FLAGS="umask-022 clear-groups opcache-validate-permission"
FPM_PID="$RUN/php-fpm.pid"
NGINX_DIR="$STATE/nginx"
NGINX_CONF="$NGINX_DIR/nginx.conf"
NGINX_SITES="$NGINX_DIR/sites"
# The server blocks a `mywp agent` on this host applies (the AWS shape's web node role).
NGINX_FLEET_SITES="$NGINX_DIR/fleet-sites"
NGINX_PID="$RUN/nginx.pid"
NGINX_ERR="$LOG/nginx-error.log"
SITES_DIR="$STATE/sites"
CORE_DIR="$STATE/wordpress-core"
PHP_DIR="$STATE/dataplane-php"
PG_DATA="$STATE/postgres/data"
PG_RUN="$RUN/postgres"
ENV_FILE="$STATE/dataplane.env"

say() { printf 'dataplane: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# Polls `$@` until it succeeds, for at most $WAIT_SECS seconds (bounded, no fixed sleep).
wait_for() {
  local what="$1"; shift
  local deadline=$((SECONDS + ${WAIT_SECS:-30}))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      die "$what did not answer within ${WAIT_SECS:-30}s (logs in $LOG)"
    fi
    sleep 0.1
  done
}

pid_alive() { [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

fpm_bin() {
  local b
  for b in php-fpm8.2 php-fpm; do
    if command -v "$b" >/dev/null 2>&1; then command -v "$b"; return; fi
    if [[ -x "/usr/sbin/$b" ]]; then echo "/usr/sbin/$b"; return; fi
  done
  die "php-fpm not found: run '$0 install'"
}

pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do [[ -x "$d/pg_ctl" ]] && { echo "$d"; return; }; done
  die "PostgreSQL not found: run '$0 install'"
}

cmd_install() {
  local pkgs=(mariadb-server mariadb-client php-fpm php-cli php-mysql nginx wordpress
    wordpress-theme-twentytwentythree postgresql curl)
  local missing=() p
  for p in "${pkgs[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then say "all packages present"; return; fi
  say "installing: ${missing[*]}"
  # Package scripts must not start the system services: we run our own.
  local own_policy=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    own_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  ((own_policy)) && rm -f /usr/sbin/policy-rc.d
  return 0
}

prepare_dirs() {
  mkdir -p "$RUN" "$LOG" "$MARIADB_DIR" "$FPM_DIR" "$FPM_POOLS" "$FPM_SOCKETS" "$NGINX_SITES" \
    "$NGINX_FLEET_SITES" "$NGINX_DIR/tmp" "$SITES_DIR" "$CORE_DIR" "$PHP_DIR"
  # The state directory: every site user may pass through it (to its own directory, the
  # shared core, MariaDB's socket) but list nothing; what is private in it is 0600/0700.
  chmod 0711 "$STATE" "$LOG" "$MARIADB_DIR" "$FPM_DIR" "$NGINX_DIR" "$NGINX_DIR/tmp" "$SITES_DIR"
  # run/: MariaDB (as mysql) creates its socket and pid here; everyone may pass through.
  chown root:mysql "$RUN"
  chmod 0771 "$RUN"
  chmod 0755 "$FPM_SOCKETS" "$CORE_DIR" "$PHP_DIR"
  chmod 0700 "$FPM_POOLS" "$NGINX_SITES" "$NGINX_FLEET_SITES"
  # What earlier versions left readable: the panel's SQLite files, its key, the snapshots.
  local f
  for f in "$STATE"/mywp.db "$STATE"/mywp.db-wal "$STATE"/mywp.db-shm "$STATE"/master.key \
      "$ENV_FILE" "$LOG"/*.log; do
    [[ -f "$f" ]] && chmod go-rwx "$f"
  done
  [[ -d "$STATE/snapshots" ]] && chmod 0700 "$STATE/snapshots"
  return 0
}

# The shared directories the core's links lead to (Debian links getID3, a few scripts and
# the CA bundle out of /usr/share/wordpress): a site's open_basedir must let them in.
# /etc/wordpress (Debian's own site configs) is left out.
shared_php_dirs() {
  {
    echo "$WP_SHARE"
    find "$WP_SHARE" -type l -exec readlink -f {} + | xargs -r -n1 dirname
  } | grep -v '^/etc/wordpress' | sort -u | paste -sd:
}

# The shared WordPress core: symlinks to Debian's files, plus our own wp-config.php shim.
install_core() {
  local entry name
  for entry in "$WP_SHARE"/* ; do
    name="$(basename "$entry")"
    [[ "$name" == wp-config.php ]] && continue
    [[ "$(readlink "$CORE_DIR/$name" 2>/dev/null)" == "$entry" ]] || ln -sfn "$entry" "$CORE_DIR/$name"
  done
  # Drop links whose target went away (a package upgrade removing a file).
  find "$CORE_DIR" -maxdepth 1 -xtype l -delete
  install_if_changed "$REPO_DIR/dataplane/wp-config.php" "$CORE_DIR/wp-config.php"
  local f
  for f in prepend.php install.php mywp-login.php; do
    install_if_changed "$REPO_DIR/dataplane/$f" "$PHP_DIR/$f"
  done
}

install_if_changed() {
  cmp -s "$1" "$2" 2>/dev/null || install -m 0644 -o root -g root "$1" "$2"
}

write_env() {
  local tmp="$ENV_FILE.tmp.$$"
  {
    echo "# Written by scripts/dataplane.sh start; source it to find the data plane."
    echo "MYWP_STATE_DIR=$STATE"
    echo "MYWP_MARIADB_SOCKET=$MARIADB_SOCK"
    echo "MYWP_NGINX_CONF=$NGINX_CONF"
    echo "MYWP_NGINX_SITES_DIR=$NGINX_SITES"
    echo "MYWP_NGINX_FLEET_SITES_DIR=$NGINX_FLEET_SITES"
    echo "MYWP_PHP_FPM_SOCKET=$FPM_SOCK"
    echo "MYWP_PHP_FPM_POOLS_DIR=$FPM_POOLS"
    echo "MYWP_PHP_FPM_SOCKETS_DIR=$FPM_SOCKETS"
    echo "MYWP_PHP_FPM_PID=$FPM_PID"
    echo "MYWP_PHP_SHARED_DIRS=$(shared_php_dirs)"
    echo "MYWP_SITES_DIR=$SITES_DIR"
    echo "MYWP_SITES_PORT=$SITES_PORT"
    echo "MYWP_SITES_LISTEN=$SITES_BIND:$SITES_PORT"
    echo "MYWP_WORDPRESS_CORE=$CORE_DIR"
    echo "MYWP_DATAPLANE_PHP_DIR=$PHP_DIR"
    echo "MYWP_DEFAULT_THEME_DIR=$WP_SHARE/wp-content/themes/twentytwentythree"
    echo "MYWP_WEB_USER=$WEB_USER"
    if [[ -n "$MARIADB_PORT" ]]; then
      echo "MYWP_TEST_MYSQL_ENDPOINT=127.0.0.1:$MARIADB_PORT"
      echo "MYWP_TEST_MYSQL_ADMIN_USER=$MARIADB_ADMIN_USER"
      echo "MYWP_TEST_MYSQL_ADMIN_PASSWORD_FILE=$MARIADB_ADMIN_PASSWORD_FILE"
    fi
    # Keep the PostgreSQL line of start-postgres.
    [[ -f "$ENV_FILE" ]] && grep '^MYWP_TEST_POSTGRES_URL=' "$ENV_FILE" || true
  } >"$tmp"
  mv -f "$tmp" "$ENV_FILE"
}

mariadb_ping() { mariadb-admin --no-defaults --socket="$MARIADB_SOCK" -uroot ping; }

start_mariadb() {
  if pid_alive "$MARIADB_PID" && mariadb_ping >/dev/null 2>&1; then
    say "mariadb already running"; return
  fi
  cat >"$MARIADB_DIR/my.cnf" <<EOF
[mariadbd]
datadir=$MARIADB_DATA
socket=$MARIADB_SOCK
pid-file=$MARIADB_PID
log-error=$LOG/mariadb.err
user=mysql
$(if [[ -n "$MARIADB_PORT" ]]; then echo "port=$MARIADB_PORT"; else echo "skip-networking"; fi)
bind-address=127.0.0.1
character-set-server=utf8mb4
collation-server=utf8mb4_unicode_ci
innodb_buffer_pool_size=64M
innodb_log_file_size=16M
performance_schema=OFF
EOF
  touch "$LOG/mariadb.err"
  chown mysql:mysql "$LOG/mariadb.err"
  if [[ ! -d "$MARIADB_DATA/mysql" ]]; then
    say "initialising MariaDB in $MARIADB_DATA"
    mkdir -p "$MARIADB_DATA"
    chown mysql:mysql "$MARIADB_DATA"
    chmod 0750 "$MARIADB_DATA"
    # root@localhost authenticates through the socket (unix_socket), never by password.
    mariadb-install-db --defaults-file="$MARIADB_DIR/my.cnf" --user=mysql \
      --auth-root-authentication-method=socket --skip-test-db >"$LOG/mariadb-install.log" 2>&1 \
      || die "mariadb-install-db failed, see $LOG/mariadb-install.log"
  fi
  chown -R mysql:mysql "$MARIADB_DATA"
  rm -f "$MARIADB_SOCK"
  setsid -f mariadbd --defaults-file="$MARIADB_DIR/my.cnf" </dev/null >>"$LOG/mariadb.out" 2>&1
  wait_for mariadb mariadb_ping
  say "mariadb up ($MARIADB_SOCK)"
  [[ -n "$MARIADB_PORT" ]] && ensure_mariadb_admin
  return 0
}

# The RDS stand-in: an admin that logs in over TCP with a password, as RDS's master user
# does (all privileges, with GRANT OPTION), on loopback only.
ensure_mariadb_admin() {
  if [[ ! -s "$MARIADB_ADMIN_PASSWORD_FILE" ]]; then
    (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$MARIADB_ADMIN_PASSWORD_FILE")
  fi
  local password; password="$(cat "$MARIADB_ADMIN_PASSWORD_FILE")"
  mariadb --no-defaults --socket="$MARIADB_SOCK" -uroot <<SQL
CREATE USER IF NOT EXISTS '$MARIADB_ADMIN_USER'@'127.0.0.1' IDENTIFIED BY '$password';
ALTER USER '$MARIADB_ADMIN_USER'@'127.0.0.1' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON *.* TO '$MARIADB_ADMIN_USER'@'127.0.0.1' WITH GRANT OPTION;
SQL
  say "mariadb also on 127.0.0.1:$MARIADB_PORT (admin $MARIADB_ADMIN_USER)"
}

fpm_ping() { [[ -S "$FPM_SOCK" ]] && pid_alive "$FPM_PID"; }

start_fpm() {
  local fpm; fpm="$(fpm_bin)"
  cat >"$FPM_CONF" <<EOF
[global]
pid = $FPM_PID
error_log = $LOG/php-fpm.log
daemonize = yes
; A reload (a site's pool added or removed) lets running requests finish first.
process_control_timeout = 10s

; Each site's own pool, as its own user (written by the files step).
include = $FPM_POOLS/*.conf

; The shared pool as $WEB_USER: for sites without a pool of their own (the AWS shape's web
; nodes run on this host in the tests); php-fpm also needs one pool to start.
[mywp_shared]
user = $WEB_USER
group = $WEB_USER
listen = $FPM_SOCK
listen.owner = $WEB_USER
listen.group = $WEB_USER
listen.mode = 0660
pm = ondemand
pm.max_children = 8
pm.process_idle_timeout = 10s
catch_workers_output = yes
php_admin_value[auto_prepend_file] = $PHP_DIR/prepend.php
php_admin_value[error_log] = $LOG/php-fpm-www.log
php_admin_flag[log_errors] = on
php_admin_flag[display_errors] = off
php_admin_value[upload_max_filesize] = 64M
php_admin_value[post_max_size] = 64M
; A site's generated config.php (its address, its domains) counts from the next request:
; with opcache's default 2 s revalidation a site reported live could still serve its old
; address for up to 2 s (tests/tests/domains.rs caught it).
php_admin_value[opcache.revalidate_freq] = 0
EOF
  touch "$LOG/php-fpm-www.log"
  chown "$WEB_USER:$WEB_USER" "$LOG/php-fpm-www.log"
  # A master started by an earlier version of this script (other flags, root's groups) is
  # restarted: a reload keeps how it was started.
  if pid_alive "$FPM_PID" && [[ "$(cat "$FPM_DIR/.running.flags" 2>/dev/null)" != "$FPM_FLAGS" ]]; then
    stop_pidfile php-fpm "$FPM_PID" QUIT
  fi
  if pid_alive "$FPM_PID"; then
    # Running already: pick up a changed config gracefully.
    if ! cmp -s "$FPM_CONF" "$FPM_DIR/.running.conf"; then
      kill -USR2 "$(cat "$FPM_PID")"
      cp "$FPM_CONF" "$FPM_DIR/.running.conf"
      say "php-fpm reloaded"
    else
      say "php-fpm already running"
    fi
    wait_for php-fpm fpm_ping
    return
  fi
  "$fpm" --fpm-config "$FPM_CONF" -t >"$LOG/php-fpm-test.log" 2>&1 \
    || die "php-fpm config invalid: $(cat "$LOG/php-fpm-test.log")"
  rm -f "$FPM_SOCK"
  # The sites' pools name numeric users without /etc/passwd entries: php-fpm gives their
  # processes the pool's group alone; the master runs without supplementary groups too
  # (defence in depth: nothing of root's to inherit). umask 022: what a site's PHP writes stays readable to nginx (the site's
  # wp-content keeps other sites out). opcache checks that a cached script is readable
  # by the user asking for it (the cache is shared by every pool).
  (umask 022; setsid setpriv --clear-groups "$fpm" --fpm-config "$FPM_CONF" \
    -d opcache.validate_permission=1 </dev/null >>"$LOG/php-fpm.out" 2>&1)
  echo "$FPM_FLAGS" >"$FPM_DIR/.running.flags"
  cp "$FPM_CONF" "$FPM_DIR/.running.conf"
  wait_for php-fpm fpm_ping
  say "php-fpm up ($FPM_SOCK)"
}

nginx_cmd() { nginx -p "$NGINX_DIR/" -e "$NGINX_ERR" -c "$NGINX_CONF" "$@"; }

nginx_ping() {
  local code
  code="$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: mywp-unknown.invalid' \
    "http://$SITES_BIND:$SITES_PORT/")" || return 1
  [[ "$code" == 404 ]]
}

start_nginx() {
  # Our own FastCGI parameters (Debian's set HTTP_HOST to $host, dropping the port): each
  # site's server block sets HTTP_HOST itself, to the host and the port in its URLs.
  cat >"$NGINX_DIR/fastcgi_params.new" <<'EOF'
fastcgi_param  QUERY_STRING       $query_string;
fastcgi_param  REQUEST_METHOD     $request_method;
fastcgi_param  CONTENT_TYPE       $content_type;
fastcgi_param  CONTENT_LENGTH     $content_length;
fastcgi_param  SCRIPT_NAME        $fastcgi_script_name;
fastcgi_param  REQUEST_URI        $request_uri;
fastcgi_param  DOCUMENT_URI       $document_uri;
fastcgi_param  DOCUMENT_ROOT      $document_root;
fastcgi_param  SERVER_PROTOCOL    $server_protocol;
fastcgi_param  REQUEST_SCHEME     $scheme;
fastcgi_param  HTTPS              $https if_not_empty;
fastcgi_param  GATEWAY_INTERFACE  CGI/1.1;
fastcgi_param  SERVER_SOFTWARE    nginx;
fastcgi_param  REMOTE_ADDR        $remote_addr;
fastcgi_param  REMOTE_PORT        $remote_port;
fastcgi_param  SERVER_ADDR        $server_addr;
fastcgi_param  SERVER_PORT        $server_port;
fastcgi_param  SERVER_NAME        $host;
fastcgi_param  REDIRECT_STATUS    200;
fastcgi_param  HTTP_PROXY         "";
EOF
  mv -f "$NGINX_DIR/fastcgi_params.new" "$NGINX_DIR/fastcgi_params"
  cat >"$NGINX_CONF.new" <<EOF
# Written by scripts/dataplane.sh: the MyWP data plane's own nginx.
user $WEB_USER;
worker_processes auto;
pid $NGINX_PID;
error_log $NGINX_ERR warn;

events { worker_connections 512; }

http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    server_tokens off;
    access_log $LOG/nginx-access.log;
    client_body_temp_path $NGINX_DIR/tmp/client_body;
    proxy_temp_path $NGINX_DIR/tmp/proxy;
    fastcgi_temp_path $NGINX_DIR/tmp/fastcgi;
    uwsgi_temp_path $NGINX_DIR/tmp/uwsgi;
    scgi_temp_path $NGINX_DIR/tmp/scgi;
    client_max_body_size 64m;
    server_names_hash_bucket_size 128;
    gzip on;

    # Password guessing: each site's server block limits /wp-login.php and /xmlrpc.php
    # with this zone (per client address, shared by every site; burst and 429 there).
    limit_req_zone \$binary_remote_addr zone=mywp_login:10m rate=$LOGIN_RATE;
    limit_req_status 429;

    # Unknown hosts get a 404.
    server {
        listen $SITES_BIND:$SITES_PORT default_server;
        server_name _;
        return 404;
    }

    include $NGINX_SITES/*.conf;
    include $NGINX_FLEET_SITES/*.conf;
}
EOF
  mv -f "$NGINX_CONF.new" "$NGINX_CONF"
  nginx_cmd -t >"$LOG/nginx-test.log" 2>&1 || die "nginx config invalid: $(cat "$LOG/nginx-test.log")"
  if pid_alive "$NGINX_PID"; then
    nginx_cmd -s reload
    say "nginx already running (reloaded)"
  else
    nginx_cmd </dev/null >>"$LOG/nginx.out" 2>&1
  fi
  wait_for nginx nginx_ping
  say "nginx up (http://$SITES_BIND:$SITES_PORT)"
}

cmd_start() {
  command -v mariadbd >/dev/null && command -v nginx >/dev/null && [[ -d $WP_SHARE ]] \
    || die "packages missing: run '$0 install' first"
  prepare_dirs
  install_core
  start_mariadb
  start_fpm
  start_nginx
  write_env
  say "ready; environment in $ENV_FILE"
}

stop_pidfile() {
  local name="$1" pidfile="$2" sig="${3:-TERM}"
  if pid_alive "$pidfile"; then
    local pid; pid="$(cat "$pidfile")"
    kill -"$sig" "$pid"
    local deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null; do
      ((SECONDS < deadline)) || die "$name (pid $pid) did not stop"
      sleep 0.1
    done
    say "$name stopped"
  else
    say "$name not running"
  fi
  rm -f "$pidfile"
}

cmd_stop() {
  stop_pidfile nginx "$NGINX_PID" QUIT
  stop_pidfile php-fpm "$FPM_PID" QUIT
  stop_pidfile mariadb "$MARIADB_PID" TERM
}

cmd_status() {
  local rc=0
  if pid_alive "$MARIADB_PID" && mariadb_ping >/dev/null 2>&1; then
    echo "mariadb: running (pid $(cat "$MARIADB_PID"), $MARIADB_SOCK)"
  else echo "mariadb: stopped"; rc=1; fi
  if fpm_ping; then echo "php-fpm: running (pid $(cat "$FPM_PID"), $FPM_SOCK)"
  else echo "php-fpm: stopped"; rc=1; fi
  if pid_alive "$NGINX_PID" && nginx_ping; then
    echo "nginx: running (pid $(cat "$NGINX_PID"), http://$SITES_BIND:$SITES_PORT)"
  else echo "nginx: stopped"; rc=1; fi
  if [[ -d "$PG_DATA" ]]; then
    if pg_as "$(pg_bin)/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
      echo "postgres: running (port $PG_PORT)"
    else echo "postgres: stopped"; fi
  fi
  return $rc
}

pg_as() { runuser -u postgres -- "$@"; }

cmd_start_postgres() {
  local bin; bin="$(pg_bin)"
  mkdir -p "$STATE/postgres" "$PG_RUN" "$LOG"
  chown postgres:postgres "$STATE/postgres" "$PG_RUN"
  touch "$LOG/postgres.log"
  chown postgres:postgres "$LOG/postgres.log"
  if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
    say "initialising PostgreSQL in $PG_DATA"
    pg_as "$bin/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
      >"$LOG/postgres-initdb.log" 2>&1 || die "initdb failed, see $LOG/postgres-initdb.log"
  fi
  if pg_as "$bin/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
    say "postgres already running"
  else
    pg_as "$bin/pg_ctl" -D "$PG_DATA" -l "$LOG/postgres.log" -w -t 60 \
      -o "-p $PG_PORT -k $PG_RUN -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null \
      || die "postgres did not start, see $LOG/postgres.log"
  fi
  WAIT_SECS=60 wait_for postgres pg_as "$bin/pg_isready" -q -h "$PG_RUN" -p "$PG_PORT"
  if [[ "$(pg_as "$bin/psql" -h "$PG_RUN" -p "$PG_PORT" -U postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname='mywp_test'")" != 1 ]]; then
    pg_as "$bin/createdb" -h "$PG_RUN" -p "$PG_PORT" -U postgres mywp_test
  fi
  local url="postgres://postgres@127.0.0.1:$PG_PORT/mywp_test"
  touch "$ENV_FILE"
  grep -v '^MYWP_TEST_POSTGRES_URL=' "$ENV_FILE" >"$ENV_FILE.tmp.$$" || true
  echo "MYWP_TEST_POSTGRES_URL=$url" >>"$ENV_FILE.tmp.$$"
  mv -f "$ENV_FILE.tmp.$$" "$ENV_FILE"
  echo "MYWP_TEST_POSTGRES_URL=$url"
}

cmd_stop_postgres() {
  local bin; bin="$(pg_bin)"
  if [[ -f "$PG_DATA/PG_VERSION" ]] && pg_as "$bin/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1; then
    pg_as "$bin/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null
    say "postgres stopped"
  else
    say "postgres not running"
  fi
}

[[ $EUID -eq 0 ]] || die "run as root (the data plane drops privileges to mysql/www-data/postgres itself)"

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop; cmd_start ;;
  status) cmd_status ;;
  start-postgres) cmd_start_postgres ;;
  stop-postgres) cmd_stop_postgres ;;
  *) echo "usage: $0 install|start|stop|restart|status|start-postgres|stop-postgres" >&2; exit 2 ;;
esac
