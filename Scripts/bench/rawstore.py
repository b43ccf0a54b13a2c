#!/usr/bin/env python3
"""A lean C-STORE sender for the benchmarks: sends one Part 10 file to a storage SCP over one
association and waits for the C-STORE response, spending as little CPU as it can on the way.

DCMTK's sending tools load the whole object into memory and encode it again before they send
it: for a gigabyte that is most of a second of their CPU, and the receiver can be no faster
than its sender. This one maps the file and hands the kernel the data set's bytes as they lie
in the file, a few hundred P-DATA-TF PDUs per system call (sendmsg with their headers between
the slices of the map). So a receiver fed by it shows its own speed, to compare with a plain
file copy.

--spool DIR lays the PDUs (headers and the file's bytes) out in an unlinked file in DIR (a RAM
file system such as /dev/shm) once the association is accepted and the receiver's maximum
PDU length known, and sends that with sendfile(2), which hands the kernel the spool's pages
instead of copying them: the sender then costs next to nothing, as the raw senders of
experiments/floor.py do, but the receiver reads bytes that are no longer in the processor's
caches (from the map, the sender's copy has just put them there). The spool is freed after
the release, off the receiver's clock.

It knows only what it needs for that: one presentation context (the file's SOP class in the
file's transfer syntax), a C-STORE-RQ, the response status, the release. It checks what it
receives and stops with a message and exit status 1 on anything it does not expect.

  Scripts/bench/rawstore.py FILE HOST PORT [--called-ae RECEIVER] [--calling-ae RAWSTORE]
                            [--spool DIR]

Prints "connecting at <CLOCK_MONOTONIC seconds>" once it has read the file's meta information
and is about to connect (with --spool, "sending at <seconds>" once the association and the
spool are done and the C-STORE request is about to go out): where a benchmark's clock
starts. Then "status 0x0000 <bytes> bytes" on success (exit 0); exit 2 when the SCP answers
with a status other than success.
"""
import argparse
import mmap
import os
import socket
import struct
import sys
import tempfile
import time

from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_file_meta_info

APPLICATION_CONTEXT = b"1.2.840.10008.3.1.1.1"
IMPLEMENTATION_UID = b"1.2.826.0.1.3680043.10.543.7"
BATCH = 400  # PDUs per sendmsg: two buffers each, well under IOV_MAX (1024)


def fail(message):
    print("rawstore: " + message, file=sys.stderr)
    sys.exit(1)


def uid(value):
    """A UID value padded to even length with a NUL, as PS3.5 asks."""
    return value + b"\0" if len(value) % 2 else value


def read_meta(path):
    """(SOP class UID, SOP instance UID, transfer syntax UID, offset of the data set) of a Part
    10 file, from its file meta information (read by pydicom, which the benchmarks' corpus
    maker needs anyway). The data set starts after the preamble, "DICM", the group length
    element and the group it counts."""
    try:
        meta = read_file_meta_info(path)
    except (InvalidDicomError, OSError) as error:
        fail("%s: %s" % (path, error))
    values = []
    for keyword in ("FileMetaInformationGroupLength", "MediaStorageSOPClassUID", "MediaStorageSOPInstanceUID",
                    "TransferSyntaxUID"):
        value = meta.get(keyword)
        if not value:
            fail("%s: the file meta information has no %s" % (path, keyword))
        values.append(value)
    length, sop_class, sop_instance, syntax = values
    return str(sop_class).encode(), str(sop_instance).encode(), str(syntax).encode(), 128 + 4 + 12 + int(length)


def item(kind, body):
    return struct.pack(">BBH", kind, 0, len(body)) + body


def associate_rq(called, calling, sop_class, syntax, max_pdu):
    context = struct.pack(">BBBB", 1, 0, 0, 0) + item(0x30, sop_class) + item(0x40, syntax)
    user = item(0x51, struct.pack(">I", max_pdu)) + item(0x52, IMPLEMENTATION_UID)
    body = (struct.pack(">HH", 1, 0) + called.ljust(16)[:16] + calling.ljust(16)[:16] + bytes(32)
            + item(0x10, APPLICATION_CONTEXT) + item(0x20, context) + item(0x50, user))
    return struct.pack(">BBI", 1, 0, len(body)) + body


def receive_pdu(sock):
    header = receive_exactly(sock, 6)
    kind, _, length = struct.unpack(">BBI", header)
    if length > 1 << 24:
        fail("PDU of type 0x%02X claims %d bytes" % (kind, length))
    return kind, receive_exactly(sock, length)


def receive_exactly(sock, count):
    chunks, left = [], count
    while left:
        chunk = sock.recv(left)
        if not chunk:
            fail("the SCP closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def parse_ac(body):
    """The peer's maximum PDU length (0 for no limit) once our one context is accepted."""
    offset, accepted, limit = 68, False, 0
    while offset + 4 <= len(body):
        kind, _, length = struct.unpack_from(">BBH", body, offset)
        value = body[offset + 4:offset + 4 + length]
        if kind == 0x21:
            if value[0] == 1 and value[2] == 0:
                accepted = True
            elif value[0] == 1:
                fail("the SCP rejected the presentation context (result %d)" % value[2])
        elif kind == 0x50:
            sub = 0
            while sub + 4 <= len(value):
                sub_kind, _, sub_length = struct.unpack_from(">BBH", value, sub)
                if sub_kind == 0x51 and sub_length == 4:
                    limit = struct.unpack_from(">I", value, sub + 4)[0]
                sub += 4 + sub_length
        offset += 4 + length
    if not accepted:
        fail("the A-ASSOCIATE-AC has no accepted presentation context")
    return limit


def element(tag_element, value):
    return struct.pack("<HHI", 0, tag_element, len(value)) + value


def store_rq(sop_class, sop_instance):
    body = (element(0x0002, uid(sop_class)) + element(0x0100, struct.pack("<H", 0x0001))
            + element(0x0110, struct.pack("<H", 1)) + element(0x0700, struct.pack("<H", 0))
            + element(0x0800, struct.pack("<H", 0x0000)) + element(0x1000, uid(sop_instance)))
    return element(0x0000, struct.pack("<I", len(body))) + body


def pdata(context, control, fragment):
    return struct.pack(">BBIIBB", 4, 0, len(fragment) + 6, len(fragment) + 2, context, control) + fragment


def rest_after(buffers, count):
    """What of buffers is left once their first count bytes are gone."""
    rest = []
    for b in buffers:
        if count >= len(b):
            count -= len(b)
        else:
            rest.append(memoryview(b)[count:])
            count = 0
    return rest


def write_all(write, buffers):
    """write (sendmsg, or writev to a file) until every byte of buffers is gone (a blocking
    socket or a file rarely takes less)."""
    while buffers:
        count = write(buffers)
        if count == 0:
            fail("a write took none of %d bytes" % sum(len(b) for b in buffers))
        buffers = rest_after(buffers, count)


def data_pdus(view, start, fragment):
    """The data set's P-DATA-TF PDUs, as buffers (header, slice of the map, header, ...), a
    batch at a time."""
    buffers = []
    # Every PDU but the last is full, with the same header: made once.
    full = struct.pack(">BBIIBB", 4, 0, fragment + 6, fragment + 2, 1, 0)
    data, end = start, len(view)
    while data < end:
        size = min(fragment, end - data)
        if data + size == end:
            buffers.append(struct.pack(">BBIIBB", 4, 0, size + 6, size + 2, 1, 2))
        else:
            buffers.append(full)
        buffers.append(view[data:data + size])
        data += size
        if len(buffers) >= 2 * BATCH:
            yield buffers
            buffers = []
    if buffers:
        yield buffers


def spool(folder, view, start, fragment):
    """The PDUs written to an unlinked file in folder: (descriptor, length)."""
    try:
        fd, name = tempfile.mkstemp(prefix="rawstore-", dir=folder)
    except OSError as error:
        fail("cannot make a spool file in %s: %s" % (folder, error.strerror or error))
    os.unlink(name)
    try:
        for buffers in data_pdus(view, start, fragment):
            write_all(lambda b: os.writev(fd, b), buffers)
    except OSError as error:
        fail("cannot write the spool in %s: %s" % (folder, error.strerror or error))
    return fd, os.lseek(fd, 0, os.SEEK_END)


def response_status(sock):
    """Reads P-DATA-TF PDUs up to the last command fragment; returns (0000,0900) Status."""
    command = b""
    while True:
        kind, body = receive_pdu(sock)
        if kind != 4:
            fail("expected the C-STORE response, got a PDU of type 0x%02X" % kind)
        offset = 0
        while offset + 6 <= len(body):
            length = struct.unpack_from(">I", body, offset)[0]
            control = body[offset + 5]
            command += body[offset + 6:offset + 4 + length]
            offset += 4 + length
            if control & 3 == 3:
                position = 0
                while position + 8 <= len(command):
                    group, elem, size = struct.unpack_from("<HHI", command, position)
                    if (group, elem) == (0, 0x0900) and size == 2:
                        return struct.unpack_from("<H", command, position + 8)[0]
                    position += 8 + size
                fail("the C-STORE response has no Status (0000,0900)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("file")
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--called-ae", default="RECEIVER")
    parser.add_argument("--calling-ae", default="RAWSTORE")
    parser.add_argument("--spool", metavar="DIR",
                        help="lay the PDUs out in DIR (a RAM file system) and send them with sendfile(2)")
    args = parser.parse_args()
    sop_class, sop_instance, syntax, start = read_meta(args.file)
    with open(args.file, "rb") as f:
        mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    view = memoryview(mapped)
    if start > len(view):
        fail("%s: the file meta information runs past the end of the file" % args.file)
    if start >= len(view):
        fail("the file has no data set after its meta information")
    # The clock of a benchmark starts here (or, with a spool, once it is laid out), not at the
    # program's start: importing pydicom alone takes 0.3-0.4 s of this machine's time, which no
    # receiver should be charged with.
    if not args.spool:
        print("connecting at %.6f" % time.monotonic(), flush=True)
    try:
        sock = socket.create_connection((args.host, args.port))
    except OSError as error:
        fail("cannot connect to %s:%d: %s" % (args.host, args.port, error.strerror or error))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(associate_rq(args.called_ae.encode(), args.calling_ae.encode(), sop_class, syntax, 1 << 20))
    kind, body = receive_pdu(sock)
    if kind == 3:
        fail("the SCP rejected the association (result %d, source %d, reason %d)" % (body[1], body[2], body[3]))
    if kind != 2:
        fail("the SCP answered the A-ASSOCIATE-RQ with a PDU of type 0x%02X" % kind)
    limit = parse_ac(body)
    fragment = (limit or 1 << 20) - 6
    if fragment < 16:
        fail("the SCP's maximum PDU length %d is too small" % limit)
    spooled = spool(args.spool, view, start, fragment) if args.spool else None
    if spooled:
        # The clock starts here: the association and the spool are the sender's business.
        print("sending at %.6f" % time.monotonic(), flush=True)
    command = store_rq(sop_class, sop_instance)
    for i in range(0, len(command), fragment):
        last = i + fragment >= len(command)
        sock.sendall(pdata(1, 3 if last else 1, command[i:i + fragment]))
    if spooled:
        fd, length = spooled
        offset = 0
        while offset < length:
            sent = os.sendfile(sock.fileno(), fd, offset, length - offset)
            if sent == 0:
                fail("the spool ended early")
            offset += sent
    else:
        for buffers in data_pdus(view, start, fragment):
            write_all(sock.sendmsg, buffers)
    status = response_status(sock)
    sock.sendall(struct.pack(">BBII", 5, 0, 4, 0))
    kind, _ = receive_pdu(sock)
    if kind != 6:
        fail("expected the A-RELEASE-RP, got a PDU of type 0x%02X" % kind)
    sock.close()
    if spooled:
        # Freed only now (a gigabyte of RAM file system takes some 0.1 s to free), after the
        # receiver is done with the association, so that a benchmark does not charge it to the
        # receiver, which waits for the release.
        os.close(spooled[0])
    print("status 0x%04X %d bytes" % (status, len(view) - start))
    return 0 if status == 0 else 2


if __name__ == "__main__":
    sys.exit(main())
