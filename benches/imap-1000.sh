#!/usr/bin/env bash
# benches/imap-1000.sh — `portal intake --once` over IMAP on 1,000 messages, with every
# notice sent through Postfix, against a plain Python imaplib client on the same mail.
#
#   bash benches/imap-1000.sh [COUNT]      # default 1000 messages
#
# What it does (the work is the ignored test `e2e::imap_1000_benchmark`, so that it
# runs on the same mail stack as the end-to-end tests, tests/mailstack.rs):
#   1. Builds the test binary and `portal` with `cargo test --release` (the mail stack's
#      packages — dovecot-imapd, postfix, swaks, openssl — come from `bash .ci/run` or
#      apt-get; as root, since Postfix's master must start as root).
#   2. Starts Dovecot (rootless, Maildir, implicit TLS with a test CA) and Postfix
#      (virtual delivery into those Maildirs, STARTTLS, AUTH through Dovecot) on free
#      loopback ports, and registers a provider through them.
#   3. Puts COUNT complaint templates (one claim line each, distinct claims, spread over
#      the six MCOs, about 12 KiB a message) straight into the intake mailbox's Maildir
#      `new/`, as Postfix's virtual agent would — not through SMTP, so that only the
#      intake is timed.
#   4. Times ONE `portal intake --once` (wall clock, process start to exit): it lists,
#      fetches (BODY.PEEK[]) and moves (UID MOVE) every message over IMAP, files COUNT
#      tickets with their flushes, and sends 2 x COUNT notices (acceptance, MCO forward
#      with the .xlsx) through Postfix with SMTP AUTH over STARTTLS. Checks that every
#      ticket was filed, every notice sent and every message moved.
#   5. Puts the same COUNT messages into a second mailbox and times benches/imap-move.py:
#      Python's imaplib listing the inbox, fetching each message whole and moving it
#      with UID MOVE, one at a time — the IMAP floor, with no parsing and no SMTP.
#   6. Prints the portal's messages/s (target: at least 100), the Python client's, and
#      the ratio of their times.
#
# Exit status: non-zero when the build or the run fails; missing the target is
# reported, not an error. The machine should be otherwise idle.
set -euo pipefail
cd "$(dirname "$0")/.."
count="${1:-1000}"
export PORTAL_BENCH_MESSAGES="$count"
cargo test --release --locked --test tests e2e::imap_1000_benchmark -- --ignored --exact --nocapture 2>&1 |
  grep -E '^(bench|imap-1000):|^test |panicked|error' || true
# grep hides cargo's noise; the test's own status decides.
exit "${PIPESTATUS[0]}"
