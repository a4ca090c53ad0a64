using Microsoft.Extensions.Logging;

namespace QuicPipe.Dataplane.Internal;

/// <summary>What a <see cref="Tun.TunDevice"/> logs after it was made.</summary>
internal static partial class TunDeviceLog
{
    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "deleting TUN device {Name} failed ({Reason}); closing its descriptor removes it")]
    public static partial void DeleteFailed(ILogger logger, string name, string reason);
}
