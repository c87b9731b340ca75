#!/usr/bin/env bash
# Runs every test on a fresh machine: installs what the tests need (Debian packages;
# skipped when already present), runs the upstream Tcl units against Lodestone in
# regression mode, then the whole Rust workspace's tests (their output comes last:
# doc-tests, then every test target).
#
#   bash scripts/test.sh
#
# Both use the debug profile so there is one build: the workspace tests start the
# same target/debug/lodestone that the Tcl units run against.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

# Debian packages the tests need, each with a file that shows it is installed.
PACKAGES=(
    "redis-server:/usr/bin/redis-server"
    "redis-tools:/usr/bin/redis-cli"
    "tcl:/usr/bin/tclsh"
    "procps:/usr/bin/ps"
    "util-linux:/usr/bin/taskset"
)

install_packages() {
    local missing=() entry
    for entry in "${PACKAGES[@]}"; do
        [ -e "${entry#*:}" ] || missing+=("${entry%%:*}")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y "${missing[@]}"
}

main() {
    install_packages
    cd "$REPO_ROOT"
    local tcl=0
    bash scripts/redis-tests.sh --check --debug || tcl=$?
    # Doc-tests first, so that the output ends with the test binaries' own results.
    cargo test --workspace --doc
    cargo test --workspace --all-targets
    if [ "$tcl" != 0 ]; then
        log "upstream Tcl units regressed (see above; logs in target/redis-tests/logs/)"
        exit "$tcl"
    fi
}

main
