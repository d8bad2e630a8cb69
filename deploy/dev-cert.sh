#!/usr/bin/env bash
# dev-cert.sh DIR: make a self-signed development certificate for sealpostd.
#
# Creates DIR/cert.pem and DIR/key.pem unless both exist (idempotent):
#   - EC P-256 key (broad client support; fast handshakes), mode 0600
#   - CN=localhost, subjectAltName DNS:localhost, IP:127.0.0.1, IP:::1
#   - valid 825 days (the longest lifetime Apple clients accept)
# Prints the certificate path. Clients trust it with, for example,
#   curl --cacert DIR/cert.pem https://127.0.0.1:8443/v1/health
# For production use a certificate from your CA (e.g. ACME) instead.
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
  echo "usage: $0 DIR" >&2
  exit 64
fi
dir=$1
cert=$dir/cert.pem
key=$dir/key.pem

if [ -s "$cert" ] && [ -s "$key" ]; then
  chmod 600 "$key"
  echo "$cert"
  exit 0
fi
if [ -e "$cert" ] || [ -e "$key" ]; then
  echo "dev-cert: only one of $cert and $key exists; remove it to make a new pair" >&2
  exit 1
fi

command -v openssl >/dev/null || { echo "dev-cert: openssl not found (scripts/deps.sh)" >&2; exit 1; }

umask 077
mkdir -p "$dir"
chmod 700 "$dir"
# Write to temporary names first so an interrupted run leaves no half pair.
tmpkey=$(mktemp "$dir/.key.XXXXXX")
tmpcert=$(mktemp "$dir/.cert.XXXXXX")
trap 'rm -f "$tmpkey" "$tmpcert"' EXIT

openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
  -keyout "$tmpkey" -out "$tmpcert" -days 825 -sha256 \
  -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
  -addext "basicConstraints=critical,CA:FALSE" \
  -addext "keyUsage=critical,digitalSignature" \
  -addext "extendedKeyUsage=serverAuth" 2>/dev/null

chmod 600 "$tmpkey"
chmod 644 "$tmpcert"
mv "$tmpkey" "$key"
mv "$tmpcert" "$cert"
trap - EXIT
echo "$cert"
