#!/usr/bin/env bash
# Usage: tools/stage.sh NAME COMMAND...  — runs one stage of `make test` and prints its time.
name=$1; shift
start=$(date +%s)
echo "=== stage: $name ==="
"$@"; rc=$?
echo "=== stage: $name: $(( $(date +%s) - start )) s (exit $rc) ==="
exit $rc
