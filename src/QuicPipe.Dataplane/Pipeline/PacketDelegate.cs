namespace QuicPipe.Dataplane.Pipeline;

/// <summary>
/// One step of the packet pipeline: takes a batch, decides for (some of) its packets, and usually
/// calls the next step. Synchronous on purpose: a batch never waits, and no Task is allocated per batch.
/// </summary>
public delegate void PacketDelegate(PacketBatch batch);
