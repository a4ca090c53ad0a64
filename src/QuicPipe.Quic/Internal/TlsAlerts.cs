namespace QuicPipe.Quic.Internal;

/// <summary>Names of the TLS alerts (RFC 8446 §6) a QUIC handshake fails with, for error messages.</summary>
internal static class TlsAlerts
{
    public static string Name(int alert) => alert switch
    {
        10 => "unexpected_message",
        40 => "handshake_failure",
        42 => "bad_certificate",
        43 => "unsupported_certificate",
        46 => "certificate_unknown",
        47 => "illegal_parameter",
        48 => "unknown_ca",
        50 => "decode_error",
        51 => "decrypt_error",
        70 => "protocol_version",
        80 => "internal_error",
        109 => "missing_extension",
        116 => "certificate_required",
        120 => "no_application_protocol",
        _ => "unknown alert",
    };
}
