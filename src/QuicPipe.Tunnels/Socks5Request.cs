using System.Buffers.Binary;
using System.Net;
using System.Text;

namespace QuicPipe.Tunnels;

/// <summary>
/// A SOCKS5 request (RFC 1928 section 4): <c>VER=5 | CMD | RSV | ATYP | DST.ADDR | DST.PORT</c>. Command and
/// address type are kept as sent so that the proxy can answer "not supported" for values it does not serve.
/// </summary>
public readonly record struct Socks5Request
{
    public const byte CommandConnect = 0x01;
    public const byte CommandBind = 0x02;
    public const byte CommandUdpAssociate = 0x03;

    public const byte AddressIPv4 = 0x01;
    public const byte AddressDomainName = 0x03;
    public const byte AddressIPv6 = 0x04;

    public Socks5Request(byte command, byte addressType, string? host, int port)
    {
        Command = command;
        AddressType = addressType;
        Host = host;
        Port = port;
    }

    public byte Command { get; }

    public byte AddressType { get; }

    /// <summary>The domain name or the IP address as text; null for an unknown address type.</summary>
    public string? Host { get; }

    /// <summary>The destination port (0 for an unknown address type).</summary>
    public int Port { get; }

    /// <summary>
    /// Another version is invalid. An unknown address type is <see cref="ProxyParseResult.Complete"/> after the
    /// first four bytes (its length is unknowable: the proxy answers 0x08 and closes). Never throws on any input.
    /// </summary>
    public static ProxyParseResult TryParse(ReadOnlySpan<byte> data, out Socks5Request request, out int consumed)
    {
        request = default;
        consumed = 0;
        if (data.IsEmpty)
        {
            return ProxyParseResult.Incomplete;
        }

        if (data[0] != Socks5Greeting.Version)
        {
            return ProxyParseResult.Invalid;
        }

        if (data.Length < 4)
        {
            return ProxyParseResult.Incomplete;
        }

        var command = data[1];
        var addressType = data[3];
        int addressLength;
        var addressStart = 4;
        switch (addressType)
        {
            case AddressIPv4:
                addressLength = 4;
                break;
            case AddressIPv6:
                addressLength = 16;
                break;
            case AddressDomainName:
                if (data.Length < 5)
                {
                    return ProxyParseResult.Incomplete;
                }

                addressLength = data[4];
                addressStart = 5;
                break;
            default:
                request = new Socks5Request(command, addressType, null, 0);
                consumed = 4;
                return ProxyParseResult.Complete;
        }

        var size = addressStart + addressLength + 2;
        if (data.Length < size)
        {
            return ProxyParseResult.Incomplete;
        }

        var address = data.Slice(addressStart, addressLength);
        var host = addressType == AddressDomainName ? Encoding.Latin1.GetString(address) : new IPAddress(address).ToString();
        var port = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(addressStart + addressLength, 2));
        request = new Socks5Request(command, addressType, host, port);
        consumed = size;
        return ProxyParseResult.Complete;
    }
}
