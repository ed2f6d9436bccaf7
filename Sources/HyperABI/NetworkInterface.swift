/// Xen's network device protocol (io/netif.h): a tx and an rx ring of one page each, rx by copy.
public enum NetworkInterface {
    /// netif_tx_request (12): gref u32 @0, offset u16 @4, flags u16 @6, id u16 @8, size u16 @10.
    public static let txSlot = 12
    public static let txGref = 0, txOffset = 4, txFlags = 6, txID = 8, txSize = 10
    /// netif_tx_response (4): id u16 @0, status s16 @2.
    public static let txResponseSize = 4
    /// netif_rx_request (8): id u16 @0, gref u32 @4. netif_rx_response (8): id u16 @0, offset u16 @2,
    /// flags u16 @4, status s16 @6 (the frame's length, or an error).
    public static let rxSlot = 8
    public static let rxGref = 4
    public static let rxResponseOffset = 2, rxResponseFlags = 4, rxResponseStatus = 6
    /// NETTXF_* bits a back-end without scatter-gather and extra info cannot take.
    public static let txMoreData: UInt16 = 1 << 2, txExtraInfo: UInt16 = 1 << 3
    /// `NETIF_RSP_*`.
    public static let okay: Int16 = 0, error: Int16 = -1, dropped: Int16 = -2
    /// Ethernet frames without FCS: header 14 bytes, at most 1514 bytes.
    public static let minimumFrame = 14, maximumFrame = 1514
}
