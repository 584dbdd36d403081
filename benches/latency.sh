#!/usr/bin/env bash
# benches/latency.sh — how soon a complaint mailed through Postfix is answered: the time
# from SMTP acceptance to the acceptance notice in the provider's inbox.
#
#   bash benches/latency.sh [COUNT]               # `portal intake --watch` (default 100)
#   MODE=every60 bash benches/latency.sh [COUNT]  # `portal intake --every 60s`
#
# What it does (the work is the ignored test `e2e_watch::latency_benchmark`, so that it
# runs on the same mail stack as the end-to-end tests, tests/mailstack.rs):
#   1. Builds the test binary and `portal` with `cargo test --release` (the mail stack's
#      packages — dovecot-imapd, postfix, swaks, openssl — come from `bash .ci/run` or
#      apt-get; as root, since Postfix's master must start as root).
#   2. Starts Dovecot (rootless, Maildir, implicit TLS with a test CA) and Postfix
#      (virtual delivery into those Maildirs, STARTTLS, AUTH through Dovecot) on free
#      loopback ports, registers a provider through them, and starts the portal:
#      `intake --watch` (IMAP IDLE on both mailboxes, a safety pass every 5 minutes), or
#      with MODE=every60 `intake --every 60s`.
#   3. Sends COUNT complaint templates (one claim line each, distinct claims, spread over
#      the six MCOs, made beforehand like benches/imap-1000.sh makes them) from the
#      provider to the intake address with swaks through Postfix's STARTTLS port: with
#      --watch one at a time, each once the one before is answered; with every60 one a
#      second, whatever the answers.
#   4. For each, the clock starts when swaks returns (Postfix said `250 queued`) and
#      stops when the acceptance notice answering it (its In-Reply-To) appears in the
#      provider's Maildir, the one Dovecot serves — looked at every 10 ms.
#   5. Prints p50, p95 and max (target for --watch: p95 under 2 s).
#
# Exit status: non-zero when the build or the run fails; missing the target is
# reported, not an error. The machine should be otherwise idle.
set -euo pipefail
cd "$(dirname "$0")/.."
export PORTAL_LATENCY_MESSAGES="${1:-100}"
export PORTAL_LATENCY_MODE="${MODE:-watch}"
cargo test --release --locked --test tests e2e_watch::latency_benchmark -- --ignored --exact --nocapture 2>&1 |
  grep -E '^latency:|^test |panicked|error' || true
# grep hides cargo's noise; the test's own status decides.
exit "${PIPESTATUS[0]}"
