using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using QuicPipe.Quic.Internal;

namespace QuicPipe.Quic;

/// <summary>
/// Who a node is: the SHA-256 of its certificate's DER-encoded SubjectPublicKeyInfo (the public key and its
/// algorithm), printed as lower-case RFC 4648 base32 without padding (52 characters). Two nodes that pin each
/// other's NodeId authenticate mutually with no CA: TLS proves the peer holds the private key of the
/// certificate it sent, and the shim checks that certificate's SPKI hash against the pin.
/// </summary>
public readonly struct NodeId : IEquatable<NodeId>
{
    /// <summary>Bytes in a NodeId (a SHA-256 digest).</summary>
    public const int Size = 32;

    private readonly HashBytes _hash;

    public NodeId(ReadOnlySpan<byte> hash)
    {
        if (hash.Length != Size)
        {
            throw new ArgumentException($"A NodeId is {Size} bytes; got {hash.Length}.", nameof(hash));
        }

        hash.CopyTo(_hash);
    }

    /// <summary>The 32 hash bytes. The span points into this value, so keep the value alive while reading it.</summary>
    [UnscopedRef]
    public ReadOnlySpan<byte> Bytes => _hash;

    /// <summary>The NodeId of a DER-encoded SubjectPublicKeyInfo.</summary>
    public static NodeId FromSubjectPublicKeyInfo(ReadOnlySpan<byte> spki)
    {
        Span<byte> hash = stackalloc byte[Size];
        SHA256.HashData(spki, hash);
        return new NodeId(hash);
    }

    /// <summary>The NodeId of a certificate (of its public key; the rest of the certificate does not matter).</summary>
    public static NodeId FromCertificate(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return FromSubjectPublicKeyInfo(certificate.PublicKey.ExportSubjectPublicKeyInfo());
    }

    public static bool TryParse(ReadOnlySpan<char> text, out NodeId id)
    {
        Span<byte> hash = stackalloc byte[Size];
        if (!Base32.TryDecode(text, hash))
        {
            id = default;
            return false;
        }

        id = new NodeId(hash);
        return true;
    }

    public static NodeId Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParse(text, out var id)
            ? id
            : throw new FormatException($"'{text}' is not a NodeId (52 base32 characters, a-z and 2-7).");
    }

    public bool Equals(NodeId other) => Bytes.SequenceEqual(other.Bytes);

    public override bool Equals(object? obj) => obj is NodeId other && Equals(other);

    public override int GetHashCode() => BitConverter.ToInt32(Bytes);

    public static bool operator ==(NodeId left, NodeId right) => left.Equals(right);

    public static bool operator !=(NodeId left, NodeId right) => !left.Equals(right);

    /// <summary>The printable form: lower-case base32, no padding.</summary>
    public override string ToString() => Base32.Encode(Bytes);

    [InlineArray(Size)]
    private struct HashBytes
    {
        private byte _element0;
    }
}
