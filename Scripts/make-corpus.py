#!/usr/bin/env python3
"""Writes a test corpus of DICOM files for retrieve tests and benchmarks, and prints a JSON
manifest of what it wrote (file, SOP class and instance, series, study, patient).

  make-corpus.py OUT [--multiframe-mb N] [--ct N] [--no-mixed]

The mixed set (one patient, one study) has: CT images with a UTF-8 patient name, private
tags and nested sequences (explicit VR little endian); an MR in explicit VR big endian and
one in implicit VR little endian; an SR with nested content sequences; an RT plan (implicit
VR). --multiframe-mb adds a multi-frame secondary capture of about N MB (0 leaves it out).
--ct N adds a second study of N CT images of 512x512 16-bit (for benchmarks); --ct-size S
makes them SxS instead (small ones for the console-under-load benchmark).
Every file gets fresh UIDs under 1.2.826.0.1.3680043.8.498 so that runs do not collide
with pydicom's own test files.
"""
import argparse
import json
import os
import sys

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

ROOT = "1.2.826.0.1.3680043.8.498."
DATA = os.path.join(os.path.dirname(pydicom.__file__), "data", "test_files")
PATIENT_ID = "CORPUS1"
PATIENT_NAME = "Müller^Jürgen=ミュラー^ユルゲン"
STUDY = ROOT + "5001"


def uid(suffix):
    return ROOT + suffix


def common(ds, series, instance):
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientID = PATIENT_ID
    ds.PatientName = PATIENT_NAME
    ds.StudyInstanceUID = STUDY
    ds.SeriesInstanceUID = series
    ds.SOPInstanceUID = instance
    ds.file_meta.MediaStorageSOPInstanceUID = instance
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.StudyID = "5001"
    ds.AccessionNumber = "ACC5001"


def add_private_and_nested(ds, n):
    block = ds.private_block(0x0029, "SWIFT MOVESCU TEST", create=True)
    block.add_new(0x01, "LO", "private text %d" % n)
    block.add_new(0x02, "US", 7 + n)
    block.add_new(0x03, "OB", bytes(range(n, n + 9)))
    purpose = Dataset()
    purpose.CodeValue = "121311"
    purpose.CodingSchemeDesignator = "DCM"
    purpose.CodeMeaning = "Localizer"
    ref = Dataset()
    ref.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ref.ReferencedSOPInstanceUID = uid("5001.1.%d" % (n + 100))
    ref.PurposeOfReferenceCodeSequence = Sequence([purpose])
    ds.ReferencedImageSequence = Sequence([ref])


def save(ds, path, manifest, name):
    ds.save_as(path, enforce_file_format=True)
    manifest.append({
        "file": name,
        "sopClassUID": str(ds.SOPClassUID),
        "sopInstanceUID": str(ds.SOPInstanceUID),
        "seriesInstanceUID": str(ds.SeriesInstanceUID),
        "studyInstanceUID": str(ds.StudyInstanceUID),
        "patientID": str(ds.PatientID),
        "transferSyntax": str(ds.file_meta.TransferSyntaxUID),
        "bytes": os.path.getsize(path),
    })


def mixed(out, manifest):
    for i in range(3):
        ds = pydicom.dcmread(os.path.join(DATA, "CT_small.dcm"))
        common(ds, uid("5001.1"), uid("5001.1.%d" % (i + 1)))
        ds.InstanceNumber = i + 1
        add_private_and_nested(ds, i)
        save(ds, os.path.join(out, "ct%d.dcm" % i), manifest, "ct%d.dcm" % i)
    for n, (source, series) in enumerate([("MR_small_bigendian.dcm", "5001.2"), ("MR_small_implicit.dcm", "5001.3")]):
        ds = pydicom.dcmread(os.path.join(DATA, source))
        common(ds, uid(series), uid(series + ".1"))
        save(ds, os.path.join(out, source), manifest, source)
    for source, series in [("test-SR.dcm", "5001.4"), ("rtplan.dcm", "5001.5")]:
        ds = pydicom.dcmread(os.path.join(DATA, source))
        common(ds, uid(series), uid(series + ".1"))
        save(ds, os.path.join(out, source), manifest, source)


def new_image(sop_class, series, instance, rows, columns, frames, pixels):
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = sop_class
    common(ds, series, instance)
    ds.Modality = "OT" if frames > 1 else "CT"
    ds.Rows = rows
    ds.Columns = columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    if frames > 1:
        ds.NumberOfFrames = frames
        ds.FrameIncrementPointer = 0x00181063
        ds.FrameTime = 40
    ds.PixelData = pixels
    return ds


def multiframe(out, manifest, megabytes):
    rows = columns = 1024
    frame = rows * columns * 2
    frames = max(1, megabytes * (1 << 20) // frame)
    # A pattern that differs from frame to frame, cheap to make.
    ramp = bytes(range(256)) * (frame // 256)
    pixels = b"".join(ramp[f % 256:] + ramp[:f % 256] for f in range(frames))
    ds = new_image("1.2.840.10008.5.1.4.1.1.7.3", uid("5001.6"), uid("5001.6.1"), rows, columns, frames, pixels)
    save(ds, os.path.join(out, "multiframe.dcm"), manifest, "multiframe.dcm")


def ct_study(out, manifest, count, size=512):
    series = uid("5002.1")
    for i in range(count):
        pixels = (bytes([(i + j) % 251 for j in range(1024)]) * (size * size * 2 // 1024 + 1))[:size * size * 2]
        ds = new_image("1.2.840.10008.5.1.4.1.1.2", series, uid("5002.1.%d" % (i + 1)), size, size, 1, pixels)
        ds.StudyInstanceUID = ROOT + "5002"
        ds.InstanceNumber = i + 1
        name = "bench%04d.dcm" % i
        save(ds, os.path.join(out, name), manifest, name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out")
    parser.add_argument("--multiframe-mb", type=int, default=0)
    parser.add_argument("--ct", type=int, default=0)
    parser.add_argument("--ct-size", type=int, default=512)
    parser.add_argument("--no-mixed", action="store_true")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    manifest = []
    if not args.no_mixed:
        mixed(args.out, manifest)
    if args.multiframe_mb > 0:
        multiframe(args.out, manifest, args.multiframe_mb)
    if args.ct > 0:
        ct_study(args.out, manifest, args.ct, args.ct_size)
    json.dump(manifest, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
