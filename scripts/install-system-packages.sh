#!/usr/bin/env bash
# Install the Debian packages dkvae's tests and importers need, only those missing (apt-get; sudo when not root).
# `make test` runs it; `make demo` does not (every kit format is written in Python, tests/test_makefile.py).
set -euo pipefail
# --no-install-recommends below matters: fluidsynth's recommends pull in FluidR3, which is kept out of
# this project's training data and machines' defaults (it is reserved for independent evaluation).
packages=(hydrogen-drumkits hydrogen-drumkits-effects lmms lmms-common libfluidsynth3 timgm6mb-soundfont
  avldrums.lv2-soundfont csound-soundfont exadrums hydrogen libxml2-utils chromium)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "warning: not a Debian system; install ${missing[*]} by hand for the tests that use real drum kits" >&2
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
