import ConnTrack

/// What a driver hands back when every packet was processed.
struct DriveResult {
    var contexts: [WorkerContext]
    /// Table work only (timed rounds, after warm-up).
    var tableNanos: Int64
    var generationNanos: Int64
    var livePeak: Int64
    /// The run's clock at the end: real time, or the last packet's timestamp.
    var endTime: Int64
    /// Lock-step windows processed (windowed driver only).
    var windows = 0
    /// The soak's checks (soak runs only); the runner sets it from its soak
    /// hook after the drive.
    var soak: SoakReport? = nil
    /// A paced run's rings (paced runs only).
    var paced: PacedReport? = nil
}
