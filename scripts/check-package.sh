#!/usr/bin/env bash
# What a user does with the package, end to end: pack it, install it globally into a fresh prefix
# (the install script builds the native kernels), then, in an empty working directory, run
# `mmctr --help`, `mmctr demo` and `mmctr serve` (one POST /v1/rank). Fails if an install prints
# EBADENGINE, if a command fails, or if anything is written inside the installed package folder.
# Prints the tarball size, the installed size and the install and demo times.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/mmctr-package-XXXXXX")"
server=""
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then kill "$server"; wait "$server" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "check-package: $*" >&2; exit 1; }
seconds() { echo $(( $(date +%s) - $1 )); }

cd "$repo"
npm pack --silent --pack-destination "$work" >/dev/null
tgz="$(echo "$work"/mmctr-*.tgz)"
[ -f "$tgz" ] || fail "npm pack wrote no tarball into $work"

prefix="$work/prefix"
t0=$(date +%s)
# npm 11 runs a dependency's install script only when allowed by name (a tarball by its path).
npm install -g --prefix "$prefix" --no-audit --no-fund --allow-scripts="hnswlib-node,$tgz" "$tgz" >"$work/install.log" 2>&1 \
  || { cat "$work/install.log" >&2; fail "npm install -g failed"; }
install_s=$(seconds "$t0")
if grep -q EBADENGINE "$work/install.log"; then grep -A4 EBADENGINE "$work/install.log" >&2; fail "a dependency does not support this Node $(node --version)"; fi
pkg="$prefix/lib/node_modules/mmctr"
mmctr="$prefix/bin/mmctr"
[ -f "$pkg/build/Release/mmctr_native.node" ] || fail "the install script did not build the native kernels ($pkg/build/Release)"

# The package folder as installed: any file added, removed or modified later is a write into it.
find "$pkg" | sort >"$work/before.txt"
touch "$work/stamp"

wd="$work/wd"
mkdir "$wd"
cd "$wd"
"$mmctr" --help >/dev/null || fail "mmctr --help failed"
[ "$("$mmctr" --version)" = "$(node -p "require('$pkg/package.json').version")" ] || fail "mmctr --version is not the package version"
"$mmctr" config check "$pkg/configs/movielens-din.json" >/dev/null || fail "mmctr config check of a bundled config failed"

t0=$(date +%s)
"$mmctr" demo >"$work/demo.log" 2>&1 || { tail -30 "$work/demo.log" >&2; fail "mmctr demo failed"; }
demo_s=$(seconds "$t0")
[ -d "$wd/runs/demo" ] || fail "mmctr demo wrote no runs/demo in the working directory"

port="$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
"$mmctr" serve --port "$port" --log-level warn >"$work/serve.log" 2>&1 &
server=$!
t0=$(date +%s)
until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; fail "mmctr serve exited before it was ready"; }
  [ "$(seconds "$t0")" -lt 300 ] || fail "mmctr serve was not ready within 300 s"
  sleep 1
done
serve_s=$(seconds "$t0")
status="$(curl -s -o "$work/rank.json" -w '%{http_code}' "http://127.0.0.1:$port/v1/rank" -H 'content-type: application/json' \
  -d '{"behaviours": ["b0001", "b0005"], "candidates": ["b0002", "b0003", "b0150"]}')"
[ "$status" = 200 ] || { cat "$work/rank.json" >&2; fail "POST /v1/rank answered $status"; }
node -e '
const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const ok = r.items?.length === 3 && r.items.every((i) => Number.isFinite(i.pctr) && i.pctr > 0 && i.pctr < 1);
if (!ok) { console.error("check-package: /v1/rank gave no 3 scores:", JSON.stringify(r)); process.exit(1); }' "$work/rank.json"
kill "$server"
wait "$server" || true
server=""
[ -f "$wd/runs/serve-default/serve.json" ] || fail "the serve default was not built under the working directory ($wd/runs/serve-default)"

find "$pkg" | sort >"$work/after.txt"
changed="$( (diff "$work/before.txt" "$work/after.txt" || true; find "$pkg" -newer "$work/stamp") | head -20)"
[ -z "$changed" ] || fail "written inside the installed package $pkg:"$'\n'"$changed"

echo "check-package: ok (Node $(node --version), npm $(npm --version))"
echo "  tarball      $(du -h "$tgz" | cut -f1) ($(tar tzf "$tgz" | wc -l) files)"
echo "  installed    $(du -sh "$prefix" | cut -f1) in ${install_s} s (npm install -g, native kernels and hnswlib-node built)"
echo "  mmctr demo   ${demo_s} s"
echo "  mmctr serve  ready in ${serve_s} s (the default model built once), POST /v1/rank 200"
