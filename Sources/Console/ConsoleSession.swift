import DICOM
import Foundation
import Retrieve
import Synchronization

/// The work the console has done for it: the network and the peers file. movescu wires
/// the engine in; tests can pass their own.
public struct ConsoleServices: Sendable {
    public var move: @Sendable (RetrieveConfiguration, RetrieveControl, @escaping @Sendable (RetrieveEvent) -> Void) async -> RetrieveSummary
    public var find: @Sendable (RetrieveConfiguration, DataSet, RetrieveControl, @escaping @Sendable (FindEvent) -> Void) async -> FindSummary
    /// A C-ECHO to a peer, with our calling AE title from the configuration.
    public var echo: @Sendable (Peer, RetrieveConfiguration) async -> EchoResult
    public var savePeers: @Sendable ([Peer]) throws -> Void

    public init(move: @escaping @Sendable (RetrieveConfiguration, RetrieveControl, @escaping @Sendable (RetrieveEvent) -> Void) async -> RetrieveSummary,
                find: @escaping @Sendable (RetrieveConfiguration, DataSet, RetrieveControl, @escaping @Sendable (FindEvent) -> Void) async -> FindSummary,
                echo: @escaping @Sendable (Peer, RetrieveConfiguration) async -> EchoResult,
                savePeers: @escaping @Sendable ([Peer]) throws -> Void) {
        self.move = move
        self.find = find
        self.echo = echo
        self.savePeers = savePeers
    }
}

/// Runs the console: a loop on its own thread that reads keys, takes what the engine
/// reports as it comes, and redraws. Engine events arrive on other threads into an inbox
/// and are applied in batches, one frame at a time, so a flood of responses costs the
/// transfer no more than an append under a lock.
public final class ConsoleSession: @unchecked Sendable {
    enum Inbound: Sendable {
        case retrieve(RetrieveEvent)
        case retrieveEnded(RetrieveSummary, generation: Int)
        case find(FindEvent)
        case findEnded(generation: Int)
        case echo(Peer, EchoResult)
    }

    final class Inbox: Sendable {
        private let items = Mutex<[Inbound]>([])
        func push(_ item: Inbound) {
            // Progress within an object is not shown; dropping it here keeps floods cheap.
            if case .retrieve(.storeProgress) = item { return }
            items.withLock { $0.append(item) }
        }
        func take() -> [Inbound] { items.withLock { let all = $0; $0.removeAll(keepingCapacity: true); return all } }
    }

    public private(set) var model: ConsoleModel
    private let services: ConsoleServices
    private let inbox = Inbox()
    private var control: RetrieveControl?
    private var running = false
    /// Counts the moves and finds started: an old one's end must not touch a newer one.
    private var generation = 0
    /// How the last retrieve ended; the process exits with it.
    public private(set) var lastSummary: RetrieveSummary?
    private let clock = ContinuousClock()
    private let origin: ContinuousClock.Instant
    /// Frames drawn, for tests and the load benchmark.
    public private(set) var frames = 0
    /// Frames drawn while a retrieve or find ran, and the longest time between two of them
    /// then (seconds): how well the console keeps up under load.
    public private(set) var framesWhileRunning = 0
    public private(set) var longestGapWhileRunning = 0.0
    /// Milliseconds a frame waits for keys before it takes events and redraws.
    public var frameMilliseconds = 50

    public init(model: ConsoleModel, services: ConsoleServices) {
        self.model = model
        self.services = services
        origin = clock.now
    }

    private var now: Double {
        let d = clock.now - origin
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// Runs until the user quits; with `autoStart` the configured retrieve begins at once,
    /// and the console closes a moment after it ends (a script typed for DCMTK's movescu
    /// gets its exit code back) unless a key was pressed meanwhile.
    public func run(on terminal: ConsoleTerminal, autoStart: Bool) {
        var closeWhenDone = autoStart
        var closeAt: Double?
        if autoStart {
            model.note("the console closes when this retrieve ends, as movescu does; press any key to keep it open", .dim)
            if let command = model.handle(.character("m")) { perform(command) }
        }
        var quitting = false
        var hungUp = false
        var quitDeadline = 0.0
        var lastDraw = -1.0
        var dirty = true
        while true {
            // Keys: wait a frame for the first, then take whatever else is already typed.
            var wait = frameMilliseconds
            while !hungUp, let input = terminal.read(timeout: wait) {
                wait = 0
                dirty = true
                model.now = now
                if closeWhenDone, case .key = input {
                    closeWhenDone = false
                    model.note("the console stays open: q quits", .dim)
                }
                if input == .hangup {
                    // Nobody is left to see or answer: abort what runs and end, at once.
                    if running { control?.abort() }
                    hungUp = true
                    quitting = true
                    quitDeadline = now + 2
                    break
                }
                guard case .key(let key) = input, let command = model.handle(key) else { continue }
                if case .quit = command {
                    quitting = true
                    quitDeadline = now + 5
                    if running { control?.abort() }
                } else {
                    perform(command)
                }
            }
            let t = now
            for item in inbox.take() {
                dirty = true
                switch item {
                case .retrieve(let event): model.apply(event, at: t)
                case .retrieveEnded(let summary, let ended):
                    lastSummary = summary
                    if ended == generation {
                        running = false
                        control = nil
                    }
                case .find(let event):
                    model.apply(event, at: t)
                case .findEnded(let ended):
                    if ended == generation {
                        running = false
                        control = nil
                    }
                case .echo(let peer, let result):
                    model.now = t
                    model.echoed(peer, result: result)
                }
            }
            if quitting && (!running || t > quitDeadline) { return }
            // A terminal that is gone is not drawn on (nor read: it would answer at once).
            if hungUp {
                usleep(20_000)
                continue
            }
            if closeWhenDone && !running && lastSummary != nil {
                // Long enough to see the final counters.
                if let closeAt, t >= closeAt { return }
                if closeAt == nil { closeAt = t + 1.5 }
            }
            // The clock in the header moves even when nothing happens.
            if dirty || t - lastDraw > 0.5 {
                model.now = t
                let size = terminal.size
                terminal.draw(ConsoleView.render(model, width: size.width, height: size.height))
                frames += 1
                if running {
                    framesWhileRunning += 1
                    if lastDraw >= 0 { longestGapWhileRunning = max(longestGapWhileRunning, t - lastDraw) }
                }
                lastDraw = t
                dirty = false
            }
        }
    }

    /// What keeps our storage SCP from receiving (the checks movescu makes at its start, for
    /// settings changed since): the output folder, a privileged port.
    static func storageProblem(_ configuration: RetrieveConfiguration) -> String? {
        guard let port = configuration.listenPort else { return nil }
        if port < 1024 && geteuid() != 0 { return "cannot listen on port \(port): ports below 1024 need root privileges" }
        guard !configuration.storage.ignore else { return nil }
        let folder = configuration.storage.outputDirectory
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            return "the output directory \(folder) does not exist or is not a directory"
        }
        guard FileManager.default.isWritableFile(atPath: folder) else { return "cannot write to the output directory \(folder)" }
        return nil
    }

    private func perform(_ command: ConsoleCommand) {
        let inbox = self.inbox
        let services = self.services
        switch command {
        // The model only asks for a move or find when the last one has reported its end
        // (its `.finished` event); the task that sent it may still be returning.
        case .move(let configuration):
            if let problem = Self.storageProblem(configuration) {
                model.apply(RetrieveEvent.error(problem), at: now)
                var summary = RetrieveSummary()
                summary.outcome = .networkInitFailed(problem)
                model.apply(RetrieveEvent.finished(summary), at: now)
                return
            }
            running = true
            generation += 1
            let started = generation
            let control = RetrieveControl()
            self.control = control
            Task.detached {
                let summary = await services.move(configuration, control) { inbox.push(.retrieve($0)) }
                inbox.push(.retrieveEnded(summary, generation: started))
            }
        case .find(let configuration, let identifier):
            running = true
            generation += 1
            let started = generation
            let control = RetrieveControl()
            self.control = control
            Task.detached {
                _ = await services.find(configuration, identifier, control) { inbox.push(.find($0)) }
                inbox.push(.findEnded(generation: started))
            }
        case .cancel:
            control?.cancel()
        case .abort:
            control?.abort()
        case .echo(let peer):
            let configuration = model.configuration
            Task.detached {
                let result = await services.echo(peer, configuration)
                inbox.push(.echo(peer, result))
            }
        case .savePeers(let peers):
            do {
                try services.savePeers(peers)
            } catch {
                model.note("the peers were not saved: \(error)", .failure)
            }
        case .saveLog(let path, let text):
            do {
                try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
                model.note("session log saved to \(path)", .success)
            } catch {
                model.note("cannot save the log to \(path): \(error.localizedDescription)", .failure)
            }
        case .loadQuery(let path):
            // Only a regular file: a FIFO or a device would block the console for good.
            var info = stat()
            guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
                model.note("cannot load \(path): not a readable regular file", .failure)
                return
            }
            do {
                model.queryLoaded(try QueryFile.load(path: path), from: path)
            } catch {
                model.note("cannot load \(path): \(error)", .failure)
            }
        case .saveQuery(let path, let identifier):
            do {
                try QueryFiles.save(identifier, to: path, model: model.configuration.model)
                model.note("query saved to \(path)", .success)
            } catch {
                model.note("cannot save the query to \(path): \(error)", .failure)
            }
        case .quit:
            break
        }
    }
}
