#!/usr/bin/env bash
# WAN lab tests (ctest wanlab_*): each case builds its own lab with scripts/wan-lab under a
# prefix of its own, sends traffic between hosts A and B with wanlab_probe, checks what
# arrived against what dwcp-wanem was told to do and what its counters say, and removes
# the lab on every exit path. Needs root and network namespaces; exits 77 (skip) without.
#
#   lab_test.sh CASE     CASE: rtt loss rate_udp rate_tcp reorder_dup transfer cli
#   environment: DWCP_WANEM (the emulator), WANLAB_PROBE (wanlab_probe)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
lab=$root/scripts/wan-lab
case_name=${1:?usage: lab_test.sh CASE}
probe=${WANLAB_PROBE:?WANLAB_PROBE must name wanlab_probe}
: "${DWCP_WANEM:?DWCP_WANEM must name dwcp-wanem}"
export DWCP_WANEM
port=5201

fail() { echo "FAIL ($case_name): $*" >&2; exit 1; }
# check PYTHON_EXPRESSION MESSAGE: the values are in the environment of the expression.
check() {
  if python3 -c "import sys; sys.exit(0 if ($1) else 1)"; then
    echo "ok: $2"
  else
    fail "$2  [$1]"
  fi
}
# value FILE KEY: a key=value line of a probe's output.
value() { sed -n "s/^$2=//p" "$1" | tail -1; }
# counter DIRECTION NAME: from the emulator's JSON, written when the lab goes down.
counter() {
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]][sys.argv[3]])' \
    "$WANLAB_RUN_DIR/wanem.json" "$1" "$2"
}

if [ "$case_name" = cli ]; then
  # Bad input: one line naming the problem and a distinct exit code, never a crash.
  expect_exit() {
    local want=$1 rc=0 out; shift
    out=$("$@" 2>&1) || rc=$?
    [ "$rc" -eq "$want" ] || fail "'$*' exited $rc, not $want: $out"
    [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || fail "'$*' printed more than one line: $out"
    echo "ok: exit $rc: $out"
  }
  expect_exit 2 "$DWCP_WANEM" nowhere
  expect_exit 2 "$DWCP_WANEM" --if-a x --if-b y --loss 150
  expect_exit 2 "$DWCP_WANEM" --if-a x --if-b y --delay
  expect_exit 2 "$DWCP_WANEM" --if-a x --if-b y --rate 12Q
  expect_exit 2 "$DWCP_WANEM" --if-a x --if-b y --frobnicate 1
  expect_exit 2 "$DWCP_WANEM" lan
  expect_exit 3 "$DWCP_WANEM" --if-a no-such-if0 --if-b no-such-if1
  expect_exit 2 "$lab" frobnicate
  WANLAB_PREFIX='bad/prefix' expect_exit 2 "$lab" status
  "$DWCP_WANEM" --version | grep -q "self-test ok" || fail "--version self-test"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || { echo "SKIP: the WAN lab needs root (network namespaces)"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 77; }

# A prefix per test run: parallel ctest runs and other labs do not collide.
declare -A short=([rtt]=r [loss]=l [rate_udp]=u [rate_tcp]=t [reorder_dup]=o [transfer]=x)
export WANLAB_PREFIX="wt${short[$case_name]:?unknown case $case_name}$(($$ % 100000))"
WANLAB_RUN_DIR=$(mktemp -d /tmp/wanlab-test.XXXXXX)
export WANLAB_RUN_DIR
export WANLAB_DURATION=60  # the emulator stops by itself even if everything else fails
work=$WANLAB_RUN_DIR/work
mkdir -p "$work"
bg_pids=()
cleanup() {
  local pid
  for pid in "${bg_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  "$lab" down >/dev/null 2>&1 || true
  rm -rf "$WANLAB_RUN_DIR"
}
trap cleanup EXIT

# up PROFILE OPTIONS...: a fresh lab (up removes the previous one).
up() {
  local rc=0
  "$lab" up "$@" || rc=$?
  case "$rc" in
    0) ;;
    3|4) echo "SKIP: scripts/wan-lab up exited $rc (no root or no namespace support)"; exit 77 ;;
    *) fail "scripts/wan-lab up $* exited $rc" ;;
  esac
}
down() { "$lab" down >"$work/down.log" 2>&1 || fail "scripts/wan-lab down"; }
on() { local host=$1; shift; timeout 30 "$lab" exec "$host" "$@"; }
# in_background HOST OUTPUT COMMAND...: a server on a host, bounded by its own arguments.
in_background() {
  local host=$1 out=$2; shift 2
  # timeout passes a kill on to the probe ('wan-lab exec' execs it).
  timeout 30 "$lab" exec "$host" "$@" >"$out" 2>&1 &
  bg_pids+=($!)
  sleep 0.3
}
wait_all() {
  local pid
  for pid in "${bg_pids[@]}"; do wait "$pid" || fail "a background probe failed"; done
  bg_pids=()
}

case "$case_name" in
  rtt)
    # Ping-pong RTT against the configured one-way delays: within 5% + 0.5 ms, never below.
    for spec in "10ms 10ms" "30ms 5ms"; do
      read -r a2b b2a <<<"$spec"
      up lan --a2b-delay "$a2b" --b2a-delay "$b2a"
      in_background B "$work/echo" "$probe" udp-echo $port 10
      on A "$probe" udp-ping 10.77.0.2 $port 60 5 >"$work/ping"
      cat "$work/ping"
      export want=$(( (${a2b%ms} + ${b2a%ms}) * 1000 ))
      export median=$(value "$work/ping" rtt_median_us) min=$(value "$work/ping" rtt_min_us)
      export lost=$(value "$work/ping" lost)
      check "abs(float('$median') - $want) <= 0.05 * $want + 500" \
        "median RTT ${median} us vs configured ${want} us ($a2b + $b2a)"
      check "float('$min') >= $want" "no reply faster than the configured delay (min $min us)"
      check "$lost == 0" "no ping lost"
      kill "${bg_pids[@]}" 2>/dev/null || true; bg_pids=()
      down
    done
    ;;
  loss)
    # 10^5 datagrams through random loss, then through Gilbert-Elliott burst loss.
    n=100000
    for spec in "--loss 1% 0.01 dropped_random 4" "--burst-loss 3/3 0.03 dropped_burst 4.8"; do
      read -r option rate p reason dispersion <<<"$spec"
      up lan "$option" "$rate" --seed 7
      in_background B "$work/sink" "$probe" udp-sink $port 500 20
      on A "$probe" udp-blast 10.77.0.2 $port $n 64 200000 >"$work/blast"
      wait_all
      down
      cat "$work/sink"
      export unique=$(value "$work/sink" unique) dropped=$(counter a2b "$reason")
      export packets_in=$(counter a2b packets_in) forwarded=$(counter a2b packets_forwarded)
      # Bursts correlate losses: the variance of the count grows by (1 + rho) / (1 - rho),
      # rho = 1 - p - r (4.8 for mean burst 3 at 3%); 'dispersion' carries that factor.
      bound="4 * ($dispersion * $p * (1 - $p) / $n) ** 0.5"
      check "$packets_in == $n" "the emulator saw all $n datagrams ($packets_in)"
      check "$unique == $forwarded" "the receiver got every forwarded datagram ($unique of $forwarded)"
      check "abs(($n - $unique) / $n - $p) <= $bound" \
        "measured loss $(python3 -c "print(($n - $unique) / $n)") vs configured $p ($option $rate)"
      check "abs($dropped / $n - $p) <= $bound" "emulator $reason $dropped of $n"
    done
    ;;
  rate_udp)
    # UDP offered at twice the rate: what arrives is the rate, counted in frame bytes.
    up lan --rate 100M --delay 1ms
    in_background B "$work/sink" "$probe" udp-sink $port 300 20
    on A "$probe" udp-blast 10.77.0.2 $port 25000 1472 16000 >"$work/blast"
    wait_all
    down
    cat "$work/sink"
    export received=$(value "$work/sink" unique) seconds=$(value "$work/sink" seconds)
    export wire="($received - 1) * (1472 + 42) * 8 / $seconds"
    check "abs($wire / 100e6 - 1) <= 0.05" \
      "UDP at the receiver: $(python3 -c "print(round($wire / 1e6, 2))") Mbit/s on the wire vs 100 Mbit/s"
    check "$(counter a2b dropped_queue) > 0" "the excess was dropped at the queue"
    ;;
  rate_tcp)
    # One TCP flow through the same link: its goodput, as frame bytes, is the rate.
    up lan --rate 100M --delay 2ms
    in_background B "$work/sink" "$probe" tcp-sink $port 20 500
    on A "$probe" tcp-send 10.77.0.2 $port 30000000 >"$work/send"
    wait_all
    down
    cat "$work/send" "$work/sink"
    export goodput=$(value "$work/sink" goodput_bps) mss=$(value "$work/send" mss)
    # Full-sized segments: MSS payload in a 1514-byte frame (headers and TCP options).
    export wire="$goodput * 1514 / $mss"
    check "abs($wire / 100e6 - 1) <= 0.05" \
      "TCP goodput $(python3 -c "print(round($goodput / 1e6, 2))") Mbit/s = $(python3 -c "print(round($wire / 1e6, 2))") Mbit/s on the wire vs 100 Mbit/s"
    check "'$(value "$work/send" hash)' == '$(value "$work/sink" hash)'" "the stream arrived intact"
    ;;
  reorder_dup)
    # What the receiver sees overtaken and twice equals what the emulator reordered and
    # duplicated.
    # A 20 ms hold: hundreds of later datagrams overtake each held one, even when the sender
    # stalls for a few milliseconds on a busy machine.
    up lan --delay 1ms --a2b-reorder 5% --a2b-reorder-delay 20ms --a2b-duplicate 2% --seed 3
    in_background B "$work/sink" "$probe" udp-sink $port 300 20
    on A "$probe" udp-blast 10.77.0.2 $port 20000 200 20000 >"$work/blast"
    wait_all
    down
    cat "$work/sink"
    export late=$(value "$work/sink" late) dups=$(value "$work/sink" duplicates)
    export reordered=$(counter a2b reordered) duplicated=$(counter a2b duplicated)
    check "$(value "$work/sink" unique) == 20000" "every datagram arrived"
    check "$dups == $duplicated" "duplicates at the receiver $dups = emulator's $duplicated"
    # The last datagram, if held back, has nothing behind it to overtake it.
    check "$reordered - 1 <= $late <= $reordered" "late at the receiver $late = emulator's $reordered"
    check "abs($reordered / 20000 - 0.05) < 0.01 and abs($duplicated / 20000 - 0.02) < 0.006" \
      "rates near the configured 5% and 2%"
    ;;
  transfer)
    # Byte-exact at 0% loss, over the metro profile (10 ms RTT, 1 Gbit/s).
    up metro
    in_background B "$work/tsink" "$probe" tcp-sink $port 20 0
    on A "$probe" tcp-send 10.77.0.2 $port 20000000 >"$work/tsend"
    wait_all
    in_background B "$work/usink" "$probe" udp-sink $((port + 1)) 300 20
    on A "$probe" udp-blast 10.77.0.2 $((port + 1)) 20000 1200 20000 >"$work/ublast"
    wait_all
    down
    cat "$work/tsend" "$work/tsink" "$work/ublast" "$work/usink"
    check "$(value "$work/tsink" bytes) == 20000000" "TCP: all 20,000,000 bytes arrived"
    check "'$(value "$work/tsend" hash)' == '$(value "$work/tsink" hash)'" "TCP: hashes match"
    check "$(value "$work/usink" unique) == 20000 and $(value "$work/usink" bad) == 0" \
      "UDP: all 20,000 datagrams arrived, none damaged"
    check "'$(value "$work/ublast" hash)' == '$(value "$work/usink" hash)'" "UDP: hashes match"
    ;;
  *) fail "unknown case" ;;
esac
echo "PASS ($case_name)"
