#!/usr/bin/env bash
# CPU seconds used by each command name (postgres, estrade, wrk, node, …)
# over the next N seconds, from /proc/*/stat (processes that exit during
# the interval are not counted; those started during it are). Run it
# beside a benchmark to see who
# spends the cores. Usage: bench/cpu_by_process.sh [seconds=5]
set -euo pipefail
seconds=${1:-5}
snapshot() {
  for stat in /proc/[0-9]*/stat; do
    # comm is in parentheses and may hold spaces; utime and stime are
    # fields 14 and 15.
    read -r line < "$stat" 2>/dev/null || continue
    comm=${line#*(}; comm=${comm%%)*}; rest=${line##*) }
    set -- $rest
    echo "${stat//[^0-9]/} $comm $((${12} + ${13}))"
  done
}
before=$(snapshot); sleep "$seconds"; after=$(snapshot)
tick=$(getconf CLK_TCK)
# A process started meanwhile (a pool's new connection) counts from 0.
join -j1 -a2 -e0 -o 0,2.2,1.3,2.3 <(echo "$before" | sort -k1,1) <(echo "$after" | sort -k1,1) \
  | awk -v t="$tick" -v s="$seconds" '{d[$2] += $4 - $3} END {for (c in d) if (d[c] > 0) printf "%-16s %6.2f s  (%4.1f%% of one core)\n", c, d[c] / t, 100 * d[c] / t / s}' \
  | sort -k2 -rn
