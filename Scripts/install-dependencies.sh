#!/bin/sh
# Installs the system libraries Pinpoint links (OpenBLAS, libjpeg-turbo, libpng, HDF5) when their
# headers are missing; with the argument `mpi`, also Open MPI for Distributed/. As root it runs
# apt-get; otherwise it prints the command to run and fails.
set -eu

have_header() {
    for dir in /usr/include /usr/include/x86_64-linux-gnu /usr/include/aarch64-linux-gnu /usr/local/include; do
        [ -f "$dir/$1" ] && return 0
    done
    return 1
}
find_missing() {
    missing=""
    have_header cblas.h || missing="$missing libopenblas-dev"
    have_header jpeglib.h || missing="$missing libjpeg62-turbo-dev"
    have_header png.h || missing="$missing libpng-dev"
    have_header hdf5/serial/hdf5.h || have_header hdf5.h || missing="$missing libhdf5-dev"
    command -v pkg-config >/dev/null 2>&1 || missing="$missing pkg-config"
    if [ "${1:-}" = mpi ]; then
        pkg-config --exists ompi-c 2>/dev/null || missing="$missing libopenmpi-dev"
        command -v mpirun >/dev/null 2>&1 || missing="$missing openmpi-bin"
    fi
}
find_missing "${1:-}"

[ -z "$missing" ] && exit 0

command="apt-get install -y$missing"
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing system libraries:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # --reinstall also restores a package whose files were removed by hand.
    apt-get install -y -qq --reinstall $missing
    find_missing "${1:-}"
    if [ -n "$missing" ]; then
        echo "Still missing after apt-get:$missing" >&2
        exit 1
    fi
else
    echo "Pinpoint needs system libraries that are not installed:$missing" >&2
    echo "Install them with:  sudo apt-get update && sudo $command" >&2
    exit 1
fi
