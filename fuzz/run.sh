#!/usr/bin/env bash
# Runs every fuzz target (or those named) for SECONDS each with cargo-fuzz (libFuzzer,
# AddressSanitizer) on the nightly toolchain, and prints a table of executions and findings.
#   fuzz/run.sh 600                 # ten minutes per target
#   fuzz/run.sh 60 mime open        # one minute for two targets
# Needs: rustup's nightly toolchain and `cargo install cargo-fuzz`. New inputs go to work/
# (ignored by git); crashes, timeouts and out-of-memory inputs to artifacts/<target>/, to be
# fixed with a test and then copied into corpus/<target>/ as seeds.
set -uo pipefail
cd "$(dirname "$0")"
seconds=${1:?usage: run.sh SECONDS [TARGET...]}; shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(ls fuzz_targets | sed 's/\.rs$//')
cargo +nightly fuzz build -O >/dev/null || exit 1
printf '| target | seconds | executions | exec/s | corpus | findings |\n|---|---|---|---|---|---|\n'
for t in "${targets[@]}"; do
  mkdir -p "work/$t" "artifacts/$t"
  log=$(mktemp)
  # -timeout: an input taking over 10 s is a hang; -rss_limit_mb: over 2 GiB is unbounded growth.
  cargo +nightly fuzz run -O "$t" "work/$t" "corpus/$t" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=1048576 \
    -artifact_prefix="artifacts/$t/" -print_final_stats=1 >"$log" 2>&1
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$')
  corpus=$(ls "work/$t" | wc -l)
  findings=$(ls "artifacts/$t" | wc -l)
  printf '| %s | %s | %s | %s | %s | %s |\n' "$t" "$seconds" "${execs:-?}" "${rate:-?}" "$corpus" "$findings"
  [ "$findings" = 0 ] || grep -m3 -E 'ERROR|panicked|SUMMARY' "$log" | sed 's/^/    /'
  rm -f "$log"
done
