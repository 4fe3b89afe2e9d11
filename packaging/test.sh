#!/usr/bin/env bash
# Runs every check CI runs: vet, formatting, unit and in-process cluster tests (with the
# race detector on the cluster packages), process-level tests of real binaries, and the
# fuzz targets' seed corpora. Set BANYAN_FUZZTIME=30s to also fuzz each target briefly.
set -euo pipefail
cd "$(dirname "$0")/.."
source packaging/deps.sh
source packaging/libvirtd.sh
banyan_install_deps
banyan_start_libvirtd

echo "== go vet"
go vet ./...
echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi
echo "== race tests (cluster)"
go test -race -count=1 -timeout 15m ./cluster/...
echo "== all tests"
# The box-lab tests of cmd/banyan take about 14 of these minutes on 2 cores.
go test -count=1 -timeout 25m ./...
if [ -n "${BANYAN_FUZZTIME:-}" ]; then
	echo "== fuzz ($BANYAN_FUZZTIME each)"
	for pkg in $(go list ./...); do
		for f in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
			go test -run '^$' -fuzz "^$f\$" -fuzztime "$BANYAN_FUZZTIME" "$pkg"
		done
	done
fi
