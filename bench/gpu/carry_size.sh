#!/bin/bash
# What one device call carries (limit 64 MiB): the git working tree that travels (tracked files
# and untracked files that git does not ignore) plus the carried paths (CARRY_PATHS).
set -euo pipefail
cd "$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
CARRY_PATHS=${CARRY_PATHS:-".gpu model_repository/unet/1/model.onnx"}
bytes() { if [ $# -eq 0 ]; then echo 0; else du -cb "$@" 2>/dev/null | tail -1 | cut -f1; fi; }
mapfile -t tracked < <(git ls-files -z | xargs -0 -r ls -d 2>/dev/null || true)
mapfile -t untracked < <(git ls-files -z --others --exclude-standard | xargs -0 -r ls -d 2>/dev/null || true)
t=$(bytes "${tracked[@]}"); u=$(bytes "${untracked[@]}"); total=$((t + u))
printf '%-40s %12s\n' "git tracked files (${#tracked[@]})" "$t" "untracked, not ignored (${#untracked[@]})" "$u"
for p in $CARRY_PATHS; do
  if [ -e "$p" ]; then b=$(bytes "$p"); else b=0; echo "warning: carried path $p is missing" >&2; fi
  printf '%-40s %12s\n' "carry: $p" "$b"; total=$((total + b))
done
limit=$((64 * 1024 * 1024))
printf '%-40s %12s  (%.1f MiB of 64 MiB, %.1f MiB to spare)\n' total "$total" \
  "$(echo "$total / 1048576" | bc -l)" "$(echo "($limit - $total) / 1048576" | bc -l)"
[ "$total" -le "$limit" ] || { echo "OVER the 64 MiB limit of one device call" >&2; exit 1; }
