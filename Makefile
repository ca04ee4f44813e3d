# The two commands a newcomer needs:
#   make run   installs what building needs, builds, starts `vigil standalone` with
#              config/vigil.toml on LISTEN (127.0.0.1:8080)
#   make test  installs what is missing, builds with sanitizers, runs every test with ctest
#   make install  builds the release binary and installs it with the configs and the systemd
#                 units (PREFIX=/usr/local, DESTDIR for a staging root; docs/deployment.md)
# The rest are for the developers: bench, lint, format, clean.
.PHONY: run test install bench lint format deps release asan fuzz clean

JOBS ?= $(shell nproc)
CTEST_FLAGS ?= --output-on-failure --timeout 300
# CI turns warnings into errors.
CMAKE_CI_FLAGS := $(if $(CI),-DVIGIL_WERROR=ON,)

# LISTEN=127.0.0.1:9090 serves the dashboard elsewhere. Only what building and running
# need is installed (the test and deploy toolchain comes with `make test`).
LISTEN ?= 127.0.0.1:8080
run:
	scripts/install-deps --run
	cmake --preset release $(CMAKE_CI_FLAGS) >/dev/null
	cmake --build build/release -j $(JOBS)
	./build/release/src/cmd/vigil standalone --config config/vigil.toml --listen $(LISTEN)

test: asan fuzz
	ctest --test-dir build/asan -j $(JOBS) $(CTEST_FLAGS)

PREFIX ?= /usr/local
install:
	scripts/install-deps --run
	cmake --preset release $(CMAKE_CI_FLAGS) -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	cmake --build build/release -j $(JOBS)
	cmake --install build/release --strip

bench: release
	scripts/run-benchmarks

lint: deps
	cmake --preset asan >/dev/null
	run-clang-tidy -p build/asan -quiet 'src/.*\.cc$$'

format:
	git ls-files '*.h' '*.cc' | xargs clang-format -i

deps:
	scripts/install-deps

release: deps
	cmake --preset release $(CMAKE_CI_FLAGS) >/dev/null
	cmake --build build/release -j $(JOBS)

# The clang build: every module compiled with -Wthread-safety (an error), and the fuzz targets,
# which the asan build's ctest runs briefly. Needs clang (installed by install-deps).
fuzz: deps
	cmake --preset fuzz $(CMAKE_CI_FLAGS) >/dev/null
	cmake --build build/fuzz -j $(JOBS)

asan: deps
	cmake --preset asan $(CMAKE_CI_FLAGS) -DVIGIL_FUZZ_BIN_DIR=$(CURDIR)/build/fuzz/tests/fuzz >/dev/null
	cmake --build build/asan -j $(JOBS)

clean:
	rm -rf build
