#!/usr/bin/env python3
"""An SMTP receiver for the server's email tests (server/tests/common/smtp.rs).

aiosmtpd on 127.0.0.1, on a port it picks and prints as `listening PORT`.
Every message it accepts is written to OUT as NNNN.json (written whole,
then renamed): the envelope, the decoded subject and headers, and the
decoded text/plain and text/html parts, read with Python's own `email`
package. It stops when its standard input closes.

  --refuse N          answer the first N messages (at DATA) with 451, a
                      temporary failure naming the recipient; each refusal
                      leaves refused-K
  --user U --password P   require SMTP AUTH with these (no TLS: loopback)
"""

import argparse
import asyncio
import email
import email.policy
import json
import logging
import os
import socket
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Sink:
    def __init__(self, out, refuse):
        self.out = out
        self.refuse = refuse
        self.refused = 0
        self.accepted = 0

    async def handle_DATA(self, server, session, envelope):
        if self.refused < self.refuse:
            self.refused += 1
            self.write(f"refused-{self.refused}", {"rcpt_tos": envelope.rcpt_tos})
            # Relays quote the recipient; the server's log must not.
            return f"451 4.3.0 Try again later, <{envelope.rcpt_tos[0]}>"
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        parts = {}
        for part in message.walk():
            kind = part.get_content_type()
            if not part.is_multipart() and kind in ("text/plain", "text/html"):
                # As sent: lines end in CRLF on the wire.
                parts.setdefault(kind, part.get_content().replace("\r\n", "\n"))
        self.accepted += 1
        self.write(
            f"{self.accepted:04}.json",
            {
                "mail_from": envelope.mail_from,
                "rcpt_tos": envelope.rcpt_tos,
                "login": session.auth_data,
                "subject": str(message["subject"]),
                "from": str(message["from"]),
                "to": str(message["to"]),
                "message_id": str(message["message-id"]),
                "auto_submitted": str(message["auto-submitted"]),
                "content_language": str(message["content-language"]),
                "content_type": message.get_content_type(),
                "text": parts.get("text/plain"),
                "html": parts.get("text/html"),
            },
        )
        return "250 OK"

    def write(self, name, record):
        path = os.path.join(self.out, name)
        with open(path + ".tmp", "w", encoding="utf-8") as file:
            json.dump(record, file)
        os.replace(path + ".tmp", path)


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        if (
            user is not None
            and isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        ):
            return AuthResult(success=True, auth_data=user)
        return AuthResult(success=False, handled=False)

    return check


async def main():
    # AUTH without TLS is what these tests want, on loopback.
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--refuse", type=int, default=0)
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()
    sink = Sink(args.out, args.refuse)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def smtp():
        return SMTP(
            sink,
            hostname="sink.test",
            auth_require_tls=False,
            auth_required=args.user is not None,
            authenticator=authenticator(args.user, args.password),
        )

    loop = asyncio.get_running_loop()
    server = await loop.create_server(smtp, sock=listener)
    print(f"listening {listener.getsockname()[1]}", flush=True)
    # Until the test lets go of us.
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
