import DICOM

// The command line arrives with the retrieve engine (issue 4). Until then this prints what
// it is and checks the data dictionary setup, so the README's first command has something
// real to run.
let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.contains("--version") {
    print("movescu (swift-movescu) \(Implementation.versionName), implementation class UID \(Implementation.classUID)")
} else {
    print("""
    movescu: retrieve DICOM objects with C-MOVE, receiving them on its own storage SCP.
    usage: movescu [options] peer port [query-file...]

    This build has the DICOM core (data dictionary, data sets, the four uncompressed
    transfer syntaxes, Part 10 files, query files and -k keys). The network options of
    DCMTK's movescu come with the retrieve engine.
    """)
    do {
        let dictionary = try DataDictionary.loadingEnvironment()
        print("data dictionary: \(dictionary.count) entries")
    } catch {
        print("movescu: \(error)")
    }
}
