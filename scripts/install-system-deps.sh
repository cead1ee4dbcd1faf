#!/usr/bin/env bash
# Install the Debian packages behind lossybench's built-in external codecs, and the
# headless browser the leaderboard page tests run in (chromium, chromium-driver).
#
# Idempotent: does nothing (not even `apt-get update`) when every program is present.
# Never fails the build: without apt-get, root or sudo it prints a warning and exits 0,
# because the codecs that need these programs are simply not registered and their
# tests skip with the reason (as do the browser tests without chromium).
#
# Set LOSSYBENCH_SKIP_SYSTEM_DEPS=1 to skip this step entirely.
set -u

# "debian-package:program program ..." -- the programs that prove the package is there.
PACKAGES=(
    "libjpeg-turbo-progs:cjpeg djpeg"
    "chromium:chromium"
    "chromium-driver:chromedriver"
)

warn() { printf 'install-system-deps: WARNING: %s\n' "$*" >&2; }
info() { printf 'install-system-deps: %s\n' "$*"; }

if [ "${LOSSYBENCH_SKIP_SYSTEM_DEPS:-0}" = "1" ]; then
    info "skipped (LOSSYBENCH_SKIP_SYSTEM_DEPS=1)"
    exit 0
fi

missing_packages() {
    local entry pkg prog
    for entry in "${PACKAGES[@]}"; do
        pkg=${entry%%:*}
        for prog in ${entry#*:}; do
            if ! command -v "$prog" >/dev/null 2>&1; then
                echo "$pkg"
                break
            fi
        done
    done
}

mapfile -t missing < <(missing_packages)
if [ "${#missing[@]}" -eq 0 ]; then
    info "all system packages present (${PACKAGES[*]%%:*})"
    exit 0
fi
info "missing: ${missing[*]}"

if ! command -v apt-get >/dev/null 2>&1; then
    warn "no apt-get on this system; install ${missing[*]} (or the same programs) by hand." \
         "The external codecs that need them stay unregistered and their tests skip."
    exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        # Ask for a password only when someone can type it; never hang in CI.
        if [ -t 0 ]; then SUDO=(sudo); else SUDO=(sudo -n); fi
    else
        warn "not root and no sudo; run as root: apt-get install -y ${missing[*]}." \
             "The external codecs that need them stay unregistered and their tests skip."
        exit 0
    fi
fi

export DEBIAN_FRONTEND=noninteractive
if ! "${SUDO[@]}" apt-get update -qq; then
    warn "apt-get update failed; install ${missing[*]} by hand (apt-get install -y ${missing[*]})."
    exit 0
fi
# One package at a time, so one that this release lacks does not block the others.
for pkg in "${missing[@]}"; do
    if ! "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "$pkg"; then
        warn "apt-get install $pkg failed; install it by hand." \
             "The external codecs (or browser tests) that need it stay unregistered or skip."
    fi
done

mapfile -t still < <(missing_packages)
if [ "${#still[@]}" -ne 0 ]; then
    warn "still missing after apt-get: ${still[*]}"
    exit 0
fi
info "installed: ${missing[*]}"
