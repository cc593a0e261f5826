#!/usr/bin/env bash
# The certificates of the compose stack's mutual TLS (docs/deployment.md, "Mutual TLS"), made with openssl:
#
#   deploy/make-certs.sh [DIRECTORY]        # default: deploy/certs (git ignores it)
#
#   ca.pem, ca.key                  a private CA for this stack (keep ca.key offline once the certificates are made)
#   temporal-server.pem, .key       the Temporal server: its frontend (clients dial `temporal`) and internode traffic,
#                                   so it is both a TLS server and a TLS client (serverAuth and clientAuth)
#   <client>.pem, .key              one client certificate per caller of Temporal, its CN the caller's name:
#                                   trialflow-worker, trialflow-api, temporal-ui, temporal-admin (search attributes,
#                                   operators' `temporal` CLI)
#
# ECDSA P-256 keys, SHA-256 signatures, valid for DAYS (default 397) days. Keys are written readable by their owner
# only: give each to its container's user (docs/deployment.md). An existing directory is refused, never overwritten.
set -euo pipefail

DIRECTORY="${1:-$(dirname "$0")/certs}"
DAYS="${DAYS:-397}"
SERVER_NAMES="${SERVER_NAMES:-DNS:temporal,DNS:localhost,IP:127.0.0.1}"
CLIENTS=(trialflow-worker trialflow-api temporal-ui temporal-admin)

if [[ -e "$DIRECTORY" ]]; then
    echo "error: $DIRECTORY exists; choose another directory or move it away (certificates are never overwritten)" >&2
    exit 2
fi
umask 077
mkdir -p "$DIRECTORY"
cd "$DIRECTORY"

new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }

# The CA: signs certificates, nothing else.
new_key ca
openssl req -x509 -new -key ca.key -sha256 -days "$((DAYS * 3))" -subj "/O=trialflow/CN=trialflow stack CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out ca.pem

# Signed by the CA: name, subject alternative names (empty for clients), extended key usages.
issue() {
    local name="$1" names="$2" usages="$3" extensions
    extensions="$(mktemp)"
    {
        echo "basicConstraints=critical,CA:FALSE"
        echo "keyUsage=critical,digitalSignature"
        echo "extendedKeyUsage=$usages"
        [[ -n "$names" ]] && echo "subjectAltName=$names"
    } > "$extensions"
    new_key "$name"
    openssl req -new -key "$name.key" -subj "/O=trialflow/CN=$name" -out "$name.csr"
    openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 -days "$DAYS" \
        -extfile "$extensions" -out "$name.pem" 2>/dev/null
    rm -f "$name.csr" "$extensions"
}

issue temporal-server "$SERVER_NAMES" "serverAuth,clientAuth"
for client in "${CLIENTS[@]}"; do
    issue "$client" "" "clientAuth"
done
rm -f ca.srl
chmod 644 ./*.pem

for certificate in temporal-server "${CLIENTS[@]}"; do
    openssl verify -CAfile ca.pem "$certificate.pem" > /dev/null
done
echo "made in $DIRECTORY: ca.pem, temporal-server.pem, ${CLIENTS[*]/%/.pem} (and their .key files)"
