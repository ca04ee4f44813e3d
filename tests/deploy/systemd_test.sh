#!/usr/bin/env bash
# `make install` and the systemd units (issue #9): installs the build into a staging root
# (DESTDIR), checks the layout, that the installed configs validate, that the vigil user
# is created, that a second install keeps an edited config, and that every unit passes
# `systemd-analyze verify` without a single warning and `systemd-analyze security` rates
# its exposure 2.5 or lower ("OK").
# Usage: systemd_test.sh BUILD_DIR
set -euo pipefail
build="$1"
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cache() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }
prefix="$(cache CMAKE_INSTALL_PREFIX)"
config_dir="$(cache VIGIL_CONFIG_DIR)"
unit_dir="$(cache VIGIL_SYSTEMD_UNIT_DIR)"
sysusers_dir="$(cache VIGIL_SYSUSERS_DIR)"

DESTDIR="$root" cmake --install "$build" > "$root.log" 2>&1 || { cat "$root.log"; fail "install"; }
rm -f "$root.log"
binary="$root$prefix/bin/vigil"
[ -x "$binary" ] || fail "no executable $binary"
for f in vigil.toml agent.toml coordinator.toml datamanager.toml web.toml vigil.env.example; do
  [ -f "$root$config_dir/$f" ] || fail "no $config_dir/$f"
done
for f in vigil.toml agent.toml coordinator.toml datamanager.toml web.toml; do
  "$binary" check-config "$root$config_dir/$f" > /dev/null || fail "$f does not validate"
done
# The user the units run as, made the way the install makes it (systemd-sysusers).
systemd-sysusers --root="$root" "$root$sysusers_dir/vigil.conf" > /dev/null 2>&1 ||
  fail "systemd-sysusers rejects sysusers.d/vigil.conf"
grep -q '^vigil:x:[0-9]*:[0-9]*:.*:/var/lib/vigil:/usr/sbin/nologin$' "$root/etc/passwd" ||
  fail "sysusers.d/vigil.conf makes no vigil system user without a login"

# An upgrade keeps the admin's config.
echo "# edited by the admin" >> "$root$config_dir/vigil.toml"
DESTDIR="$root" cmake --install "$build" > /dev/null
grep -q "edited by the admin" "$root$config_dir/vigil.toml" || fail "install overwrote an edited config"

# systemd checks that ExecStart's binary exists: point the copies at the staged one.
mkdir "$root/verify"
for role in standalone sensor coordinator datamanager web ruler; do
  unit="$root$unit_dir/vigil-$role.service"
  [ -f "$unit" ] || fail "no $unit_dir/vigil-$role.service"
  grep -q "^ExecStart=$prefix/bin/vigil $role " "$unit" || fail "vigil-$role.service does not run vigil $role"
  for key in User=vigil ProtectSystem=strict NoNewPrivileges=yes ReadWritePaths=/var/lib/vigil \
             KillSignal=SIGTERM Restart=on-failure; do
    grep -qx "$key" "$unit" || fail "vigil-$role.service lacks $key"
  done
  sed "s|^ExecStart=$prefix/bin/vigil|ExecStart=$binary|" "$unit" > "$root/verify/vigil-$role.service"
done
cd "$root/verify"
for unit in vigil-*.service; do
  out="$(systemd-analyze verify "./$unit" 2>&1)" || fail "$unit: systemd-analyze verify: $out"
  [ -z "$out" ] || fail "$unit: systemd-analyze verify warns: $out"
  # --threshold is the exposure times ten.
  systemd-analyze security --offline=yes --threshold=25 "./$unit" > security.txt 2>&1 ||
    { cat security.txt; fail "$unit: exposure above 2.5"; }
  echo "$unit: $(tail -1 security.txt | sed 's/.*: //')"
done
echo PASS
