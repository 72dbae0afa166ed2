#!/usr/bin/env bash
# The drbackup story on one machine: a sandbox MariaDB with two practice databases, a key pair,
# a local repository folder, and drbackup checking that all of it is ready. Everything lives in
# .demo/ and the server is stopped on exit.
set -euo pipefail

bin=${1:-$(dirname "$0")/../build/drbackup}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
top=$(cd "$(dirname "$0")/.." && pwd)
demo=$top/.demo
rm -rf "$demo"
mkdir -p "$demo/repo" "$demo/spool"
sock=$demo/mysqld.sock

step() { printf '\n\033[1m## %s\033[0m\n' "$*"; }
sql() { mariadb --no-defaults -uroot -S "$sock" "$@"; }

stop_server() {
  if [ -f "$demo/mysqld.pid" ]; then
    kill "$(cat "$demo/mysqld.pid")" 2>/dev/null || true
    for _ in $(seq 100); do [ -e "$sock" ] || break; sleep 0.1; done
  fi
}
trap stop_server EXIT

step "a sandbox MariaDB (binary log on, ROW format, private socket)"
user=$(id -un)
mariadb-install-db --no-defaults --user="$user" --datadir="$demo/data" \
  --auth-root-authentication-method=normal --skip-test-db >"$demo/install.log" 2>&1
mariadbd --no-defaults --user="$user" --datadir="$demo/data" --socket="$sock" --skip-networking \
  --log-bin="$demo/data/mysql-bin" --server-id=1 --binlog-format=ROW --pid-file="$demo/mysqld.pid" \
  --log-error="$demo/mysqld.err" >/dev/null 2>&1 &
for _ in $(seq 100); do sql -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.1; done
sql -N -e 'SELECT CONCAT("MariaDB ", VERSION(), " at ", @@socket)'

step "two practices, one database each"
for p in practice_a practice_b; do
  sql -e "CREATE DATABASE $p;
    CREATE TABLE $p.patient_data (pid INT PRIMARY KEY AUTO_INCREMENT, fname VARCHAR(64),
      lname VARCHAR(64), DOB DATE) ENGINE=InnoDB;
    INSERT INTO $p.patient_data (fname, lname, DOB) VALUES
      ('Ada','Lovelace','1815-12-10'), ('Alan','Turing','1912-06-23'), ('Grace','Hopper','1906-12-09');"
done
sql -N -e "SELECT table_schema, table_rows FROM information_schema.tables WHERE table_name='patient_data'"

step "a key pair: the database host keeps only the public half"
"$bin" keygen --out "$demo/dr"

step "a signing key pair: the database host signs what it writes; restore hosts pin the public half"
"$bin" keygen --sign --out "$demo/db01.sign"

step "the configuration"
cat >"$demo/drbackup.conf" <<CONF
host_id   = "demo-db01"
spool_dir = "$demo/spool"
database {
  socket = "$sock"
  user   = "root"
}
encryption {
  public_keys = {"$demo/dr.pub"}
  secret_keys = {"$demo/dr.key"}   # only because this demo also restores
}
repo local {
  type = "posix"
  path = "$demo/repo"
}
signing {
  key = "$demo/db01.sign.key"      # the database host's write key
}
trust {                            # on restore hosts: whose metadata to believe
  host "demo-db01" {
    signing_keys = {"$demo/db01.sign.pub"}
  }
}
CONF
chmod 600 "$demo/drbackup.conf"
cat "$demo/drbackup.conf"
export DRBACKUP_CONFIG=$demo/drbackup.conf

step "drbackup check"
"$bin" check

step "a full backup: every practice from one consistent snapshot, sealed, to the repository"
"$bin" full

step "the practices keep working; the binary log is shipped (every 5 minutes in production)"
sql -e "INSERT INTO practice_a.patient_data (fname, lname, DOB) VALUES ('Katherine', 'Johnson', '1918-08-26');
        UPDATE practice_b.patient_data SET lname = 'Hopper-Murray' WHERE fname = 'Grace';"
"$bin" binlog
sleep 1.2   # a clean second boundary between the last good write and the disaster
before=$(date -u '+%Y-%m-%d %H:%M:%S')
sleep 1.2
echo "last good moment: $before UTC"
sql -N -e "SELECT 'practice_a patients:', COUNT(*) FROM practice_a.patient_data"

step "disaster: someone drops a practice's patient table"
sql -e "DROP TABLE practice_a.patient_data"
"$bin" binlog
sql -N -e "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'practice_a' AND table_name = 'patient_data'" | sed 's/^/tables named patient_data left in practice_a: /'

step "what the repository holds"
"$bin" list

step "the plan for a point-in-time restore to just before the drop"
"$bin" restore --to "$before" --db practice_a --dry-run

step "restore practice_a to $before (the other practice is untouched)"
"$bin" restore --to "$before" --db practice_a --target-user root --force

step "proof: the patients are back, with the write made after the full backup"
sql -e "SELECT pid, fname, lname, DOB FROM practice_a.patient_data ORDER BY pid"
n=$(sql -N -e "SELECT COUNT(*) FROM practice_a.patient_data WHERE lname IN ('Lovelace', 'Turing', 'Hopper', 'Johnson')")
[ "$n" = 4 ] || { echo "demo: expected 4 patients back, found $n" >&2; exit 1; }
sql -N -e "SELECT CONCAT('practice_b kept its later change: ', lname) FROM practice_b.patient_data WHERE fname = 'Grace'"

step "and a restore-test: the newest backup restored in a private scratch server"
"$bin" restore-test

step "done"
echo "The demo's files are in $demo."
