using System.Runtime.CompilerServices;
using Sharpmax.Interop;

namespace Sharpmax;

/// <summary>The one place where a native result code becomes a <see cref="CudaException"/>.</summary>
internal static class CudaCheck
{
    /// <summary>Throws a <see cref="CudaException"/> when <paramref name="result"/> is not CUDA_SUCCESS.</summary>
    public static void Check(DriverApi api, int result, [CallerArgumentExpression(nameof(result))] string call = "")
    {
        if (result != 0)
            throw Failure(api, result, call);
    }

    /// <summary>The exception for a failed call; <paramref name="extraDetail"/> is appended (a JIT log, say).</summary>
    public static CudaException Failure(DriverApi api, int result, string call, string extraDetail = "")
    {
        // Read the host runtime's detail first: it is per thread and a later call may overwrite it.
        var detail = api.LastErrorDetail();
        var name = api.ErrorName(result) ?? (Enum.IsDefined((CudaError)result) ? $"CUresult {(CudaError)result}" : "unknown CUresult");
        var text = api.ErrorString(result) ?? "no description from the driver";
        if (extraDetail.Length > 0)
            detail = detail.Length == 0 ? extraDetail : $"{detail} {extraDetail}";
        return new CudaException(result, name, text, TrimReceiver(call), detail);
    }

    // "_context.Api.cuMemAlloc_v2(&p, n)" reads better as "cuMemAlloc_v2(&p, n)".
    private static string TrimReceiver(string call)
    {
        var open = call.IndexOf('(', StringComparison.Ordinal);
        var head = open < 0 ? call : call[..open];
        var dot = head.LastIndexOf('.');
        return dot < 0 ? call : call[(dot + 1)..];
    }
}
