#!/usr/bin/env python3
"""Captures golden bytes from foreign DICOM clients (DCMTK 3.6.7 and pynetdicom).

Each client talks to a small capture listener on loopback. The listener records the
A-ASSOCIATE-RQ, answers with an A-ASSOCIATE-AC that accepts every proposed context with its
first transfer syntax, records the P-DATA-TF PDUs of the first message (command and data
set), and records the client's A-RELEASE-RQ after answering the message. The PDUs are
written, annotated, to Tests/DICOMNetworkTests/Fixtures/golden/<name>.txt. Lines that start
with "expect" hold what pynetdicom/pydicom (not our code) read from the bytes; the Swift tests
check our decoder against them and our encoder against the bytes.

Run: python3 Scripts/capture-golden.py   (needs dcmtk, pydicom, pynetdicom)
"""
import io
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading

import pydicom
from pydicom.filereader import read_dataset
from pynetdicom.pdu import A_ASSOCIATE_RQ

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "Tests", "DICOMNetworkTests", "Fixtures", "golden")
TEST_FILES = os.path.join(os.path.dirname(pydicom.__file__), "data", "test_files")
PY = sys.executable


def read_pdu(conn):
    header = b""
    while len(header) < 6:
        chunk = conn.recv(6 - len(header))
        if not chunk:
            return None
        header += chunk
    length = struct.unpack(">I", header[2:6])[0]
    body = b""
    while len(body) < length:
        chunk = conn.recv(length - len(body))
        if not chunk:
            return None
        body += chunk
    return header + body


def item(item_type, body):
    return struct.pack(">BBH", item_type, 0, len(body)) + body


def associate_ac(rq_bytes):
    rq = A_ASSOCIATE_RQ()
    rq.decode(rq_bytes)
    body = struct.pack(">HH", 1, 0) + rq_bytes[10:26] + rq_bytes[26:42] + b"\0" * 32
    body += item(0x10, b"1.2.840.10008.3.1.1.1")
    for context in rq.presentation_context:
        ts = str(context.transfer_syntax[0]).encode()
        body += item(0x21, struct.pack(">BBBB", context.context_id, 0, 0, 0) + item(0x40, ts))
    user = item(0x51, struct.pack(">I", 16384)) + item(0x52, b"1.2.3.4.5.6")
    body += item(0x50, user)
    return struct.pack(">BBI", 0x02, 0, len(body)) + body


def pdvs(pdu):
    """(context id, control header, data) of each PDV of a P-DATA-TF."""
    result, offset = [], 6
    while offset < len(pdu):
        length = struct.unpack(">I", pdu[offset:offset + 4])[0]
        result.append((pdu[offset + 4], pdu[offset + 5], pdu[offset + 6:offset + 4 + length]))
        offset += 4 + length
    return result


def implicit(data):
    return read_dataset(io.BytesIO(data), is_implicit_VR=True, is_little_endian=True)


def response(command, context_id):
    """A success response to the captured request, so that the client releases."""
    field = command.CommandField
    rsp = pydicom.Dataset()
    rsp.AffectedSOPClassUID = command.AffectedSOPClassUID
    rsp.CommandField = field | 0x8000
    rsp.MessageIDBeingRespondedTo = command.MessageID
    rsp.CommandDataSetType = 0x0101
    rsp.Status = 0
    if field == 0x0001:
        rsp.AffectedSOPInstanceUID = command.AffectedSOPInstanceUID
    if field == 0x0021:
        rsp.NumberOfRemainingSuboperations = 0
        rsp.NumberOfCompletedSuboperations = 0
        rsp.NumberOfFailedSuboperations = 0
        rsp.NumberOfWarningSuboperations = 0
    buffer = pydicom.filebase.DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = True, True
    pydicom.filewriter.write_dataset(buffer, rsp)
    elements = buffer.getvalue()
    group = b"\0\0\0\0" + struct.pack("<I", 4) + struct.pack("<I", len(elements))
    data = group + elements
    pdv = struct.pack(">I", len(data) + 2) + bytes([context_id, 0x03]) + data
    return struct.pack(">BBI", 0x04, 0, len(pdv)) + pdv


def capture(name, title, argv):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    args = [a.replace("{port}", str(port)) for a in argv]
    client = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    server.settimeout(20)
    conn, _ = server.accept()
    conn.settimeout(20)
    captured = []
    rq = read_pdu(conn)
    captured.append(("associate-rq", rq))
    conn.sendall(associate_ac(rq))
    command_bytes, data_bytes, context_id = b"", b"", 0
    command_done, data_done, has_data = False, False, True
    while not (command_done and (data_done or not has_data)):
        pdu = read_pdu(conn)
        captured.append(("p-data", pdu))
        for cid, control, data in pdvs(pdu):
            context_id = cid
            if control & 1:
                command_bytes += data
                if control & 2:
                    command_done = True
                    has_data = implicit(command_bytes).CommandDataSetType != 0x0101
            else:
                data_bytes += data
                data_done = bool(control & 2)
    command = implicit(command_bytes[12:])
    conn.sendall(response(command, context_id))
    release = read_pdu(conn)
    if release and release[0] == 0x05:
        captured.append(("release-rq", release))
        conn.sendall(bytes([0x06, 0, 0, 0, 0, 4, 0, 0, 0, 0]))
    conn.close()
    server.close()
    output = client.communicate(timeout=20)[0].decode(errors="replace")

    decoded = A_ASSOCIATE_RQ()
    decoded.decode(rq)
    lines = [f"# {title}", f"# {' '.join(argv)}", "# Captured by Scripts/capture-golden.py; expectations read by pynetdicom and pydicom."]
    lines.append(f"expect calling={decoded.calling_ae_title.strip()}")
    lines.append(f"expect called={decoded.called_ae_title.strip()}")
    lines.append(f"expect contexts={len(decoded.presentation_context)}")
    first = decoded.presentation_context[0]
    lines.append(f"expect context.1.abstract={first.abstract_syntax}")
    lines.append(f"expect context.1.transfer={','.join(str(t) for t in first.transfer_syntax)}")
    for sub in decoded.user_information.user_data:
        kind = type(sub).__name__
        if kind == "MaximumLengthSubItem":
            lines.append(f"expect maximumLength={sub.maximum_length_received}")
        elif kind == "ImplementationClassUIDSubItem":
            lines.append(f"expect implementationClassUID={sub.implementation_class_uid}")
        elif kind == "ImplementationVersionNameSubItem":
            lines.append(f"expect implementationVersionName={(sub.implementation_version_name.decode() if isinstance(sub.implementation_version_name, bytes) else sub.implementation_version_name).strip()}")
    lines.append(f"expect command.field=0x{command.CommandField:04X}")
    lines.append(f"expect command.messageID={command.MessageID}")
    lines.append(f"expect command.affectedSOPClassUID={command.AffectedSOPClassUID}")
    if "Priority" in command:
        lines.append(f"expect command.priority={command.Priority}")
    if "MoveDestination" in command:
        lines.append(f"expect command.moveDestination={command.MoveDestination.strip()}")
    if "AffectedSOPInstanceUID" in command:
        lines.append(f"expect command.affectedSOPInstanceUID={command.AffectedSOPInstanceUID}")
    if data_bytes and command.CommandField != 0x0001:
        syntax = str(first.transfer_syntax[0])
        identifier = read_dataset(io.BytesIO(data_bytes), is_implicit_VR=syntax == "1.2.840.10008.1.2", is_little_endian=True)
        for element in identifier:
            lines.append(f"expect identifier.{element.tag.group:04X}{element.tag.element:04X}={element.value if element.value is not None else ''}")
    if data_bytes and command.CommandField == 0x0001:
        lines.append(f"expect data.length={len(data_bytes)}")
    for kind, pdu in captured:
        lines.append(f"pdu {kind}")
        for offset in range(0, len(pdu), 32):
            lines.append(pdu[offset:offset + 32].hex(" "))
    with open(os.path.join(OUT, name + ".txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{name}: {len(captured)} PDUs; client exit {client.returncode}")
    if client.returncode not in (0, None):
        print(output)


def main():
    os.makedirs(OUT, exist_ok=True)
    ct = os.path.join(TEST_FILES, "CT_small.dcm")
    dcmtk = "DCMTK 3.6.7"
    capture("dcmtk-echoscu", f"{dcmtk} echoscu", ["/usr/bin/echoscu", "-aet", "ECHOSCU", "-aec", "CAPTURE", "127.0.0.1", "{port}"])
    capture("dcmtk-storescu", f"{dcmtk} storescu", ["/usr/bin/storescu", "-aet", "STORESCU", "-aec", "CAPTURE", "127.0.0.1", "{port}", ct])
    capture("dcmtk-findscu", f"{dcmtk} findscu", ["/usr/bin/findscu", "-S", "-aet", "FINDSCU", "-aec", "CAPTURE",
                                                 "-k", "QueryRetrieveLevel=STUDY", "-k", "PatientID=12345", "-k", "StudyInstanceUID",
                                                 "127.0.0.1", "{port}"])
    capture("dcmtk-movescu", f"{dcmtk} movescu", ["/usr/bin/movescu", "-S", "-aet", "MOVESCU", "-aec", "CAPTURE", "-aem", "STORESCP",
                                                 "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID=1.2.826.0.1.3680043.2.1125.1",
                                                 "127.0.0.1", "{port}"])
    version = __import__("pynetdicom").__version__
    pyn = f"pynetdicom {version}"
    capture("pynetdicom-echoscu", f"{pyn} echoscu", [PY, "-m", "pynetdicom", "echoscu", "-aet", "PYECHO", "-aec", "CAPTURE", "127.0.0.1", "{port}"])
    capture("pynetdicom-storescu", f"{pyn} storescu", [PY, "-m", "pynetdicom", "storescu", "-cx", "-aet", "PYSTORE", "-aec", "CAPTURE",
                                                       "127.0.0.1", "{port}", ct])
    capture("pynetdicom-findscu", f"{pyn} findscu", [PY, "-m", "pynetdicom", "findscu", "-S", "-aet", "PYFIND", "-aec", "CAPTURE",
                                                     "-k", "QueryRetrieveLevel=STUDY", "-k", "PatientID=12345", "-k", "StudyInstanceUID=",
                                                     "127.0.0.1", "{port}"])
    capture("pynetdicom-movescu", f"{pyn} movescu", [PY, "-m", "pynetdicom", "movescu", "-S", "-aet", "PYMOVE", "-aec", "CAPTURE",
                                                     "-aem", "STORESCP", "-k", "QueryRetrieveLevel=STUDY",
                                                     "-k", "StudyInstanceUID=1.2.826.0.1.3680043.2.1125.1", "127.0.0.1", "{port}"])


if __name__ == "__main__":
    main()
