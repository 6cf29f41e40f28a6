#!/usr/bin/env bash
# Fails when the public API of NN breaks the API of the last release (api/release).
#
#   check-api-breakage.sh                               compare with the last release
#   check-api-breakage.sh --regenerate VERSION COMMIT   record COMMIT as release VERSION and
#                                                       dump its API to api/baseline/
#
# The comparison is `swift package diagnose-api-breaking-changes` against the committed
# dump api/baseline/<commit>/NN.json (SwiftPM reuses a baseline it finds in --baseline-dir,
# so only the current code is built), with the breaks listed in api/breakage-allowlist.txt
# allowed. See api/README.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
swift=${SWIFT:-swift}
cd "$root"

regenerate=()
if [ "${1:-}" = "--regenerate" ]; then
  [ $# -eq 3 ] || { echo "usage: $0 --regenerate VERSION COMMIT" >&2; exit 2; }
  commit=$(git rev-parse --verify "$3^{commit}")
  printf '%s %s\n' "$2" "$commit" > api/release
  regenerate=(--regenerate-baseline)
fi

read -r version commit < api/release || { echo "error: api/release: expected 'VERSION COMMIT'" >&2; exit 2; }
# A shallow clone (CI) may lack the release commit; SwiftPM needs it to name the baseline.
if ! git cat-file -e "$commit^{commit}" 2>/dev/null; then
  git fetch --quiet --depth=1 origin "$commit" 2>/dev/null || git fetch --quiet --unshallow 2>/dev/null || true
  git cat-file -e "$commit^{commit}" 2>/dev/null || {
    echo "error: api/release: commit $commit of release $version is not in this clone; fetch it (git fetch --unshallow)" >&2
    exit 2
  }
fi
if [ ${#regenerate[@]} -eq 0 ] && [ ! -f "api/baseline/$commit/NN.json" ]; then
  echo "error: api/baseline/$commit/NN.json is missing: run $0 --regenerate $version $commit" >&2
  exit 2
fi

echo "API of NN against release $version ($commit):"
"$swift" package -c release diagnose-api-breaking-changes "$commit" --products NN \
  --baseline-dir api/baseline --breakage-allowlist-path api/breakage-allowlist.txt "${regenerate[@]}"
