#!/bin/sh
# A CA, the controller's server certificate and one client certificate per node, for bgplb's allocation service
# (README "Security"). Usage: make-certs.sh DIR SUBJECT-ALT-NAMES NODE...
#   make-certs.sh /etc/bgplb/pki IP:192.0.2.10,DNS:controller.example node1 node2 node3
# SUBJECT-ALT-NAMES must name the address (or host) in the speakers' --controller URL.
set -eu
dir=$1 san=$2
shift 2
mkdir -p "$dir"
cd "$dir"
umask 077
openssl req -x509 -new -noenc -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days 3650 -subj /CN=bgplb-ca \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -keyout ca.key -out ca.crt
issue() { # NAME EXTENDED-KEY-USAGE [SUBJECT-ALT-NAMES]
    openssl req -new -noenc -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj "/CN=$1" -keyout "$1.key" -out "$1.csr"
    printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\n%s\n' "$2" "${3:+subjectAltName=$3}" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 -extfile "$1.ext" -out "$1.crt"
    rm "$1.csr" "$1.ext"
}
issue controller serverAuth "$san"
for node in "$@"; do
    issue "$node" clientAuth
done
