#!/usr/bin/env bash
# setup.sh — installs exactly the Debian packages ctpipe's build needs.
# Idempotent: packages already installed are left alone and nothing else is
# downloaded. Run as root (or with sudo available). Used by the README and CI.
set -euo pipefail

packages=(
    pkg-config          # finds the C libraries for SwiftPM
    libpng-dev          # PNG codec (libpng16)
    libjpeg-dev         # JPEG codec (libjpeg-turbo)
    zlib1g-dev          # zlib, used by libpng
    libopenblas-dev     # cblas_sgemm
    libfftw3-dev        # fftw3f: DCT plans of the Causal-Tune adapter
    libsqlite3-dev      # results history (runs/history.sqlite)
    libopenmpi-dev      # Open MPI (ompi-c): data-parallel training under mpirun/srun
    openmpi-bin         # mpirun, for those jobs and their tests
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if ((${#missing[@]} == 0)); then
    echo "setup: all ${#packages[@]} packages present"
    exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "setup: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"
