#!/usr/bin/env bash
#
# test/suites/sanitize.sh - the unit tests and their fuzz loops (the term
# codec and the protocol decoder against mutated and random input) built
# with AddressSanitizer and UndefinedBehaviorSanitizer: make sanitizecheck.
# A bounded run (20000 inputs per fuzz loop); KZ_FUZZ_ITERATIONS=N make
# sanitizecheck runs a longer one.  Prints "N passed, M failed" last.

set -uo pipefail

KZ_ROOT=${KZ_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

make -C "$KZ_ROOT" --no-print-directory sanitizecheck ${PG_CONFIG:+PG_CONFIG=$PG_CONFIG} 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
read -r p f < <(awk '
    match($0, /: [0-9]+ passed, [0-9]+ failed$/) {
        split(substr($0, RSTART + 2), w, " ")
        p += w[1]; f += w[3]
    }
    END { print p + 0, f + 0 }' "$log")
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "sanitize: a program failed (a sanitizer finding or a crash) without a failed check"
    f=1
fi
echo "$p passed, $f failed"
[ "$rc" -eq 0 ]
