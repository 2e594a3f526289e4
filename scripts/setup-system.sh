#!/usr/bin/env bash
# Installs the Debian packages dubline needs. Idempotent: when everything is present it only checks.
# Needs root (or sudo) the first time; prints what is missing and how to install it otherwise.
set -euo pipefail

PKGS=(ffmpeg espeak-ng apertium apertium-eng-spa apertium-eng-cat apertium-fr-es
      rubberband-cli libttspico-utils sox
      tesseract-ocr tesseract-ocr-eng tesseract-ocr-spa
      fluidsynth timgm6mb-soundfont
      redis-server)  # the Celery broker of `make cluster-up` and its test

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present (${#PKGS[@]})"
  exit 0
fi

echo "system packages missing: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "error: run as root, or install by hand: apt-get install ${missing[*]} (libttspico-utils needs the 'contrib non-free' components)" >&2
    exit 1
  fi
fi

# libttspico-utils lives in Debian's non-free component: enable contrib and non-free where missing.
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  if ! grep -Eq '^Components:.*non-free( |$)' /etc/apt/sources.list.d/debian.sources; then
    $SUDO sed -i -E 's/^Components: main$/Components: main contrib non-free/' /etc/apt/sources.list.d/debian.sources
  fi
elif [ -f /etc/apt/sources.list ] && ! grep -q 'non-free' /etc/apt/sources.list; then
  $SUDO sed -i -E '/^deb /s/ main$/ main contrib non-free/' /etc/apt/sources.list
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "system packages: installed ${missing[*]}"
