#!/usr/bin/env bash
# Install the Debian packages the test suite needs beyond Python, if they are missing.
#
#   tools/system-packages.sh            (run by `make test` through `make system`)
#
# Chromium, for tests/host/test_logger_browser.py: Playwright drives Debian's own build
# (/usr/bin/chromium) rather than a browser it downloads, since nothing but the package
# registries can be reached from CI. Valgrind, whose callgrind counts the instructions of the
# MicroPython Unix port for `icpurse bench transfer --instructions` and its smoke test. Node.js
# and npm, which run the core tests on the WebAssembly MicroPython (tools/wasm, `make wasm`).
# When everything is installed this only asks dpkg, so it costs a few milliseconds. As root
# (CI) a missing package is installed with apt-get; anyone else is told what to install and the
# script carries on, so that `make test` still runs: the tests that need the package then skip
# with that reason, except under CI, where they fail.
set -euo pipefail

# Each package with the command it provides.
packages=(chromium valgrind)
commands=(chromium valgrind)

missing=()
for i in "${!packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "${packages[$i]}" 2>/dev/null || true)
    if [[ $status != "install ok installed" ]] || ! command -v "${commands[$i]}" >/dev/null; then
        missing+=("${packages[$i]}")
    fi
done
# Node.js and npm, which run the core tests on the WebAssembly MicroPython (tools/wasm). Any
# node and npm on PATH will do: a machine may have Node.js from elsewhere than Debian (whose
# own nodejs package then conflicts with Debian's npm), so only a missing command asks for
# Debian's packages.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    missing+=(nodejs npm)
fi
if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    echo "note: the Debian packages ${missing[*]} are missing; the tests that need them skip." >&2
    echo "      Install them with: sudo apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 0
fi

echo "installing the Debian packages ${missing[*]} for the tests"
export DEBIAN_FRONTEND=noninteractive
# The package lists of a fresh machine are empty or old: update them only now that an install
# is needed, since an update takes longer than everything else this script does.
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
