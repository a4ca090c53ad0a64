using System.Net;
using QuicPipe.Dataplane;
using QuicPipe.Dataplane.Pipeline;

namespace QuicPipe.Quic.Tests;

/// <summary>
/// A lossy link on loopback: a UDP forwarder between one QUIC client and one server whose pipeline runs an
/// <see cref="ImpairmentStage"/> on every datagram, both ways. The client dials <see cref="EndPoint"/>; datagrams
/// from the server go back to the address the client last sent from, all others go to the server.
/// </summary>
internal sealed class ImpairedForwarder : IDisposable
{
    // Idle receives end this often and run the pipeline on an empty batch, which releases held datagrams: the
    // last datagrams of a burst arrive late, not only after the next burst.
    private static readonly TimeSpan IdleTick = TimeSpan.FromMilliseconds(5);

    private readonly UdpBatchSocket _socket;
    private readonly PacketBatch _batch = new();
    private readonly DataplaneCounters _counters = new();
    private readonly PeerAddress _server;
    private readonly ImpairmentStage _stage;
    private readonly PacketDelegate _pipeline;
    private readonly Thread _thread;
    private PeerAddress _client;
    private volatile bool _stopping;
    private volatile bool _clientToServerCut;
    private volatile bool _serverToClientCut;
    private long _lostFromClient;
    private long _forwardedFromClient;

    public ImpairedForwarder(IPEndPoint server, ImpairmentOptions options)
    {
        _server = PeerAddress.FromEndPoint(server);
        _socket = UdpBatchSocket.Bind(
            PeerAddress.FromEndPoint(new IPEndPoint(server.Address, 0)),
            new UdpSocketOptions { ReusePort = false, ReceiveTimeout = IdleTick });
        ImpairmentStage? stage = null;
        _pipeline = new PipelineBuilder()
            .Use(next => (stage = new ImpairmentStage(next, options)).Invoke)
            .Use(next => batch =>
            {
                Route(batch);
                next(batch);
            })
            .Run(batch => _socket.Send(batch, _counters))
            .Build();
        _stage = stage!;
        _thread = new Thread(Run) { IsBackground = true, Name = "impaired forwarder" };
        _thread.Start();
    }

    public IPEndPoint EndPoint => _socket.LocalAddress.ToEndPoint();

    /// <summary>Datagrams dropped as <see cref="DropReason.Impaired"/>, as the dataplane counts drops. Read once stopped.</summary>
    public long ImpairedDrops => _counters.Dropped[(int)DropReason.Impaired];

    /// <summary>Datagrams dropped for any other reason (the link itself failed). Read once stopped.</summary>
    public long OtherDrops => _counters.DroppedTotal - ImpairedDrops;

    /// <summary>Datagrams the stage held back and delivered late. Read once stopped.</summary>
    public long Reordered => _stage.Released;

    /// <summary>Datagrams the forwarder sent on.</summary>
    public long Forwarded => _counters.Forwarded;

    /// <summary>While true, every datagram from the client is lost (as a relay that stopped would lose them).</summary>
    public bool ClientToServerCut
    {
        get => _clientToServerCut;
        set => _clientToServerCut = value;
    }

    /// <summary>While true, every datagram from the server is lost.</summary>
    public bool ServerToClientCut
    {
        get => _serverToClientCut;
        set => _serverToClientCut = value;
    }

    /// <summary>Datagrams from the client lost to <see cref="ClientToServerCut"/>. Any thread.</summary>
    public long LostFromClient => Interlocked.Read(ref _lostFromClient);

    /// <summary>Datagrams from the client sent on to the server. Any thread.</summary>
    public long ForwardedFromClient => Interlocked.Read(ref _forwardedFromClient);

    /// <summary>Stops forwarding and waits for the loop to end, so the counters are final.</summary>
    public void Dispose()
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        _socket.Shutdown();
        _thread.Join();
        _socket.Dispose();
    }

    private void Run()
    {
        while (!_stopping)
        {
            // A timeout leaves an empty batch, which still goes through: it carries out what the stage held.
            _socket.Receive(_batch, _counters);
            _pipeline(_batch);
            for (var i = 0; i < _batch.Count; i++)
            {
                if (_batch.Verdicts[i] == PacketVerdict.Drop)
                {
                    _counters.CountDrop(_batch.DropReasons[i]);
                }
            }
        }
    }

    private void Route(PacketBatch batch)
    {
        for (var i = 0; i < batch.Count; i++)
        {
            if (batch.Verdicts[i] != PacketVerdict.Pending)
            {
                continue;
            }

            var fromServer = batch.Sources[i] == _server;
            if (fromServer ? _serverToClientCut : _clientToServerCut)
            {
                if (!fromServer)
                {
                    Interlocked.Increment(ref _lostFromClient);
                }

                batch.Drop(i, DropReason.Impaired);
            }
            else if (!fromServer)
            {
                _client = batch.Sources[i];
                Interlocked.Increment(ref _forwardedFromClient);
                batch.Forward(i, _server);
            }
            else if (!_client.IsEmpty)
            {
                batch.Forward(i, _client);
            }
            else
            {
                batch.Drop(i, DropReason.UnknownCid);
            }
        }
    }
}
