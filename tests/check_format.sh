#!/usr/bin/env bash
# check_format.sh SOURCE_DIR - fail when a C file of the project does not follow .clang-format.
set -euo pipefail
cd "$1"
bad=0
while IFS= read -r f; do
    if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
        echo "not clang-formatted: $f (run: clang-format -i $f)"
        bad=1
    fi
done < <(find storage server agentd api tests fuzz -name '*.[ch]' -not -path '*/build*' | sort)
exit $bad
