#!/usr/bin/env bash
# Install the Debian font packages that the synthetic sign generator draws with (seqocr.data.synth.FONTS: the plain
# set's five and the `fonts` share's twelve).
#
# Idempotent: apt-get runs only when a font file is missing, and only for the packages of the missing files.
# Needs root (or sudo) to install; CI and the dev machines run as root on Debian 12. The generator never falls back
# to another font: a missing one is an error, so that sample i is the same image on every machine.
#
# Usage: bash scripts/install_fonts.sh        (run by `make` before tests and training)
set -euo pipefail

# font file -> Debian package (keep in sync with FONTS in src/seqocr/data/synth.py; a test checks it)
FONTS=(
  "/usr/share/fonts/opentype/urw-base35/NimbusSansNarrow-Bold.otf fonts-urw-base35"
  "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf fonts-dejavu-extra"
  "/usr/share/fonts/truetype/roboto/unhinted/RobotoCondensed-Bold.ttf fonts-roboto-unhinted"
  "/usr/share/fonts/truetype/open-sans/OpenSans-CondBold.ttf fonts-open-sans"
  "/usr/share/fonts/opentype/urw-base35/NimbusSans-Bold.otf fonts-urw-base35"
  "/usr/share/fonts/truetype/lato/Lato-Heavy.ttf fonts-lato"
  "/usr/share/fonts/opentype/urw-base35/URWGothic-Demi.otf fonts-urw-base35"
  "/usr/share/fonts/opentype/urw-base35/NimbusRoman-Bold.otf fonts-urw-base35"
  "/usr/share/fonts/opentype/urw-base35/C059-Bold.otf fonts-urw-base35"
  "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf fonts-dejavu-core"
  "/usr/share/fonts/truetype/roboto/unhinted/RobotoCondensed-Regular.ttf fonts-roboto-unhinted"
  "/usr/share/fonts/truetype/open-sans/OpenSans-Semibold.ttf fonts-open-sans"
  "/usr/share/fonts/opentype/urw-base35/NimbusSansNarrow-Regular.otf fonts-urw-base35"
  "/usr/share/fonts/opentype/cantarell/Cantarell-Bold.otf fonts-cantarell"
  "/usr/share/fonts/truetype/liberation2/LiberationSans-Bold.ttf fonts-liberation2"
  "/usr/share/fonts/opentype/urw-base35/P052-Bold.otf fonts-urw-base35"
  "/usr/share/fonts/opentype/urw-base35/URWBookman-Demi.otf fonts-urw-base35"
)

missing_packages() {
  local entry file package
  for entry in "${FONTS[@]}"; do
    read -r file package <<<"$entry"
    [ -f "$file" ] || echo "$package"
  done | sort -u
}

packages=$(missing_packages)
if [ -z "$packages" ]; then
  echo "install_fonts: all ${#FONTS[@]} sign fonts are installed"
  exit 0
fi

# shellcheck disable=SC2086  # $packages is a whitespace-separated list on purpose
echo "install_fonts: installing" $packages
# shellcheck source=scripts/apt_install.sh
source "$(dirname "$0")/apt_install.sh"
# shellcheck disable=SC2086  # $packages is a whitespace-separated list on purpose
apt_install install_fonts $packages

still=$(missing_packages)
if [ -n "$still" ]; then
  echo "install_fonts: font files still missing after installing:" $still >&2
  exit 1
fi
echo "install_fonts: done"
