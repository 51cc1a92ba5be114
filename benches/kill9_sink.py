#!/usr/bin/env python3
"""A loopback SMTP sink for benches/kill9.sh: accepts every message and appends one
JSON line per message whose DATA ended with the final "." (a message cut off by a
dropped connection is not delivered, as with a real mail server) to the file named by
--log, flushed at once:

    {"t": epoch seconds, "rcpt": ["a@example.fi"], "message_id": "<...>",
     "token_id": "...", "survey": "3", "customer": "17"}

token_id, survey and customer come from the survey link in the List-Unsubscribe
header (`<{public_url}/s/{payload}.{sig}/unsubscribe>`, payload = base64url of
`version:survey:customer:expires:token_id`), else from the first `/s/...` link in
the body; null for other mail. No dependencies beyond Python 3."""
import argparse
import asyncio
import base64
import json
import re
import time
from email import policy
from email.parser import BytesParser

LINK = re.compile(r"/s/([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)")


def claims(text):
    """The survey link's claims found in text, or Nones."""
    m = LINK.search(re.sub(r"\s+", "", text or ""))
    if not m:
        return None, None, None
    payload = m.group(1)
    try:
        raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
        parts = raw.split(":")
        return parts[-1], parts[1], parts[2]
    except Exception:  # not our token: keep the raw payload as the key
        return payload, None, None


def record(data, rcpts):
    msg = BytesParser(policy=policy.default).parsebytes(data)
    token, survey, customer = claims(str(msg.get("List-Unsubscribe", "")))
    if token is None:
        for part in msg.walk():
            if part.get_content_maintype() == "text":
                try:
                    token, survey, customer = claims(part.get_content())
                except Exception:
                    continue
                if token:
                    break
    return {
        "t": time.time(),
        "rcpt": rcpts,
        "message_id": str(msg.get("Message-ID", "")).strip() or None,
        "token_id": token,
        "survey": survey,
        "customer": customer,
    }


async def session(reader, writer, log):
    def send(line):
        writer.write((line + "\r\n").encode())

    send("220 kill9-sink ESMTP")
    rcpts = []
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            cmd = line.decode("utf-8", "replace").strip()
            up = cmd.upper()
            if up.startswith("EHLO"):
                writer.write(b"250-kill9-sink\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 PIPELINING\r\n")
            elif up.startswith("HELO"):
                send("250 kill9-sink")
            elif up.startswith("MAIL FROM"):
                rcpts = []
                send("250 ok")
            elif up.startswith("RCPT TO"):
                rcpts.append(cmd.split(":", 1)[1].strip().strip("<>").split(">")[0].lower())
                send("250 ok")
            elif up == "RSET":
                rcpts = []
                send("250 ok")
            elif up == "DATA":
                send("354 go ahead")
                await writer.drain()
                lines = []
                complete = False
                while True:
                    l = await reader.readline()
                    if not l:
                        break
                    if l in (b".\r\n", b".\n"):
                        complete = True
                        break
                    lines.append(l[1:] if l.startswith(b"..") else l)
                if not complete:
                    break  # the sender died mid-message: nothing delivered
                log.write(json.dumps(record(b"".join(lines), rcpts)) + "\n")
                log.flush()
                rcpts = []
                send("250 queued")
            elif up == "QUIT":
                send("221 bye")
                await writer.drain()
                break
            else:
                send("250 ok")
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--log", required=True)
    a = p.parse_args()
    log = open(a.log, "a", buffering=1)
    server = await asyncio.start_server(
        lambda r, w: session(r, w, log), "127.0.0.1", a.port, backlog=512
    )
    async with server:
        await server.serve_forever()


asyncio.run(main())
