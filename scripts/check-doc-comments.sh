#!/usr/bin/env bash
# Fails when a public declaration of a module has no doc comment (///).
#
# Usage: check-doc-comments.sh [MODULE] (default NN). Builds MODULE in release mode (a
# no-op after `swift build -c release`), extracts its symbol graph from the built module
# with swift-symbolgraph-extract, and lets scripts/undocumented_symbols.py list every
# public or open symbol without a doc comment (file:line: kind name).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
module=${1:-NN}
swift=${SWIFT:-swift}
cd "$root"

if ! log=$("$swift" build -c release --target "$module" 2>&1); then
  echo "$log" >&2
  exit 1
fi
bin=$("$swift" build -c release --show-bin-path)
graphs=$(mktemp -d)
trap 'rm -rf "$graphs"' EXIT

# The C modules NN imports: SwiftPM's generated module maps for the C targets, and the
# system library's own.
clang_flags=()
for map in "$bin"/*.build/module.modulemap Sources/*/module.modulemap; do
  [ -e "$map" ] && clang_flags+=(-Xcc "-fmodule-map-file=$map")
done
for include in Sources/*/include; do
  [ -d "$include" ] && clang_flags+=(-I "$include")
done
target=$("$swift" -print-target-info | python3 -c 'import json, sys; print(json.load(sys.stdin)["target"]["triple"])')

"$(dirname "$(readlink -f "$(command -v "$swift")")")/swift-symbolgraph-extract" \
  -module-name "$module" -target "$target" -I "$bin/Modules" -I "$bin" "${clang_flags[@]}" \
  -minimum-access-level public -skip-synthesized-members -skip-inherited-docs \
  -output-dir "$graphs"
python3 scripts/undocumented_symbols.py "$graphs" "$module"
