#!/usr/bin/env bash
# apt_install NAME PACKAGE: install a Debian package as root, or with sudo -n (never a prompt
# under make or CI); exits 1 with the command to run by hand when neither works. Sourced by the
# ensure_*.sh scripts, which decide whether anything is missing.

apt_install() {
  local name="$1" package="$2"
  local -a sudo=()
  if [[ "$(id -u)" -ne 0 ]]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "${name}: ${package} is not installed and this is neither root nor a user with" \
        "sudo; install it with: apt-get install ${package}" >&2
      exit 1
    fi
    sudo=(sudo -n)
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "${name}: apt-get not found; install ${package} with your package manager and re-run" >&2
    exit 1
  fi
  echo "${name}: installing ${package} via apt-get" >&2
  if ! "${sudo[@]}" apt-get update \
    || ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y --no-install-recommends "${package}"; then
    echo "${name}: could not install ${package} with apt-get (try: sudo apt-get install" \
      "${package})" >&2
    exit 1
  fi
  APT_SUDO=("${sudo[@]}")
}
