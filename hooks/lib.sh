# Shared by Rebound's Slurm hooks: settings, JSON strings, signing, POST or spool.
# Settings come from $REBOUND_HOOK_CONF (default /etc/rebound/hook.conf), KEY=VALUE lines, read as data:
#   REBOUND_URL=http://login1:8787   REBOUND_SECRET_FILE=/etc/rebound/secret   REBOUND_SPOOL=/var/spool/rebound
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
REBOUND_URL= REBOUND_SECRET_FILE= REBOUND_SPOOL=
while IFS='=' read -r key value; do
  case $key in REBOUND_URL|REBOUND_SECRET_FILE|REBOUND_SPOOL) printf -v "$key" '%s' "$value" ;; esac
done < "${REBOUND_HOOK_CONF:-/etc/rebound/hook.conf}"

# json_str VALUE -> a JSON string literal; control characters other than \n \r \t are dropped.
json_str() {
  local s
  s=$(printf '%s' "$1" | tr -d '\000-\010\013\014\016-\037')
  s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\n'/\\n}; s=${s//$'\r'/\\r}; s=${s//$'\t'/\\t}
  printf '"%s"' "$s"
}
# json_int VALUE -> the value if it is a non-negative integer, else 0
json_int() { [[ $1 =~ ^[0-9]+$ ]] && printf '%s' "$1" || printf 0; }

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

# post_or_spool NAME BODY: signed POST; anything but 202 leaves the body in the spool for the relay. The
# spool file is created under a fresh random name (mktemp: O_EXCL, never an existing file or a link) and
# renamed into place (a rename replaces a planted link, it does not follow it).
post_or_spool() {
  local name=$1 body=$2 ts sig code tmp
  ts=$(date +%s)
  sig=$(sign "$ts" "$body")
  code=$(printf '%s' "$body" | curl -sS -m 5 -o /dev/null -w '%{http_code}' -X POST \
    -H 'Content-Type: application/json' -H "X-Rebound-Timestamp: $ts" -H "X-Rebound-Signature: $sig" \
    --data-binary @- "$REBOUND_URL/v1/events" 2>/dev/null)
  if [ "$code" != 202 ]; then
    mkdir -p -m 0700 "$REBOUND_SPOOL"
    tmp=$(mktemp "$REBOUND_SPOOL/.spool.XXXXXXXX") || return 0
    printf '%s' "$body" > "$tmp" && mv -f -T "$tmp" "$REBOUND_SPOOL/$name.json"
  fi
}
