#!/usr/bin/env bash
# Acceptance of `lendbook import-django` against the real DRF reference (../shared/reference):
# runs the ignored test crates/lendbook/tests/import_reference.rs on SQLite and on PostgreSQL
# when the reference's virtualenv can be set up; says why and succeeds when it cannot
# (the hand-made Django database test, tests/import_django.rs, still runs without Python).
set -euo pipefail
cd "$(dirname "$0")/.."

REFERENCE="${LENDING_REFERENCE:-../shared/reference}"
if [ ! -f "$REFERENCE/serve.sh" ]; then
    echo "import-reference: no reference at $REFERENCE; skipped"
    exit 0
fi
if ! bash "$REFERENCE/serve.sh" setup; then
    echo "import-reference: the reference's virtualenv cannot be set up; skipped"
    exit 0
fi
export LENDING_REFERENCE="$(cd "$REFERENCE" && pwd)"

echo "== import-django acceptance against the reference, SQLite target"
cargo test -p lendbook --test import_reference -- --ignored

echo "== import-django acceptance against the reference, PostgreSQL target"
DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
    cargo test -p lendbook --test import_reference -- --ignored
