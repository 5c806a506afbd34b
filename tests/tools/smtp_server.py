#!/usr/bin/env python3
"""A real SMTP server on loopback for the email tool's tests (aiosmtpd).

  smtp_server.py --outdir DIR [--starttls CERT KEY | --implicit CERT KEY] [--auth USER:PASS]

Prints "PORT <n>". Each message received is saved as DIR/<n>.eml (the raw DATA) and
DIR/<n>.json ({"mail_from", "rcpt_tos"}). With --starttls, STARTTLS is required before MAIL;
with --auth, AUTH is required (and only offered over TLS).
"""
import argparse
import asyncio
import json
import os
import ssl
import logging
import sys
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Saver:
    def __init__(self, outdir):
        self.outdir = outdir
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(self.outdir, str(self.count))
        with open(base + ".eml.tmp", "wb") as fh:
            fh.write(envelope.original_content or envelope.content)
        with open(base + ".json", "w") as fh:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos}, fh)
        os.rename(base + ".eml.tmp", base + ".eml")
        return "250 Message accepted"


def main():
    warnings.filterwarnings("ignore")
    logging.disable(logging.CRITICAL)
    ap = argparse.ArgumentParser()
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--starttls", nargs=2)
    ap.add_argument("--implicit", nargs=2)
    ap.add_argument("--auth")
    args = ap.parse_args()

    def context(pair):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pair[0], pair[1])
        return ctx

    user, password = (args.auth.split(":", 1) + [""])[:2] if args.auth else (None, None)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and \
            auth_data.login.decode() == user and auth_data.password.decode() == password
        return AuthResult(success=ok, handled=False)

    handler = Saver(args.outdir)
    kwargs = {"hostname": "ava-test-smtp"}
    if args.auth:
        kwargs.update(authenticator=authenticator, auth_required=True,
                      auth_require_tls=not args.implicit)
    if args.starttls:
        kwargs.update(tls_context=context(args.starttls), require_starttls=True)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(loop.create_server(
        lambda: SMTP(handler, loop=loop, **kwargs), "127.0.0.1", 0,
        ssl=context(args.implicit) if args.implicit else None))
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    try:
        loop.run_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
