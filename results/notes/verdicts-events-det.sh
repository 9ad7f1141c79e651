#!/bin/bash
# Interleaved, one worker (deterministic): the base commit's binary, then this
# branch off, verdicts, events, both; for buckets and fast.
B=/work/wt-events/.build/release/conntrack-bench
BASE=/tmp/ev-base/.build/release/conntrack-bench
cd /tmp/evcost
for r in 1 2 3 4 5; do
  for d in buckets fast; do
    for m in off verdicts events both; do
      bin=$B; extra=()
      case $m in
        base) bin=$BASE;;
        verdicts) extra=(--verdicts v.txt);;
        events) extra=(--events e.txt);;
        both) extra=(--verdicts v.txt --events e.txt);;
      esac
      $bin run --design $d --scenario mix --packets 2000000 --deterministic --hash-seed 1 --no-progress --json r.json "${extra[@]}" > /dev/null
      pps=$(python3 -c "import json;print(json.load(open('r.json'))['packetsPerSecond'])")
      echo "$r $d $m $pps"
      rm -f v.txt e.txt
    done
  done
done
