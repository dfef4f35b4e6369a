#!/usr/bin/env bash
# Set up (or bring up to date) the project's virtual environment on this machine.
# Idempotent: rerunning installs only what is missing.
#
#   scripts/setup.sh        the package, its pitch trackers and the web app, export and
#                           live-audio extras (what the `timbral` commands need)
#   scripts/setup.sh test   also the test tools and the Debian packages the tests use
#                           (FluidSynth and SoundFonts for rendered ground-truth audio,
#                           a headless Chromium for the web app's browser test)
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-run}
case "$mode" in run|test) ;; *) echo "usage: scripts/setup.sh [run|test]" >&2; exit 2 ;; esac

if [ "$mode" = test ]; then
  # Debian packages, installed only when missing (CI may start from a bare machine).
  mapfile -t apt_pkgs < <(cat requirements/soundfont-apt.txt requirements/browser-apt.txt \
    | grep -v '^\s*#' | grep -v '^\s*$')
  missing=()
  for pkg in "${apt_pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
pip=(.venv/bin/pip install -q --disable-pip-version-check -c constraints.txt)
extra="[web,export,live]"; [ "$mode" = test ] && extra="[web,export,live,test]"
"${pip[@]}" -e ".${extra}"
# The pitch trackers' packages declare torchaudio, whose only PyPI build for this torch
# is a CUDA one that breaks the CPU torch; timbral uses just their networks and weights,
# so they are installed without dependencies (their real ones are in pyproject).
"${pip[@]}" --no-deps -r requirements/trackers.txt
