#!/usr/bin/env bash
# Generate the configs of the seed's 1000-robot deployment (docs: deploying-1000-robots.md):
#   deploy/1000/fleet.yaml, area.yaml, zone-1.yaml ... zone-5.yaml,
#   edge/robot-1.yaml ... edge/robot-1000.yaml, robots.csv
# all with messaging.broker: nats://localhost:4222 (MESSAGING_URL overrides it at run time),
# and secrets/ (mode 0600): one NATS identity per robot, zone, area and the fleet, TLS,
# nats-server.conf and the admin API token. Existing identities are kept on a re-run.
#
# Usage: ./scripts/generate-1000-robot-config.sh [OUT_DIR]    (default: <repo>/deploy/1000)
# Other sizes: python -m robotfleet_nodes.config.generate --robots N --zones Z --areas A --out DIR
# (add --insecure for a development deployment without secrets)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ $# -gt 0 ]]; then
  out="$1"                 # relative to the caller's directory
else
  cd "$root"               # so the listing reads deploy/1000/... as in the guide
  out="deploy/1000"
fi

if [[ -x "$root/.venv/bin/python" ]]; then
  python="$root/.venv/bin/python"
else
  python="$(command -v python3 || true)"
  if [[ -z "$python" ]]; then
    echo "error: no Python found: create $root/.venv (make setup) or install python3" >&2
    exit 1
  fi
fi

# The package is importable from the source tree even when it is not installed.
export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
exec "$python" -m robotfleet_nodes.config.generate --robots 1000 --zones 5 --areas 1 --out "$out"
