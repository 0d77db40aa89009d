#!/usr/bin/env python3
"""A minimal HTTP CONNECT proxy for tests, standing in for Tor's HTTPTunnelPort.

Listens on 127.0.0.1 (first stdout line: "port N"), accepts only "CONNECT host:port HTTP/1.1",
answers "200 Connection established" and then relays bytes both ways unchanged. Each tunnel's
target is appended to --log FILE, so a test can prove the client went through the proxy.
Anything but CONNECT is answered 405 and closed. SIGTERM stops it.
"""

import argparse
import asyncio
import signal
import sys


async def pipe(reader, writer):
    try:
        while data := await reader.read(256 * 1024):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def handle(reader, writer, log_path):
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    except (asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        writer.close()
        return
    line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ")
    if len(parts) != 3 or parts[0] != "CONNECT" or ":" not in parts[1]:
        writer.write(b"HTTP/1.1 405 Method Not Allowed\r\nConnection: close\r\n\r\n")
        writer.close()
        return
    host, port = parts[1].rsplit(":", 1)
    try:
        up_reader, up_writer = await asyncio.open_connection(host.strip("[]"), int(port))
    except (OSError, ValueError):
        writer.write(b"HTTP/1.1 502 Bad Gateway\r\n\r\n")
        writer.close()
        return
    with open(log_path, "a") as f:
        f.write(parts[1] + "\n")
    writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
    await writer.drain()
    await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    server = await asyncio.start_server(lambda r, w: handle(r, w, args.log), "127.0.0.1", 0)
    print("port", server.sockets[0].getsockname()[1], flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
