#!/usr/bin/env bash
# Tests scripts/undocumented_symbols.py on two fixtures, so the doc-comment check is known
# to be able to fail: Undocumented.swift must be refused with exactly its lines marked BAD
# listed, Documented.swift accepted. Each fixture is compiled alone with swiftc (about a
# second), then its symbol graph is extracted with the flags check-doc-comments.sh uses.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
fixtures="$root/scripts/tests/doc-comments"
swift=${SWIFT:-swift}
bindir=$(dirname "$(readlink -f "$(command -v "$swift")")")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# check FIXTURE: compiles it as module Fixture, prints the checker's output, returns its status.
check() {
  local dir="$work/$1"
  mkdir -p "$dir/graphs"
  "$bindir/swiftc" -emit-module -parse-as-library -module-name Fixture \
    -emit-module-path "$dir/Fixture.swiftmodule" "$fixtures/$1.swift"
  "$bindir/swift-symbolgraph-extract" -module-name Fixture -I "$dir" -output-dir "$dir/graphs" \
    -target "$("$swift" -print-target-info | python3 -c 'import json, sys; print(json.load(sys.stdin)["target"]["triple"])')" \
    -minimum-access-level public -skip-synthesized-members -skip-inherited-docs
  python3 "$root/scripts/undocumented_symbols.py" "$dir/graphs" Fixture
}

status=0
if out=$(check Undocumented 2>&1); then
  echo "FAIL: the check accepted Undocumented.swift:" >&2; echo "$out" >&2; status=1
else
  expected=$(grep -n '// BAD' "$fixtures/Undocumented.swift" | cut -d: -f1)
  found=$(echo "$out" | grep -o 'Undocumented.swift:[0-9]*:' | cut -d: -f2 | sort -n)
  if [ "$expected" != "$found" ]; then
    echo "FAIL: Undocumented.swift: expected lines $(echo $expected), the check listed $(echo $found):" >&2
    echo "$out" >&2; status=1
  fi
fi
if ! out=$(check Documented 2>&1); then
  echo "FAIL: the check refused Documented.swift:" >&2; echo "$out" >&2; status=1
fi
[ $status -eq 0 ] && echo "doc-comment check: refuses all $(echo "$expected" | wc -l) undocumented declarations of the fixture, accepts the documented one"
exit $status
