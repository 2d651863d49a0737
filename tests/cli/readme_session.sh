#!/usr/bin/env bash
# Runs the worked session of README.md's CLI section, so that it cannot go stale:
#   readme_session.sh README.md BIN_DIR SCRATCH_DIR
# The commands between the markers "<!-- cli-session:begin -->" and "<!-- cli-session:end -->"
# (the lines of the ```sh block, without their "$ " prompt) run in order with the installed
# modelreg first on PATH, in an empty scratch directory; the session fails at the first command
# that fails. Afterwards the imported registry must verify healthy and hold what was exported.
set -euo pipefail
readme=$1
bin_dir=$2
scratch=$3

rm -rf "$scratch"
mkdir -p "$scratch"
session=$scratch/session.sh
{
  echo 'set -euo pipefail'
  echo 'set -x'
  sed -n '/<!-- cli-session:begin -->/,/<!-- cli-session:end -->/p' "$readme" |
    sed -n '/^```sh$/,/^```$/p' | sed '/^```/d' | sed 's/^\$ //'
} > "$session"
if [[ $(grep -c '^modelreg' "$session") -lt 8 ]]; then
  echo "readme_session.sh: no CLI session found in $readme" >&2
  exit 1
fi

cd "$scratch"
unset MODELREG_REGISTRY
PATH="$bin_dir:$PATH" bash "$session"

# What the session promised: the copy verifies and has both versions, champion on 2.
PATH="$bin_dir:$PATH"
modelreg --registry "$scratch/copy" verify
modelreg --registry "$scratch/copy" --json show fraud > copy.json
modelreg --registry "$scratch/registry" --json show fraud > original.json
if ! cmp -s copy.json original.json; then
  echo "readme_session.sh: the imported model differs from the exported one" >&2
  diff original.json copy.json >&2 || true
  exit 1
fi
echo "readme_session.sh: the README's CLI session ran and the round trip is exact"
