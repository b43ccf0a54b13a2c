// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "swift-movescu",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "movescu", targets: ["movescu"]),
        .library(name: "DICOM", targets: ["DICOM"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // zlib, for the deflated explicit VR little endian transfer syntax.
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // glibc's mallopt (malloc.h is not in Swift's Glibc module): the executables set
        // malloc's thresholds for MiB-sized receive blocks (Retrieve/AllocatorTuning.swift).
        .systemLibrary(name: "CMalloc"),
        // fallocate(2) (also left out of the Glibc module): a part file's blocks for a large
        // value are allocated when its length arrives (DICOM/Part10/DICOMFile.swift).
        .systemLibrary(name: "CFileSystem"),
        // The DICOM core: tags, VRs, the data dictionary, data sets, codecs, Part 10 files,
        // query files, dump text and -k keys.
        .target(name: "DICOM", dependencies: ["CZlib", "CFileSystem"]),
        // The upper layer: PDUs, the state machine, negotiation, DIMSE, requestor and acceptor.
        .target(name: "DICOMNetwork", dependencies: [
            "DICOM",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The retrieve engine: C-MOVE requests, the storage SCP, events for the front ends.
        .target(name: "Retrieve", dependencies: [
            "DICOM", "DICOMNetwork", "CMalloc",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // A small Query/Retrieve SCP (C-ECHO, C-FIND, C-MOVE with C-STORE sub-operations) over
        // generated demo studies: movescu --demo, and the misbehaving archive of the fault tests.
        .target(name: "Archive", dependencies: [
            "DICOM", "DICOMNetwork",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // ncursesw, for the console's terminal backend (only `Terminal` imports it).
        .systemLibrary(
            name: "CNcursesw",
            providers: [.apt(["libncurses-dev"])]
        ),
        // The console: model, update and render into a cell grid; never touches curses.
        .target(name: "Console", dependencies: ["DICOM", "DICOMNetwork", "Retrieve"]),
        // The terminal backend: draws a console grid with curses and reads keys.
        .target(name: "Terminal", dependencies: ["CNcursesw", "Console"]),
        .executableTarget(name: "movescu", dependencies: [
            "DICOM", "DICOMNetwork", "Retrieve", "Archive", "Console", "Terminal",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Benchmarks only (Scripts/bench/): our storage SCP alone, for DCMTK's storescu to send to.
        .executableTarget(name: "receive-bench", dependencies: [
            "Retrieve", .product(name: "Logging", package: "swift-log"),
        ], path: "Benchmarks/receive-bench"),
        .testTarget(name: "DICOMTests", dependencies: ["DICOM", "TestPeers"], resources: [.copy("Fixtures")]),
        // Real peers for the tests: processes on free loopback ports, run without blocking.
        .target(name: "TestPeers", path: "Tests/TestPeers"),
        .testTarget(name: "DICOMNetworkTests", dependencies: [
            "DICOMNetwork", "TestPeers",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOTestUtils", package: "swift-nio"),
        ], resources: [.copy("Fixtures")]),
        .testTarget(name: "RetrieveTests", dependencies: [
            "Retrieve", "Archive", "TestPeers", "movescu",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .testTarget(name: "ConsoleTests", dependencies: ["Console", "Retrieve", "TestPeers", "movescu"]),
    ]
)
