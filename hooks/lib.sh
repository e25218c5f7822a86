# Shared by Rebound's Slurm hooks: settings, JSON strings, signing, POST or spool.
# Settings come from $REBOUND_HOOK_CONF (default /etc/rebound/hook.conf), KEY=VALUE lines, read as data:
#   REBOUND_URL=http://login1:8787   REBOUND_SECRET_FILE=/etc/rebound/secret   REBOUND_SPOOL=/var/spool/rebound
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C TZ=UTC
REBOUND_URL= REBOUND_SECRET_FILE= REBOUND_SPOOL=
while IFS='=' read -r key value; do
  case $key in REBOUND_URL|REBOUND_SECRET_FILE|REBOUND_SPOOL) printf -v "$key" '%s' "$value" ;; esac
done < "${REBOUND_HOOK_CONF:-/etc/rebound/hook.conf}"

# JSON in bash alone, into $REPLY: no subshell, no fork. slurmctld runs the hook for one job end after
# another and waits for each; a `$(json_str …)` per field was a fork each, most of the hook's time.
# json_str VALUE: a JSON string literal; control characters other than \n \r \t are dropped.
json_str() {
  local s=${1//[$'\001'-$'\010'$'\013'$'\014'$'\016'-$'\037']/}
  s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\n'/\\n}; s=${s//$'\r'/\\r}; s=${s//$'\t'/\\t}
  REPLY="\"$s\""
}
# json_int VALUE: the value if it is a non-negative integer, else 0.
json_int() { [[ $1 =~ ^[0-9]+$ ]] && REPLY=$1 || REPLY=0; }
# json_object KIND KEY VALUE …: an object of string (s), integer (i) and ready JSON (j) fields.
json_object() {
  local out= sep=
  while (($# >= 3)); do
    case $1 in i) json_int "$3" ;; j) REPLY=$3 ;; *) json_str "$3" ;; esac
    out+="$sep\"$2\":$REPLY" sep=,
    shift 3
  done
  REPLY="{$out}"
}
# now: the time as events carry it (UTC, seconds), into $REPLY.
now() { printf -v REPLY '%(%Y-%m-%dT%H:%M:%SZ)T' -1; }

# sign TIMESTAMP BODY -> the v2 signature (service/signature.ts) of a POST of BODY to /v1/events. The key is
# read from the file inside python3: it never appears in an argument vector or an environment, where
# every local user could read it (/proc/*/cmdline). OpenSSL's command line takes an HMAC key only as an
# argument, so it is not used.
sign() {
  printf '%s.POST./v1/events.%s' "$1" "$2" | python3 -c '
import hashlib, hmac, sys
key = open(sys.argv[1], "rb").read().strip()
print("v2=" + hmac.new(key, sys.stdin.buffer.read(), hashlib.sha256).hexdigest())' "$REBOUND_SECRET_FILE"
}

# spool NAME: standard input into the spool folder as NAME.json, for the relay to post. Created under a
# fresh random name (O_EXCL|O_NOFOLLOW: never an existing file or a link), given to the folder's owner
# (fchown on the open file, so nothing can be swapped in between: a user-mode relay drains a spool that a
# root hook writes into; a missing folder is made and given to its parent's owner the same way), and
# renamed into place (a rename replaces a planted link, it does not follow it).
spool() {
  python3 -c '
import os, secrets, sys
folder, name = sys.argv[1], sys.argv[2]
def give(fd, to):
    if (to.st_uid, to.st_gid) != (os.getuid(), os.getgid()):
        os.fchown(fd, to.st_uid, to.st_gid)
try:
    os.mkdir(folder, 0o700)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        give(fd, os.stat(os.path.dirname(os.path.abspath(folder))))
    finally:
        os.close(fd)
except FileExistsError:
    pass
owner = os.stat(folder)
tmp = os.path.join(folder, ".spool." + secrets.token_hex(8))
fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
try:
    give(fd, owner)
    os.write(fd, sys.stdin.buffer.read())
    os.fsync(fd)
finally:
    os.close(fd)
os.rename(tmp, os.path.join(folder, name + ".json"))' "$REBOUND_SPOOL" "$1"
}

# post_or_spool NAME BODY: signed POST; anything but 202 leaves the body in the spool for the relay. In the
# background, detached from the hook: slurmctld runs its jobcomp script for one job end after another, and
# waits for each — signing (python3) and posting take ~0.1 s, so a storm of a thousand ends would reach
# Rebound over minutes. The hook returns at once and the posts go side by side.
post_or_spool() {
  _post_or_spool "$@" </dev/null >/dev/null 2>&1 &
  disown
}
_post_or_spool() {
  local name=$1 body=$2 ts sig code
  printf -v ts '%(%s)T' -1
  sig=$(sign "$ts" "$body")
  code=$(printf '%s' "$body" | curl -sS -m 5 -o /dev/null -w '%{http_code}' -X POST \
    -H 'Content-Type: application/json' -H "X-Rebound-Timestamp: $ts" -H "X-Rebound-Signature: $sig" \
    --data-binary @- "$REBOUND_URL/v1/events" 2>/dev/null)
  if [ "$code" != 202 ]; then
    printf '%s' "$body" | spool "$name" || true
  fi
}
