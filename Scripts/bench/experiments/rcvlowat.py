#!/usr/bin/env python3
"""A model of the retrieve's storage association, to see whether SO_RCVLOWAT would save wake-ups.

A sender with Nagle's algorithm on (as dcmqrscp has) writes objects of 512 KB in 16 KB PDUs
over loopback and waits for a 10-byte answer after each; a receiver reads them and answers.
Modes of the receiver:
  plain       reads at once, no quick ACK
  quick       reads at once, TCP_QUICKACK after each read (what our storage SCP does)
  lowat       SO_RCVLOWAT of LW bytes (never more than the object's bytes still to come)
  lowatquick  both

  Scripts/bench/experiments/rcvlowat.py MODE [OBJECTS]     (LW=65536 in the environment)

Prints the receiver's reads and CPU seconds and the wall time. A mode that stalls for good is
stopped by `timeout` in the caller, e.g. `LW=262144 timeout 20 .../rcvlowat.py lowat`.
"""
import os
import resource
import socket
import sys
import time

OBJECT = 512 * 1024
PDU = 16384


def receive(listener, mode, objects, lowat):
    connection, _ = listener.accept()
    reads = 0
    for _ in range(objects):
        left = OBJECT
        while left:
            if mode.startswith("lowat"):
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, min(left, lowat))
            data = connection.recv(min(left, 1 << 20))
            reads += 1
            if not data:
                sys.exit("the sender closed the connection")
            left -= len(data)
            if mode.endswith("quick"):
                connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        if mode.startswith("lowat"):
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 1)
        connection.sendall(b"R" * 10)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return reads, usage.ru_utime + usage.ru_stime


def send(port, objects):
    sender = socket.create_connection(("127.0.0.1", port))
    pdu = b"x" * PDU
    for _ in range(objects):
        for _ in range(OBJECT // PDU):
            sender.sendall(pdu)
        answer = b""
        while len(answer) < 10:
            answer += sender.recv(10)


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("plain", "quick", "lowat", "lowatquick"):
        sys.exit(__doc__)
    mode = sys.argv[1]
    objects = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    lowat = int(os.environ.get("LW", "65536"))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    pid = os.fork()
    if pid == 0:
        send(port, objects)
        os._exit(0)
    started = time.monotonic()
    reads, cpu = receive(listener, mode, objects, lowat)
    os.waitpid(pid, 0)
    print("%s (LW %d): %d reads, receiver CPU %.2f s, wall %.2f s" % (mode, lowat, reads, cpu, time.monotonic() - started))


if __name__ == "__main__":
    main()
