#!/usr/bin/env bash
# start-relay.sh: the README's first command. On a fresh Debian 12, as root:
# installs what is missing (scripts/deps.sh), builds a release sealpostd,
# makes state/ (mode 0700) with a self-signed development certificate, and
# runs the relay in the foreground on https://127.0.0.1:8443 (Ctrl-C stops it).
#
# Try it from another terminal:
#   curl --cacert state/tls/cert.pem https://127.0.0.1:8443/v1/health
#
# Extra arguments go to sealpostd, e.g. --log-level debug or -c my.conf.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
# Same settings as scripts/test.sh, so the two share build/release.
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEALPOST_WERROR=ON
cmake --build build/release -j "$jobs" --target sealpostd

umask 077
mkdir -p state
chmod 700 state
deploy/dev-cert.sh state/tls >/dev/null

echo "start-relay: https://127.0.0.1:8443 (CA file: state/tls/cert.pem); Ctrl-C stops it"
exec build/release/server/sealpostd \
  --listen 127.0.0.1:8443 \
  --db state/sealpostd.db \
  --tls-cert state/tls/cert.pem \
  --tls-key state/tls/key.pem \
  "$@"
