#!/usr/bin/env bash
# Start `openmem serve` with an API key, then call every verb with curl.
#
#   examples/server_quickstart.sh                     # embedded Postgres (the default)
#   PROVIDER=inmemory PORT=8081 examples/server_quickstart.sh
#
# The key store and data live in a temporary directory removed at the end.
set -euo pipefail

PROVIDER="${PROVIDER:-postgres}"
PORT="${PORT:-8080}"
URL="http://127.0.0.1:${PORT}"
if command -v uv >/dev/null 2>&1; then OPENMEM=(uv run --no-sync openmem); else OPENMEM=(openmem); fi
WORK="$(mktemp -d)"
export OPENMEM_DATA_DIR="${OPENMEM_DATA_DIR:-$WORK/data}"
KEYS="$WORK/keys.json"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill -TERM "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }

step "create an API key for namespace 'demo' (shown once; only its hash is stored)"
KEY="$("${OPENMEM[@]}" keys create --namespace demo --label quickstart --keys-path "$KEYS")"
echo "${KEY:0:20}…"

step "start the server ($PROVIDER) on $URL"
"${OPENMEM[@]}" serve --provider "$PROVIDER" --port "$PORT" --keys-path "$KEYS" --log-level warning &
SERVER_PID=$!
for _ in $(seq 1 120); do
  curl -fsS "$URL/healthz" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "the server exited" >&2; exit 1; }
  sleep 0.5
done
curl -fsS "$URL/healthz"; echo

AUTH=(-H "Authorization: Bearer $KEY")
JSON=(-H "Content-Type: application/json")
call() { curl -sS -w '  [HTTP %{http_code}]\n' "${AUTH[@]}" "$@"; }

step "capabilities (no key needed)"
curl -fsS "$URL/capabilities"; echo

step "add"
RECORD="$(curl -fsS "${AUTH[@]}" "${JSON[@]}" -X POST "$URL/memories" \
  -d '{"content": "Prefers dark mode in every editor", "user_id": "alice", "scope": "ui/editor", "tags": ["ui"]}')"
echo "$RECORD"
ID="$(printf '%s' "$RECORD" | sed -E 's/.*"id":"([^"]+)".*/\1/')"
call "${JSON[@]}" -X POST "$URL/memories" -H "Idempotency-Key: tea-1" \
  -d '{"content": "Drinks green tea in the morning", "user_id": "alice", "scope": "food"}'

step "batch add (extension)"
call "${JSON[@]}" -X POST "$URL/memories:batch" \
  -d '{"user_id": "alice", "items": [{"content": "Lives in Lisbon"}, {"content": "Runs on Sundays", "tags": ["sport"]}]}'

step "get (the owner is required: X-User-Id)"
call -H "X-User-Id: alice" "$URL/memories/$ID"
call -H "X-User-Id: mallory" "$URL/memories/$ID"

step "update (JSON Merge Patch: null clears)"
call "${JSON[@]}" -X PATCH -H "X-User-Id: alice" "$URL/memories/$ID" -d '{"tags": null, "confidence": 0.9}'

step "list (newest first, opaque cursor)"
call "$URL/memories?user_id=alice&limit=2"

step "search (OMP 0.1 query form, then the body form with filters)"
call "$URL/memories/search?q=editor%20theme&user_id=alice&limit=3"
call "${JSON[@]}" -X POST "$URL/memories/search" -d '{"query": "editor", "user_id": "alice", "scope": "ui"}'

step "context (token-budgeted, with citations)"
call "${JSON[@]}" -X POST "$URL/context" -d '{"query": "what does alice like?", "user_id": "alice", "token_budget": 60}'

step "audit"
call "$URL/audit?user_id=alice&limit=3"

step "delete (204), then forget the user"
call -X DELETE -H "X-User-Id: alice" "$URL/memories/$ID"
call -X DELETE "$URL/users/alice/memories"

step "errors are one envelope: no key, a bad body, an unknown route"
curl -sS -w '  [HTTP %{http_code}]\n' "$URL/memories?user_id=alice"
call "${JSON[@]}" -X POST "$URL/memories" -d '{"content": "", "user_id": "alice"}'
call "$URL/nowhere"

step "metrics (Prometheus text)"
curl -fsS "$URL/metrics" | grep '^openmem_http_requests_total' | head -5
