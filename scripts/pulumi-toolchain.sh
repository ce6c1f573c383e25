#!/usr/bin/env bash
# The real Pulumi engine, built from the Go module proxy at the versions the npm packages pin, cached by
# version under ~/.cache/openstack-tenants/pulumi/<cli version>/ (nothing built is committed).
#   scripts/pulumi-toolchain.sh        build what is missing, then print the bin directory (last line)
#   scripts/pulumi-toolchain.sh dir    print the bin directory only
# The bin directory holds `pulumi`, `pulumi-resource-openstack`, and `pulumi-language-nodejs` when its module
# is served. The provider is the official module (github.com/pulumi/pulumi-openstack/provider/v3) where the
# proxy serves it, else this project's build of its two halves (tools/openstack-provider: the bridge over
# terraform-provider-openstack), cached by a hash of that module's files. An official component whose module
# is not served is named in <bin>/../missing, one line each: "<binary>: <the go command's own words>", for the
# e2e suite to print; it is asked again at every run (a refusal costs ~1 s), so a module the proxy starts
# serving is built (and preferred) the next time. <bin>/../provider says which provider build is in <bin>.
# Exits 0 when the CLI is there (built now or cached), 1 with one line when Go is missing or the CLI fails.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
log() { printf 'pulumi-toolchain: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

pinned() { sed -n "s/.*\"$1\": \"\([0-9][^\"]*\)\".*/\1/p" "$REPO/package.json" | head -n 1; }
SDK_VERSION="v$(pinned '@pulumi\/pulumi')"       # the CLI and language host move with the SDK: same tag
PROVIDER_VERSION="v$(pinned '@pulumi\/openstack')"
# Tag v3.248.0 of pulumi/pulumi; the language host's module was never tagged, so it is asked for by commit.
LANGUAGE_HOST_COMMIT=a88168d865b7fd428e5a929cc54aeceaf72d203f
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/openstack-tenants/pulumi/$SDK_VERSION"
BIN="$CACHE/bin"
MISSING="$CACHE/missing"

[ "${1:-}" = dir ] && { echo "$BIN"; exit 0; }
command -v go >/dev/null || die "Go is not installed (the real engine is built from Go modules: install Go 1.25 or newer)"
mkdir -p "$BIN" "$CACHE/src"
# One build at a time (two test projects' setups may ask at once): the second finds the first's binaries.
exec 9>"$CACHE/lock"
flock 9
: >"$MISSING.new"
export GOFLAGS="-mod=mod -buildvcs=false" GOTOOLCHAIN=local
started=$(date +%s)

# The go command's own words for a module that cannot be had, flattened to one line.
words() { tr '\n\t' '  ' | sed 's/  */ /g; s/ $//'; }

# A small module of our own that requires $2 (module@version) and builds package $3 into $BIN/$1.
# (The CLI's own go.mod replaces the SDK with ../sdk, so `go install module@version` refuses it.)
build_in_wrapper() {
  local name=$1 require=$2 pkg=$3 ldflags=$4 dir="$CACHE/src/$1" out
  mkdir -p "$dir"
  cat >"$dir/go.mod" <<EOF
module openstack-tenants.local/toolchain/$name

go 1.25

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
EOF
  printf 'package tools\n\nimport _ "%s"\n' "$pkg" >"$dir/tools.go"
  if ! out=$(cd "$dir" && go get $require github.com/pulumi/pulumi/sdk/v3@"$SDK_VERSION" 2>&1); then
    printf '%s: %s\n' "$name" "$(printf '%s' "$out" | grep -v '^go: downloading' | words)" >>"$MISSING.new"
    return 1
  fi
  (cd "$dir" && go build -trimpath -ldflags "-s -w $ldflags" -o "$BIN/$name.tmp" "$pkg") >&2 \
    && mv "$BIN/$name.tmp" "$BIN/$name"
}

if [ -x "$BIN/pulumi" ]; then
  log "pulumi $SDK_VERSION cached in $BIN"
else
  log "building pulumi $SDK_VERSION from github.com/pulumi/pulumi/pkg/v3 (the first time takes minutes)"
  build_in_wrapper pulumi "github.com/pulumi/pulumi/pkg/v3@$SDK_VERSION" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
    "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$SDK_VERSION" \
    || { cat "$MISSING.new" >&2; die "the pulumi CLI could not be built (above)"; }
fi

if [ -x "$BIN/pulumi-language-nodejs" ]; then
  log "pulumi-language-nodejs cached"
elif build_in_wrapper pulumi-language-nodejs "github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3@$LANGUAGE_HOST_COMMIT github.com/pulumi/pulumi/pkg/v3@$SDK_VERSION" \
    github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3 ""; then
  log "built pulumi-language-nodejs at $LANGUAGE_HOST_COMMIT"
else
  log "pulumi-language-nodejs is not served: programs run inline through the Automation API instead"
fi

# The provider's main.go embeds schema-embed.json, which `go generate` writes and the module does not hold:
# it is built from a writable copy of the module with that file generated.
build_provider() {
  local mod=github.com/pulumi/pulumi-openstack/provider/v3 out src
  if ! out=$(go mod download -json "$mod@$PROVIDER_VERSION" 2>&1); then
    printf 'pulumi-resource-openstack: %s\n' "$(printf '%s' "$out" | sed -n 's/.*"Error": "\(.*\)".*/\1/p' | sed 's/\\n/ /g; s/\\t/ /g' | words)" >>"$MISSING.new"
    return 1
  fi
  src=$(printf '%s' "$out" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  rm -rf "$CACHE/src/provider" && cp -r "$src" "$CACHE/src/provider" && chmod -R u+w "$CACHE/src/provider"
  (cd "$CACHE/src/provider/cmd/pulumi-resource-openstack" && go generate . && go build -trimpath \
    -ldflags "-s -w -X $mod/pkg/version.Version=${PROVIDER_VERSION#v}" -o "$BIN/pulumi-resource-openstack.tmp" .) >&2 \
    && mv "$BIN/pulumi-resource-openstack.tmp" "$BIN/pulumi-resource-openstack"
}
# This project's build (tools/openstack-provider), when the official module is not served: its go.sum pins
# every module, so it builds read-only (nothing in the work tree changes) into a directory named by the hash.
OWN="$REPO/tools/openstack-provider"
own_hash() { (cd "$OWN" && find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum -o -name schema.json \) | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16); }
build_own_provider() {
  local out="$CACHE/own-provider/$1"
  if [ ! -x "$out/pulumi-resource-openstack" ]; then
    log "building pulumi-resource-openstack from tools/openstack-provider (the bridge over terraform-provider-openstack; the first time takes minutes)"
    mkdir -p "$out"
    (cd "$OWN" && GOFLAGS="-mod=readonly -buildvcs=false" go build -trimpath -ldflags "-s -w" -o "$out/pulumi-resource-openstack.tmp" ./cmd/pulumi-resource-openstack) >&2 \
      && mv "$out/pulumi-resource-openstack.tmp" "$out/pulumi-resource-openstack" || return 1
  fi
  cp "$out/pulumi-resource-openstack" "$BIN/pulumi-resource-openstack.tmp" && mv "$BIN/pulumi-resource-openstack.tmp" "$BIN/pulumi-resource-openstack"
}
in_use=$(cat "$CACHE/provider" 2>/dev/null || true)
if [ -x "$BIN/pulumi-resource-openstack" ] && [ "$in_use" = "official $PROVIDER_VERSION" ]; then
  log "pulumi-resource-openstack $PROVIDER_VERSION (official) cached"
elif build_provider; then
  echo "official $PROVIDER_VERSION" >"$CACHE/provider"
  log "built pulumi-resource-openstack $PROVIDER_VERSION (official)"
else
  log "pulumi-resource-openstack $PROVIDER_VERSION (official) is not served: $(sed -n 's/^pulumi-resource-openstack: //p' "$MISSING.new")"
  hash=$(own_hash)
  if [ -x "$BIN/pulumi-resource-openstack" ] && [ "$in_use" = "own $hash" ]; then
    log "pulumi-resource-openstack (tools/openstack-provider $hash) cached"
  elif build_own_provider "$hash"; then
    echo "own $hash" >"$CACHE/provider"
    log "built pulumi-resource-openstack from tools/openstack-provider ($("$BIN/pulumi-resource-openstack" -version))"
  else
    rm -f "$BIN/pulumi-resource-openstack" "$CACHE/provider"
    echo "pulumi-resource-openstack: neither the official module nor tools/openstack-provider could be built (above)" >>"$MISSING.new"
  fi
fi

mv "$MISSING.new" "$MISSING"
log "done in $(( $(date +%s) - started ))s: $(cd "$BIN" && ls | tr '\n' ' ')"
echo "$BIN"
