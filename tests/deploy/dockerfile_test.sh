#!/usr/bin/env bash
# The container image (deploy/Dockerfile) without a Docker engine (issue #9): its build
# stage must run the tested commands (scripts/install-deps --build, the release preset,
# cmake --install), and its runtime stage must install the Debian package of every shared
# library the vigil binary needs, and nothing it does not need; a non-root user and a
# HEALTHCHECK on /healthz.
# Usage: dockerfile_test.sh SOURCE_DIR VIGIL_BINARY
set -euo pipefail
source_dir="$1"
binary="$2"
dockerfile="$source_dir/deploy/Dockerfile"
fail() { echo "FAIL: $*" >&2; exit 1; }

grep -q '^RUN apt-get update && scripts/install-deps --build' "$dockerfile" ||
  fail "the build stage does not run scripts/install-deps --build"
grep -q 'cmake --preset release ' "$dockerfile" || fail "the build stage does not use the release preset"
grep -q 'cmake --install build/release --strip' "$dockerfile" || fail "the build stage does not cmake --install"
grep -q 'cmake --install build/release --strip' "$source_dir/Makefile" || fail "make install differs from the image's install"
[ "$(grep -c '^FROM debian:12' "$dockerfile")" -eq 2 ] || fail "not two Debian 12 stages"
grep -q '^USER vigil' "$dockerfile" || fail "the image does not run as the vigil user"
grep -A1 '^HEALTHCHECK ' "$dockerfile" | grep -q '/healthz' || fail "no HEALTHCHECK on /healthz"

# The runtime stage's packages: the apt-get install of the last stage.
runtime="$(awk '/^FROM debian:12-slim/{on=1} on' "$dockerfile" |
  sed -n '/apt-get install/,/rm -rf/p' | tr ' \\' '\n\n' | grep -E '^[a-z0-9][a-z0-9.+-]+$' |
  grep -vE '^(apt-get|install|rm|rf|update|ca-certificates|curl)$' | sort -u)"
[ -n "$runtime" ] || fail "no runtime packages found"

# What the binary links, by package (the sanitizer runtimes of a test build aside, and
# what every Debian image has).
needed=""
for lib in $(objdump -p "$binary" | awk '/NEEDED/{print $2}'); do
  case "$lib" in libasan.so* | libubsan.so*) continue ;; esac
  path="$(ldd "$binary" | awk -v l="$lib" '$1 == l {print $3}')"
  [ -n "$path" ] || fail "ldd does not resolve $lib"
  pkg="$(dpkg -S "$path" 2>/dev/null || dpkg -S "/usr$path" 2>/dev/null || dpkg -S "${path#/usr}" 2>/dev/null)" ||
    fail "no package owns $path"
  needed+="${pkg%%:*}"$'\n'
done
needed="$(echo "$needed" | grep -vE '^(libc6|libgcc-s1|libstdc\+\+6)$' | grep . | sort -u)"

missing="$(comm -23 <(echo "$needed") <(echo "$runtime"))"
extra="$(comm -13 <(echo "$needed") <(echo "$runtime"))"
[ -z "$missing" ] || fail "the runtime stage lacks $(echo $missing) (the binary links them)"
[ -z "$extra" ] || fail "the runtime stage installs $(echo $extra), which the binary does not link"
echo "runtime packages: $(echo $runtime)"
echo PASS
