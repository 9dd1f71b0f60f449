/* xent_embed.c — Sharpmax embedded in a C program, without .NET.
 *
 * Resolves the CUDA driver-API functions it needs by name at run time, either
 * from libsharpmax_host (prefix smhost_, the CPU device) or from the NVIDIA
 * driver libcuda.so.1 (no prefix, a GPU), and otherwise runs one code path:
 * open device 0, load cross_entropy.ptx, run the fused cross-entropy
 * forward+backward on a small batch (mean reduction, label smoothing, one
 * ignored row, one row of large logits), then check the per-row loss, the
 * log-sum-exp, the mean loss and the gradient against a double-precision
 * computation done here. Exits 0 when everything is within tolerance.
 *
 *   xent_embed [--device cpu|cuda] [--library PATH] [--ptx FILE] [--kernel VARIANT]
 *
 *   --device   cpu (default) or cuda; the environment variable SHARPMAX_DEVICE
 *              sets the default.
 *   --library  the library to resolve from; default: the installed
 *              libsharpmax_host for cpu, libcuda.so.1 for cuda.
 *   --ptx      the PTX file; default: cross_entropy.ptx in the installed PTX
 *              folder. The CPU device binds each .entry of the PTX to the
 *              kernel of that name compiled into the library; without a PTX
 *              file (a build without a CUDA compiler) the CPU device binds
 *              every host kernel instead (SMHOST_ALL_KERNELS_IMAGE).
 *   --kernel   row (default), warp32, warp256, warp1024, block or online:
 *              the variant of xent_fused_forward_backward_f32 that runs.
 *
 * The kernel ABI used here is documented in kernels/README.md (installed as
 * share/doc/Sharpmax/kernel-abi.md).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sharpmax_host.h" /* only for the types: they are ABI-identical to cuda.h's */

#if defined(_WIN32)
#include <windows.h>
static void* open_library(const char* path) {  /* LoadLibrary wants backslashes; CMake writes slashes */
    char native[1024];
    snprintf(native, sizeof native, "%s", path);
    for (char* p = native; *p; ++p)
        if (*p == '/') *p = '\\';
    return (void*)LoadLibraryA(native);
}
static void* library_symbol(void* library, const char* name) { return (void*)GetProcAddress((HMODULE)library, name); }
static const char* library_error(void) { return "LoadLibrary or GetProcAddress failed"; }
#define DEFAULT_CUDA_LIBRARY "nvcuda.dll"
#else
#include <dlfcn.h>
static void* open_library(const char* path) { return dlopen(path, RTLD_NOW | RTLD_LOCAL); }
static void* library_symbol(void* library, const char* name) { return dlsym(library, name); }
static const char* library_error(void) { return dlerror(); }
#define DEFAULT_CUDA_LIBRARY "libcuda.so.1"
#endif

#ifndef SHARPMAX_HOST_LIBRARY /* set by CMakeLists.txt to the installed file */
#define SHARPMAX_HOST_LIBRARY "libsharpmax_host.so"
#endif
#ifndef SHARPMAX_PTX_DIR
#define SHARPMAX_PTX_DIR "."
#endif

#define IGNORE_INDEX (-100)
#define REDUCE_THREADS 256 /* xent_count_valid_i32, xent_reduce_f32: a power of two <= 1024 */

/* The driver-API slice this program calls; same signatures in both libraries. */
typedef struct {
    SMresult (*cuInit)(unsigned int flags);
    SMresult (*cuDeviceGet)(SMdevice* device, int ordinal);
    SMresult (*cuDeviceGetName)(char* name, int length, SMdevice device);
    SMresult (*cuDevicePrimaryCtxRetain)(SMcontext* context, SMdevice device);
    SMresult (*cuDevicePrimaryCtxRelease_v2)(SMdevice device);
    SMresult (*cuCtxSetCurrent)(SMcontext context);
    SMresult (*cuCtxSynchronize)(void);
    SMresult (*cuModuleLoadDataEx)(SMmodule* module, const void* image, unsigned int num_options, int* options,
                                   void** option_values);
    SMresult (*cuModuleUnload)(SMmodule module);
    SMresult (*cuModuleGetFunction)(SMfunction* function, SMmodule module, const char* name);
    SMresult (*cuMemAlloc_v2)(SMdeviceptr* pointer, size_t bytes);
    SMresult (*cuMemFree_v2)(SMdeviceptr pointer);
    SMresult (*cuMemcpyHtoD_v2)(SMdeviceptr destination, const void* source, size_t bytes);
    SMresult (*cuMemcpyDtoH_v2)(void* destination, SMdeviceptr source, size_t bytes);
    SMresult (*cuMemsetD8_v2)(SMdeviceptr destination, unsigned char value, size_t count);
    SMresult (*cuLaunchKernel)(SMfunction function, unsigned int grid_x, unsigned int grid_y, unsigned int grid_z,
                               unsigned int block_x, unsigned int block_y, unsigned int block_z,
                               unsigned int shared_bytes, SMstream stream, void** kernel_params, void** extra);
    SMresult (*cuGetErrorName)(SMresult error, const char** name);
    const char* (*lastErrorDetail)(void); /* libsharpmax_host only; NULL for the driver */
} DriverApi;

static DriverApi api;

/* A data pointer from dlsym stored into a function pointer (POSIX allows it; ISO C has no cast for it). */
static void resolve(void* library, const char* prefix, const char* name, void* function_pointer, int required) {
    char symbol[128];
    snprintf(symbol, sizeof symbol, "%s%s", prefix, name);
    void* address = library_symbol(library, symbol);
    if (!address && required) {
        fprintf(stderr, "error: the library has no export named %s\n", symbol);
        exit(EXIT_FAILURE);
    }
    memcpy(function_pointer, &address, sizeof address);
}

#define RESOLVE(library, prefix, name) resolve(library, prefix, #name, &api.name, 1)

static void load_api(const char* path, const char* prefix) {
    void* library = open_library(path);
    if (!library) {
        fprintf(stderr, "error: cannot open %s: %s\n", path, library_error());
        exit(EXIT_FAILURE);
    }
    RESOLVE(library, prefix, cuInit);
    RESOLVE(library, prefix, cuDeviceGet);
    RESOLVE(library, prefix, cuDeviceGetName);
    RESOLVE(library, prefix, cuDevicePrimaryCtxRetain);
    RESOLVE(library, prefix, cuDevicePrimaryCtxRelease_v2);
    RESOLVE(library, prefix, cuCtxSetCurrent);
    RESOLVE(library, prefix, cuCtxSynchronize);
    RESOLVE(library, prefix, cuModuleLoadDataEx);
    RESOLVE(library, prefix, cuModuleUnload);
    RESOLVE(library, prefix, cuModuleGetFunction);
    RESOLVE(library, prefix, cuMemAlloc_v2);
    RESOLVE(library, prefix, cuMemFree_v2);
    RESOLVE(library, prefix, cuMemcpyHtoD_v2);
    RESOLVE(library, prefix, cuMemcpyDtoH_v2);
    RESOLVE(library, prefix, cuMemsetD8_v2);
    RESOLVE(library, prefix, cuLaunchKernel);
    RESOLVE(library, prefix, cuGetErrorName);
    resolve(library, "smhost_", "lastErrorDetail", &api.lastErrorDetail, 0);
}

/* Every driver call goes through CHECK: on failure it prints the call, the CUDA
 * error name and (CPU device) the runtime's explanation, and exits. */
#define CHECK(call) check((call), #call, __LINE__)

static void check(SMresult result, const char* call, int line) {
    if (result == SMHOST_SUCCESS) return;
    const char* name = NULL;
    if (api.cuGetErrorName(result, &name) != SMHOST_SUCCESS || !name) name = "unknown error";
    fprintf(stderr, "error: %s failed with %s (%d) at line %d\n", call, name, result, line);
    const char* detail = api.lastErrorDetail ? api.lastErrorDetail() : "";
    if (detail && *detail) fprintf(stderr, "  %s\n", detail);
    exit(EXIT_FAILURE);
}

/* The PTX file as a NUL-terminated image (cuModuleLoadDataEx needs the NUL). */
static char* read_text(const char* path) {
    FILE* file = fopen(path, "rb");
    if (!file) return NULL;
    char* text = NULL;
    long size = -1;
    if (fseek(file, 0, SEEK_END) == 0 && (size = ftell(file)) >= 0 && fseek(file, 0, SEEK_SET) == 0) {
        text = malloc((size_t)size + 1);
        if (text && fread(text, 1, (size_t)size, file) == (size_t)size) {
            text[size] = '\0';
        } else {
            free(text);
            text = NULL;
        }
    }
    fclose(file);
    return text;
}

/* ---- the batch and its double-precision reference ---------------------------- */

enum { N = 7, C = 10 };
static const float SMOOTHING = 0.1f;

static void make_batch(float* x, int* labels) {
    unsigned int state = 12345u;
    for (int i = 0; i < N * C; ++i) {
        state = state * 1664525u + 1013904223u;                 /* LCG: the same batch on every platform */
        x[i] = (float)((double)(state >> 8) / 16777216.0 * 6.0 - 3.0); /* [-3, 3) */
    }
    for (int r = 0; r < N; ++r) labels[r] = (r * 3 + 1) % C;
    labels[2] = IGNORE_INDEX;                              /* contributes no loss, zero gradient */
    for (int c = 0; c < C; ++c) x[4 * C + c] += 1000.0f;   /* exp(x) overflows float: the kernel must subtract the max */
}

typedef struct {
    double loss[N], lse[N], grad[N * C], mean;
} Reference;

static void reference(const float* x, const int* labels, Reference* ref) {
    int count = 0;
    for (int r = 0; r < N; ++r) count += labels[r] != IGNORE_INDEX;
    double total = 0.0;
    for (int r = 0; r < N; ++r) {
        const float* row = x + r * C;
        double m = row[0], s = 0.0, mean_logit = 0.0;
        for (int c = 1; c < C; ++c) m = row[c] > m ? row[c] : m;
        for (int c = 0; c < C; ++c) s += exp(row[c] - m);
        for (int c = 0; c < C; ++c) mean_logit += row[c] / (double)C;
        double lse = m + log(s);
        ref->lse[r] = lse;
        int y = labels[r];
        if (y == IGNORE_INDEX) {
            ref->loss[r] = 0.0;
            for (int c = 0; c < C; ++c) ref->grad[r * C + c] = 0.0;
            continue;
        }
        /* (1 - ε)·(lse - x_y) + ε·mean_c(lse - x_c) */
        ref->loss[r] = (1.0 - SMOOTHING) * (lse - row[y]) + SMOOTHING * (lse - mean_logit);
        total += ref->loss[r];
        /* ∂mean/∂x = (softmax - (1 - ε)·onehot - ε/C) / count */
        for (int c = 0; c < C; ++c) {
            double target = (c == y ? 1.0 - SMOOTHING : 0.0) + SMOOTHING / C;
            ref->grad[r * C + c] = (exp(row[c] - lse) - target) / count;
        }
    }
    ref->mean = total / count;
}

/* |got - want| <= ATOL + RTOL·|want|. The kernel computes in float (the CPU
 * build's exp is within 1.4 ulp of exp): RTOL is about 8 float ulps, room for
 * the rounding of a sum of C exponentials and a log; ATOL covers gradient
 * entries near zero, where a relative bound means nothing. */
#define ATOL 1e-7
#define RTOL 1e-6

static int compare(const char* what, const float* got, const double* want, int count) {
    int worst = 0, bad = 0;
    double worst_ratio = 0.0;
    for (int i = 0; i < count; ++i) {
        double ratio = fabs(got[i] - want[i]) / (ATOL + RTOL * fabs(want[i]));
        if (!(ratio <= 1.0)) ++bad; /* NaN counts as bad */
        if (!(ratio <= worst_ratio)) worst_ratio = ratio, worst = i;
    }
    printf("%-14s %3d values, worst [%d] got %.9g want %.9g (%.2f of tolerance)%s\n", what, count, worst,
           (double)got[worst], want[worst], worst_ratio, bad ? "  MISMATCH" : "");
    return bad;
}

/* ---- launch configuration of each fused variant (kernels/README.md) ------------ */

typedef struct {
    unsigned int grid, block, shared_bytes;
} LaunchShape;

static int launch_shape(const char* variant, LaunchShape* shape) {
    if (strcmp(variant, "row") == 0) {                /* thread per row */
        *shape = (LaunchShape){(N + 127) / 128, 128, 0};
    } else if (strncmp(variant, "warp", 4) == 0) {    /* warp per row: C <= 32, 256 or 1024 */
        int columns = atoi(variant + 4);
        if ((columns != 32 && columns != 256 && columns != 1024) || C > columns) return 0;
        *shape = (LaunchShape){(N + 3) / 4, 128, 0};  /* 4 warps = 4 rows per block */
    } else if (strcmp(variant, "block") == 0) {       /* block per row, the row in shared memory */
        *shape = (LaunchShape){N, 32, C * sizeof(float)};
    } else if (strcmp(variant, "online") == 0) {      /* block per row, streaming */
        *shape = (LaunchShape){N, 32, 0};
    } else {
        return 0;
    }
    return 1;
}

static SMdeviceptr device_alloc(size_t bytes) {
    SMdeviceptr pointer = 0;
    CHECK(api.cuMemAlloc_v2(&pointer, bytes));
    return pointer;
}

static void usage(void) {
    fprintf(stderr, "usage: xent_embed [--device cpu|cuda] [--library PATH] [--ptx FILE] "
                    "[--kernel row|warp32|warp256|warp1024|block|online]\n");
    exit(2);
}

int main(int argc, char** argv) {
    const char* device_kind = getenv("SHARPMAX_DEVICE");
    const char *library = NULL, *ptx_path = SHARPMAX_PTX_DIR "/cross_entropy.ptx", *variant = "row";
    for (int i = 1; i < argc; ++i) {
        if (i + 1 >= argc) usage();
        if (strcmp(argv[i], "--device") == 0) device_kind = argv[++i];
        else if (strcmp(argv[i], "--library") == 0) library = argv[++i];
        else if (strcmp(argv[i], "--ptx") == 0) ptx_path = argv[++i];
        else if (strcmp(argv[i], "--kernel") == 0) variant = argv[++i];
        else usage();
    }
    if (!device_kind || !*device_kind) device_kind = "cpu";
    int on_cpu = strcmp(device_kind, "cpu") == 0;
    if (!on_cpu && strcmp(device_kind, "cuda") != 0) usage();
    if (!library) library = on_cpu ? SHARPMAX_HOST_LIBRARY : DEFAULT_CUDA_LIBRARY;
    LaunchShape shape;
    if (!launch_shape(variant, &shape)) usage();

    /* The only device-specific step: which library, which symbol prefix. */
    load_api(library, on_cpu ? "smhost_" : "");
    printf("library        %s (%s)\n", library, on_cpu ? "smhost_cu*" : "cu*");

    SMdevice device;
    SMcontext context;
    char name[256];
    CHECK(api.cuInit(0));
    CHECK(api.cuDeviceGet(&device, 0));
    CHECK(api.cuDeviceGetName(name, (int)sizeof name, device));
    CHECK(api.cuDevicePrimaryCtxRetain(&context, device));
    CHECK(api.cuCtxSetCurrent(context)); /* retaining does not make it current */
    printf("device         %s\n", name);

    char* ptx = read_text(ptx_path);
    if (!ptx && !on_cpu) {
        fprintf(stderr, "error: cannot read %s (the GPU needs the PTX)\n", ptx_path);
        return EXIT_FAILURE;
    }
    SMmodule module;
    CHECK(api.cuModuleLoadDataEx(&module, ptx ? ptx : SMHOST_ALL_KERNELS_IMAGE, 0, NULL, NULL));
    printf("module         %s\n", ptx ? ptx_path : "no PTX file: every host kernel bound by name");
    free(ptx);

    char kernel_name[64];
    snprintf(kernel_name, sizeof kernel_name, "xent_fused_forward_backward_f32_%s", variant);
    SMfunction fused, count_valid, reduce;
    CHECK(api.cuModuleGetFunction(&fused, module, kernel_name));
    CHECK(api.cuModuleGetFunction(&count_valid, module, "xent_count_valid_i32"));
    CHECK(api.cuModuleGetFunction(&reduce, module, "xent_reduce_f32"));

    float x[N * C];
    int labels[N];
    make_batch(x, labels);
    SMdeviceptr d_x = device_alloc(sizeof x), d_labels = device_alloc(sizeof labels);
    SMdeviceptr d_loss = device_alloc(N * sizeof(float)), d_lse = device_alloc(N * sizeof(float));
    SMdeviceptr d_grad = device_alloc(sizeof x), d_count = device_alloc(sizeof(int));
    SMdeviceptr d_mean = device_alloc(sizeof(float)), d_status = device_alloc(sizeof(unsigned long long));
    CHECK(api.cuMemcpyHtoD_v2(d_x, x, sizeof x));
    CHECK(api.cuMemcpyHtoD_v2(d_labels, labels, sizeof labels));
    CHECK(api.cuMemsetD8_v2(d_status, 0, sizeof(unsigned long long))); /* 0: no bad label */

    int n = N, c = C, ld = C, ignore_index = IGNORE_INDEX, mean = 1;
    float smoothing = SMOOTHING, grad_scale = 1.0f;

    /* 1. count of non-ignored rows: the mean's gradient divides by it */
    void* count_args[] = {&d_labels, &n, &c, &ignore_index, &d_count};
    CHECK(api.cuLaunchKernel(count_valid, 1, 1, 1, REDUCE_THREADS, 1, 1, 0, NULL, count_args, NULL));
    /* 2. the fused kernel: per-row loss, log-sum-exp and the gradient in one pass */
    /* the last five: z-loss scale, softcap (0: off), class weights, their totals, per-row z-loss (null: none) */
    float z_loss_scale = 0.0f, softcap = 0.0f;
    SMdeviceptr none = 0;
    void* fused_args[] = {&d_x, &n, &c, &ld, &d_labels, &ignore_index, &smoothing, &d_loss,
                          &d_lse, &grad_scale, &d_count, &d_grad, &ld, &d_status,
                          &z_loss_scale, &softcap, &none, &none, &none};
    CHECK(api.cuLaunchKernel(fused, shape.grid, 1, 1, shape.block, 1, 1, shape.shared_bytes, NULL, fused_args, NULL));
    /* 3. the mean over non-ignored rows, in a fixed order */
    void* reduce_args[] = {&d_loss, &d_labels, &n, &c, &ignore_index, &mean, &d_mean, &none /* no class weights */};
    CHECK(api.cuLaunchKernel(reduce, 1, 1, 1, REDUCE_THREADS, 1, 1, 0, NULL, reduce_args, NULL));
    CHECK(api.cuCtxSynchronize());
    printf("kernel         %s  grid %u  block %u  shared %u bytes\n", kernel_name, shape.grid, shape.block,
           shape.shared_bytes);

    float loss[N], lse[N], grad[N * C], mean_loss;
    unsigned long long status;
    CHECK(api.cuMemcpyDtoH_v2(loss, d_loss, sizeof loss));
    CHECK(api.cuMemcpyDtoH_v2(lse, d_lse, sizeof lse));
    CHECK(api.cuMemcpyDtoH_v2(grad, d_grad, sizeof grad));
    CHECK(api.cuMemcpyDtoH_v2(&mean_loss, d_mean, sizeof mean_loss));
    CHECK(api.cuMemcpyDtoH_v2(&status, d_status, sizeof status));

    Reference ref;
    reference(x, labels, &ref);
    printf("batch          N=%d C=%d, label smoothing %.2f, row 2 ignored, row 4 logits ~1000\n", N, C,
           (double)SMOOTHING);
    printf("tolerance      |got - want| <= %g + %g * |want|\n", ATOL, RTOL);
    for (int r = 0; r < N; ++r)
        printf("row %d  label %4d  loss %.7f (want %.7f)  lse %.4f\n", r, labels[r], (double)loss[r], ref.loss[r],
               (double)lse[r]);
    int bad = compare("row loss", loss, ref.loss, N);
    bad += compare("log-sum-exp", lse, ref.lse, N);
    bad += compare("gradient", grad, ref.grad, N * C);
    bad += compare("mean loss", &mean_loss, &ref.mean, 1);
    if (status != 0) {
        printf("label status   %#llx: a label was reported out of range\n", status);
        ++bad;
    }

    SMdeviceptr buffers[] = {d_x, d_labels, d_loss, d_lse, d_grad, d_count, d_mean, d_status};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; ++i) CHECK(api.cuMemFree_v2(buffers[i]));
    CHECK(api.cuModuleUnload(module));
    CHECK(api.cuDevicePrimaryCtxRelease_v2(device));

    if (bad) printf("FAILED: %d values out of tolerance\n", bad);
    else printf("OK: mean loss %.7f and its gradient match the double-precision reference\n", (double)mean_loss);
    return bad ? EXIT_FAILURE : EXIT_SUCCESS;
}
