#!/bin/sh
# Install the Debian packages migr needs to build, test and run, skipping
# those already present; with --test, also those only the tests use.  Run
# as root (or with sudo available) on Debian 12.
set -eu

PACKAGES="build-essential pkg-config
libzmq3-dev libsodium-dev libprotobuf-c-dev protobuf-c-compiler
libsqlite3-dev libopenblas-dev libyaml-dev
libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev
libmicrohttpd-dev libjansson-dev libicu-dev
ffmpeg curl jq sqlite3"
# promtool (from prometheus) judges /metrics; chromium screenshots the
# dashboard; iproute2 makes the network namespaces of t_other_hosts;
# python3 finds free ports; clang (with libFuzzer) builds the fuzz harnesses.
[ "${1:-}" = --test ] && PACKAGES="$PACKAGES prometheus chromium iproute2 python3 clang libclang-rt-14-dev"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "migr: installing Debian packages:$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "migr: need root (or sudo) to install:$missing" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >&2
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing >&2
