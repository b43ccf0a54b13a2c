// libFuzzer entry point, compiled together with the DICOM sources by Scripts/fuzz.sh
// (swiftc -sanitize=fuzzer,address); not part of the package build.
// FUZZ_TARGET selects the body: 0 = data set reader, 1 = dump text and -k parsers,
// 2 = PDU stream (only in the network build, compiled with -D FUZZ_NETWORK).
#if canImport(Glibc)
import Glibc
#endif

private let target: Int = {
    if let value = getenv("FUZZ_TARGET") { return Int(atoi(value)) }
    return 0
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    #if FUZZ_NETWORK
    if target == 2 {
        NetworkFuzzTargets.pduStream(bytes)
        return 0
    }
    #endif
    if target == 1 {
        FuzzTargets.textParsers(bytes)
    } else {
        FuzzTargets.dataSetReader(bytes)
    }
    return 0
}
