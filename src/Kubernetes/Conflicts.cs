using System.Net;
using k8s.Autorest;

namespace BgpLb.Kubernetes;

public static class Conflicts
{
    /// <summary>Attempts per write before a persistent 409 Conflict is given up and thrown.</summary>
    public const int MaxAttempts = 5;

    public static bool IsConflict(Exception e) => e is HttpOperationException { Response.StatusCode: HttpStatusCode.Conflict };

    public static bool IsNotFound(Exception e) => e is HttpOperationException { Response.StatusCode: HttpStatusCode.NotFound };
}
