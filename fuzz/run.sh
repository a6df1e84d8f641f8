#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for SECONDS each, from the committed seeds,
# and prints executions and crashes per target. Exits non-zero if any target crashed.
#   fuzz/run.sh 600                 # the 10-minute runs recorded in BENCHMARKS.md
#   fuzz/run.sh 5                   # CI's smoke run: the targets build and run
#   fuzz/run.sh 60 compose sigv4    # some targets
# Needs cargo-fuzz (cargo install cargo-fuzz). Runs with the stable toolchain: no
# sanitizer (-s none), RUSTC_BOOTSTRAP for the coverage flags cargo-fuzz passes.
set -uo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(ecs_json sigv4 query_language compose oci_manifest)
export RUSTC_BOOTSTRAP=1
cargo fuzz build -s none -O || exit 2
failed=0
printf '%-16s %10s %12s %8s %s\n' target seconds executions crashes result
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true
  log="$(mktemp)"
  cargo fuzz run -s none -O "$t" "corpus/$t" -- -max_total_time="$seconds" -print_final_stats=1 \
    -rss_limit_mb=2048 -max_len=65536 >"$log" 2>&1
  status=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  crashes=$(ls artifacts/"$t"/ 2>/dev/null | grep -c -E '^(crash|oom|timeout|leak)-' || true)
  if [ "$status" -eq 0 ]; then result=ok; else result="FAILED (exit $status, see $log)"; failed=1; fi
  printf '%-16s %10s %12s %8s %s\n' "$t" "$seconds" "${execs:-?}" "$crashes" "$result"
  [ "$status" -eq 0 ] && rm -f "$log"
done
exit $failed
