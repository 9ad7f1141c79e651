#!/bin/bash
# Interleaved: for each repeat, each design, each mode in turn.
B=/work/wt-events/.build/release/conntrack-bench
cd /tmp/evcost
for r in 1 2 3 4 5; do
  for d in buckets fast; do
    for m in off verdicts events both; do
      extra=()
      case $m in
        verdicts) extra=(--verdicts v.txt);;
        events) extra=(--events e.txt);;
        both) extra=(--verdicts v.txt --events e.txt);;
      esac
      s=$(date +%s.%N)
      $B run --design $d --scenario mix --packets 2000000 --threads 2 --hash-seed 1 --no-progress --json r.json "${extra[@]}" > /dev/null
      e=$(date +%s.%N)
      pps=$(python3 -c "import json;print(json.load(open('r.json'))['packetsPerSecond'])")
      vb=$(stat -c %s v.txt 2>/dev/null || echo 0); eb=$(stat -c %s e.txt 2>/dev/null || echo 0)
      echo "$r $d $m $pps $(echo "$e - $s" | bc) $vb $eb"
      rm -f v.txt e.txt
    done
  done
done
