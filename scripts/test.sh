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

# Python packages for the redis-py tests (tests/python): redis-py 8 is the client that
# opens every connection with HELLO 3.
install_python_packages() {
    if python3 -c 'import redis, pytest, sys; sys.exit(0 if int(redis.__version__.split(".")[0]) >= 8 else 1)' 2>/dev/null; then
        return 0
    fi
    log "installing redis-py and pytest"
    python3 -m pip install --quiet --disable-pip-version-check "redis>=8,<9" pytest
}

main() {
    install_packages
    install_python_packages
    cd "$REPO_ROOT"
    local tcl=0
    bash scripts/redis-tests.sh --check --debug || tcl=$?
    # The Tcl run built target/debug/lodestone, which the redis-py tests start.
    python3 -m pytest -q tests/python
    # Doc-tests first, so that the output ends with the test binaries' own results.
    cargo test --workspace --doc
    cargo test --workspace --all-targets
    # The Tcl check's findings again, last, where a truncated CI log still shows them.
    cat target/redis-tests/check-report.txt >&2 2>/dev/null || true
    if [ "$tcl" != 0 ]; then
        log "upstream Tcl units regressed (report above; logs in target/redis-tests/logs/)"
        exit "$tcl"
    fi
}

main
