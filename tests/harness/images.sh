#!/usr/bin/env bash
# Build the local images the tests run on:
#   12, 13       dataaggregator/molecule-debian:12 and :13, the systemd base
#                images of the Molecule scenarios' hosts
#   controller   dataaggregator/controller-debian:13, the test controller for
#                ansible-core releases that need a newer Python than the
#                host's (tests/harness/controller.sh)
# Where a registry answers, a Dockerfile builds them; otherwise debootstrap
# builds a root filesystem from the host's configured apt mirror. An image is
# rebuilt only when this recipe changes (tracked by the image label "recipe").
set -euo pipefail
. "$(dirname "$0")/lib.sh"

IMAGE_REPO=${DA_IMAGE_REPO:-dataaggregator/molecule-debian}
CONTROLLER_IMAGE=${DA_CONTROLLER_IMAGE:-dataaggregator/controller-debian:13}
RECIPE=$(sha256sum "$0" | cut -c1-12)

declare -A SUITES=([12]=bookworm [13]=trixie [controller]=trixie)
# What each image holds. The controller runs the test command itself: Python
# 3.13 with venv, git and make, and the Docker client for Molecule's
# containers, which are its siblings on the host's engine.
HOST_PACKAGES=python3,systemd,systemd-sysv,sudo,ca-certificates,iproute2
declare -A PACKAGES=([12]=$HOST_PACKAGES [13]=$HOST_PACKAGES
                     [controller]="python3,python3-venv,git,make,ca-certificates,openssl,docker-cli,xz-utils,procps,shellcheck")
declare -A COMMANDS=([12]=/lib/systemd/systemd [13]=/lib/systemd/systemd [controller]=/bin/bash)

image_current() {
  local label
  label=$(docker image inspect -f '{{ index .Config.Labels "recipe" }}' "$1" 2>/dev/null) || return 1
  [ "$label" = "$RECIPE" ]
}

# Steps shared by both build paths, run inside the new root filesystem:
# tmp.mount fails in unprivileged containers, and getty has no console.
FINISH_ROOTFS='systemctl mask tmp.mount getty@tty1.service systemd-firstboot.service >/dev/null 2>&1 || true
rm -f /etc/machine-id /var/lib/dbus/machine-id; : > /etc/machine-id
apt-get clean; rm -rf /var/lib/apt/lists/*'

build_with_dockerfile() {
  local version=$1 suite=$2 tag=$3
  docker build -q --label "recipe=$RECIPE" -t "$tag" - >/dev/null <<DOCKERFILE
FROM debian:$suite
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(tr ',' ' ' <<<"${PACKAGES[$version]}") \\
 && sh -c '$(tr '\n' ';' <<<"$FINISH_ROOTFS")'
CMD ["${COMMANDS[$version]}"]
DOCKERFILE
}

build_with_debootstrap() {
  local version=$1 suite=$2 tag=$3 mirror rootfs
  ensure_apt_packages debootstrap
  mirror=$(host_debian_mirror)
  rootfs=$(mktemp -d "${TMPDIR:-/tmp}/da-rootfs-$version.XXXX")
  trap 'as_root rm -rf "$rootfs"' RETURN
  log "debootstrap $suite from the host's mirror (about a minute)"
  as_root debootstrap --variant=minbase --include="${PACKAGES[$version]}" "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
    || { tail -n 30 "$rootfs.log" >&2; die "debootstrap $suite failed"; }
  rm -f "$rootfs.log"
  as_root chroot "$rootfs" sh -c "$FINISH_ROOTFS"
  as_root tar -C "$rootfs" -c . | docker import \
    -c "CMD [\"${COMMANDS[$version]}\"]" -c "LABEL recipe=$RECIPE" -c 'ENV container=docker' - "$tag" >/dev/null
}

registry_answers() {
  timeout 20 docker pull -q "debian:$1" >/dev/null 2>&1
}

for version in "${@:-12 13}"; do
  for v in $version; do
    suite=${SUITES[$v]:-}
    [ -n "$suite" ] || die "unknown Debian version: $v (known: ${!SUITES[*]})"
    tag="$IMAGE_REPO:$v"
    [ "$v" = controller ] && tag=$CONTROLLER_IMAGE
    if image_current "$tag"; then
      log "image $tag is current"
      continue
    fi
    start=$SECONDS
    if registry_answers "$suite"; then
      build_with_dockerfile "$v" "$suite" "$tag"
    else
      build_with_debootstrap "$v" "$suite" "$tag"
    fi
    log "built $tag in $((SECONDS - start)) s"
  done
done
