/// `struct xenstore_domain_interface` (io/xs_wire.h): the store ring page a guest shares with XenStore.
public enum StoreRingLayout {
    /// Bytes in each direction (indices are free-running u32s masked with size − 1).
    public static let size = 1024
    public static let request = 0, response = 1024
    public static let requestConsumer = 2048, requestProducer = 2052, responseConsumer = 2056, responseProducer = 2060
    public static let serverFeatures = 2064, connection = 2068, error = 2072
    /// `XENSTORE_ERROR_*` written to `error` when the server gives up on a connection.
    public static let errorRingIndex: UInt32 = 2, errorProtocol: UInt32 = 3
}

/// `struct xencons_interface` (io/console.h): the console ring page.
public enum ConsoleRingLayout {
    public static let input = 0, inputSize = 1024
    public static let output = 1024, outputSize = 2048
    public static let inputConsumer = 3072, inputProducer = 3076, outputConsumer = 3080, outputProducer = 3084
}

/// `enum xenbus_state` (io/xenbus.h).
public enum XenbusState: UInt32, Sendable, CaseIterable {
    case unknown = 0, initialising = 1, initWait = 2, initialised = 3, connected = 4, closing = 5, closed = 6
    case reconfiguring = 7, reconfigured = 8
}
