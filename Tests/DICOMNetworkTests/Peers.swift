import NIOPosix
@_exported import TestPeers

let testGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
