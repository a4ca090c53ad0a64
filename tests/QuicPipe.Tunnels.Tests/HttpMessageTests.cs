using System.Buffers;
using System.Text;
using QuicPipe.Tunnels.Internal;
using Xunit;

namespace QuicPipe.Tunnels.Tests;

/// <summary>
/// The pure pieces of the forwarding HTTP proxy, without sockets: the absolute-form request parse, the origin-form
/// rewrite, response heads, the framing rules and the body framer, on good and broken input.
/// </summary>
public class HttpMessageTests
{
    [Theory]
    [InlineData("GET http://b.quicpipe:8000/a/b?c=d HTTP/1.1", "b.quicpipe", 8000, "/a/b?c=d")]
    [InlineData("GET http://b.quicpipe/ HTTP/1.1", "b.quicpipe", 80, "/")]
    [InlineData("GET http://b.quicpipe HTTP/1.1", "b.quicpipe", 80, "/")]
    [InlineData("GET http://b.quicpipe:/x HTTP/1.1", "b.quicpipe", 80, "/x")]
    [InlineData("GET http://b.quicpipe?q HTTP/1.1", "b.quicpipe", 80, "/?q")]
    [InlineData("DELETE HTTP://B.QUICPIPE:1/ HTTP/1.0", "B.QUICPIPE", 1, "/")]
    [InlineData("GET http://[::1]:81/ HTTP/1.1", "::1", 81, "/")]
    public void Absolute_form_targets_give_host_port_and_origin_form_path(string line, string host, int port, string path)
    {
        Assert.Equal(ProxyParseResult.Complete, HttpProxyRequest.TryParse(Encoding.ASCII.GetBytes(line + "\r\nX: 1\r\n\r\n"), out var request, out _));

        Assert.Equal(HttpTargetForm.Absolute, request.Form);
        Assert.Equal(host, request.Host);
        Assert.Equal(port, request.Port);
        Assert.Equal(path, request.Path);
        Assert.Equal(line.EndsWith("1.1", StringComparison.Ordinal), request.IsHttp11);
        Assert.Equal([new HttpHeaderField("X", "1")], request.Headers);
    }

    [Theory]
    [InlineData("GET https://b.quicpipe/ HTTP/1.1")] // https goes through CONNECT
    [InlineData("GET ftp://b.quicpipe/ HTTP/1.1")]
    [InlineData("GET http://user:pw@b.quicpipe/ HTTP/1.1")]
    [InlineData("GET http://b.quicpipe/#frag HTTP/1.1")]
    [InlineData("GET http:///x HTTP/1.1")]
    [InlineData("GET http://b.quicpipe:0/ HTTP/1.1")]
    [InlineData("GET http://b.quicpipe:70000/ HTTP/1.1")]
    [InlineData("GET http://b.quicpipe:8x/ HTTP/1.1")]
    [InlineData("GET http://[::1/ HTTP/1.1")]
    [InlineData("GET b.quicpipe:80 HTTP/1.1")] // authority-form is for CONNECT only
    [InlineData("GET * HTTP/1.1")]
    public void Bad_targets_are_invalid(string line)
    {
        Assert.Equal(ProxyParseResult.Invalid, HttpProxyRequest.TryParse(Encoding.ASCII.GetBytes(line + "\r\n\r\n"), out _, out _));
    }

    [Fact]
    public void A_truncated_head_is_incomplete_at_every_length_and_a_second_head_after_it_is_left_alone()
    {
        var first = "POST http://b.quicpipe:1/x HTTP/1.1\r\nContent-Length: 3\r\n\r\n";
        var bytes = Encoding.ASCII.GetBytes(first + "abcGET http://b.quicpipe:1/y HTTP/1.1\r\n\r\n");
        for (var length = 0; length < first.Length; length++)
        {
            Assert.Equal(ProxyParseResult.Incomplete, HttpProxyRequest.TryParse(bytes.AsSpan(0, length), out _, out _));
        }

        Assert.Equal(ProxyParseResult.Complete, HttpProxyRequest.TryParse(bytes, out var request, out var consumed));
        Assert.Equal(first.Length, consumed);
        Assert.Equal("3", request.FirstValue("content-length"));
    }

    [Fact]
    public void The_origin_form_rewrite_keeps_end_to_end_fields_in_order_and_drops_hop_by_hop_ones_and_those_Connection_names()
    {
        var head = "PATCH http://b.quicpipe:8000/p?q HTTP/1.1\r\nHost: elsewhere\r\nProxy-Connection: keep-alive\r\nConnection: keep-alive, X-Private, Content-Length\r\n" +
            "X-Private: 1\r\nKeep-Alive: 5\r\nTE: trailers\r\nTrailer: X-T\r\nUpgrade: websocket\r\nProxy-Authorization: Basic eDp5\r\nAccept: */*\r\n" +
            "Content-Length: 2\r\nVia: 1.0 upstream\r\nCookie: a=b\r\n\r\n";
        Assert.Equal(ProxyParseResult.Complete, HttpProxyRequest.TryParse(Encoding.ASCII.GetBytes(head), out var request, out _));
        var output = new ArrayBufferWriter<byte>();

        HttpHeadWriter.WriteRequest(request, output);

        // Content-Length stays although Connection names it: the body after the head is framed by it.
        Assert.Equal(
            "PATCH /p?q HTTP/1.1\r\nHost: b.quicpipe:8000\r\nAccept: */*\r\nContent-Length: 2\r\nVia: 1.0 upstream\r\nCookie: a=b\r\nVia: 1.1 quicpipe\r\n\r\n",
            Encoding.Latin1.GetString(output.WrittenSpan));
    }

    [Fact]
    public void Port_80_is_left_out_of_Host_and_obs_text_in_a_value_passes_unchanged()
    {
        byte[] head = [.. "GET http://b.quicpipe/ HTTP/1.0\r\nX-Name: caf"u8, 0xE9, .. "\r\n\r\n"u8];
        Assert.Equal(ProxyParseResult.Complete, HttpProxyRequest.TryParse(head, out var request, out _));
        var output = new ArrayBufferWriter<byte>();

        HttpHeadWriter.WriteRequest(request, output);

        byte[] expected = [.. "GET / HTTP/1.1\r\nHost: b.quicpipe\r\nX-Name: caf"u8, 0xE9, .. "\r\nVia: 1.1 quicpipe\r\n\r\n"u8];
        Assert.Equal(expected, output.WrittenSpan.ToArray());
    }

    [Fact]
    public void A_response_head_is_rewritten_with_our_version_Via_and_Connection_close_when_asked()
    {
        var bytes = "HTTP/1.0 203 Non-Authoritative\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 0\r\nX-A: b\r\n\r\n"u8;
        Assert.Equal(ProxyParseResult.Complete, HttpResponseHead.TryParse(bytes, out var response, out var consumed));
        Assert.Equal(bytes.Length, consumed);
        Assert.False(response.IsHttp11);
        var output = new ArrayBufferWriter<byte>();

        HttpHeadWriter.WriteResponse(response, close: true, output);

        Assert.Equal("HTTP/1.1 203 Non-Authoritative\r\nContent-Length: 0\r\nX-A: b\r\nVia: 1.1 quicpipe\r\nConnection: close\r\n\r\n", Encoding.ASCII.GetString(output.WrittenSpan));
    }

    [Fact]
    public void A_response_with_Transfer_Encoding_loses_its_conflicting_Content_Length()
    {
        var bytes = "HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n"u8;
        Assert.Equal(ProxyParseResult.Complete, HttpResponseHead.TryParse(bytes, out var response, out _));
        var output = new ArrayBufferWriter<byte>();

        HttpHeadWriter.WriteResponse(response, close: false, output);

        Assert.Equal("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nVia: 1.1 quicpipe\r\n\r\n", Encoding.ASCII.GetString(output.WrittenSpan));
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\n\r\n", 200, "OK")]
    [InlineData("HTTP/1.1 204 \r\n\r\n", 204, "")]
    [InlineData("HTTP/1.1 100\r\n\r\n", 100, "")]
    public void Status_lines_parse_with_an_empty_or_missing_reason(string text, int status, string reason)
    {
        Assert.Equal(ProxyParseResult.Complete, HttpResponseHead.TryParse(Encoding.ASCII.GetBytes(text), out var response, out _));
        Assert.Equal(status, response.Status);
        Assert.Equal(reason, response.Reason);
    }

    [Theory]
    [InlineData("HTTP/2 200 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 20 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 099 Low\r\n\r\n")]
    [InlineData("HTTP/1.1 200OK\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n")]
    [InlineData("SSH-2.0-OpenSSH\r\n")]
    [InlineData("<html>")]
    public void Bad_response_heads_are_invalid_as_soon_as_they_show_it(string text)
    {
        Assert.Equal(ProxyParseResult.Invalid, HttpResponseHead.TryParse(Encoding.ASCII.GetBytes(text), out _, out _));
    }

    [Theory]
    [InlineData("Content-Length: 10", "Length", 10)]
    [InlineData("Content-Length: 10\r\nContent-Length: 10", "Length", 10)]
    [InlineData("Content-Length: 0", "None", 0)]
    [InlineData("Transfer-Encoding: gzip, chunked", "Chunked", 0)]
    [InlineData("X: y", "None", 0)]
    public void Request_framing_follows_RFC_9112_section_6_3(string fields, string kind, long length)
    {
        Assert.True(HttpBodyFraming.TryForRequest(Fields(fields), out var framing));
        Assert.Equal(new HttpBodyFraming(Enum.Parse<HttpBodyKind>(kind), length), framing);
    }

    [Theory]
    [InlineData("Content-Length: 10\r\nTransfer-Encoding: chunked")]
    [InlineData("Content-Length: 10\r\nContent-Length: 11")]
    [InlineData("Content-Length: 1e3")]
    [InlineData("Content-Length: +5")]
    [InlineData("Content-Length: 99999999999999999999")]
    [InlineData("Transfer-Encoding: chunked, gzip")]
    [InlineData("Transfer-Encoding: identity")]
    public void Ambiguous_or_unknown_request_framing_is_refused(string fields)
    {
        Assert.False(HttpBodyFraming.TryForRequest(Fields(fields), out _));
    }

    [Theory]
    [InlineData("GET", 200, "Content-Length: 3", "Length")]
    [InlineData("HEAD", 200, "Content-Length: 3", "None")]
    [InlineData("GET", 204, "X: y", "None")]
    [InlineData("GET", 304, "Content-Length: 3", "None")]
    [InlineData("GET", 200, "X: y", "UntilClose")]
    [InlineData("GET", 200, "Transfer-Encoding: chunked\r\nContent-Length: 3", "Chunked")]
    [InlineData("GET", 200, "Transfer-Encoding: gzip", "UntilClose")]
    public void Response_framing_depends_on_the_method_the_status_and_the_fields(string method, int status, string fields, string kind)
    {
        Assert.True(HttpBodyFraming.TryForResponse(method, status, Fields(fields), out var framing));
        Assert.Equal(Enum.Parse<HttpBodyKind>(kind), framing.Kind);
    }

    [Fact]
    public void A_chunked_body_ends_after_its_trailers_at_every_split_of_its_bytes_and_the_next_message_is_left()
    {
        var body = "4;name=value\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: 1\r\n\r\n"u8.ToArray();
        byte[] stream = [.. body, .. "NEXT"u8];
        for (var split = 0; split < body.Length; split++)
        {
            var framer = new HttpBodyFramer();
            framer.Start(new HttpBodyFraming(HttpBodyKind.Chunked, 0));

            Assert.Equal(HttpBodyScan.NeedMore, framer.Scan(new ReadOnlySequence<byte>(stream, 0, split), out var first));
            Assert.Equal(split, first);
            Assert.Equal(HttpBodyScan.Done, framer.Scan(new ReadOnlySequence<byte>(stream, split, stream.Length - split), out var rest));
            Assert.Equal(body.Length, split + rest);
        }
    }

    [Fact]
    public void A_body_spread_over_pipe_segments_ends_at_the_same_byte()
    {
        var framer = new HttpBodyFramer();
        framer.Start(new HttpBodyFraming(HttpBodyKind.Chunked, 0));
        var bytes = "3\r\nabc\r\n0\r\n\r\nrest"u8.ToArray();

        Assert.Equal(HttpBodyScan.Done, framer.Scan(Segments(bytes, 1), out var consumed));
        Assert.Equal(bytes.Length - 4, consumed);
    }

    [Theory]
    [InlineData("zz\r\n")]
    [InlineData("\r\n")]
    [InlineData("-1\r\n")]
    [InlineData("5\r\nhelloXX")]
    [InlineData("5\nhello\r\n")]
    [InlineData("1000000000000000\r\n")] // 16 hex digits: more than any body, and overflow on the way
    [InlineData("5;ext\u0001\r\n")]
    [InlineData("0\r\nX: a\nb\r\n\r\n")]
    public void Broken_chunked_framing_is_invalid(string text)
    {
        var framer = new HttpBodyFramer();
        framer.Start(new HttpBodyFraming(HttpBodyKind.Chunked, 0));

        Assert.Equal(HttpBodyScan.Invalid, framer.Scan(new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(text)), out _));
    }

    [Fact]
    public void An_endless_chunk_size_line_or_trailer_section_is_refused_not_buffered()
    {
        var framer = new HttpBodyFramer();
        framer.Start(new HttpBodyFraming(HttpBodyKind.Chunked, 0));
        var extension = Encoding.ASCII.GetBytes("5;" + new string('x', HttpBodyFramer.MaxLineBytes));
        Assert.Equal(HttpBodyScan.Invalid, framer.Scan(new ReadOnlySequence<byte>(extension), out _));

        framer.Start(new HttpBodyFraming(HttpBodyKind.Chunked, 0));
        var trailers = new StringBuilder("0\r\n");
        while (trailers.Length <= 2 * HttpBodyFramer.MaxTrailerBytes)
        {
            trailers.Append("X-Trailer: ").Append(new string('t', 100)).Append("\r\n");
        }

        Assert.Equal(HttpBodyScan.Invalid, framer.Scan(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(trailers.ToString())), out _));
    }

    [Fact]
    public void A_Content_Length_body_ends_at_its_length_and_a_close_delimited_one_takes_everything()
    {
        var framer = new HttpBodyFramer();
        framer.Start(new HttpBodyFraming(HttpBodyKind.Length, 5));
        Assert.Equal(HttpBodyScan.NeedMore, framer.Scan(new ReadOnlySequence<byte>("hel"u8.ToArray()), out var first));
        Assert.Equal(3, first);
        Assert.Equal(HttpBodyScan.Done, framer.Scan(new ReadOnlySequence<byte>("loNEXT"u8.ToArray()), out var second));
        Assert.Equal(2, second);

        framer.Start(new HttpBodyFraming(HttpBodyKind.UntilClose, 0));
        Assert.True(framer.EndsAtClose);
        Assert.Equal(HttpBodyScan.NeedMore, framer.Scan(new ReadOnlySequence<byte>(new byte[100]), out var all));
        Assert.Equal(100, all);

        framer.Start(HttpBodyFraming.None);
        Assert.False(framer.HasBody);
    }

    private static HttpHeaderField[] Fields(string lines)
    {
        Assert.True(HttpSyntax.TryParseFields(Encoding.ASCII.GetBytes(lines + "\r\n"), out var fields));
        return fields;
    }

    /// <summary>A sequence of one-or-more-byte segments, as a pipe hands them out.</summary>
    private static ReadOnlySequence<byte> Segments(byte[] bytes, int size)
    {
        var first = new Segment(bytes.AsMemory(0, Math.Min(size, bytes.Length)), 0);
        var last = first;
        for (var i = size; i < bytes.Length; i += size)
        {
            last = last.Append(bytes.AsMemory(i, Math.Min(size, bytes.Length - i)));
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
