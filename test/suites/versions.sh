#!/usr/bin/env bash
#
# test/suites/versions.sh - the release's files agree on one version: the
# Makefile's EXTVERSION is the source, and kz_globals.control, META.json
# (PGXN, valid JSON), debian/changelog, debian/control (generated from
# debian/control.in), CHANGELOG.md and the SQL scripts must match it.  No
# server needed; prints "N passed, M failed" last (a suite of make test;
# also `make versioncheck`).
#
# Environment: KZ_ROOT  the tree (default: the one holding this script)

set -euo pipefail

KZ_ROOT=${KZ_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)}
cd "$KZ_ROOT"

passed=0
failed=0

# check DESCRIPTION COMMAND...: one counted check.
check() {
    local what=$1
    shift
    if "$@"; then
        echo "ok - $what"
        passed=$((passed + 1))
    else
        echo "not ok - $what"
        failed=$((failed + 1))
    fi
}

# same WHAT GOT WANT: GOT must equal WANT.
same() {
    if [ "$2" = "$3" ]; then
        return 0
    fi
    echo "    $1: \"$2\", expected \"$3\"" >&2
    return 1
}

# PGXN wants a semantic version: 1.1 is published as 1.1.0.
semver() {
    case $1 in
        *.*.*) echo "$1" ;;
        *.*) echo "$1.0" ;;
        *) echo "$1.0.0" ;;
    esac
}

version=$(sed -n 's/^EXTVERSION[[:space:]]*=[[:space:]]*\([^[:space:]]*\).*/\1/p' Makefile)
check "Makefile sets EXTVERSION once (\"$version\")" \
    test "$(grep -c '^EXTVERSION[[:space:]]*=' Makefile)" = 1 -a -n "$version"

control=$(sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" kz_globals.control)
check "kz_globals.control default_version is EXTVERSION" \
    same default_version "$control" "$version"

check "sql/kz_globals--$version.sql exists (the fresh install script)" \
    test -f "sql/kz_globals--$version.sql"

# Every earlier version with a full script reaches EXTVERSION through the
# update scripts (what ALTER EXTENSION ... UPDATE follows).
reaches() {
    local from=$1 to=$2 seen=" $1 " frontier=("$1") next f v
    while [ "${#frontier[@]}" -gt 0 ]; do
        next=()
        for v in "${frontier[@]}"; do
            [ "$v" = "$to" ] && return 0
            for f in sql/kz_globals--"$v"--*.sql; do
                [ -e "$f" ] || continue
                f=${f#sql/kz_globals--"$v"--}
                f=${f%.sql}
                case $seen in *" $f "*) continue ;; esac
                seen+="$f "
                next+=("$f")
            done
        done
        frontier=("${next[@]+"${next[@]}"}")
    done
    echo "    no chain of update scripts from $from to $to" >&2
    return 1
}
for f in sql/kz_globals--*.sql; do
    v=${f#sql/kz_globals--}
    v=${v%.sql}
    case $v in *--*) continue ;; esac
    [ "$v" = "$version" ] && continue
    check "version $v updates to $version" reaches "$v" "$version"
done

# META.json: valid JSON, the release's and the extension's version.
meta=$(/usr/bin/python3 -c '
import json, sys
try:
    with open("META.json") as f:
        m = json.load(f)
    p = m["provides"]["kz_globals"]
    print(m["version"], p["version"], p["file"], m["license"])
except (ValueError, KeyError, TypeError) as e:
    print("invalid:", repr(e))
')
check "META.json is valid JSON with the PGXN fields" \
    same META.json "$meta" "$(echo "$meta" | grep -v '^invalid:')"
read -r meta_version meta_provides meta_file meta_license <<<"$meta"
check "META.json version is EXTVERSION ($(semver "$version"))" \
    same version "$meta_version" "$(semver "$version")"
check "META.json provides kz_globals $(semver "$version")" \
    same provides.kz_globals.version "$meta_provides" "$(semver "$version")"
check "META.json provides.kz_globals.file is the fresh install script" \
    same provides.kz_globals.file "$meta_file" "sql/kz_globals--$version.sql"
check "META.json license is postgresql (LICENSE)" \
    same license "$meta_license" postgresql

# debian/changelog: the newest entry's version (a native package: no
# Debian revision; with one, the upstream part before it).
deb=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' debian/changelog)
deb_upstream=${deb%-*}
deb_upstream=${deb_upstream#*:}
check "debian/changelog's newest version ($deb) is EXTVERSION" \
    same debian/changelog "$deb_upstream" "$version"

# debian/control is generated from control.in (pg_buildext updatecontrol):
# the same paragraphs with PGVERSION filled in.
control_matches() {
    local majors
    majors=$(sed -n 's/^Package: postgresql-\([0-9]*\)-kz-globals$/\1/p' debian/control)
    [ -n "$majors" ] || { echo "    debian/control lists no postgresql-NN-kz-globals" >&2; return 1; }
    /usr/bin/python3 - "$majors" <<'PY'
import sys
majors = sys.argv[1].split()
tmpl = open("debian/control.in").read().strip().split("\n\n")
out = []
for para in tmpl:
    if para.startswith("Package:") and "PGVERSION" in para:
        out += [para.replace("PGVERSION", m) for m in majors]
    else:
        out.append(para.replace("PGVERSION", majors[-1]))
if "\n\n".join(out) != open("debian/control").read().strip():
    sys.stderr.write("    debian/control differs from control.in; run pg_buildext updatecontrol\n")
    sys.exit(1)
PY
}
check "debian/control is debian/control.in filled in" control_matches

check "CHANGELOG.md has an entry for $version" \
    grep -q "^## $version\\b" CHANGELOG.md

check "LICENSE is the PostgreSQL License" \
    grep -q 'Permission to use, copy, modify, and distribute this software' LICENSE

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
