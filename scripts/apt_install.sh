# Sourced by the install_*.sh scripts: `apt_install WHO PACKAGE...` installs Debian packages, as root or through
# sudo, and fails with one clear line (prefixed WHO) where apt-get or root is missing.
apt_install() {
  local who=$1 sudo=""
  shift
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "$who: apt-get not found; install these Debian packages by hand: $*" >&2
    return 1
  fi
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      echo "$who: need root to run apt-get install $*" >&2
      return 1
    fi
    sudo="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
