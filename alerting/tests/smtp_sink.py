"""A local SMTP server for the email-notification tests (aiosmtpd, PyPI).

Usage: smtp_sink.py PORT OUT_DIR [CERT KEY]

Every message it accepts is written to OUT_DIR as N.json: the envelope
sender and recipients, whether the session was encrypted (STARTTLS), and
the message itself. With CERT and KEY it offers STARTTLS. It prints
"ready" once it listens and runs until killed.
"""

import asyncio
import json
import os
import ssl
import sys

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None,
            "data": envelope.content.decode("utf-8", "replace"),
        }
        path = os.path.join(self.out_dir, f"{self.count}.json")
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        return "250 OK queued as test-%d" % self.count


def main():
    port, out_dir = int(sys.argv[1]), sys.argv[2]
    tls_context = None
    if len(sys.argv) == 5:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.load_cert_chain(sys.argv[3], sys.argv[4])
    controller = Controller(
        Sink(out_dir),
        hostname="127.0.0.1",
        port=port,
        tls_context=tls_context,
        require_starttls=False,
    )
    controller.start()
    print("ready", flush=True)
    try:
        asyncio.run(asyncio.Event().wait())
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
