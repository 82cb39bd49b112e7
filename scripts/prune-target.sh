#!/usr/bin/env bash
# Keeps the shared cargo target directory from filling the disk: every change of a test's
# code leaves its previous binary (~200 MB with the AWS SDK linked in) and incremental
# cache behind under a new hash. This deletes all but the newest of each, in debug/.
# scripts/test.sh runs it before building; nothing else in the target directory is touched.
set -euo pipefail
: "${CARGO_TARGET_DIR:=$HOME/.cache/mywp-target}"
debug="$CARGO_TARGET_DIR/debug"
[ -d "$debug" ] || exit 0
python3 - "$debug" <<'PY'
import collections, os, shutil, sys

debug = sys.argv[1]
freed = 0

def newest_only(folder, is_candidate, remove):
    global freed
    if not os.path.isdir(folder):
        return
    groups = collections.defaultdict(list)
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        if is_candidate(path, name):
            groups[name.rsplit("-", 1)[0]].append((os.path.getmtime(path), path))
    for items in groups.values():
        items.sort(reverse=True)
        for _, path in items[1:]:
            freed += remove(path)

def remove_file(path):
    size = os.path.getsize(path)
    os.remove(path)
    return size

def remove_tree(path):
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)
    shutil.rmtree(path, ignore_errors=True)
    return size

# Test and bench executables: no extension, executable.
newest_only(os.path.join(debug, "deps"),
            lambda p, n: os.path.isfile(p) and "." not in n and os.access(p, os.X_OK),
            remove_file)
# Incremental caches: several per crate are live (check, build, test, with and without
# features), so by age: those no build touched for 12 hours.
import time
incremental = os.path.join(debug, "incremental")
if os.path.isdir(incremental):
    for name in os.listdir(incremental):
        path = os.path.join(incremental, name)
        if os.path.isdir(path) and time.time() - os.path.getmtime(path) > 12 * 3600:
            freed += remove_tree(path)
print(f"prune-target: freed {freed / 1e9:.1f} GB", file=sys.stderr)
PY
