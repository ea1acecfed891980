#!/usr/bin/env bash
# setup.sh - install what OpenGSLB-C needs on Debian 12 (idempotent, quiet when all is there).
#
#   scripts/setup.sh            build dependencies (compiler, cmake, -dev libraries)
#   scripts/setup.sh --test     + test tools (cmocka, dnspython, pytest, dig/kdig, curl, clang,
#                                 dnsperf for the soak)
#   scripts/setup.sh --demo     + what the demo needs (python3 for a demo HTTP backend, dig)
#   scripts/setup.sh --bench    + benchmark peers and load tools (knot, nsd, dnsperf)
set -euo pipefail

BUILD_PKGS=(build-essential cmake pkg-config git ca-certificates
    liblmdb-dev libldns-dev libssl-dev libyaml-dev libjansson-dev libcivetweb-dev
    libcurl4-openssl-dev libsystemd-dev)
# dnsutils brings delv (DNSSEC validation in tests); python3-cryptography lets dnspython
# verify RRSIGs (dns.dnssec.validate).
TEST_PKGS=(libcmocka-dev python3 python3-dnspython python3-pytest python3-pyflakes python3-requests
    python3-cryptography dnsutils knot-dnsutils jq
    curl openssl lmdb-utils iproute2 procps clang clang-format libclang-rt-14-dev dnsperf)
DEMO_PKGS=(python3 dnsutils curl)
BENCH_PKGS=(knot nsd dnsperf)

want=("${BUILD_PKGS[@]}")
for arg in "$@"; do
    case "$arg" in
    --demo) want+=("${DEMO_PKGS[@]}") ;;
    --test) want+=("${TEST_PKGS[@]}") ;;
    --bench) want+=("${TEST_PKGS[@]}" "${BENCH_PKGS[@]}") ;;
    -h | --help)
        sed -n '2,9p' "$0"
        exit 0
        ;;
    *)
        echo "setup.sh: unknown option $arg" >&2
        exit 2
        ;;
    esac
done

missing=()
for p in "${want[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
echo "setup.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Packaged daemons (knot, nsd) must not start on port 53 when installed for the benchmark.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
