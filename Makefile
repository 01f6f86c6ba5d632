# The two commands the README promises, and what they need.
.PHONY: deps build example test conformance bench

# Debian/Ubuntu packages the test suite uses: real Nix (the oracle for
# differential tests), busybox-static (builder of test derivations),
# GNU time and bc (benchmarks), util-linux (unshare), iproute2.
deps:
	@if command -v apt-get >/dev/null; then \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq nix-bin busybox-static time bc util-linux iproute2 git >/dev/null; \
	fi

# onix is one static binary: no cgo (the store's SQLite is pure Go), so no
# dynamic loader either (which also makes each build's sandbox init start
# faster). Exported, so the binaries tests build are static too.
export CGO_ENABLED = 0

build:
	go build -o onix ./cmd/onix

# The main job on the built-in example: evaluate a NixOS-style configuration.
example: build
	./onix eval -f examples/default.nix config --json

# The whole test suite. Tests that need nix-bin, root or namespaces run here
# too; each one that cannot run says why.
test:
	go vet ./...
	go test -count=1 -timeout 40m ./...

# The official Nix language suite and the nixpkgs lib tests (need ../shared and
# the upstream suites; see conformance/README.md).
conformance: build
	bash conformance/run.sh

bench: build
	bash bench/eval.sh
