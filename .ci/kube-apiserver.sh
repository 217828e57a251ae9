#!/usr/bin/env bash
# A real kube-apiserver and etcd for the Kubernetes gateway's integration tests
# (tests/standins/kube.py), built from Debian's own packages, with nothing installed system-wide
# unless a build tool is missing.
#
#   kube-apiserver: Debian's `kubernetes` source package (1.20.2 in bookworm), built with
#                   `make WHAT=cmd/kube-apiserver` (GOPROXY=off, CGO_ENABLED=0) by Debian's
#                   golang-1.19 toolchain, unpacked with `dpkg -x` (~260 s, ~1.3 GB of memory
#                   on 2 cores, ~2.3 GB of disk while building, a 110 MB binary).
#   etcd:           Debian's etcd-server binary package (3.4), unpacked with `dpkg -x`.
#
# Idempotent: when $KUBE_CACHE/bin/kube-apiserver and $KUBE_CACHE/bin/etcd exist and answer
# `--version`, it prints their paths and exits 0 at once. Otherwise it builds them there: progress
# on stderr, the two paths on stdout, non-zero exit with a message on failure.
#
# apt runs with a private configuration under $KUBE_CACHE/work/apt: the machine's configured Debian
# sources (deb.debian.org, security, mirrors...) with deb-src enabled, private lists and archives.
# /etc/apt and /var/lib/apt are never written; nothing is installed system-wide unless dpkg-dev,
# make, xz-utils or patch is missing (then, as root, `apt-get install` adds them).
#
# Environment:
#   KUBE_CACHE        cache directory (default: $HOME/.cache/eksaddon-kube)
#   KUBE_KEEP_BUILD=1 keep $KUBE_CACHE/work (sources, toolchain, Go build cache: ~2.3 GB)
#   KUBE_GO_PACKAGE   the Debian Go compiler package (default: golang-1.19-go if the archive has
#                     it, else the one golang-go depends on)
#   KUBE_APT_SOURCES  a deb822 .sources file to use instead of the machine's Debian sources
set -euo pipefail

KUBE_CACHE=${KUBE_CACHE:-${HOME:?set HOME or KUBE_CACHE}/.cache/eksaddon-kube}
BIN=$KUBE_CACHE/bin
WORK=$KUBE_CACHE/work

log() { printf '[kube-apiserver.sh] %s\n' "$*" >&2; }
die() {
    printf '[kube-apiserver.sh] ERROR: %s\n' "$*" >&2
    exit 1
}

binaries_work() {
    "$BIN/kube-apiserver" --version >/dev/null 2>&1 && "$BIN/etcd" --version >/dev/null 2>&1
}

report() {
    log "kube-apiserver: $("$BIN/kube-apiserver" --version 2>&1 | head -n1)"
    log "etcd: $("$BIN/etcd" --version 2>&1 | head -n1)"
    printf '%s\n%s\n' "$BIN/kube-apiserver" "$BIN/etcd"
}

if binaries_work; then
    report
    exit 0
fi

mkdir -p "$KUBE_CACHE" || die "cannot create the cache directory $KUBE_CACHE"
KUBE_CACHE=$(cd "$KUBE_CACHE" && pwd -P)
BIN=$KUBE_CACHE/bin
WORK=$KUBE_CACHE/work

# One build at a time per cache directory; a second caller waits, then reuses the result.
exec 9>"$KUBE_CACHE/.lock"
if ! flock -n 9; then
    log "another build holds $KUBE_CACHE/.lock; waiting for it"
    flock 9
fi
if binaries_work; then
    report
    exit 0
fi

log "building into $KUBE_CACHE (cold build: ~5 minutes, ~1.3 GB of memory, ~2.5 GB of disk)"
trap 'log "ERROR: failed (line $LINENO); state left in $WORK, rerun to resume"' ERR

# --- Tools this script needs from the host ------------------------------------------------------
command -v apt-get >/dev/null || die "apt-get not found: this script needs a Debian machine"
command -v python3 >/dev/null || die "python3 not found (needed to read the apt sources)"
missing=()
command -v dpkg-source >/dev/null || missing+=(dpkg-dev)
command -v make >/dev/null || missing+=(make)
command -v xz >/dev/null || missing+=(xz-utils)
command -v patch >/dev/null || missing+=(patch)
if ((${#missing[@]})); then
    [ "$(id -u)" -eq 0 ] || die "missing build tools (${missing[*]}); install them or run as root"
    log "installing build tools system-wide: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq || die "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        || die "apt-get install ${missing[*]} failed"
fi

mem_kb=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo 2>/dev/null || echo 0)
if [ "${mem_kb:-0}" -lt 2000000 ]; then
    log "warning: only $((mem_kb / 1024)) MB of memory available; the Go build needs ~1.3 GB"
fi

# --- Private apt configuration: the machine's Debian sources, with deb-src ------------------------
APT_DIR=$WORK/apt
mkdir -p "$APT_DIR/sources.list.d" "$APT_DIR/preferences.d" "$APT_DIR/lists/partial" \
    "$APT_DIR/archives/partial"
SOURCES=$APT_DIR/sources.list.d/debian.sources
if [ -n "${KUBE_APT_SOURCES:-}" ]; then
    cp "$KUBE_APT_SOURCES" "$SOURCES" || die "cannot read KUBE_APT_SOURCES=$KUBE_APT_SOURCES"
else
    python3 -I - "$SOURCES" <<'PY' || die "could not derive apt sources from /etc/apt"
"""Write the machine's Debian apt sources (deb822 and one-line) as one deb822 file, deb + deb-src.

Only entries that are Debian's own archive are kept (a host under debian.org, or signed by the
Debian archive keyring), so third-party repositories without source indexes cannot break update.
"""
import glob
import re
import sys

out_path = sys.argv[1]
entries = []  # (uris, suites, components, {field: value})

def debian(uris, options):
    signed = options.get("Signed-By", "")
    if "debian-archive-keyring" in signed:
        return True
    return any(re.match(r"^[a-z+]+://([^/@]*@)?[^/]*debian\.(org|net)(:\d+)?(/|$)", u) for u in uris)

for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    text = open(path, encoding="utf-8").read()
    for paragraph in re.split(r"\n\s*\n", text):
        fields, key = {}, None
        for line in paragraph.splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            if line[0] in " \t" and key:
                fields[key] += "\n" + line
                continue
            key, _, value = line.partition(":")
            key = key.strip()
            fields[key] = value.strip()
        if "deb" not in fields.get("Types", "").split():
            continue
        if fields.get("Enabled", "yes").lower() in ("no", "false", "0"):
            continue
        uris = fields.get("URIs", "").split()
        options = {k: v for k, v in fields.items() if k not in ("Types", "URIs", "Suites", "Components")}
        if uris and debian(uris, options):
            entries.append((uris, fields.get("Suites", "").split(), fields.get("Components", "").split(), options))

one_line = ["/etc/apt/sources.list", *sorted(glob.glob("/etc/apt/sources.list.d/*.list"))]
names = {"signed-by": "Signed-By", "arch": "Architectures", "trusted": "Trusted", "lang": "Languages"}
for path in one_line:
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except FileNotFoundError:
        continue
    for line in lines:
        line = line.split("#", 1)[0].strip()
        match = re.match(r"^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$", line)
        if not match:
            continue
        options = {}
        for option in (match.group(1) or "").split():
            key, _, value = option.partition("=")
            options[names.get(key, key)] = value.replace(",", " ")
        uris = [match.group(2)]
        if debian(uris, options):
            entries.append((uris, [match.group(3)], match.group(4).split(), options))

if not entries:
    sys.exit("no Debian archive found among the apt sources in /etc/apt")
with open(out_path, "w", encoding="utf-8") as out:
    for uris, suites, components, options in entries:
        out.write("Types: deb deb-src\n")
        out.write(f"URIs: {' '.join(uris)}\nSuites: {' '.join(suites)}\n")
        if components:
            out.write(f"Components: {' '.join(components)}\n")
        for key, value in options.items():
            out.write(f"{key}: {value}\n")
        out.write("\n")
PY
fi
log "apt sources (deb + deb-src):"
sed 's/^/    /' "$SOURCES" >&2

APT_OPTS=(
    -o "Dir::Etc::sourcelist=/dev/null"
    -o "Dir::Etc::sourceparts=$APT_DIR/sources.list.d"
    -o "Dir::Etc::preferencesparts=$APT_DIR/preferences.d"
    -o "Dir::State::lists=$APT_DIR/lists"
    -o "Dir::Cache::archives=$APT_DIR/archives"
    -o "Dir::Cache::pkgcache="
    -o "Dir::Cache::srcpkgcache="
    -o "APT::Get::Only-Source=true"
)
# As root apt hands downloads to the _apt user, who cannot write into a private cache directory.
[ "$(id -u)" -ne 0 ] || APT_OPTS+=(-o "APT::Sandbox::User=root")

log "apt-get update (private lists in $APT_DIR/lists)"
apt-get "${APT_OPTS[@]}" -qq --error-on=any update >&2 \
    || die "apt-get update failed (are Debian's mirrors reachable?)"

# --- Sources: Debian's kubernetes package -------------------------------------------------------
mkdir -p "$WORK/src"
k8s_version=$(apt-cache "${APT_OPTS[@]}" showsrc kubernetes 2>/dev/null |
    awk '/^Version:/ {print $2; exit}' || true)
[ -n "$k8s_version" ] || die "Debian's apt sources offer no 'kubernetes' source package"
log "kubernetes source package: $k8s_version"
dsc=$WORK/src/kubernetes_${k8s_version#*:}.dsc
if [ ! -f "$dsc" ]; then
    log "apt-get source --download-only kubernetes=$k8s_version"
    (cd "$WORK/src" && apt-get "${APT_OPTS[@]}" -qq source --download-only "kubernetes=$k8s_version") >&2 \
        || die "apt-get source --download-only kubernetes failed"
    [ -f "$dsc" ] || die "apt-get source did not produce $dsc"
fi
TREE=$WORK/src/kubernetes-${k8s_version#*:}
if [ ! -e "$TREE/.unpacked" ]; then
    rm -rf "$TREE"
    log "dpkg-source -x $(basename "$dsc")"
    log "(a gpgv 'No public key' warning is expected without debian-keyring: apt-get source has" \
        "already checked these files against the archive's signed Sources index)"
    dpkg-source -x "$dsc" "$TREE" >&2 || die "dpkg-source -x $dsc failed"
    touch "$TREE/.unpacked"
fi

# --- Binary packages, unpacked with dpkg -x (never installed) -----------------------------------
go_package=${KUBE_GO_PACKAGE:-}
if [ -z "$go_package" ]; then
    if apt-cache "${APT_OPTS[@]}" show golang-1.19-go >/dev/null 2>&1; then
        go_package=golang-1.19-go
    else
        go_package=$(apt-cache "${APT_OPTS[@]}" depends golang-go 2>/dev/null |
            grep -oE 'golang-1\.[0-9]+-go' | head -n1 || true)
    fi
fi
[ -n "$go_package" ] || die "found no Debian Go compiler package (golang-1.19-go or golang-go)"
go_src_package=${go_package%-go}-src
packages=("$go_package" "$go_src_package" etcd-server)
RSYNC_FROM_DEB=0
if ! command -v rsync >/dev/null; then
    # Kubernetes' build places its binaries with `rsync -pc` (Build-Depends: rsync).
    packages+=(rsync libpopt0)
    RSYNC_FROM_DEB=1
fi
mkdir -p "$WORK/debs"
rm -f "$WORK/debs"/*.deb
log "apt-get download ${packages[*]}"
(cd "$WORK/debs" && apt-get "${APT_OPTS[@]}" -qq download "${packages[@]}") >&2 \
    || die "apt-get download ${packages[*]} failed"
ROOT=$WORK/root
rm -rf "$ROOT"
mkdir -p "$ROOT"
for package in "${packages[@]}"; do
    debs=("$WORK/debs/${package}"_*.deb)
    deb=${debs[0]}
    [ -f "$deb" ] || die "apt-get download did not produce ${package}_*.deb"
    log "dpkg -x $(basename "$deb")"
    dpkg -x "$deb" "$ROOT" || die "dpkg -x $deb failed"
done

GOROOT=
for candidate in "$ROOT"/usr/lib/go-1.*; do
    if [ -x "$candidate/bin/go" ]; then GOROOT=$candidate; fi
done
[ -n "$GOROOT" ] || die "no Go toolchain in $ROOT/usr/lib after unpacking $go_package"
TOOLS=$WORK/tools
mkdir -p "$TOOLS"
if [ "$RSYNC_FROM_DEB" = 1 ]; then
    popt=$(find "$ROOT" -name 'libpopt.so.0' | head -n1)
    [ -n "$popt" ] || die "libpopt0 unpacked without libpopt.so.0"
    cat >"$TOOLS/rsync" <<EOF
#!/bin/sh
LD_LIBRARY_PATH="$(dirname "$popt")\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" exec "$ROOT/usr/bin/rsync" "\$@"
EOF
    chmod +x "$TOOLS/rsync"
    PATH=$TOOLS:$PATH rsync --version >/dev/null 2>&1 || die "the unpacked rsync does not run"
fi
export GOROOT
log "go: $("$GOROOT/bin/go" version)"
"$ROOT/usr/bin/etcd" --version >/dev/null 2>&1 || die "the unpacked etcd does not run"

# --- Build --------------------------------------------------------------------------------------
log "make WHAT=cmd/kube-apiserver in $TREE (log: $WORK/build.log)"
start=$(date +%s)
if ! (
    cd "$TREE"
    unset GOFLAGS GOOS GOARCH GOBIN GOTOOLCHAIN GOENV
    export PATH="$TOOLS:$GOROOT/bin:$PATH" GOPATH="$WORK/gopath"
    export GOPROXY=off CGO_ENABLED=0 GO111MODULE=on
    make WHAT=cmd/kube-apiserver
) >"$WORK/build.log" 2>&1; then
    tail -n 40 "$WORK/build.log" >&2
    die "make WHAT=cmd/kube-apiserver failed; full log in $WORK/build.log"
fi
log "built in $(($(date +%s) - start)) s"

built=$TREE/_output/local/bin/linux/$("$GOROOT/bin/go" env GOARCH)/kube-apiserver
[ -x "$built" ] || built=$TREE/_output/bin/kube-apiserver
[ -x "$built" ] || die "the build produced no kube-apiserver binary"

mkdir -p "$BIN"
install -m 0755 "$built" "$BIN/kube-apiserver.tmp" && mv -f "$BIN/kube-apiserver.tmp" "$BIN/kube-apiserver"
install -m 0755 "$ROOT/usr/bin/etcd" "$BIN/etcd.tmp" && mv -f "$BIN/etcd.tmp" "$BIN/etcd"
binaries_work || die "the installed binaries do not answer --version"

trap - ERR
if [ "${KUBE_KEEP_BUILD:-0}" = 1 ]; then
    log "keeping $WORK (KUBE_KEEP_BUILD=1)"
else
    log "removing the build tree $WORK (set KUBE_KEEP_BUILD=1 to keep it)"
    chmod -R u+w "$WORK" 2>/dev/null || true
    rm -rf "$WORK"
fi
report
