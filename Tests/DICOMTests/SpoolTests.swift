import Foundation
import Testing
import TestPeers
@testable import DICOM

/// Data sets whose large values sit in a spool file encode to exactly the bytes of the same
/// data sets held in memory (whose encoding is checked against dcmconv in WriterTests), in
/// every output syntax and option, and the spool keeps nothing large in memory.
@Suite(.timeLimit(.minutes(10))) struct SpoolTests {
    static let files = ["CT_small.dcm", "MR_small_bigendian.dcm", "MR_small_implicit.dcm", "rtdose.dcm", "SC_rgb_small_odd.dcm",
                        "image_dfl.dcm", "waveform_ecg.dcm", "SC_rgb_jpeg_dcmtk.dcm", "JPEG2000.dcm", "SC_rgb_rle_2frame.dcm",
                        "test-SR.dcm", "priv_SQ.dcm"]

    /// The data set read again from its own encoding, with every value over 64 bytes spooled.
    static func spooled(_ file: DICOMFile, spool: Spool) throws -> DataSet {
        let bytes = try DataSetWriter(transferSyntax: file.transferSyntax).encode(file.dataSet)
        var options = DataSetParser.Options()
        options.maximumBufferedValue = 64
        var parser = DataSetParser(transferSyntax: file.transferSyntax, options: options)
        var builder = DataSetBuilder(largeValues: .spool(spool))
        // Fed in odd-sized pieces, as fragments arrive.
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + 977)
            try parser.append(bytes[start..<end])
            while let event = try parser.next() { try builder.consume(event) }
            start = end
        }
        parser.finish()
        while let event = try parser.next() { try builder.consume(event) }
        var dataSet = builder.dataSet
        if !file.transferSyntax.isExplicitVR { dataSet.resolveAmbiguousVRs() }
        return dataSet
    }

    /// Through the spool file (no memory) and through pieces kept in memory, which the writer
    /// takes as they are unless it swaps bytes (+tb).
    @Test(arguments: ["+te", "+ti", "+tb", "+td", "+te -e", "+tb -e +g", "+ti +g", "+te -g", "+tb -u"], [0, 4 << 20])
    func spooledValuesEncodeLikeValuesInMemory(_ flagText: String, memoryLimit: Int) throws {
        let (syntax, encoding) = WriterAgainstDcmconv.options(flagText.split(separator: " ").map(String.init))
        let paths = try PydicomData.files("test_files").filter { Self.files.contains(($0 as NSString).lastPathComponent) }
        #expect(paths.count == Self.files.count)
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spool = Spool(directory: directory, memoryLimit: memoryLimit)
        for path in paths {
            let name = (path as NSString).lastPathComponent
            let file = try DICOMFile.read(path: path)
            let dataSet = try Self.spooled(file, spool: spool)
            if let pixels = file.dataSet[Tag(0x7FE0, 0x0010)], pixels.valueLength > 64 {
                #expect(dataSet[Tag(0x7FE0, 0x0010)]?.isSpooled == true, "\(name): the pixel data was spooled")
            }
            let target = file.transferSyntax.isEncapsulated ? file.transferSyntax : syntax
            let inMemory = try DataSetWriter(transferSyntax: target, options: encoding).encode(file.dataSet)
            var streamed: [UInt8] = []
            var pieces = 0
            try DataSetWriter(transferSyntax: target, options: encoding).write(dataSet) { streamed += $0; pieces += 1 }
            // Compared as a Bool: a failure should name the file, not print megabytes.
            let same = streamed == inMemory
            #expect(same, "\(name) in \(flagText), memory limit \(memoryLimit): \(streamed.count) bytes streamed, \(inMemory.count) in memory")
            // And through the file writer, meta information included.
            var options = DICOMFile.WriteOptions()
            options.transferSyntax = target
            options.encoding = encoding
            let whole = try DICOMFile(dataSet: file.dataSet, transferSyntax: file.transferSyntax).encoded(options)
            var viaSink: [UInt8] = []
            try DICOMFile(dataSet: dataSet, transferSyntax: file.transferSyntax).write(options) { viaSink += $0 }
            let sameFile = viaSink == whole
            #expect(sameFile, "\(name) as a file in \(flagText)")
        }
        #expect(spool.size > 0 && (spool.spilled || memoryLimit > 0))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty, "the spool file has no name")
    }

    /// In memory (3 MB is under the default limit) and in the file.
    @Test(arguments: [4 << 20, 0])
    func spoolReadsBackWhatWasAppendedInChunks(memoryLimit: Int) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spool = Spool(directory: directory, memoryLimit: memoryLimit)
        let a = (0..<3_000_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try spool.append(a[0..<1_000_001])
        try spool.append(a[1_000_001...])
        let start = spool.end
        try spool.append([1, 2, 3])
        let first = SpooledBytes(spool: spool, offset: 0, count: a.count)
        var chunks = 0
        var back: [UInt8] = []
        try first.read(chunk: 65536) { back += $0; chunks += 1 }
        let same = back == a
        #expect(same)
        #expect(chunks == (a.count + 65535) / 65536)
        #expect(try SpooledBytes(spool: spool, offset: start, count: 3).bytes() == [1, 2, 3])
        #expect(spool.spilled == (memoryLimit == 0))
    }

    @Test func spoolInAMissingFolderSaysWhere() {
        // The file is made when the first value does not fit in memory.
        let spool = Spool(directory: "/nonexistent-folder-for-spool", memoryLimit: 2)
        try? spool.append([1, 2])
        #expect(throws: DICOMError.self) { try spool.append([3]) }
        #expect(throws: DICOMError.self) { try PartFile(directory: "/nonexistent-folder-for-part") }
    }
}

@Suite(.timeLimit(.minutes(10))) struct PartFileTests {
    /// Temporary names are hidden, carry this process's PID where `removeAbandoned` looks for
    /// it, and do not repeat.
    @Test func temporaryNamesCarryThePIDAndDoNotRepeat() throws {
        let directory = NSTemporaryDirectory() + "partnames-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var names = Set<String>()
        for _ in 0..<200 {
            let part = try PartFile(directory: directory)
            let name = String(part.temporaryPath.dropFirst(directory.count + 1))
            #expect(part.temporaryPath.hasPrefix(directory + "/.movescu-"))
            #expect(PartFile.writerPID(ofFileNamed: name) == getpid(), "\(name)")
            names.insert(name)
            part.discard()
        }
        #expect(names.count == 200)
        let suffixes = (0..<1000).map { _ in PartFile.nextSuffix() }
        #expect(Set(suffixes).count == 1000 && suffixes.allSatisfy { $0.utf8.count == 6 && $0.allSatisfy { $0.isLetter || $0.isNumber } })
    }

    /// Small writes gathered, large ones kept as they came, all in order through writev,
    /// across several flushes.
    @Test func piecesOfEverySizeLandInOrder() throws {
        let directory = NSTemporaryDirectory() + "partfile-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var generator = SystemRandomNumberGenerator()
        var expected: [UInt8] = []
        let part = try PartFile(directory: directory)
        // Pieces cut from a pattern at shifting offsets, so that order mistakes show (cheap to
        // make in a debug build: this test shares two cooperative threads with the others).
        let pattern = (0..<((1 << 20) + 256)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 8) }
        for index in 0..<300 {
            let size = [0, 1, 7, 4095, 4096, 16372, 70000, 1 << 20, 3][Int.random(in: 0..<9, using: &generator)]
            let piece = Array(pattern[(index % 256)..<(index % 256 + size)])
            expected += piece
            try part.write(piece)
        }
        #expect(part.size == expected.count)
        try part.commit(as: directory + "/done")
        #expect(try readBytes(directory + "/done") == expected)
    }

    /// What a part file holds on disk lags what it was given by less than a quarter MiB
    /// while the file is small (an image is mostly written before its last bytes come), and
    /// by up to a MiB once it is past `earlyUpTo` (a large value goes out in large writes).
    @Test func smallFilesAreWrittenEarlyLargeOnesInLargeWrites() throws {
        let directory = NSTemporaryDirectory() + "partfile-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let part = try PartFile(directory: directory)
        let piece = [UInt8](repeating: 0x5A, count: 16372)
        var largestLagEarly = 0, largestLagLate = 0
        while part.size < PartFile.earlyUpTo + (3 << 20) {
            try part.write(piece)
            var info = stat()
            #expect(stat(part.temporaryPath, &info) == 0)
            let lag = part.size - Int(info.st_size)
            if part.size <= PartFile.earlyUpTo {
                largestLagEarly = max(largestLagEarly, lag)
            } else if Int(info.st_size) > PartFile.earlyUpTo {
                largestLagLate = max(largestLagLate, lag)
            }
        }
        #expect(largestLagEarly < PartFile.earlyBufferSize && largestLagEarly >= PartFile.earlyBufferSize - piece.count,
                "small: written a quarter MiB at a time, lagging by \(largestLagEarly) at most")
        #expect(largestLagLate < PartFile.bufferSize && largestLagLate >= PartFile.bufferSize - piece.count,
                "large: written a MiB at a time, lagging by \(largestLagLate) at most")
        try part.commit(as: directory + "/done")
        #expect(try readBytes(directory + "/done").count == part.size)
        // A file that does not write early (an object encoded whole at its end) gathers a MiB
        // from the start.
        let whole = try PartFile(directory: directory, writesEarly: false)
        var info = stat()
        while whole.size + piece.count < PartFile.bufferSize {
            try whole.write(piece)
        }
        #expect(stat(whole.temporaryPath, &info) == 0 && info.st_size == 0, "nothing written under a MiB: \(info.st_size)")
        try whole.write(piece)
        #expect(stat(whole.temporaryPath, &info) == 0 && Int(info.st_size) == whole.size, "a MiB written at once")
        try whole.commit(as: directory + "/whole")
    }

    /// A large value's blocks are allocated when its length is known, on ext4 only (tmpfs
    /// would clear every page ahead): the file's size stays what was written, the blocks
    /// are there, and what is written after lands whole. Under the threshold nothing is
    /// allocated ahead. Checked on the temporary folder and on /dev/shm, whichever of the
    /// two kinds each is here.
    @Test func largeValuesHaveTheirBlocksAllocatedAheadOnExt4() throws {
        try onEachFileSystem("partreserve") { directory, type in
            let ext4 = type == "ext4"
            let part = try PartFile(directory: directory)
            let header = [UInt8](repeating: 0x44, count: 132)
            try part.write(header)
            #expect(try part.reserve(PartFile.reserveFrom - 1) == false, "under the threshold (\(type))")
            let length = PartFile.reserveFrom + 12345
            #expect(try part.reserve(length) == ext4, "allocated ahead on ext4 only (\(type))")
            var info = stat()
            #expect(stat(part.temporaryPath, &info) == 0)
            #expect(info.st_size == 0, "the file's size is what has been written (nothing flushed yet)")
            if ext4 {
                #expect(Int(info.st_blocks) * 512 >= length, "\(info.st_blocks) blocks of 512 bytes for \(length) bytes")
            } else {
                #expect(Int(info.st_blocks) * 512 < 1 << 20, "nothing allocated ahead on \(type)")
            }
            let value = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
            try part.write(value)
            try part.write([1, 2, 3])
            try part.commit(as: directory + "/done")
            #expect(try readBytes(directory + "/done") == header + value + [1, 2, 3], "\(type)")
        }
    }

    /// A value that cannot fit is refused at its start, on every file system: a petabyte is
    /// more than the room left, and `reserve` throws ENOSPC naming the part file before any
    /// of it is written. The part file can still be written (and discarded) after.
    @Test func aValueThatCannotFitIsRefusedWhenItsLengthArrives() throws {
        try onEachFileSystem("partnoroom") { directory, type in
            let part = try PartFile(directory: directory)
            defer { part.discard() }
            do {
                try part.reserve(1 << 50)
                Issue.record("a petabyte was taken to fit on \(type)")
            } catch DICOMError.fileSystem(let path, let action, let code) {
                #expect(path == part.temporaryPath)
                #expect(code == ENOSPC, "errno \(code) on \(type)")
                #expect(action.contains("\(1 << 50) bytes"), "\(action)")
            }
            var info = stat()
            #expect(stat(part.temporaryPath, &info) == 0 && info.st_blocks == 0, "nothing allocated on \(type)")
            try part.write([9, 9])
            #expect(part.size == 2)
        }
    }

    /// A gigabyte declared is allocated a window at a time, not whole: 64 MiB ahead when its
    /// length comes, the next window once the writes are half-way through it. On ext4 only;
    /// elsewhere nothing is allocated ahead, however far the writes go.
    @Test func aLargeValueIsAllocatedAWindowAhead() throws {
        try onEachFileSystem("partwindow") { directory, type in
            let ext4 = type == "ext4"
            let part = try PartFile(directory: directory)
            defer { part.discard() }
            let window = PartFile.reserveWindow
            func allocated() -> Int {
                var info = stat()
                #expect(stat(part.temporaryPath, &info) == 0)
                return Int(info.st_blocks) * 512
            }
            try part.write([UInt8](repeating: 7, count: 132))
            #expect(try part.reserve(1 << 30) == ext4, "allocated ahead on ext4 only (\(type))")
            let first = allocated()
            if ext4 {
                #expect(first >= window && first < window + (1 << 20), "one window ahead, not the gigabyte: \(first) bytes")
            } else {
                #expect(first < 1 << 20, "nothing ahead on \(type): \(first) bytes")
            }
            // Half-way through the window (and a MiB more), the next is allocated.
            let chunk = ByteChunk([UInt8](repeating: 0x5A, count: 1 << 20))
            for _ in 0..<(window / 2 / (1 << 20) + 1) { try part.write(chunk) }
            let second = allocated()
            if ext4 {
                #expect(second >= window / 2 + window && second < 2 * window + (1 << 20), "topped up to a window past the writes: \(second) bytes")
            } else {
                #expect(second <= part.size + (1 << 20), "only what was written on \(type): \(second) bytes for \(part.size)")
            }
        }
    }

    /// Runs `body` in a fresh folder on the temporary folder's file system and on /dev/shm's,
    /// whichever of those exist here, with the kind of each (ext4, tmpfs, ...); removes the
    /// folders after. Records an issue when neither exists, so the test cannot pass unchecked.
    func onEachFileSystem(_ name: String, _ body: (String, String) throws -> Void) throws {
        var kinds: [String] = []
        for base in [NSTemporaryDirectory(), "/dev/shm/"] where FileManager.default.fileExists(atPath: base) {
            let directory = base + "\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let type = try mountType(directory)
            kinds.append(type)
            try body(directory, type)
        }
        print("PartFileTests.\(name): file systems checked: \(kinds)")
        #expect(!kinds.isEmpty)
    }
}
