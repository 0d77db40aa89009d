#!/usr/bin/env python3
"""A fault-injecting TCP proxy for tests: the network failures Satchel's sync must survive.

It listens on 127.0.0.1 and forwards every connection to a target. Clients speak TLS end to end
through it, so it never alters a byte: its faults are cuts, stalls, delays, resets and
truncations, at byte positions drawn from a seeded random generator (or, with --cut-every and
--cut-down-every, at a fixed position on every connection).

    fault_proxy.py --target 127.0.0.1:8443 --seed 7 --break-fraction 0.2 \\
        --cut-up --cut-down --stall 5 --latency 50 --reset --stats proxy.stats
    fault_proxy.py --target 127.0.0.1:8443 --cut-every 4194304       # an upload resume bench
    fault_proxy.py --target 127.0.0.1:8443 --cut-down-every 1048576  # a download resume test

The first line on stdout is "port N" (the port it listens on). Each connection gets one of the
enabled faults with probability --break-fraction, at a position N drawn from 0..--window:
    --cut-up       forward N client->server bytes, then cut
    --cut-down     forward N server->client bytes, then cut (a truncated response)
    --stall S      after N bytes in either direction, forward nothing for S seconds, then cut
    --latency MS   delay every chunk, both ways, by MS milliseconds (the connection survives)
    --reset        after N client->server bytes, reset both sides (SO_LINGER 0: RST, not FIN)
--cut-every BYTES cuts every connection after BYTES client->server bytes, --cut-down-every BYTES
after BYTES server->client bytes (either or both; with a random fault too, whichever comes first
fires). A cut delivers exactly the bytes forwarded, then ends both sides with FIN (the kernel
turns it into RST if the peer's data is still arriving, as for any close).
--stats FILE is rewritten (atomically) at each connection close and on SIGTERM with
"bytes_up N bytes_down N connections N faults N": bytes forwarded each way, connections
accepted, faults that fired. --log FILE gets a line per connection. SIGTERM or SIGINT stops the
proxy: open connections are cut, the stats written, and it exits 0.
"""

import argparse
import asyncio
import fcntl
import os
import random
import signal
import socket
import struct
import sys
import termios

CHUNK = 256 * 1024  # large reads: ~100 MiB through loopback takes a few seconds
BUFFER = 4 * 1024 * 1024  # per-stream buffering before back-pressure
CUT_FLUSH = 2.0  # seconds a cut waits for forwarded bytes to leave the kernel


def unsent_bytes(writer):
    """Bytes still in the socket's kernel send queue (sent but unacknowledged included)."""
    sock = writer.get_extra_info("socket")
    if sock is None or sock.fileno() < 0:
        return 0
    try:
        buf = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, struct.pack("i", 0))
    except OSError:
        return 0
    return struct.unpack("i", buf)[0]


class Plan:
    """The faults of one connection: byte thresholds (None: never) and a per-chunk delay."""

    def __init__(self):
        self.kind = None  # the random fault's name, for the log
        self.cut_up = None
        self.cut_down = None
        self.stall_at = None  # total bytes, both directions
        self.stall_seconds = 0.0
        self.reset_at = None
        self.latency = 0.0  # seconds per chunk


class Stats:
    def __init__(self, path):
        self.path = path
        self.bytes_up = 0
        self.bytes_down = 0
        self.connections = 0
        self.faults = 0

    def write(self):
        if not self.path:
            return
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"bytes_up {self.bytes_up} bytes_down {self.bytes_down} "
                    f"connections {self.connections} faults {self.faults}\n")
        os.replace(tmp, self.path)


class Connection:
    def __init__(self, proxy, number, plan, client_reader, client_writer):
        self.proxy = proxy
        self.number = number
        self.plan = plan
        self.client = (client_reader, client_writer)
        self.server = None
        self.up = 0
        self.down = 0
        self.fired = None  # the fault that fired, if any
        self.stalled = False
        self.cutting = False
        self.closed = False
        self.tasks = []

    def _fire(self, kind):
        if self.fired is None:
            self.fired = kind
            self.proxy.stats.faults += 1

    def _writers(self):
        return [w for w in (self.client[1], self.server[1] if self.server else None) if w]

    def _cancel_others(self):
        current = asyncio.current_task()
        for t in self.tasks:
            if t is not current:
                t.cancel()

    def _close(self, reset=False):
        """Closes both sides at once: FIN, or RST with `reset` (SO_LINGER 0)."""
        if self.closed:
            return
        self.closed = True
        for w in self._writers():
            if reset:
                sock = w.get_extra_info("socket")
                if sock is not None:
                    try:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                        struct.pack("ii", 1, 0))
                    except OSError:
                        pass
                w.transport.abort()
            else:
                w.close()
        self._cancel_others()

    async def _cut(self):
        """Ends both sides with a FIN after every byte already forwarded has left the kernel
        (up to CUT_FLUSH seconds), so a cut after N bytes delivers exactly N. Closing with the
        peer's unread data still queued makes the kernel send RST instead, as for any close."""
        if self.closed or self.cutting:
            return
        self.cutting = True
        self._cancel_others()
        writers = self._writers()
        for w in writers:
            try:
                if w.can_write_eof():
                    w.write_eof()  # after asyncio's own buffer is flushed
            except (ConnectionError, OSError, RuntimeError):
                pass
        deadline = asyncio.get_running_loop().time() + CUT_FLUSH
        while asyncio.get_running_loop().time() < deadline:
            if all(w.transport.get_write_buffer_size() == 0 and unsent_bytes(w) == 0
                   for w in writers):
                break
            await asyncio.sleep(0.002)
        self._close()

    def _next_fault(self, direction, size):
        """(bytes of this chunk to forward, fault to fire after them or None)."""
        p = self.plan
        limits = []
        if direction == "up":
            if p.cut_up is not None:
                limits.append((p.cut_up - self.up, "cut-up"))
            if p.reset_at is not None:
                limits.append((p.reset_at - self.up, "reset"))
        elif p.cut_down is not None:
            limits.append((p.cut_down - self.down, "cut-down"))
        if p.stall_at is not None:
            limits.append((p.stall_at - self.up - self.down, "stall"))
        limits = [(max(n, 0), kind) for n, kind in limits if n <= size]
        if not limits:
            return size, None
        return min(limits)

    async def _pump(self, reader, writer, direction):
        p = self.plan
        try:
            while True:
                data = await reader.read(CHUNK)
                if self.stalled:
                    await asyncio.Event().wait()  # held until the stall's cut cancels us
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    return
                if p.latency:
                    self._fire("latency")
                    await asyncio.sleep(p.latency)
                n, fault = self._next_fault(direction, len(data))
                if n:
                    writer.write(data[:n] if n < len(data) else data)
                    if direction == "up":
                        self.up += n
                        self.proxy.stats.bytes_up += n
                    else:
                        self.down += n
                        self.proxy.stats.bytes_down += n
                    await writer.drain()
                if fault == "stall":
                    self._fire(fault)
                    self.stalled = True
                    await asyncio.sleep(p.stall_seconds)
                    await self._cut()
                    return
                if fault == "reset":
                    self._fire(fault)
                    self._close(reset=True)
                    return
                if fault:
                    self._fire(fault)
                    await self._cut()
                    return
        except (ConnectionError, OSError):
            self._close(reset=True)  # one side went away abruptly: so does the other

    async def run(self, host, port):
        try:
            self.server = await asyncio.open_connection(host, port, limit=BUFFER)
        except OSError as e:
            self.proxy.log(f"conn {self.number} target unreachable: {e}")
            self._close()
            return
        for _, w in (self.client, self.server):
            w.transport.set_write_buffer_limits(high=BUFFER)
        self.tasks = [
            asyncio.ensure_future(self._pump(self.client[0], self.server[1], "up")),
            asyncio.ensure_future(self._pump(self.server[0], self.client[1], "down")),
        ]
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self._close()
        for w in self._writers():
            try:
                await w.wait_closed()
            except (ConnectionError, OSError):
                pass


class Proxy:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.stats = Stats(args.stats)
        self.log_file = open(args.log, "a", buffering=1) if args.log else None
        self.kinds = [k for k, on in (("cut-up", args.cut_up), ("cut-down", args.cut_down),
                                      ("stall", args.stall is not None),
                                      ("latency", args.latency is not None),
                                      ("reset", args.reset)) if on]
        self.connections = set()
        self.handlers = set()

    def log(self, line):
        if self.log_file and not self.log_file.closed:
            self.log_file.write(line + "\n")

    def plan(self):
        a = self.args
        p = Plan()
        if self.kinds and self.rng.random() < a.break_fraction:
            p.kind = self.rng.choice(self.kinds)
            at = self.rng.randint(0, a.window)
            if p.kind == "cut-up":
                p.cut_up = at
            elif p.kind == "cut-down":
                p.cut_down = at
            elif p.kind == "stall":
                p.stall_at, p.stall_seconds = at, a.stall
            elif p.kind == "latency":
                p.latency = a.latency / 1000
            else:
                p.reset_at = at
        if a.cut_every is not None:
            p.cut_up = a.cut_every if p.cut_up is None else min(p.cut_up, a.cut_every)
        if a.cut_down_every is not None:
            p.cut_down = (a.cut_down_every if p.cut_down is None
                          else min(p.cut_down, a.cut_down_every))
        return p

    def describe(self, p):
        if p.kind == "latency":
            return f"latency {p.latency * 1000:g} ms"
        at = {"cut-up": p.cut_up, "cut-down": p.cut_down, "stall": p.stall_at,
              "reset": p.reset_at}.get(p.kind)
        text = f"{p.kind} at {at}" if p.kind else "none"
        if self.args.cut_every:
            text += f" cut-every {self.args.cut_every}"
        if self.args.cut_down_every:
            text += f" cut-down-every {self.args.cut_down_every}"
        return text

    async def handle(self, reader, writer):
        self.stats.connections += 1
        p = self.plan()
        conn = Connection(self, self.stats.connections, p, reader, writer)
        self.connections.add(conn)
        self.handlers.add(asyncio.current_task())
        try:
            await conn.run(self.args.target_host, self.args.target_port)
        finally:
            self.connections.discard(conn)
            self.handlers.discard(asyncio.current_task())
            self.stats.write()  # before the log line: a reader of the log sees these stats
            self.log(f"conn {conn.number} plan {self.describe(p)} fired {conn.fired or 'none'} "
                     f"up {conn.up} down {conn.down}")

    async def serve(self):
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        server = await asyncio.start_server(self.handle, self.args.listen, self.args.port,
                                            limit=BUFFER)
        port = server.sockets[0].getsockname()[1]
        self.stats.write()
        print(f"port {port}", flush=True)
        await stop.wait()
        server.close()
        for conn in list(self.connections):
            conn._close()
        if self.handlers:
            await asyncio.wait(self.handlers, timeout=2)
        self.stats.write()
        if self.log_file:
            self.log_file.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--target", required=True, metavar="HOST:PORT")
    ap.add_argument("--listen", default="127.0.0.1", metavar="HOST")
    ap.add_argument("--port", type=int, default=0, help="0 (default): any free port")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--break-fraction", type=float, default=0.0, metavar="F",
                    help="share of connections that get one of the enabled faults")
    ap.add_argument("--window", type=int, default=65536, metavar="BYTES",
                    help="faults happen at a byte position drawn from 0..BYTES (65536)")
    ap.add_argument("--cut-up", action="store_true")
    ap.add_argument("--cut-down", action="store_true")
    ap.add_argument("--stall", type=float, metavar="SECONDS")
    ap.add_argument("--latency", type=float, metavar="MS")
    ap.add_argument("--reset", action="store_true")
    ap.add_argument("--cut-every", type=int, metavar="BYTES",
                    help="cut every connection after BYTES client->server bytes")
    ap.add_argument("--cut-down-every", type=int, metavar="BYTES",
                    help="cut every connection after BYTES server->client bytes")
    ap.add_argument("--stats", metavar="FILE")
    ap.add_argument("--log", metavar="FILE")
    args = ap.parse_args()
    host, sep, port = args.target.rpartition(":")
    if not sep or not port.isdigit():
        ap.error("--target must be HOST:PORT")
    args.target_host, args.target_port = host.strip("[]"), int(port)
    if not 0 <= args.break_fraction <= 1:
        ap.error("--break-fraction is between 0 and 1")
    if args.window < 0 or any(n is not None and n < 1
                              for n in (args.cut_every, args.cut_down_every)):
        ap.error("--window is at least 0, --cut-every and --cut-down-every at least 1")
    proxy = Proxy(args)
    if args.break_fraction > 0 and not proxy.kinds:
        ap.error("--break-fraction needs at least one fault kind "
                 "(--cut-up, --cut-down, --stall, --latency, --reset)")
    if proxy.kinds and args.break_fraction == 0:
        ap.error("fault kinds need --break-fraction above 0")
    asyncio.run(proxy.serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
