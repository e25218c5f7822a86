#!/usr/bin/env bash
# Type-checks sst.config.ts and infra/ against SST's platform types. `sst install` fetches SST's providers
# from npm (offline from AWS: no account needed) into .sst/ the first time (~35 s, ~320 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d .sst/platform/node_modules/@pulumi/pulumi ]; then
  echo "infra-check: installing SST's platform (first run)"
  npm run --silent sst:install
fi
npx tsc -p tsconfig.infra.json
