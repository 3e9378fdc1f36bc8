#!/usr/bin/env bash
#
# demo/run.sh - what `make demo` runs.  As root (or a user with sudo) on a
# fresh Debian 12: install missing packages, build and install kz_globals,
# then, as an unprivileged user in a private copy of the tree, start a
# throwaway RabbitMQ and three PostgreSQL servers, show the registry at
# work across them (demo/demo.sh), and stop everything again.

set -euo pipefail

# shellcheck source=test/harness/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../test/harness/common.sh"

kz_run_privately "running the demo" demo/demo.sh
