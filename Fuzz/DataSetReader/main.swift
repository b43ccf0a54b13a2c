import DICOM

// libFuzzer entry point: decode arbitrary bytes as a DICOM file and as a bare data set in
// every uncompressed syntax, and re-encode what decodes. Built by Scripts/fuzz.sh with
// -sanitize=fuzzer; never part of the normal build's tests.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    FuzzTargets.dataSetReader(bytes)
    return 0
}
