#!/bin/bash
# 1,000,000 connections the way issue 13 measured them: 63 wsloop processes
# (the README's settings for a million), bench's epoll client (wsload)
# started 4 processes at a time, each opening 19,000 connections from 2
# source addresses with 256 upgrades in flight, the next 4 once those are
# all up; then a 30 s hold. Needs root for the sysctls, which it restores.
# Run from the bench directory: bash scripts/million-stepped.sh (extra
# wsloop flags in WSLOOP_FLAGS)
set -u
PORT=9800
declare -A OLD
for kv in "fs.file-max=4000000" "fs.nr_open=1048576" "net.core.somaxconn=65535" "net.ipv4.tcp_max_syn_backlog=65535" "net.ipv4.ip_local_port_range=1024 65535" "net.ipv4.tcp_migrate_req=1"; do
  k=${kv%%=*}; v=${kv#*=}; OLD[$k]=$(sysctl -n $k); sysctl -q -w "$k=$v"
done
restore() { for k in "${!OLD[@]}"; do sysctl -q -w "$k=${OLD[$k]}"; done; }
BIN=$(mktemp -d)
OUT=$BIN/out && mkdir -p $OUT
SRV=(); LOADS=(); declare -A PIDS
cleanup() { kill "${LOADS[@]}" "${SRV[@]}" 2>/dev/null; wait 2>/dev/null; restore; rm -rf "$BIN"; }
trap cleanup EXIT
go build -o $BIN/wsloop ../cmd/wsloop && go build -o $BIN/wsload ./cmd/wsload || exit 1
for i in $(seq 0 62); do
  $BIN/wsloop -log-level warn -reuseport -loops 1 -workers 1 -ping-interval -1s -keepalive 2m ${WSLOOP_FLAGS:-} -addr 127.0.0.1:$PORT >$OUT/srv$i.log 2>&1 &
  SRV+=($!)
done
for t in $(seq 100); do n=$(ss -Hltn "sport = :$PORT" | wc -l); [ "$n" -ge 63 ] && break; sleep 0.1; done
echo "listeners: $n"
rss0=0; for p in "${SRV[@]}"; do r=$(awk '/VmRSS/{print $2}' /proc/$p/status); rss0=$((rss0+r)); done
start=$(date +%s.%N)
left=1000000; i=0
while [ $left -gt 0 ]; do
  batch=()
  for k in 1 2 3 4; do
    [ $left -le 0 ] && break
    n=$(( left < 19000 ? left : 19000 )); left=$((left-n))
    $BIN/wsload -addr 127.0.0.1:$PORT -mode idle -conns $n -src 127.$((20+i)).0.1 -src-count 2 -connect-inflight 256 -connect-timeout 30s -hold 300s -watch-stdin=false -json </dev/null >$OUT/load$i.out 2>$OUT/load$i.err &
    LOADS+=($!); PIDS[$i]=$!; batch+=($i); i=$((i+1))
  done
  for b in "${batch[@]}"; do
    until grep -q '^READY' $OUT/load$b.out 2>/dev/null; do
      kill -0 ${PIDS[$b]} 2>/dev/null || { echo "load $b exited: $(cat $OUT/load$b.err)"; exit 1; }
      sleep 0.05
    done
  done
done
end=$(date +%s.%N)
ok=0; failed=0
for f in $OUT/load*.out; do read -r _ o fl _ < <(grep '^READY' $f); ok=$((ok+o)); failed=$((failed+fl)); done
echo "established $ok, failed $failed, in $(python3 -c "print('%.1f'%($end-$start))") s"
sleep 30
est=$(ss -Htn state established "sport = :$PORT" | wc -l)
rss1=0; for p in "${SRV[@]}"; do r=$(awk '/VmRSS/{print $2}' /proc/$p/status); rss1=$((rss1+r)); done
alive=0; for p in "${SRV[@]}"; do kill -0 $p 2>/dev/null && alive=$((alive+1)); done
echo "after a 30 s hold: $est established on the server side; $alive of 63 servers alive; server RSS $((rss0/1024)) MiB -> $((rss1/1024)) MiB, marginal $(( (rss1-rss0)*1024/ok )) B/conn"
