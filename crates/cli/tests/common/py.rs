//! The Linux side of the interop tests: small Python programs using the kernel's TCP, run
//! inside the namespace with `python3 -u -c SOURCE ARGS...`. Each prints one line saying what
//! happened and exits non-zero if anything was wrong. Every socket has a timeout.

/// `HOST PORT SIZE SEED`: send SIZE pseudo-random bytes, half-close, read everything back
/// until the server closes, and compare byte for byte.
pub const ECHO_CLIENT: &str = r#"
import random, socket, sys, threading, time
host, port, size, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
data = random.Random(seed).randbytes(size)
t0 = time.monotonic()
s = socket.create_connection((host, port), timeout=60)
def send():
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
sender = threading.Thread(target=send)
sender.start()
got = bytearray()
while True:
    b = s.recv(1 << 16)
    if not b:
        break
    got += b
sender.join()
s.close()
dt = time.monotonic() - t0
if got != data:
    first = next((i for i, (a, b) in enumerate(zip(got, data)) if a != b), min(len(got), len(data)))
    sys.exit(f"echo differs: got {len(got)} of {size} bytes, first difference at byte {first}")
print(f"echoed {size} bytes intact in {dt:.3f} s", flush=True)
"#;

/// `HOST PORT TOTAL WIDTH`: TOTAL short connections, WIDTH at a time; each sends a line,
/// half-closes, and must get exactly that line back followed by the server's FIN.
pub const MANY_CONNECTIONS: &str = r#"
import socket, sys, time
from concurrent.futures import ThreadPoolExecutor
host, port, total, width = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
def one(i):
    msg = b"connection %d says hello\n" % i
    with socket.create_connection((host, port), timeout=30) as s:
        s.sendall(msg)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            got += b
    if got != msg:
        raise AssertionError(f"connection {i}: sent {msg!r}, got {got!r}")
t0 = time.monotonic()
failures = []
with ThreadPoolExecutor(max_workers=width) as ex:
    for f in [ex.submit(one, i) for i in range(total)]:
        try:
            f.result()
        except Exception as e:
            failures.append(repr(e))
dt = time.monotonic() - t0
if failures:
    sys.exit(f"{len(failures)} of {total} connections failed, e.g. {failures[:3]}")
print(f"{total} connections, {width} at a time, all echoed in {dt:.3f} s", flush=True)
"#;

/// `HOST PORT`: connect where nothing listens; expects ECONNREFUSED.
pub const EXPECT_REFUSED: &str = r#"
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
try:
    socket.create_connection((host, port), timeout=10)
except ConnectionRefusedError as e:
    print(f"refused: {e}", flush=True)
else:
    sys.exit("connected, but nothing should listen there")
"#;

/// `HOST PORT`: send a line, read its echo, shut down our sending side (our FIN goes
/// first), read to the server's FIN and close. Prints `closed LOCALPORT`.
pub const CLOSE_FIRST_CLIENT: &str = r#"
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
s = socket.create_connection((host, port), timeout=30)
s.sendall(b"hello\n")
got = b""
while len(got) < 6:
    b = s.recv(6 - len(got))
    if not b:
        sys.exit(f"server closed early after {got!r}")
    got += b
assert got == b"hello\n", got
s.shutdown(socket.SHUT_WR)
rest = s.recv(4096)
assert rest == b"", f"data after our FIN: {rest!r}"
port_ = s.getsockname()[1]
s.close()
print(f"closed {port_}", flush=True)
"#;

/// `HOST PORT`: send a line, read its echo, print `connected LOCALPORT`, then wait for the
/// server to close: prints `eof` (a FIN), `reset` (an RST), or `timeout`.
pub const HOLDING_CLIENT: &str = r#"
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
s = socket.create_connection((host, port), timeout=30)
s.sendall(b"ping\n")
got = b""
while len(got) < 5:
    b = s.recv(5 - len(got))
    if not b:
        sys.exit(f"server closed early after {got!r}")
    got += b
print(f"connected {s.getsockname()[1]}", flush=True)
try:
    b = s.recv(4096)
    print("eof" if b == b"" else f"data {b!r}", flush=True)
except ConnectionResetError:
    print("reset", flush=True)
except socket.timeout:
    print("timeout", flush=True)
"#;

/// `HOST PORT`: an echo server for one connection; closes after the client's FIN.
pub const ECHO_SERVER: &str = r#"
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((host, port))
ls.listen()
print("ready", flush=True)
ls.settimeout(60)
c, peer = ls.accept()
c.settimeout(60)
n = 0
while True:
    b = c.recv(1 << 16)
    if not b:
        break
    c.sendall(b)
    n += len(b)
c.close()
print(f"echoed {n} bytes to {peer[0]}:{peer[1]}", flush=True)
"#;

/// `HOST PORT`: accept one connection, read to the client's FIN and print `eof PEERPORT`;
/// the socket now sits in CLOSE-WAIT until a line arrives on stdin (at most 10 s), then it
/// closes and prints `closed`.
pub const CLOSE_SECOND_SERVER: &str = r#"
import select, socket, sys
host, port = sys.argv[1], int(sys.argv[2])
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((host, port))
ls.listen()
print("ready", flush=True)
ls.settimeout(60)
c, peer = ls.accept()
c.settimeout(30)
while c.recv(4096):
    pass
print(f"eof {peer[1]}", flush=True)
select.select([sys.stdin], [], [], 10)
c.close()
print("closed", flush=True)
"#;
