#!/bin/bash
# tests/k8s/validate.sh -- deploy/k8s/*.yaml against the Kubernetes API
# schemas, offline, with no cluster.
#
#   tests/k8s/validate.sh          (a few seconds once installed)
#
# Installs Node.js and npm from Debian if missing, then, once per
# tests/k8s/package-lock.json, the npm packages it pins (kubernetes-models:
# the Kubernetes 1.33 OpenAPI schemas compiled to validators; yaml) into
# ${XDG_CACHE_HOME:-~/.cache}/migr/k8s-validate (MIGR_K8S_TOOLS overrides),
# so that later runs need no network.  tests/k8s/validate.js then checks
# every document: its apiVersion and kind exist, the schema (types, required
# fields, enums), no field the schema does not know (as kubeconform
# --strict), metadata.name, volumeMounts naming volumes; and the
# kustomization's keys and resources list.
#
# First it makes sure the validator catches what it should: broken copies
# of the manifests (a misspelt field, a wrong type, a bad enum value, a
# missing required field, an unknown kind, a mount with no volume, a file
# the kustomization leaves out) must each fail, naming the problem.  Where
# kubectl is on PATH it also validates `kubectl kustomize deploy/k8s`, the
# objects as `kubectl apply -k` would send them.
#
# Exit status: 0 pass, 1 fail, 77 skipped after a line starting with SKIP
# (no Node.js and no way to install it, or npm cannot install the packages).

set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

skip() {
    echo "SKIP: $*"
    exit 77
}
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    [ "$(id -u)" = 0 ] || skip "node and npm missing, and installing them needs root"
    command -v apt-get >/dev/null || skip "node and npm missing and no apt-get to install them"
    echo "k8s-validate: installing nodejs and npm (apt-get)"
    log=$(mktemp)
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends nodejs npm >"$log" 2>&1; then
        apt-get update -q >>"$log" 2>&1
        apt-get install -y -q --no-install-recommends nodejs npm >>"$log" 2>&1 ||
            { rm -f "$log"; skip "cannot install nodejs and npm with apt-get"; }
    fi
    rm -f "$log"
fi
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null)
[ "${major:-0}" -ge 14 ] || skip "node $(node --version 2>/dev/null) is older than 14, which kubernetes-models needs"

# The packages, once per lock file.
cache=${MIGR_K8S_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/migr/k8s-validate}
key=$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -c1-16)
tools="$cache/$key"
if [ ! -f "$tools/installed" ]; then
    echo "k8s-validate: installing kubernetes-models and yaml (npm ci) into $tools"
    mkdir -p "$cache" || skip "cannot make $cache"
    tmp=$(mktemp -d "$cache/tmp.XXXXXX") || skip "cannot make a directory in $cache"
    cp "$here/package.json" "$here/package-lock.json" "$tmp/" || skip "cannot copy the package files"
    if ! (cd "$tmp" && npm ci --prefer-offline --no-audit --no-fund --ignore-scripts >npm.log 2>&1); then
        reason=$(grep -E '^npm (ERR!|error)' "$tmp/npm.log" | head -n 2 | tr '\n' ' ')
        reason=${reason% }
        rm -rf "$tmp"
        skip "npm cannot install the packages of tests/k8s/package-lock.json: ${reason:-npm said nothing}"
    fi
    touch "$tmp/installed"
    rm -rf "$tools"
    mv -T "$tmp" "$tools" 2>/dev/null || rm -rf "$tmp"
fi
export NODE_PATH="$tools/node_modules"
validate() { node "$here/validate.js" "$@"; }

work=$(mktemp -d /tmp/migr-k8s.XXXXXX) || fail "mktemp"
trap 'rm -rf "$work"' EXIT

# ---- the validator catches what it should --------------------------------

# broken NAME FILE SED EXPECT: a copy of deploy/k8s with SED applied to FILE
# must fail, with a line matching EXPECT.
broken() {
    local name=$1 file=$2 expr=$3 expect=$4 d="$work/$1" out
    mkdir -p "$d" || fail "mkdir $d"
    cp "$repo"/deploy/k8s/*.yaml "$d/" || fail "copying deploy/k8s"
    sed -i -e "$expr" "$d/$file" || fail "sed on $file"
    cmp -s "$d/$file" "$repo/deploy/k8s/$file" && fail "the self-check '$name' changed nothing in $file"
    if out=$(validate "$d"/*.yaml); then
        fail "the validator passed manifests with $name"
    fi
    echo "$out" | grep -q -E "$expect" || fail "with $name the validator said: $(echo "$out" | grep FAIL)"
    echo "k8s-validate: caught $name: $(echo "$out" | grep -E "$expect" | head -n 1 | sed 's/^.*: FAIL //')"
}
broken "a misspelt field" workers.yaml 's/readOnlyRootFilesystem:/readOnlyRootFileSystem:/' \
    'containers/0/securityContext/readOnlyRootFileSystem: unknown field'
broken "a wrong type" workers.yaml 's/^  replicas: 2$/  replicas: two/' '/spec/replicas: must be integer'
broken "a bad enum value" service.yaml 's/type: ClusterIP/type: ClusterIp/' '/spec/type: must be equal to one of the allowed values'
broken "a missing required field" workers.yaml 's/- name: worker$/- nmae: worker/' \
    "containers/0: must have required property '?name"
broken "an unknown kind" networkpolicy.yaml 's/^kind: NetworkPolicy$/kind: NetworkPolicies/' 'NetworkPolicies: no such kind'
broken "a mount with no volume" migrd.yaml '0,/- name: tmp$/s//- name: scratch/' 'no volume named "scratch"'
broken "a file the kustomization leaves out" kustomization.yaml '/store-pvc.yaml/d' 'store-pvc.yaml is not listed'

# ---- the manifests ------------------------------------------------------

echo "k8s-validate: deploy/k8s/*.yaml"
validate "$repo"/deploy/k8s/*.yaml || fail "deploy/k8s does not validate (above)"
if command -v kubectl >/dev/null; then
    echo "k8s-validate: kubectl kustomize deploy/k8s ($(kubectl version --client 2>/dev/null | head -n 1))"
    kubectl kustomize "$repo/deploy/k8s" >"$work/rendered.yaml" 2>"$work/kustomize.err" ||
        fail "kubectl kustomize deploy/k8s: $(cat "$work/kustomize.err")"
    validate "$work/rendered.yaml" || fail "the objects kubectl kustomize renders do not validate (above)"
else
    echo "k8s-validate: no kubectl here; the kustomize rendering is not checked"
fi
