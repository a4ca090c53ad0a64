using System.Buffers;
using System.IO.Pipelines;
using Google.Protobuf;
using QuicPipe.Protocol.Relay;
using Xunit;

namespace QuicPipe.Protocol.Tests;

public class ControlFramingTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task Messages_round_trip_in_order()
    {
        var pipe = new Pipe();
        var first = new ClientMessage { RequestId = 1, Ping = new Ping() };
        var second = new ClientMessage { RequestId = 2, Signal = new Signal { To = ByteString.CopyFrom(new byte[32]), Payload = ByteString.CopyFrom(new byte[4096]) } };

        ControlFraming.Write(pipe.Writer, first);
        await ControlFraming.WriteAsync(pipe.Writer, second, CancellationToken.None);
        await pipe.Writer.CompleteAsync();

        Assert.Equal(first, await Read(pipe.Reader));
        Assert.Equal(second, await Read(pipe.Reader));
        Assert.Null(await Read(pipe.Reader));
    }

    [Fact]
    public async Task The_length_prefix_is_a_protobuf_varint()
    {
        var pipe = new Pipe();
        var message = new ClientMessage { RequestId = 1, Signal = new Signal { Payload = ByteString.CopyFrom(new byte[200]) } };

        ControlFraming.Write(pipe.Writer, message);
        await pipe.Writer.FlushAsync();
        var written = (await pipe.Reader.ReadAsync()).Buffer.ToArray();

        var size = message.CalculateSize();
        Assert.True(size >= 128);
        Assert.Equal([(byte)(size | 0x80), (byte)(size >> 7)], written[..2]);
        Assert.Equal(message.ToByteArray(), written[2..]);
    }

    [Fact]
    public async Task A_message_split_across_many_reads_is_reassembled()
    {
        var pipe = new Pipe();
        var message = new ServerMessage { RequestId = 7, Registered = new Registered { ObservedAddress = "[::1]:4433", CidCount = 64, ExpiresUnixMs = 123456789 } };
        var bytes = Frame(message);
        var read = ControlFraming.ReadAsync(pipe.Reader, ServerMessage.Parser, CancellationToken.None).AsTask();

        for (var i = 0; i < bytes.Length; i++)
        {
            Assert.False(read.IsCompleted, $"a message was read from {i} of its {bytes.Length} bytes");
            await pipe.Writer.WriteAsync(bytes.AsMemory(i, 1));
            await Task.Delay(1);
        }

        Assert.Equal(message, await read.WaitAsync(Limit));
    }

    [Fact]
    public async Task An_oversize_frame_fails_as_soon_as_its_prefix_is_read()
    {
        var pipe = new Pipe();

        // 64 KiB + 1 as a varint, and no body: the reader must not wait for 64 KiB to refuse it.
        await pipe.Writer.WriteAsync(new byte[] { 0x81, 0x80, 0x04 });

        var error = await Assert.ThrowsAsync<ControlProtocolException>(() => Read(pipe.Reader));
        Assert.False(error.IsRecoverable);
        Assert.Contains("65536", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_runaway_varint_is_an_oversize_frame()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(new byte[] { 0x80, 0x80, 0x80, 0x80, 0x01 });

        await Assert.ThrowsAsync<ControlProtocolException>(() => Read(pipe.Reader));
    }

    [Fact]
    public void Writing_an_oversize_message_is_refused()
    {
        var pipe = new Pipe();
        var message = new ClientMessage { Signal = new Signal { Payload = ByteString.CopyFrom(new byte[ControlFraming.MaxMessageSize]) } };

        Assert.Throws<ControlProtocolException>(() => ControlFraming.Write(pipe.Writer, message));
    }

    [Fact]
    public async Task A_stream_that_ends_inside_a_message_fails_instead_of_hanging()
    {
        var pipe = new Pipe();
        var bytes = Frame(new ClientMessage { RequestId = 1, Ping = new Ping() });
        await pipe.Writer.WriteAsync(bytes.AsMemory(0, bytes.Length - 1));
        await pipe.Writer.CompleteAsync();

        var error = await Assert.ThrowsAsync<ControlProtocolException>(() => Read(pipe.Reader));
        Assert.Contains("ended inside a message", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_stream_that_ends_inside_the_prefix_fails_too()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(new byte[] { 0x81 });
        await pipe.Writer.CompleteAsync();

        await Assert.ThrowsAsync<ControlProtocolException>(() => Read(pipe.Reader));
    }

    [Fact]
    public async Task A_frame_that_is_not_the_message_is_skipped_and_the_next_one_read()
    {
        var pipe = new Pipe();

        // Field 1 as a length-delimited field claiming 100 bytes that are not there: invalid protobuf.
        await pipe.Writer.WriteAsync(new byte[] { 3, 0x0a, 100, 0 });
        ControlFraming.Write(pipe.Writer, new ClientMessage { RequestId = 9, Ping = new Ping() });
        await pipe.Writer.CompleteAsync();

        var error = await Assert.ThrowsAsync<ControlProtocolException>(() => Read(pipe.Reader));
        Assert.True(error.IsRecoverable);
        Assert.Equal(9UL, (await Read(pipe.Reader))!.RequestId);
    }

    [Fact]
    public async Task An_empty_frame_is_the_empty_message()
    {
        var pipe = new Pipe();
        await pipe.Writer.WriteAsync(new byte[] { 0 });

        var message = await Read(pipe.Reader);

        Assert.NotNull(message);
        Assert.Equal(ClientMessage.BodyOneofCase.None, message.BodyCase);
    }

    private static async Task<ClientMessage?> Read(PipeReader reader) =>
        await ControlFraming.ReadAsync(reader, ClientMessage.Parser, CancellationToken.None).AsTask().WaitAsync(Limit);

    private static byte[] Frame(IMessage message)
    {
        var pipe = new Pipe();
        ControlFraming.Write(pipe.Writer, message);
        pipe.Writer.Complete();
        pipe.Reader.TryRead(out var result);
        return result.Buffer.ToArray();
    }
}
