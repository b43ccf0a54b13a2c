import Archive
import Console
import DICOM
import Foundation
import Logging
import Retrieve
import Terminal

/// Opens the console on this terminal, filled from the command line and the peers file, and
/// runs it on a thread of its own (curses calls block); returns how the last retrieve ended.
enum ConsoleRunner {
    /// Why the console could not open (a bad peers file): said before any screen is drawn.
    struct Failure: Error { var message: String }

    static func run(invocation: Invocation, configuration: RetrieveConfiguration,
                    demo: QueryRetrieveArchive? = nil) async throws(Failure) -> RetrieveSummary? {
        let environment = ProcessInfo.processInfo.environment
        var configuration = configuration
        let given = invocation.given

        // Peers and settings.
        let peersPath = invocation.peersFile ?? PeerBook.defaultPath(environment: environment)
        let book: PeerBook
        do {
            book = try PeerBook.load(from: peersPath)
        } catch {
            throw Failure(message: "\(error)")
        }
        let s = book.settings
        if let calling = s.callingAE, !given.contains("-aet"), !given.contains("--aetitle") { configuration.callingAETitle = calling }
        if let destination = s.moveDestination, !given.contains("-aem"), !given.contains("--move") { configuration.moveDestination = destination }
        // The demo has its own port and folder (./movescu-demo) unless the command line says.
        if demo == nil, let port = s.port, given.isDisjoint(with: ["+P", "--port", "--no-port"]) { configuration.listenPort = port }
        if demo == nil, let folder = s.outputDirectory, given.isDisjoint(with: ["-od", "--output-directory"]) {
            configuration.storage.outputDirectory = folder
        }

        var model = ConsoleModel(configuration: configuration)
        model.peers = book.peers
        // The demo archive is the first peer while it runs; it is never saved.
        let demoPeer = demo.map { archive in
            Peer(name: "demo", aeTitle: archive.aeTitle, host: "127.0.0.1", port: archive.port,
                 notes: "the built-in demo archive: 3 patients, 4 studies, 52 images; f lists its studies")
        }
        if let demoPeer { model.peers.insert(demoPeer, at: 0) }
        model.peersFile = peersPath
        if !invocation.peerGiven, let first = book.peers.first { model.use(first) }
        if let index = model.peers.firstIndex(where: { $0.host == model.configuration.peerHost && $0.port == model.configuration.peerPort && $0.aeTitle == model.configuration.calledAETitle }) {
            model.peerIndex = index
        }
        model.note("peers from \(peersPath)\(FileManager.default.fileExists(atPath: peersPath) ? "" : " (not there yet; saving a peer makes it)")", .dim)
        if !invocation.complete {
            model.note("ready: f finds with the query's keys, m moves them; Tab moves between panes, ? shows every key", .dim)
        }

        // Theme: --theme, then the settings, then the default.
        var theme = Theme.standard
        if let name = invocation.theme ?? s.theme {
            do {
                theme = try Theme.load(name, environment: environment)
            } catch {
                model.note("theme \(error); using the default theme", .warning)
            }
        }
        // NO_COLOR (no-color.org): any non-empty value turns colours off, and then the
        // monochrome theme (selection and progress drawn with attributes) unless one was chosen.
        let useColor = (environment["NO_COLOR"] ?? "").isEmpty
        if !useColor && invocation.theme == nil && s.theme == nil { theme = Theme.builtIn["monochrome"] ?? theme }

        // The engine's own log lines would scribble over the screen; the console shows events.
        let quiet = Logger(label: "movescu") { _ in SwiftLogNoOpLogHandler() }
        let services = ConsoleServices(
            move: { configuration, control, emit in
                // The demo archive sends its objects wherever our storage SCP listens now.
                if let demo, let port = configuration.listenPort {
                    demo.routeUnknownTitles(to: ArchiveDestination(host: "127.0.0.1", port: port))
                }
                return await RetrieveEngine.run(configuration, logger: quiet, control: control, emit: emit)
            },
            find: { configuration, identifier, control, emit in
                await FindEngine.run(configuration, identifier: identifier, control: control, logger: quiet, emit: emit)
            },
            echo: { peer, configuration in
                await RetrieveEngine.echo(host: peer.host, port: peer.port, callingAETitle: configuration.callingAETitle,
                                          calledAETitle: peer.aeTitle, logger: quiet)
            },
            savePeers: { peers in
                var updated = book
                updated.peers = peers.filter { $0 != demoPeer }
                try updated.save(to: peersPath)
            })
        let session = ConsoleSession(model: model, services: services)
        let autoStart = invocation.complete
        let chosenTheme = theme
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let thread = Thread {
                let terminal = CursesTerminal(theme: chosenTheme, useColor: useColor)
                session.run(on: terminal, autoStart: autoStart)
                terminal.close()
                done.resume()
            }
            thread.name = "console"
            thread.start()
        }
        // For the console-under-load benchmark (Scripts/bench/console-load.py).
        if let path = environment["MOVESCU_CONSOLE_STATS"] {
            let stats = "frames \(session.frames) running-frames \(session.framesWhileRunning) "
                + "longest-gap \(session.longestGapWhileRunning) retrieve-seconds \(session.lastSummary?.seconds ?? 0)\n"
            _ = FileManager.default.createFile(atPath: path, contents: Data(stats.utf8))
        }
        return session.lastSummary
    }
}
