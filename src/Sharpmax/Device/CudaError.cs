namespace Sharpmax;

/// <summary>The CUresult codes Sharpmax meets, with their values from cuda.h (the CPU device returns the same codes).</summary>
public enum CudaError
{
    /// <summary>CUDA_SUCCESS.</summary>
    Success = 0,

    /// <summary>CUDA_ERROR_INVALID_VALUE: an argument is out of range (also an illegal launch configuration).</summary>
    InvalidValue = 1,

    /// <summary>CUDA_ERROR_OUT_OF_MEMORY.</summary>
    OutOfMemory = 2,

    /// <summary>CUDA_ERROR_NOT_INITIALIZED: cuInit has not been called.</summary>
    NotInitialized = 3,

    /// <summary>CUDA_ERROR_DEINITIALIZED: the driver is shutting down.</summary>
    Deinitialized = 4,

    /// <summary>CUDA_ERROR_NO_DEVICE: no CUDA-capable device is present.</summary>
    NoDevice = 100,

    /// <summary>CUDA_ERROR_INVALID_DEVICE.</summary>
    InvalidDevice = 101,

    /// <summary>CUDA_ERROR_INVALID_IMAGE: a module image could not be loaded.</summary>
    InvalidImage = 200,

    /// <summary>CUDA_ERROR_INVALID_CONTEXT: no current context.</summary>
    InvalidContext = 201,

    /// <summary>CUDA_ERROR_INVALID_PTX: PTX JIT compilation failed.</summary>
    InvalidPtx = 218,

    /// <summary>CUDA_ERROR_INVALID_HANDLE.</summary>
    InvalidHandle = 400,

    /// <summary>CUDA_ERROR_NOT_FOUND: a named symbol (kernel) was not found.</summary>
    NotFound = 500,

    /// <summary>CUDA_ERROR_NOT_READY.</summary>
    NotReady = 600,

    /// <summary>CUDA_ERROR_ILLEGAL_ADDRESS: a kernel accessed memory it must not.</summary>
    IllegalAddress = 700,

    /// <summary>CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES: too many registers or threads for the launch.</summary>
    LaunchOutOfResources = 701,

    /// <summary>CUDA_ERROR_LAUNCH_FAILED: a kernel failed while running.</summary>
    LaunchFailed = 719,

    /// <summary>CUDA_ERROR_NOT_SUPPORTED.</summary>
    NotSupported = 801,

    /// <summary>CUDA_ERROR_UNKNOWN.</summary>
    Unknown = 999,
}
