#!/usr/bin/env bash
# Build and serve the local artifact mirror that the Molecule scenarios install
# release archives from. Layout, as upstream:
#   <mirror>/<name>/v<version>/<name>-<version>.linux-amd64.tar.gz
#   <mirror>/<name>/v<version>/sha256sums.txt
# Each archive holds the real binary of a Debian package, of Debian 12 (the
# oldest builds within reach) and of Debian 13 (the newest), so that the tests
# cover both ends of that range. versions.json maps each Debian release to the
# version of every program built from it. For every name there is also
# v0.0.1-corrupt, whose archive does not match its checksum.
#
# Programs that no reachable source carries (mirror-standins.txt) are served as
# clearly named offline stand-ins, unless the real upstream artifact is found in
# the directory named by DA_REAL_ARTIFACTS. real-artifacts.txt and
# standins.txt at the mirror's root say which is which, so that tests of real
# behaviour run against real programs and are skipped, with the reason, otherwise.
#
# The mirror runs as the container da-artifact-mirror on the Docker network
# da-molecule (http://da-artifact-mirror:8080 from the test containers) and is
# published on http://127.0.0.1:18080 for downloads on the controller.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

MIRROR_DIR=$CACHE_DIR/mirror
NETWORK=${DA_DOCKER_NETWORK:-da-molecule}
CONTAINER=da-artifact-mirror
HOST_PORT=${DA_MIRROR_PORT:-18080}
IMAGE_REPO=${DA_IMAGE_REPO:-dataaggregator/molecule-debian}
IMAGE=$IMAGE_REPO:12
# The Debian releases whose builds are repacked, each from its own base image's apt.
RELEASES=(12 13)
STAMP="$MIRROR_DIR/.recipe"
REAL_DIR=${DA_REAL_ARTIFACTS:-}
# The artifacts to repack: mirror-artifacts.txt's rows and the exporters' registry's.
ARTIFACT_ROWS=$(python3 "$HARNESS_DIR/mirror_rows.py") || die "mirror: cannot read the artifact rows"
RECIPE=$( { cat "$0" "$HARNESS_DIR/mirror-standins.txt" "$HARNESS_DIR"/standins/*; echo "$ARTIFACT_ROWS";
            if [ -n "$REAL_DIR" ]; then (cd "$REAL_DIR" && sha256sum -- *); fi; } | sha256sum | cut -c1-12)

upstream_version() {  # 1:1.5.0+ds-1+b6 -> 1.5.0
  sed -E 's/^[0-9]+://; s/[-+~].*$//' <<<"$1"
}

# The .deb files of the packages, as Debian <release> ships them, into <dir>:
# downloaded by that release's own apt, in a throwaway container of its image.
# A package the release does not have is left out (promtool has a package of
# its own only from Debian 13 on); repack() says when one it needs is missing.
download_debs() {
  local release=$1 dir=$2
  shift 2
  docker run --rm -v "$dir:/out" "$IMAGE_REPO:$release" sh -c '
    apt-get update -qq >/dev/null || exit 1
    cd /out || exit 1
    for package in "$@"; do
      apt-cache show "$package" >/dev/null 2>&1 || continue
      apt-get download -q -o APT::Sandbox::User=root "$package" >/dev/null || exit 1
    done
    chown -R '"$(id -u):$(id -g)"' /out' \
    sh "$@" || die "mirror: apt-get download of $* failed in a Debian $release container"
}

repack() {
  local release=$1 debs=$2 name=$3 package=$4 binary=$5 work deb version base dir option extras="" archive_name="" extra
  local also="" other
  shift 5
  for option in "$@"; do
    case "$option" in
      extra=*) extras=${option#extra=} ;;
      archive=*) archive_name=${option#archive=} ;;
      also=*) also=${option#also=} ;;
      *) die "mirror-artifacts.txt: unknown option $option for $name" ;;
    esac
  done
  work=$(mktemp -d)
  deb=$(ls "$debs/${package}"_*.deb 2>/dev/null) || die "mirror: Debian $release has no package $package"
  version=$(upstream_version "$(dpkg-deb -f "$deb" Version)")
  dpkg-deb -x "$deb" "$work/root"
  for other in ${also//,/ }; do
    if compgen -G "$debs/${other}_*.deb" >/dev/null; then dpkg-deb -x "$(ls "$debs/${other}"_*.deb)" "$work/root"; fi
  done
  base=${archive_name:-$name-\{version\}}
  base=${base//\{version\}/$version}.linux-amd64
  dir="$work/$base"
  mkdir -p "$dir"
  install -m 0755 "$work/root/$binary" "$dir/$name"
  for extra in ${extras//,/ }; do cp -a "$work/root/$extra" "$dir/"; done
  mkdir -p "$MIRROR_DIR/$name/v$version" "$MIRROR_DIR/$name/v0.0.1-corrupt"
  tar -C "$work" --owner=0 --group=0 -czf "$MIRROR_DIR/$name/v$version/$base.tar.gz" "$base"
  (cd "$MIRROR_DIR/$name/v$version" && sha256sum -- *.tar.gz > sha256sums.txt)
  # A release whose archive was damaged after its checksum was published.
  local bad_base=${base//$version/0.0.1-corrupt}
  local bad="$MIRROR_DIR/$name/v0.0.1-corrupt/$bad_base.tar.gz"
  cp "$MIRROR_DIR/$name/v$version/$base.tar.gz" "$bad"
  (cd "$(dirname "$bad")" && sha256sum -- *.tar.gz > sha256sums.txt)
  printf 'corrupted' | dd of="$bad" bs=1 seek=1000 conv=notrunc status=none
  printf '%s %s %s\n' "$name" "$version" "$release" >> "$MIRROR_DIR/versions.txt"
  rm -rf "$work"
  log "mirror: $name $version (from Debian $release's $package)"
}

# A program no reachable source carries: the real artifact from
# DA_REAL_ARTIFACTS, or else the offline stand-in, as a bare executable (the
# upstream release of some projects is just the binary) or packed as bin/<name>
# in a release-shaped tarball with conf/defaults.ini, or zipped alone (Loki's
# releases).
standin() {
  local name=$1 version=$2 path=$3 script=$4 dir artifact work top program
  # "grafana-deb" names the Debian package of grafana in the lists.
  program=${name%-deb}
  path=${path//\{version\}/$version}
  artifact=$(basename "$path")
  dir="$MIRROR_DIR/$(dirname "$path")"
  mkdir -p "$dir"
  if [ -n "$REAL_DIR" ] && [ -f "$REAL_DIR/$artifact" ]; then
    install -m 0644 "$REAL_DIR/$artifact" "$dir/$artifact"
    printf '%s %s\n' "$name" "$version" >> "$MIRROR_DIR/real-artifacts.txt"
    log "mirror: $name $version (real artifact from $REAL_DIR)"
  else
    work=$(mktemp -d)
    # The script carries no shebang in the repository (it is not a module of
    # the collection); the test hosts run it with their python3. What the
    # stand-ins share (standins/support.py) goes in front of it, in place of
    # its import, so the executable stands alone.
    {
      echo '#!/usr/bin/python3'
      if grep -q '^from support import' "$HARNESS_DIR/$script"; then cat "$HARNESS_DIR/standins/support.py"; fi
      grep -v '^from support import' "$HARNESS_DIR/$script"
    } > "$work/$program"
    printf '; OFFLINE STAND-IN for %s %s: defaults of the stand-in only\n[server]\nhttp_port = 3000\n' \
      "$program" "$version" > "$work/defaults.ini"
    if [[ "$artifact" == *.deb ]]; then
      standin_deb "$program" "$version" "$work" "$dir/$artifact"
    elif [[ "$artifact" == *.zip ]]; then
      # Loki's layout: one executable named after the zip, with its mode kept.
      install -m 0755 "$work/$program" "$work/${artifact%.zip}"
      python3 - "$dir/$artifact" "$work/${artifact%.zip}" <<'ZIP'
import os, sys, zipfile
archive, executable = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as packed:
    packed.write(executable, os.path.basename(executable))
ZIP
    elif [[ "$artifact" == *.tar.gz ]]; then
      top="$program-$version"
      mkdir -p "$work/$top/bin" "$work/$top/conf"
      install -m 0755 "$work/$program" "$work/$top/bin/$program"
      install -m 0644 "$work/defaults.ini" "$work/$top/conf/defaults.ini"
      tar -C "$work" --owner=0 --group=0 -czf "$dir/$artifact" "$top"
    else
      install -m 0755 "$work/$program" "$dir/$artifact"
    fi
    rm -rf "$work"
    printf '%s %s\n' "$name" "$version" >> "$MIRROR_DIR/standins.txt"
    log "mirror: $name $version (OFFLINE STAND-IN $script; put $artifact in DA_REAL_ARTIFACTS for the real one)"
  fi
  # Every checksum form upstreams publish: sha256sums.txt, SHA256SUMS (Loki) and <artifact>.sha256.
  (cd "$dir" && sha256sum -- "$artifact" | tee -a sha256sums.txt >> SHA256SUMS && sha256sum -- "$artifact" | cut -d' ' -f1 > "$artifact.sha256")
}

# The stand-in as a Debian package laid out like the vendor's, with the
# vendor's own unit. Grafana: the program under /usr/share/grafana, and a
# grafana-server unit (which the role masks). Alloy: /usr/bin/alloy, its
# sample config and defaults as conffiles, and a unit of the role's name
# (which the role's unit in /etc/systemd/system overrides); Grafana's Alloy
# packages carry a revision (1.18.1-1).
standin_deb() {
  local name=$1 version=$2 work=$3 deb=$4 root
  root="$work/deb"
  mkdir -p "$root/DEBIAN" "$root/lib/systemd/system"
  if [ "$name" = alloy ]; then
    version="$version-1"
    mkdir -p "$root/usr/bin" "$root/etc/alloy" "$root/etc/default"
    install -m 0755 "$work/$name" "$root/usr/bin/alloy"
    printf 'logging {\n\tlevel = "warn"\n}\n' > "$root/etc/alloy/config.alloy"
    printf 'CONFIG_FILE="/etc/alloy/config.alloy"\n' > "$root/etc/default/alloy"
    printf '/etc/alloy/config.alloy\n/etc/default/alloy\n' > "$root/DEBIAN/conffiles"
    # The unit expands $CONFIG_FILE itself, from /etc/default/alloy.
    cat > "$root/lib/systemd/system/alloy.service" <<'UNIT'
[Unit]
Description=alloy (vendor unit of the stand-in package)
[Service]
EnvironmentFile=/etc/default/alloy
ExecStart=/usr/bin/alloy run $CONFIG_FILE
[Install]
WantedBy=multi-user.target
UNIT
  else
    mkdir -p "$root/usr/share/$name/bin" "$root/usr/share/$name/conf"
    install -m 0755 "$work/$name" "$root/usr/share/$name/bin/$name"
    install -m 0644 "$work/defaults.ini" "$root/usr/share/$name/conf/defaults.ini"
    printf '[Unit]\nDescription=%s (vendor unit of the stand-in package)\n[Service]\nExecStart=/usr/share/%s/bin/%s server --homepath=/usr/share/%s\n[Install]\nWantedBy=multi-user.target\n' \
      "$name" "$name" "$name" "$name" > "$root/lib/systemd/system/$name-server.service"
  fi
  cat > "$root/DEBIAN/control" <<CONTROL
Package: $name
Version: $version
Architecture: amd64
Maintainer: Data Aggregator test harness <noreply@localhost>
Depends: python3
Section: misc
Priority: optional
Description: OFFLINE STAND-IN for $name $version, not $name
 Built by tests/harness/mirror.sh from $name.py; it answers only the readiness path.
CONTROL
  dpkg-deb --root-owner-group --build "$root" "$deb" >/dev/null
}

# An apt repository (suite "stable", component "main") over the packages in
# <mirror>/apt/pool, signed with a throwaway key: apt/gpg.key. apt/other.key
# is a second key that did not sign it, for the test that a wrong key is refused.
apt_repository() {
  local repo="$MIRROR_DIR/apt" gnupg index
  [ -d "$repo/pool" ] || return 0
  ensure_apt_packages gnupg apt-utils
  gnupg=$(mktemp -d)
  index="$repo/dists/stable/main/binary-amd64"
  mkdir -p "$index"
  (cd "$repo" && apt-ftparchive packages pool > "$index/Packages")
  gzip -9nk "$index/Packages"
  apt-ftparchive -o APT::FTPArchive::Release::Suite=stable -o APT::FTPArchive::Release::Codename=stable \
    -o APT::FTPArchive::Release::Components=main -o APT::FTPArchive::Release::Architectures=amd64 \
    release "$repo/dists/stable" > "$gnupg/Release"
  mv "$gnupg/Release" "$repo/dists/stable/Release"
  GNUPGHOME=$gnupg gpg --batch --quiet --passphrase '' --quick-gen-key "da-test-repository" ed25519 sign never
  GNUPGHOME=$gnupg gpg --batch --quiet --passphrase '' --quick-gen-key "da-test-other" ed25519 sign never
  GNUPGHOME=$gnupg gpg --batch --quiet --local-user da-test-repository --clearsign \
    -o "$repo/dists/stable/InRelease" "$repo/dists/stable/Release"
  GNUPGHOME=$gnupg gpg --batch --quiet --local-user da-test-repository --detach-sign --armor \
    -o "$repo/dists/stable/Release.gpg" "$repo/dists/stable/Release"
  GNUPGHOME=$gnupg gpg --batch --quiet --armor --export da-test-repository > "$repo/gpg.key"
  GNUPGHOME=$gnupg gpg --batch --quiet --armor --export da-test-other > "$repo/other.key"
  gpgconf --homedir "$gnupg" --kill all 2>/dev/null || true
  rm -rf "$gnupg"
  log "mirror: apt repository $repo (signed by a throwaway key)"
}

build() {
  if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$RECIPE" ]; then
    return 0
  fi
  rm -rf "$MIRROR_DIR"
  mkdir -p "$MIRROR_DIR"
  local name package binary rest options release debs
  for release in "${RELEASES[@]}"; do
    debs=$(mktemp -d)
    # shellcheck disable=SC2046 # one package name per word
    download_debs "$release" "$debs" $(awk '$1 !~ /^(#|$)/ {print $2; for (i = 4; i <= NF; i++) if ($i ~ /^also=/) {sub(/^also=/, "", $i); gsub(/,/, " ", $i); print $i}}' <<<"$ARTIFACT_ROWS")
    while read -r name package binary rest; do
      case "$name" in ''|'#'*) continue ;; esac
      read -ra options <<<"$rest"
      repack "$release" "$debs" "$name" "$package" "$binary" "${options[@]}"
    done <<<"$ARTIFACT_ROWS"
    rm -rf "$debs"
  done
  python3 - "$MIRROR_DIR/versions.txt" "$MIRROR_DIR/versions.json" <<'JSON'
import json, sys
versions = {}
for line in open(sys.argv[1]):
    name, version, release = line.split()
    versions.setdefault(release, {})[name] = version
json.dump(versions, open(sys.argv[2], "w"), indent=2, sort_keys=True)
JSON
  touch "$MIRROR_DIR/real-artifacts.txt" "$MIRROR_DIR/standins.txt"
  local version path script
  while read -r name version path script; do
    case "$name" in ''|'#'*) continue ;; esac
    standin "$name" "$version" "$path" "$script"
  done < "$HARNESS_DIR/mirror-standins.txt"
  apt_repository
  echo "$RECIPE" > "$STAMP"
  # A fresh id per build: a container still serving an older (or deleted)
  # directory at the same path is noticed and replaced.
  od -An -N8 -tx8 /dev/urandom | tr -d ' \n' > "$MIRROR_DIR/.build-id"
}

served_build_id() {
  python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$HOST_PORT/.build-id', timeout=2).read().decode())" 2>/dev/null || true
}

serve() {
  docker network inspect "$NETWORK" >/dev/null 2>&1 || docker network create "$NETWORK" >/dev/null
  if [ "$(docker inspect -f '{{ .State.Running }}' "$CONTAINER" 2>/dev/null)" = "true" ] \
     && [ "$(docker inspect -f '{{ index .Config.Labels "served" }}' "$CONTAINER")" = "$RECIPE $MIRROR_DIR" ] \
     && [ "$(served_build_id)" = "$(cat "$MIRROR_DIR/.build-id" 2>/dev/null)" ]; then
    return 0
  fi
  docker rm -f "$CONTAINER" >/dev/null 2>&1 || true
  docker run -d --name "$CONTAINER" --network "$NETWORK" --label "served=$RECIPE $MIRROR_DIR" \
    -p "127.0.0.1:$HOST_PORT:8080" -v "$MIRROR_DIR:/srv/mirror:ro" \
    "$IMAGE" python3 -m http.server 8080 --directory /srv/mirror >/dev/null
  for _ in $(seq 1 30); do
    python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$HOST_PORT/versions.txt', timeout=2)" 2>/dev/null && return 0
    sleep 0.5
  done
  docker logs "$CONTAINER" >&2 || true
  die "the artifact mirror did not answer on 127.0.0.1:$HOST_PORT"
}

case "${1:-up}" in
  up) build; serve ;;
  build) build ;;
  down) docker rm -f "$CONTAINER" >/dev/null 2>&1 || true ;;
  *) die "usage: $0 [up|build|down]" ;;
esac
