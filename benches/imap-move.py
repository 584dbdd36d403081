#!/usr/bin/env python3
"""The floor for `portal intake --once` over IMAP (benches/imap-1000.sh): a plain
imaplib client that lists an INBOX, fetches every message whole (BODY.PEEK[]) and
moves it to Processed with UID MOVE, one message at a time, doing nothing with it.

Usage: IMAP_PASSWORD=... imap-move.py --port PORT --user USER --ca CA.pem [--host H]
Prints one JSON object: {"messages": N, "bytes": B, "seconds": S} (S from connecting
to logging out).
"""

import argparse
import imaplib
import json
import os
import ssl
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--ca", required=True, help="the CA certificate to trust (PEM)")
    args = parser.parse_args()
    context = ssl.create_default_context(cafile=args.ca)

    started = time.perf_counter()
    imap = imaplib.IMAP4_SSL(args.host, args.port, ssl_context=context)
    imap.login(args.user, os.environ["IMAP_PASSWORD"])
    imap.create("Processed")  # "NO" when it exists: fine
    imap.select("INBOX")
    status, data = imap.uid("SEARCH", None, "ALL")
    assert status == "OK", data
    uids = data[0].split()
    total = 0
    for uid in uids:
        status, data = imap.uid("FETCH", uid, "(BODY.PEEK[])")
        assert status == "OK" and data and isinstance(data[0], tuple), data
        total += len(data[0][1])
        status, data = imap.uid("MOVE", uid, "Processed")
        assert status == "OK", data
    imap.logout()
    seconds = time.perf_counter() - started
    print(json.dumps({"messages": len(uids), "bytes": total, "seconds": seconds}))


if __name__ == "__main__":
    main()
