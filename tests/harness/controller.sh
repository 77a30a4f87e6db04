#!/usr/bin/env bash
# Run a command on the test controller of one ansible-core release:
#   controller.sh VERSION COMMAND...
# The host's own release (tests/requirements.txt) runs on the host. Any
# other runs in the Debian 13 controller image (Python 3.13; images.sh
# controller), on the host's Docker engine through its socket, so that
# Molecule's containers are siblings of the controller, with the checkout
# mounted at the same path (paths in bind mounts mean the same on both sides)
# and the host's network (the artifact mirror on 127.0.0.1, published ports).
# Its virtual environment (tests/requirements/ansible-VERSION.txt) and its
# home (pip, ansible-test and Molecule caches) stay in .cache/controllers/VERSION.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

version=${1:?usage: controller.sh VERSION COMMAND...}
shift
[ -f "$REPO_ROOT/tests/requirements/ansible-$version.txt" ] \
  || die "no controller for ansible-core $version: tests/requirements/ansible-$version.txt is missing"

if [ "$version" = "$(host_controller_version)" ]; then
  exec env DA_STAGE_PREFIX="$version:" "$@"
fi

image=${DA_CONTROLLER_IMAGE:-dataaggregator/controller-debian:13}
state=$CACHE_DIR/controllers/$version
mkdir -p "$state/home"
mounts=(-v /var/run/docker.sock:/var/run/docker.sock -v "$REPO_ROOT:$REPO_ROOT")
# The host's certificate store: it may hold a site's own CA, which the
# image's does not know (pip reaches the package index through it).
mounts+=(-v /etc/ssl/certs:/etc/ssl/certs:ro)
[ -n "${DA_REAL_ARTIFACTS:-}" ] && mounts+=(-v "$DA_REAL_ARTIFACTS:$DA_REAL_ARTIFACTS:ro")
[ "$CACHE_DIR" = "$REPO_ROOT/.cache" ] || mounts+=(-v "$CACHE_DIR:$CACHE_DIR")

environment=(-e DA_VENV="$state/venv" -e DA_REQUIREMENTS="requirements/ansible-$version.txt"
             -e DA_STAGE_PREFIX="$version:" -e DA_CACHE_DIR="$CACHE_DIR" -e HOME=/root)
for name in CI DA_REAL_ARTIFACTS DA_MIRROR_PORT DA_DOCKER_NETWORK DA_IMAGE_REPO FULL_STACK \
            http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY PIP_INDEX_URL; do
  [ -n "${!name:-}" ] && environment+=(-e "$name=${!name}")
done

exec docker run --rm --init --name "da-controller-${version//./-}" --network host \
  "${mounts[@]}" -v "$state/home:/root" "${environment[@]}" -w "$REPO_ROOT" \
  "$image" "$@"
