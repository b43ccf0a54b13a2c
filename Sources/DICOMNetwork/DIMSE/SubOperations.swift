/// The four sub-operation counters of C-MOVE and C-GET responses (PS3.7 9.3.3.2, 9.3.4.2).
public struct SubOperationCounts: Equatable, Sendable, CustomStringConvertible {
    public var remaining: UInt16?
    public var completed: UInt16?
    public var failed: UInt16?
    public var warning: UInt16?

    public init(remaining: UInt16? = nil, completed: UInt16? = nil, failed: UInt16? = nil, warning: UInt16? = nil) {
        self.remaining = remaining
        self.completed = completed
        self.failed = failed
        self.warning = warning
    }

    public var description: String {
        func f(_ v: UInt16?) -> String { v.map(String.init) ?? "-" }
        return "remaining \(f(remaining)), completed \(f(completed)), failed \(f(failed)), warning \(f(warning))"
    }

    func encode(into b: inout CommandSetBuilder) {
        if let remaining { b.us(CommandTag.remainingSuboperations, remaining) }
        if let completed { b.us(CommandTag.completedSuboperations, completed) }
        if let failed { b.us(CommandTag.failedSuboperations, failed) }
        if let warning { b.us(CommandTag.warningSuboperations, warning) }
    }

    init(_ r: CommandSetReader) {
        remaining = r.optionalUS(CommandTag.remainingSuboperations)
        completed = r.optionalUS(CommandTag.completedSuboperations)
        failed = r.optionalUS(CommandTag.failedSuboperations)
        warning = r.optionalUS(CommandTag.warningSuboperations)
    }
}
