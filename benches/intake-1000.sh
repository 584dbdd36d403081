#!/usr/bin/env bash
# The intake benchmark: 1,000 mixed messages in the Maildirs, ONE `portal intake --once`,
# timed with GNU time: messages per second and peak memory (maximum resident set size).
#
# Target (from the issue): at least 200 messages/s with every flush in place, and a
# peak RSS under 150 MiB.
#
# Usage: benches/intake-1000.sh [COUNT] [PROVIDERS]
#   COUNT      messages to mail (default 1000)
#   PROVIDERS  registered providers sending the complaints (default 40: each stays
#              under the daily notice limit of 20)
#   KEEP=1     keep the temporary folder (store, Maildirs, outbox, logs) for a look
#
# What it does:
#   1. cargo build --release (the binary and examples/intake_bench_setup.rs);
#   2. makes a temporary config like the tests' Mailroom: Maildirs, a file-transport
#      outbox and the store in a temporary folder, templates from the repository;
#   3. registers the providers: mails their registration forms, runs a pass, approves
#      each with `portal registrations approve REG-… --by bench`;
#   4. mails the mix (see examples/intake_bench_setup.rs): good complaints of 1–20
#      lines, too-early ones, registrations, inquiries, auto-replies, plain messages
#      that get the help notice, senders who are not registered;
#   5. times ONE `portal intake --once` with /usr/bin/time -v (Debian package `time`;
#      installed with apt-get when missing) and prints messages/s and the peak RSS.
#
# Nothing is turned off for speed: the store is flushed (fsync) as in production, each
# Maildir move is synced, and every notice is written by the file transport.

set -euo pipefail

COUNT="${1:-1000}"
PROVIDERS="${2:-40}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

if [[ ! -x /usr/bin/time ]]; then
    echo "installing GNU time (Debian package time)" >&2
    apt-get install -y time >/dev/null
fi

cargo build --release --quiet --bin portal --example intake_bench_setup
PORTAL="$ROOT/target/release/portal"
SETUP="$ROOT/target/release/examples/intake_bench_setup"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/intake-bench.XXXXXX")"
if [[ "${KEEP:-0}" != 1 ]]; then
    trap 'rm -rf "$WORK"' EXIT
else
    echo "keeping $WORK"
fi
CONFIG="$WORK/portal.toml"

# Registration: forms mailed, one pass, each approved by staff.
"$SETUP" "$WORK" config "$PROVIDERS"
"$PORTAL" --config "$CONFIG" intake --once 2>"$WORK/register.log"
mapfile -t REGISTRATIONS < <("$PORTAL" --config "$CONFIG" registrations list 2>/dev/null | grep -o 'REG-[0-9]\{4\}-[0-9]\{6\}' | sort -u)
if [[ "${#REGISTRATIONS[@]}" -ne "$PROVIDERS" ]]; then
    echo "expected $PROVIDERS registrations, found ${#REGISTRATIONS[@]}" >&2
    exit 1
fi
for id in "${REGISTRATIONS[@]}"; do
    "$PORTAL" --config "$CONFIG" registrations approve "$id" --by bench >/dev/null 2>>"$WORK/register.log"
done
echo "approved ${#REGISTRATIONS[@]} registration(s)"

# The mix, then the one timed pass.
"$SETUP" "$WORK" mail "$COUNT" "$PROVIDERS"
sync
NOTICES_BEFORE="$(find "$WORK/outbox" -name '*.eml' | wc -l)"
set +e
/usr/bin/time -v -o "$WORK/time.txt" "$PORTAL" --config "$CONFIG" intake --once >"$WORK/pass.txt" 2>"$WORK/pass.log"
STATUS=$?
set -e
cat "$WORK/pass.txt"
if [[ "$STATUS" -gt 1 ]]; then
    echo "portal intake --once failed with exit $STATUS" >&2
    tail -20 "$WORK/pass.log" >&2
    exit 1
fi
LEFT="$(find "$WORK/mail/intake/new" "$WORK/mail/intake/cur" "$WORK/mail/inquiries/new" "$WORK/mail/inquiries/cur" -type f | wc -l)"
NOTICES="$(( $(find "$WORK/outbox" -name '*.eml' | wc -l) - NOTICES_BEFORE ))"

# GNU time prints "Elapsed (wall clock) time (h:mm:ss or m:ss): 0:04.21".
WALL="$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$WORK/time.txt")"
RSS_KB="$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$WORK/time.txt")"
USER_S="$(awk -F': ' '/User time/ { print $2 }' "$WORK/time.txt")"
SYS_S="$(awk -F': ' '/System time/ { print $2 }' "$WORK/time.txt")"
CPU="$(awk -F': ' '/Percent of CPU/ { print $2 }' "$WORK/time.txt")"

awk -v count="$COUNT" -v wall="$WALL" -v rss="$RSS_KB" -v user="$USER_S" -v sys="$SYS_S" -v cpu="$CPU" \
    -v left="$LEFT" -v notices="$NOTICES" -v load="$(cut -d' ' -f1-3 /proc/loadavg)" -v cores="$(nproc)" 'BEGIN {
    rate = count / wall
    mib = rss / 1024
    printf "messages:        %d (left in the inboxes: %d); notices written: %d\n", count, left, notices
    printf "wall:            %.2f s (user %.2f s, system %.2f s, CPU %s)\n", wall, user, sys, cpu
    printf "throughput:      %.0f messages/s (target >= 200)%s\n", rate, (rate >= 200 ? "" : "  BELOW TARGET")
    printf "peak RSS:        %.1f MiB (target < 150)%s\n", mib, (mib < 150 ? "" : "  ABOVE TARGET")
    printf "machine:         %d cores, load average %s\n", cores, load
}'
