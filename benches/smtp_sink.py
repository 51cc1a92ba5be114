#!/usr/bin/env python3
"""A loopback SMTP sink for benches/survey_wave.sh: accepts every message, counts the
recipients, and writes its figures as JSON to the file named by --stats every 0.2 s:
messages, distinct recipients, recipients received more than once, the times of the
first and last message (epoch seconds). No dependencies beyond Python 3."""
import argparse
import asyncio
import json
import os
import time

seen = {}
state = {"messages": 0, "first": None, "last": None}


async def session(reader, writer):
    def send(line):
        writer.write((line + "\r\n").encode())

    send("220 sink ESMTP")
    rcpts = []
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            cmd = line.decode("utf-8", "replace").strip()
            up = cmd.upper()
            if up.startswith("EHLO"):
                writer.write(b"250-sink\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 PIPELINING\r\n")
            elif up.startswith("HELO"):
                send("250 sink")
            elif up.startswith("MAIL FROM"):
                rcpts = []
                send("250 ok")
            elif up.startswith("RCPT TO"):
                rcpts.append(cmd.split(":", 1)[1].strip().strip("<>").split(">")[0])
                send("250 ok")
            elif up == "DATA":
                send("354 go ahead")
                await writer.drain()
                while True:
                    l = await reader.readline()
                    if not l or l in (b".\r\n", b".\n"):
                        break
                now = time.time()
                state["messages"] += 1
                state["first"] = state["first"] or now
                state["last"] = now
                for r in rcpts:
                    seen[r] = seen.get(r, 0) + 1
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


async def dump(path):
    while True:
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({
                "messages": state["messages"],
                "recipients": len(seen),
                "duplicates": sum(1 for n in seen.values() if n > 1),
                "first": state["first"],
                "last": state["last"],
            }, f)
        os.replace(tmp, path)
        await asyncio.sleep(0.2)


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--stats", required=True)
    a = p.parse_args()
    server = await asyncio.start_server(session, "127.0.0.1", a.port, backlog=512)
    asyncio.create_task(dump(a.stats))
    async with server:
        await server.serve_forever()


asyncio.run(main())
