using System.Collections.Concurrent;
using Etcdserverpb;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using QuicPipe.Protocol.Fleet;
using QuicPipe.Quic;
using QuicPipe.Relay.Fleet.Internal;

namespace QuicPipe.Relay.Fleet;

/// <summary>
/// The fleet's directory on etcd v3 (docs/fleet.md). Keys under the URL's prefix:
/// <c>relays/{relay}</c> (its address) and <c>nodes/{NodeId}/{relay}</c> (the relay's address) on the relay's lease,
/// which a keep-alive renews every <see cref="KeepAliveInterval"/> and which lapses <see cref="LeaseTtlSeconds"/> s
/// after the relay's death, taking every key of the relay with it; and <c>inbox/{relay}/{sender}/{id}</c>, a
/// <see cref="FleetMessage"/> for a relay, which watches its inbox, deletes what it read and answers into the
/// sender's inbox. Inbox keys hang on short message leases (<see cref="MessageLeaseTtlSeconds"/> s), so a message
/// nobody reads goes by itself.
/// </summary>
/// <remarks>
/// While etcd does not answer, the relay serves its own peers as before; lookups and signals fail at once with
/// <see cref="RelayDirectoryException"/>; registrations are queued. When it answers again the lease is kept if it
/// survived, else a new one is granted, and every identity is put again.
/// </remarks>
public sealed partial class EtcdRelayDirectory : IRelayDirectory
{
    public const int LeaseTtlSeconds = 6;
    public const int MessageLeaseTtlSeconds = 10;
    public static readonly TimeSpan KeepAliveInterval = TimeSpan.FromSeconds(2);

    /// <summary>How long one etcd request may take before the store counts as down for it.</summary>
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(2);

    /// <summary>How long a signal to another relay waits for its answer.</summary>
    private static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    /// <summary>A message lease is used for this long, then a new one is granted: a message lives at most TTL + this.</summary>
    private static readonly TimeSpan MessageLeaseReuse = TimeSpan.FromSeconds(4);

    private const int MaxSignalsInFlight = 256;
    private const int MaxInboxHandlers = 64;
    private const int PublishBatch = 128;

    private readonly RelayDirectoryUrl _url;
    private readonly string _address;
    private readonly ILogger _logger;
    private readonly GrpcChannel _channel;
    private readonly KV.KVClient _kv;
    private readonly Lease.LeaseClient _leases;
    private readonly Watch.WatchClient _watch;
    private readonly PublishedIdentities _published = new();
    private readonly SemaphoreSlim _publishWake = new(0, 1);
    private readonly SemaphoreSlim _inboxHandlers = new(MaxInboxHandlers, MaxInboxHandlers);
    private readonly ConcurrentDictionary<ulong, TaskCompletionSource<FleetAnswer>> _pending = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _messageLeaseLock = new(1, 1);

    // Message leases granted and not yet lapsed, newest last: revoked at stop so no message outlives the relay.
    private readonly List<(long Id, DateTime GrantedAt)> _messageLeases = [];
    private IRelayInbox? _inbox;
    private Task? _run;
    private long _leaseId;
    private long _nextMessageId;
    private volatile bool _connected;

    /// <param name="url">The directory.</param>
    /// <param name="relayId">This relay's id: its NodeId.</param>
    /// <param name="address">Where other relays send packets for this relay's peers (its public ip:port).</param>
    /// <param name="logger">Where connection changes are told; null for nowhere.</param>
    public EtcdRelayDirectory(RelayDirectoryUrl url, NodeId relayId, string address, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(url);
        ArgumentNullException.ThrowIfNull(address);
        _url = url;
        RelayId = relayId.ToString();
        _address = address;
        _logger = logger ?? NullLogger.Instance;
        // Straight to etcd: an HTTP proxy from the environment (meant for the operator's web traffic) must not carry
        // the fleet's lease keep-alives; a keep-alive cut by a proxy would withdraw every peer of the relay.
        _channel = GrpcChannel.ForAddress(url.GrpcAddress, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { UseProxy = false, EnableMultipleHttp2Connections = true },
            DisposeHttpClient = true,
        });
        _kv = new KV.KVClient(_channel);
        _leases = new Lease.LeaseClient(_channel);
        _watch = new Watch.WatchClient(_channel);
    }

    public string RelayId { get; }

    public bool IsConnected => _connected;

    /// <summary>Identities this relay has to publish now (registered here).</summary>
    public int PublishedCount => _published.Count;

    private string NodesPrefix => $"{_url.Prefix}/nodes/";

    private string InboxOf(string relayId) => $"{_url.Prefix}/inbox/{relayId}/";

    public void Start(IRelayInbox inbox)
    {
        ArgumentNullException.ThrowIfNull(inbox);
        if (Interlocked.CompareExchange(ref _inbox, inbox, null) is not null)
        {
            throw new InvalidOperationException("The directory is started already.");
        }

        _run = Task.Run(() => RunAsync(_stop.Token));
    }

    public void Publish(NodeId node)
    {
        _published.Add(node);
        WakePublisher();
    }

    public void Withdraw(NodeId node)
    {
        _published.Remove(node);
        WakePublisher();
    }

    public async Task<string?> LookupAsync(NodeId node, CancellationToken cancellationToken)
    {
        ThrowIfDisconnected();
        var prefix = $"{NodesPrefix}{node}/";
        var request = new RangeRequest { Key = Key(prefix), RangeEnd = PrefixEnd(prefix), Limit = 8, KeysOnly = true };
        RangeResponse response;
        try
        {
            response = await _kv.RangeAsync(request, deadline: Deadline(), cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            throw Unreachable(e);
        }

        foreach (var kv in response.Kvs)
        {
            var relay = kv.Key.ToStringUtf8()[prefix.Length..];
            if (relay != RelayId)
            {
                return relay;
            }
        }

        return null;
    }

    public async Task<FleetAnswer> SendAsync(string relayId, FleetSignal signal, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(relayId);
        ArgumentNullException.ThrowIfNull(signal);
        ThrowIfDisconnected();
        if (_pending.Count >= MaxSignalsInFlight)
        {
            throw new RelayDirectoryException($"{MaxSignalsInFlight} signals to other relays are waiting for answers already");
        }

        var id = (ulong)Interlocked.Increment(ref _nextMessageId);
        var answer = new TaskCompletionSource<FleetAnswer>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = answer;
        try
        {
            var message = new FleetMessage { ReplyTo = RelayId, MessageId = id, Signal = signal };
            await PutMessageAsync($"{InboxOf(relayId)}{RelayId}/{id}", message, cancellationToken).ConfigureAwait(false);
            try
            {
                return await answer.Task.WaitAsync(AnswerTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw new RelayDirectoryException($"relay {relayId} did not answer through the directory within {AnswerTimeout.TotalSeconds:0} s");
            }
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    public async Task PostAsync(string relayId, FleetRoutes routes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(relayId);
        ArgumentNullException.ThrowIfNull(routes);
        ThrowIfDisconnected();
        var id = (ulong)Interlocked.Increment(ref _nextMessageId);
        var message = new FleetMessage { ReplyTo = RelayId, MessageId = id, Routes = routes };
        await PutMessageAsync($"{InboxOf(relayId)}{RelayId}/{id}", message, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        if (_run is { } run)
        {
            await run.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        // Revoking the lease deletes every key of this relay at once: a clean stop leaves nothing behind.
        var leases = new List<long>();
        if (Interlocked.Exchange(ref _leaseId, 0) is var lease and not 0)
        {
            leases.Add(lease);
        }

        lock (_messageLeases)
        {
            leases.AddRange(_messageLeases.Select(l => l.Id));
            _messageLeases.Clear();
        }

        // At once, not one after another: with etcd down each waits its whole timeout, and the stop must stay short
        // (the lease lapses by itself then).
        await Task.WhenAll(leases.Select(RevokeQuietlyAsync)).ConfigureAwait(false);

        _channel.Dispose();
        _stop.Dispose();
        _publishWake.Dispose();
        _inboxHandlers.Dispose();
        _messageLeaseLock.Dispose();
    }

    /// <summary>Connects, keeps the lease, publishes and hears the inbox; on any failure of the store, starts again after a pause.</summary>
    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var reportedDown = false;
        while (!cancellationToken.IsCancellationRequested)
        {
            using var session = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            try
            {
                await EnsureLeaseAsync(session.Token).ConfigureAwait(false);
                _published.MarkAllDirty();
                var watching = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var loops = new[]
                {
                    KeepAliveAsync(session.Token),
                    WatchInboxAsync(watching, session.Token),
                    PublishAsync(session.Token),
                };
                await Task.WhenAny(watching.Task, Task.WhenAny(loops)).ConfigureAwait(false);
                if (watching.Task.IsCompleted)
                {
                    _connected = true;
                    reportedDown = false;
                    LogConnected(_logger, _url, RelayId, _published.Count);
                }

                var ended = await Task.WhenAny(loops).ConfigureAwait(false);
                _connected = false;
                await session.CancelAsync().ConfigureAwait(false);
                await Task.WhenAll(loops).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                await ended.ConfigureAwait(false);
            }
            catch (Exception e) when (e is RpcException or RelayDirectoryException or OperationCanceledException or IOException or InvalidOperationException)
            {
                _connected = false;
                if (cancellationToken.IsCancellationRequested)
                {
                    return;
                }

                if (!reportedDown)
                {
                    reportedDown = true;
                    LogUnreachable(_logger, _url, e is RpcException rpc ? rpc.Status.Detail : e.Message);
                }
            }

            try
            {
                await Task.Delay(RetryDelay, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Keeps the lease if it is still alive (etcd came back in time), else grants a new one; then puts the relay's own key.</summary>
    private async Task EnsureLeaseAsync(CancellationToken cancellationToken)
    {
        var lease = Volatile.Read(ref _leaseId);
        if (lease != 0)
        {
            var alive = await _leases.LeaseTimeToLiveAsync(new LeaseTimeToLiveRequest { ID = lease }, deadline: Deadline(), cancellationToken: cancellationToken).ConfigureAwait(false);
            if (alive.TTL <= 0)
            {
                lease = 0;
            }
        }

        if (lease == 0)
        {
            var granted = await _leases.LeaseGrantAsync(new LeaseGrantRequest { TTL = LeaseTtlSeconds }, deadline: Deadline(), cancellationToken: cancellationToken).ConfigureAwait(false);
            if (!string.IsNullOrEmpty(granted.Error))
            {
                throw new RelayDirectoryException($"etcd refused a lease: {granted.Error}");
            }

            lease = granted.ID;
            Volatile.Write(ref _leaseId, lease);
        }

        await _kv.PutAsync(new PutRequest { Key = Key($"{_url.Prefix}/relays/{RelayId}"), Value = ByteString.CopyFromUtf8(_address), Lease = lease }, deadline: Deadline(), cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Renews the lease every <see cref="KeepAliveInterval"/>; ends (for a new session) when etcd fails or says the lease lapsed.</summary>
    private async Task KeepAliveAsync(CancellationToken cancellationToken)
    {
        using var call = _leases.LeaseKeepAlive(cancellationToken: cancellationToken);
        while (true)
        {
            var lease = Volatile.Read(ref _leaseId);
            await call.RequestStream.WriteAsync(new LeaseKeepAliveRequest { ID = lease }, cancellationToken).ConfigureAwait(false);
            using (var answered = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                answered.CancelAfter(RequestTimeout);
                if (!await call.ResponseStream.MoveNext(answered.Token).ConfigureAwait(false))
                {
                    throw new RelayDirectoryException("etcd ended the lease keep-alive stream");
                }
            }

            if (call.ResponseStream.Current.TTL <= 0)
            {
                // The lease lapsed while etcd could not hear us: every key of ours went with it. A new lease, and all again.
                Interlocked.CompareExchange(ref _leaseId, 0, lease);
                throw new RelayDirectoryException("the relay's lease lapsed");
            }

            await Task.Delay(KeepAliveInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Puts and deletes the identities that changed, in batches, whenever woken.</summary>
    private async Task PublishAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var changes = _published.TakeChanges(PublishBatch);
            if (changes.Count == 0)
            {
                await _publishWake.WaitAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }

            try
            {
                var lease = Volatile.Read(ref _leaseId);
                var txn = new TxnRequest();
                foreach (var (node, put) in changes)
                {
                    var key = Key($"{NodesPrefix}{node}/{RelayId}");
                    txn.Success.Add(put
                        ? new RequestOp { RequestPut = new PutRequest { Key = key, Value = ByteString.CopyFromUtf8(_address), Lease = lease } }
                        : new RequestOp { RequestDeleteRange = new DeleteRangeRequest { Key = key } });
                }

                await _kv.TxnAsync(txn, deadline: Deadline(), cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                _published.Return(changes);
                throw;
            }
        }
    }

    /// <summary>
    /// Hears this relay's inbox: first what is there already (sent while the watch was down), then a watch from just
    /// after it. <paramref name="watching"/> completes once the watch runs: the directory serves from then on.
    /// </summary>
    private async Task WatchInboxAsync(TaskCompletionSource watching, CancellationToken cancellationToken)
    {
        var inbox = InboxOf(RelayId);
        var existing = await _kv.RangeAsync(new RangeRequest { Key = Key(inbox), RangeEnd = PrefixEnd(inbox) }, deadline: Deadline(), cancellationToken: cancellationToken).ConfigureAwait(false);
        using var call = _watch.Watch(cancellationToken: cancellationToken);
        await call.RequestStream.WriteAsync(new WatchRequest
        {
            CreateRequest = new WatchCreateRequest { Key = Key(inbox), RangeEnd = PrefixEnd(inbox), StartRevision = existing.Header.Revision + 1, Filters = { WatchCreateRequest.Types.FilterType.Nodelete } },
        }, cancellationToken).ConfigureAwait(false);
        foreach (var kv in existing.Kvs)
        {
            Receive(kv, cancellationToken);
        }

        while (await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false))
        {
            var response = call.ResponseStream.Current;
            if (response.Created)
            {
                watching.TrySetResult();
            }

            if (response.Canceled || response.CompactRevision != 0)
            {
                throw new RelayDirectoryException($"etcd cancelled the inbox watch: {response.CancelReason}");
            }

            foreach (var change in response.Events)
            {
                if (change.Type == Mvccpb.Event.Types.EventType.Put)
                {
                    Receive(change.Kv, cancellationToken);
                }
            }
        }

        throw new RelayDirectoryException("etcd ended the inbox watch");
    }

    /// <summary>One inbox key: an answer completes its pending signal; a signal is handed to the inbox handler (bounded) and answered.</summary>
    private void Receive(Mvccpb.KeyValue kv, CancellationToken cancellationToken)
    {
        FleetMessage message;
        try
        {
            message = FleetMessage.Parser.ParseFrom(kv.Value);
        }
        catch (InvalidProtocolBufferException)
        {
            LogBadMessage(_logger, kv.Key.ToStringUtf8());
            _ = DeleteQuietlyAsync(kv.Key, cancellationToken);
            return;
        }

        _ = DeleteQuietlyAsync(kv.Key, cancellationToken);
        if (message.BodyCase == FleetMessage.BodyOneofCase.Answer)
        {
            if (_pending.TryRemove(message.MessageId, out var pending))
            {
                pending.TrySetResult(message.Answer);
            }
        }
        else if (message.BodyCase == FleetMessage.BodyOneofCase.Routes && NodeId.TryParse(message.ReplyTo, out _))
        {
            _inbox!.OnRoutes(message.ReplyTo, message.Routes);
        }
        else if (message.BodyCase == FleetMessage.BodyOneofCase.Signal && NodeId.TryParse(message.ReplyTo, out _))
        {
            if (!_inboxHandlers.Wait(0, CancellationToken.None))
            {
                LogInboxFull(_logger, message.ReplyTo, MaxInboxHandlers);
                return;
            }

            _ = AnswerAsync(message, cancellationToken);
        }
    }

    private async Task AnswerAsync(FleetMessage message, CancellationToken cancellationToken)
    {
        try
        {
            var answer = await _inbox!.OnSignalAsync(message.ReplyTo, message.Signal, cancellationToken).ConfigureAwait(false);
            var reply = new FleetMessage { ReplyTo = RelayId, MessageId = message.MessageId, Answer = answer };
            await PutMessageAsync($"{InboxOf(message.ReplyTo)}{RelayId}/{message.MessageId}", reply, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RpcException or RelayDirectoryException or OperationCanceledException)
        {
            LogAnswerFailed(_logger, message.ReplyTo, e.Message);
        }
        finally
        {
            _inboxHandlers.Release();
        }
    }

    private async Task PutMessageAsync(string key, FleetMessage message, CancellationToken cancellationToken)
    {
        try
        {
            var lease = await MessageLeaseAsync(cancellationToken).ConfigureAwait(false);
            await _kv.PutAsync(new PutRequest { Key = Key(key), Value = message.ToByteString(), Lease = lease }, deadline: Deadline(), cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            throw Unreachable(e);
        }
    }

    /// <summary>The lease inbox messages are put with: granted afresh every <see cref="MessageLeaseReuse"/>, never kept alive.</summary>
    private async Task<long> MessageLeaseAsync(CancellationToken cancellationToken)
    {
        await _messageLeaseLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var now = DateTime.UtcNow;
            lock (_messageLeases)
            {
                _messageLeases.RemoveAll(l => now - l.GrantedAt > TimeSpan.FromSeconds(MessageLeaseTtlSeconds));
                if (_messageLeases.Count > 0 && now - _messageLeases[^1].GrantedAt < MessageLeaseReuse)
                {
                    return _messageLeases[^1].Id;
                }
            }

            var granted = await _leases.LeaseGrantAsync(new LeaseGrantRequest { TTL = MessageLeaseTtlSeconds }, deadline: Deadline(), cancellationToken: cancellationToken).ConfigureAwait(false);
            lock (_messageLeases)
            {
                _messageLeases.Add((granted.ID, now));
            }

            return granted.ID;
        }
        finally
        {
            _messageLeaseLock.Release();
        }
    }

    private async Task RevokeQuietlyAsync(long lease)
    {
        try
        {
            await _leases.LeaseRevokeAsync(new LeaseRevokeRequest { ID = lease }, deadline: Deadline()).ConfigureAwait(false);
        }
        catch (RpcException e)
        {
            LogRevokeFailed(_logger, _url, e.Status.Detail);
        }
    }

    private async Task DeleteQuietlyAsync(ByteString key, CancellationToken cancellationToken)
    {
        try
        {
            await _kv.DeleteRangeAsync(new DeleteRangeRequest { Key = key }, deadline: Deadline(), cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException)
        {
            // The message lease removes it in a few seconds all the same.
        }
    }

    private void WakePublisher()
    {
        try
        {
            if (_publishWake.CurrentCount == 0)
            {
                _publishWake.Release();
            }
        }
        catch (SemaphoreFullException)
        {
            // Woken already.
        }
        catch (ObjectDisposedException)
        {
            // Stopped: the lease's revocation withdrew everything.
        }
    }

    private void ThrowIfDisconnected()
    {
        if (!_connected)
        {
            throw new RelayDirectoryException($"the directory {_url} is unreachable; dials to peers of other relays fail until it answers");
        }
    }

    private RelayDirectoryException Unreachable(RpcException e) =>
        new($"the directory {_url} did not answer: {e.Status.StatusCode} {e.Status.Detail}", e);

    private static DateTime Deadline() => DateTime.UtcNow + RequestTimeout;

    private static ByteString Key(string key) => ByteString.CopyFromUtf8(key);

    /// <summary>The range end that selects every key starting with <paramref name="prefix"/> (its last byte plus one).</summary>
    private static ByteString PrefixEnd(string prefix)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(prefix);
        bytes[^1]++;
        return ByteString.CopyFrom(bytes);
    }

    [LoggerMessage(EventId = 601, Level = LogLevel.Information, Message = "Directory {Url}: relay {RelayId} serving, {Count} identities to publish")]
    private static partial void LogConnected(ILogger logger, RelayDirectoryUrl url, string relayId, int count);

    [LoggerMessage(EventId = 602, Level = LogLevel.Warning, Message = "Directory {Url} unreachable ({Reason}); local peers are still served, dials to other relays' peers fail; retrying every second")]
    private static partial void LogUnreachable(ILogger logger, RelayDirectoryUrl url, string reason);

    [LoggerMessage(EventId = 603, Level = LogLevel.Debug, Message = "Directory {Url}: revoking a lease failed: {Reason}")]
    private static partial void LogRevokeFailed(ILogger logger, RelayDirectoryUrl url, string reason);

    [LoggerMessage(EventId = 604, Level = LogLevel.Information, Message = "Directory inbox: a malformed message at {Key} dropped")]
    private static partial void LogBadMessage(ILogger logger, string key);

    [LoggerMessage(EventId = 605, Level = LogLevel.Information, Message = "Directory inbox: a signal from relay {Relay} dropped: {Max} signals are being answered already")]
    private static partial void LogInboxFull(ILogger logger, string relay, int max);

    [LoggerMessage(EventId = 606, Level = LogLevel.Debug, Message = "Directory inbox: the answer to relay {Relay} failed: {Reason}")]
    private static partial void LogAnswerFailed(ILogger logger, string relay, string reason);
}
