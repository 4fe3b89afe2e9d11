#!/usr/bin/env bash
# Builds banyan and runs a single-node cloud with its data in ./banyan-data.
# Extra arguments go to `banyan server` (for example --bind 0.0.0.0).
set -euo pipefail
cd "$(dirname "$0")/.."
source packaging/deps.sh
source packaging/libvirtd.sh
banyan_install_deps
banyan_start_libvirtd
go build -o bin/banyan ./cmd/banyan
exec bin/banyan server "$@"
