/* linear_xent_embed.c — fused linear + cross-entropy (kernels/linear_xent.cu) called from C.
 *
 * The mean cross-entropy of the logits H·W + b (N×C, never stored) and its gradients dH, dW, db, on the CPU
 * device through libsharpmax_host's smhost_ functions (the CUDA driver API's cu* on a GPU), in the order
 * kernels/README.md gives for linear_xent: count the rows in use, forward, reduce the mean, check the
 * bad-label status, then the two backward kernels (and, for _simd, again with dH made by the forward itself,
 * linear_xent_forward_input_grad_f32_simd, so only the weight kernel follows). Checked against a float64
 * computation done here, for W
 * stored K×C (layout 0) and C×K (layout 1, a language model's head); then a bad label must be reported
 * (row and value) and the call after it must be right again. Exits non-zero on any mismatch.
 *
 *   linear_xent_embed [simd|block]
 *
 *   simd   (default) the CPU device's kernels, bound from the library (SMHOST_ALL_KERNELS_IMAGE)
 *   block  the GPU's kernels, bound from the installed linear_xent.ptx when there is one
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sharpmax_host.h>

#ifndef SHARPMAX_PTX_DIR /* set by CMakeLists.txt to the installed PTX folder */
#define SHARPMAX_PTX_DIR "."
#endif

/* Odd sizes on purpose: 3 class tiles of 64 (the last holds 2 classes), a partial row tile, K not a multiple
 * of the _simd kernels' 16. */
enum { N = 37, K = 33, C = 130 };
#define IGNORE_INDEX (-100)
#define IGNORED_ROW 11

/* kernels/linear_xent.cu's tiles and LX_SIMD_WORKSPACE_FLOATS(K): floats of workspace per _simd block. */
#define CLASS_TILE 64
#define PAD16(k) (((k) + 15) / 16 * 16)
#define ROW_FLOATS(k) (PAD16(k) / 16 % 2 == 0 ? PAD16(k) + 16 : PAD16(k)) /* an odd count of 64-byte lines */
#define SIMD_WORKSPACE_FLOATS(k) (2LL * CLASS_TILE * ROW_FLOATS(k) + CLASS_TILE + 192LL * (ROW_FLOATS(k) + CLASS_TILE))

#define CHECK(call) check((call), #call, __LINE__)

static void check(SMresult result, const char* call, int line) {
    if (result == SMHOST_SUCCESS) return;
    const char* name = "unknown error";
    smhost_cuGetErrorName(result, &name);
    fprintf(stderr, "error: %s failed with %s (%d) at line %d\n  %s\n", call, name, result, line,
            smhost_lastErrorDetail());
    exit(EXIT_FAILURE);
}

static SMdeviceptr upload(const void* host, size_t bytes) {
    SMdeviceptr pointer;
    CHECK(smhost_cuMemAlloc_v2(&pointer, bytes));
    if (host) CHECK(smhost_cuMemcpyHtoD_v2(pointer, host, bytes));
    return pointer;
}

/* ---- the problem and its float64 reference ------------------------------------------------------------ */

typedef struct {
    float h[N * K], w_kc[K * C], w_ck[C * K], b[C]; /* w_ck is w_kc transposed: the same W, stored C×K */
    int labels[N];
} Problem;

static void make_problem(Problem* p) {
    unsigned int state = 2024u;
    float* all[] = {p->h, p->w_kc, p->b};
    const int sizes[] = {N * K, K * C, C};
    for (int a = 0; a < 3; ++a)
        for (int i = 0; i < sizes[a]; ++i) {
            state = state * 1664525u + 1013904223u; /* LCG: the same problem on every platform */
            all[a][i] = (float)((double)(state >> 8) / 16777216.0 * 2.0 - 1.0); /* [-1, 1): logits ~ ±2 */
        }
    for (int k = 0; k < K; ++k)
        for (int c = 0; c < C; ++c) p->w_ck[c * K + k] = p->w_kc[k * C + c];
    for (int r = 0; r < N; ++r) p->labels[r] = (r * 53 + 7) % C;
    p->labels[IGNORED_ROW] = IGNORE_INDEX; /* no loss, no gradient, not in the mean */
}

typedef struct {
    double mean, dh[N * K], dw_kc[K * C], db[C];
} Reference;

/* logits = H·W + b, lse = log Σ exp, G = (softmax − onehot) / count, dH = G·Wᵀ, dW = Hᵀ·G, db = Σ_rows G. */
static void reference(const Problem* p, Reference* ref) {
    static double g[N * C];
    int count = 0;
    for (int r = 0; r < N; ++r) count += p->labels[r] != IGNORE_INDEX;
    double total = 0.0;
    for (int r = 0; r < N; ++r) {
        double x[C], m = -INFINITY, s = 0.0;
        for (int c = 0; c < C; ++c) {
            x[c] = p->b[c];
            for (int k = 0; k < K; ++k) x[c] += (double)p->h[r * K + k] * p->w_kc[k * C + c];
            m = x[c] > m ? x[c] : m;
        }
        for (int c = 0; c < C; ++c) s += exp(x[c] - m);
        const double lse = m + log(s);
        const int y = p->labels[r];
        if (y != IGNORE_INDEX) total += lse - x[y];
        for (int c = 0; c < C; ++c)
            g[r * C + c] = y == IGNORE_INDEX ? 0.0 : (exp(x[c] - lse) - (c == y)) / count;
    }
    ref->mean = total / count;
    memset(ref->dh, 0, sizeof ref->dh);
    memset(ref->dw_kc, 0, sizeof ref->dw_kc);
    memset(ref->db, 0, sizeof ref->db);
    for (int r = 0; r < N; ++r)
        for (int c = 0; c < C; ++c) {
            for (int k = 0; k < K; ++k) {
                ref->dh[r * K + k] += g[r * C + c] * p->w_kc[k * C + c];
                ref->dw_kc[k * C + c] += g[r * C + c] * p->h[r * K + k];
            }
            ref->db[c] += g[r * C + c];
        }
}

/* |got − want| ≤ RTOL·(|want| + max|want|). The kernels compute in float32: each logit is a 33-term float
 * dot product (rounding ≈ √K·2⁻²⁴ of Σ|h·w| ≈ 1e-6 absolute at these sizes), which moves every p and so
 * every gradient entry by ~1e-6 relative; dH and dW then sum 130 and 37 such terms of both signs, so an
 * entry near zero is judged against the tensor's largest. Measured on x86-64 (both variants, both layouts):
 * at most 0.03 of this tolerance (about 5e-7 of the largest entry); a wrong index or layout is off by O(1),
 * ~1e5 of it. */
#define RTOL 1e-5

static int compare(const char* what, const float* got, const double* want, int count, int layout_ck, int rows,
                   int cols) {
    double scale = 0.0, worst_ratio = 0.0;
    int worst = 0, bad = 0;
    for (int i = 0; i < count; ++i) scale = fabs(want[i]) > scale ? fabs(want[i]) : scale;
    for (int i = 0; i < count; ++i) {
        /* dW in layout 1 is stored C×K: element (k, c) of the K×C reference is at c·K + k */
        const float value = layout_ck ? got[(i % cols) * rows + i / cols] : got[i];
        const double ratio = fabs(value - want[i]) / (RTOL * (fabs(want[i]) + scale));
        if (!(ratio <= 1.0)) ++bad; /* NaN counts as bad */
        if (!(ratio <= worst_ratio)) worst_ratio = ratio, worst = i;
    }
    const float got_worst = layout_ck ? got[(worst % cols) * rows + worst / cols] : got[worst];
    printf("  %-3s %4d values, worst [%d] got %+.8e want %+.8e (%.3f of tolerance)%s\n", what, count, worst,
           (double)got_worst, want[worst], worst_ratio, bad ? "  MISMATCH" : "");
    return bad;
}

/* ---- one mean loss with its gradients, as kernels/README.md orders the launches ------------------------ */

typedef struct {
    SMfunction count_valid, reduce, forward, backward_input, backward_weight;
    SMfunction forward_input_grad; /* _simd only: the forward that makes dH in the same pass */
    int simd;          /* 1: the _simd kernels (block of 1 thread, workspace), 0: _block (256 threads) */
    int workers;       /* _simd: the grid, one block per worker core */
    SMdeviceptr workspace;
} Kernels;

typedef struct {
    float mean, dh[N * K], dw[K * C], db[C];
    unsigned long long status;
} Result;

/* Returns 0, or the nonzero bad-label status (then no gradient is computed). dh_in_forward (_simd only): the
 * forward_input_grad kernel makes dH with the loss, and backward_input is not launched. */
static unsigned long long run(const Kernels* kn, const Problem* p, int layout, int dh_in_forward, Result* out) {
    int n = N, k = K, c = C, ldh = K, ldw = layout == 0 ? C : K, ignore_index = IGNORE_INDEX, mean = 1;
    float smoothing = 0.0f, grad_scale = 1.0f, z_loss_scale = 0.0f, softcap = 0.0f;
    SMdeviceptr none = 0;
    SMdeviceptr d_h = upload(p->h, sizeof p->h), d_w = upload(layout == 0 ? p->w_kc : p->w_ck, sizeof p->w_kc);
    SMdeviceptr d_b = upload(p->b, sizeof p->b), d_labels = upload(p->labels, sizeof p->labels);
    SMdeviceptr d_loss = upload(NULL, N * sizeof(float)), d_stats = upload(NULL, 3 * N * sizeof(float));
    SMdeviceptr d_count = upload(NULL, sizeof(int)), d_mean = upload(NULL, sizeof(float));
    SMdeviceptr d_status = upload(NULL, sizeof(unsigned long long));
    SMdeviceptr d_dh = upload(NULL, sizeof out->dh), d_dw = upload(NULL, sizeof out->dw), d_db = upload(NULL, sizeof out->db);
    CHECK(smhost_cuMemsetD8_v2(d_status, 0, sizeof(unsigned long long))); /* the caller zeroes it */

    /* _simd: any grid, here one block per worker; _block: a block per tile (32 rows, or 64 classes) */
    const unsigned int block = kn->simd ? 1 : 256;
    const unsigned int row_grid = kn->simd ? (unsigned int)kn->workers : (N + 31) / 32;
    const unsigned int class_grid = kn->simd ? (unsigned int)kn->workers : (C + CLASS_TILE - 1) / CLASS_TILE;
    SMdeviceptr workspace = kn->simd ? kn->workspace : 0;

    void* count_args[] = {&d_labels, &n, &c, &ignore_index, &d_count};
    CHECK(smhost_cuLaunchKernel(kn->count_valid, 1, 1, 1, 1, 1, 1, 0, NULL, count_args, NULL));
    /* forward: per-row loss and stats (3N floats, for the backward); lse and the z-loss term not asked (null) */
    void* forward_args[] = {&d_h, &n, &k, &ldh, &d_w, &layout, &ldw, &c, &d_b, &d_labels, &ignore_index, &smoothing,
                            &d_loss, &none, &d_stats, &d_status,
                            &z_loss_scale, &softcap, &none, &none, &none, &workspace};
    /* forward_input_grad: the forward's arguments with grad_scale, valid_count, dH, lddh after status */
    void* fused_args[] = {&d_h, &n, &k, &ldh, &d_w, &layout, &ldw, &c, &d_b, &d_labels, &ignore_index, &smoothing,
                          &d_loss, &none, &d_stats, &d_status, &grad_scale, &d_count, &d_dh, &ldh,
                          &z_loss_scale, &softcap, &none, &none, &none, &workspace};
    if (dh_in_forward)
        CHECK(smhost_cuLaunchKernel(kn->forward_input_grad, row_grid, 1, 1, block, 1, 1, 0, NULL, fused_args, NULL));
    else
        CHECK(smhost_cuLaunchKernel(kn->forward, row_grid, 1, 1, block, 1, 1, 0, NULL, forward_args, NULL));
    void* reduce_args[] = {&d_loss, &d_labels, &n, &c, &ignore_index, &mean, &d_mean, &none};
    CHECK(smhost_cuLaunchKernel(kn->reduce, 1, 1, 1, 1, 1, 1, 0, NULL, reduce_args, NULL));
    CHECK(smhost_cuMemcpyDtoH_v2(&out->status, d_status, sizeof out->status));
    CHECK(smhost_cuMemcpyDtoH_v2(&out->mean, d_mean, sizeof out->mean));

    if (out->status == 0) {
        /* backward: each recomputes the logit tiles from H, W, b and the stats; valid_count makes it a mean's */
        void* input_args[] = {&d_h, &n, &k, &ldh, &d_w, &layout, &ldw, &c, &d_b, &d_labels, &ignore_index,
                              &smoothing, &d_stats, &grad_scale, &d_count, &d_dh, &ldh,
                              &z_loss_scale, &softcap, &none, &none, &workspace};
        if (!dh_in_forward)
            CHECK(smhost_cuLaunchKernel(kn->backward_input, row_grid, 1, 1, block, 1, 1, 0, NULL, input_args, NULL));
        void* weight_args[] = {&d_h, &n, &k, &ldh, &d_w, &layout, &ldw, &c, &d_b, &d_labels, &ignore_index,
                               &smoothing, &d_stats, &grad_scale, &d_count, &d_dw, &ldw, &d_db,
                               &z_loss_scale, &softcap, &none, &none, &workspace};
        CHECK(smhost_cuLaunchKernel(kn->backward_weight, class_grid, 1, 1, block, 1, 1, 0, NULL, weight_args, NULL));
        CHECK(smhost_cuMemcpyDtoH_v2(out->dh, d_dh, sizeof out->dh));
        CHECK(smhost_cuMemcpyDtoH_v2(out->dw, d_dw, sizeof out->dw));
        CHECK(smhost_cuMemcpyDtoH_v2(out->db, d_db, sizeof out->db));
    }
    SMdeviceptr buffers[] = {d_h, d_w, d_b, d_labels, d_loss, d_stats, d_count, d_mean, d_status, d_dh, d_dw, d_db};
    for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; ++i) CHECK(smhost_cuMemFree_v2(buffers[i]));
    return out->status;
}

/* The PTX file as a NUL-terminated image, or NULL when there is none (a build without a CUDA compiler). */
static char* read_ptx(const char* path) {
    FILE* file = fopen(path, "rb");
    if (!file) return NULL;
    char* text = NULL;
    if (fseek(file, 0, SEEK_END) == 0) {
        long size = ftell(file);
        if (size >= 0 && fseek(file, 0, SEEK_SET) == 0 && (text = malloc((size_t)size + 1)) != NULL) {
            if (fread(text, 1, (size_t)size, file) == (size_t)size) text[size] = '\0';
            else free(text), text = NULL;
        }
    }
    fclose(file);
    return text;
}

int main(int argc, char** argv) {
    const char* variant = argc > 1 ? argv[1] : "simd";
    if (argc > 2 || (strcmp(variant, "simd") != 0 && strcmp(variant, "block") != 0)) {
        fprintf(stderr, "usage: linear_xent_embed [simd|block]\n");
        return 2;
    }
    SMdevice device;
    SMcontext context;
    CHECK(smhost_cuInit(0));
    CHECK(smhost_cuDeviceGet(&device, 0));
    CHECK(smhost_cuDevicePrimaryCtxRetain(&context, device));
    CHECK(smhost_cuCtxSetCurrent(context));

    /* The _simd kernels are not in the PTX (host only): bind every host kernel. _block: the PTX when installed;
     * xent_count_valid_i32 and xent_reduce_f32 live in cross_entropy.cu, a module of their own. */
    Kernels kn = {0};
    kn.simd = strcmp(variant, "simd") == 0;
    char* ptx = kn.simd ? NULL : read_ptx(SHARPMAX_PTX_DIR "/linear_xent.ptx");
    SMmodule all, linear_xent;
    CHECK(smhost_cuModuleLoadDataEx(&all, SMHOST_ALL_KERNELS_IMAGE, 0, NULL, NULL));
    linear_xent = all;
    if (ptx) CHECK(smhost_cuModuleLoadDataEx(&linear_xent, ptx, 0, NULL, NULL));
    printf("linear_xent_%s  N=%d K=%d C=%d, mean, row %d ignored; module: %s\n", variant, N, K, C, IGNORED_ROW,
           ptx ? SHARPMAX_PTX_DIR "/linear_xent.ptx" : "every host kernel (SMHOST_ALL_KERNELS_IMAGE)");
    free(ptx);
    char name[64];
    CHECK(smhost_cuModuleGetFunction(&kn.count_valid, all, "xent_count_valid_i32"));
    CHECK(smhost_cuModuleGetFunction(&kn.reduce, all, "xent_reduce_f32"));
    snprintf(name, sizeof name, "linear_xent_forward_f32_%s", variant);
    CHECK(smhost_cuModuleGetFunction(&kn.forward, linear_xent, name));
    snprintf(name, sizeof name, "linear_xent_backward_input_f32_%s", variant);
    CHECK(smhost_cuModuleGetFunction(&kn.backward_input, linear_xent, name));
    snprintf(name, sizeof name, "linear_xent_backward_weight_f32_%s", variant);
    CHECK(smhost_cuModuleGetFunction(&kn.backward_weight, linear_xent, name));
    if (kn.simd) {
        CHECK(smhost_cuModuleGetFunction(&kn.forward_input_grad, linear_xent, "linear_xent_forward_input_grad_f32_simd"));
        CHECK(smhost_cuDeviceGetAttribute(&kn.workers, SMHOST_ATTR_MULTIPROCESSOR_COUNT, device));
        kn.workspace = upload(NULL, (size_t)kn.workers * SIMD_WORKSPACE_FLOATS(K) * sizeof(float));
    }

    static Problem problem;
    static Reference ref;
    static Result result;
    make_problem(&problem);
    reference(&problem, &ref);
    int bad = 0;
    for (int dh_in_forward = 0; dh_in_forward <= kn.simd; ++dh_in_forward)
    for (int layout = 0; layout <= 1; ++layout) {
        run(&kn, &problem, layout, dh_in_forward, &result);
        printf("W stored %s (layout %d)%s: mean loss %.8f, want %.8f\n", layout ? "C×K" : "K×C", layout,
               dh_in_forward ? ", dH from forward_input_grad" : "", (double)result.mean, ref.mean);
        if (result.status != 0) {
            printf("  unexpected bad-label status %#llx\n", result.status);
            ++bad;
            continue;
        }
        bad += !(fabs(result.mean - ref.mean) <= RTOL * fabs(ref.mean));
        bad += compare("dH", result.dh, ref.dh, N * K, 0, 0, 0);
        bad += compare("dW", result.dw, ref.dw_kc, K * C, layout, K, C);
        bad += compare("db", result.db, ref.db, C, 0, 0, 0);
    }

    /* A label outside [0, C): reported as ~((row << 32) | label) of the smallest such row; the row counts as
     * ignored. The next call, status zeroed again, must be right. */
    problem.labels[5] = C;
    const unsigned long long status = run(&kn, &problem, 0, kn.simd, &result);
    const unsigned long long key = ~status;
    const int bad_row = (int)(key >> 32), bad_label = (int)(unsigned int)(key & 0xffffffffu);
    printf("label %d in row 5: status %#llx -> row %d, label %d\n", C, status, bad_row, bad_label);
    bad += !(status != 0 && bad_row == 5 && bad_label == C);
    problem.labels[5] = (5 * 53 + 7) % C;
    if (run(&kn, &problem, 0, kn.simd, &result) != 0) {
        printf("  the call after the bad label still reports %#llx\n", result.status);
        ++bad;
    } else {
        printf("next call: mean loss %.8f, want %.8f\n", (double)result.mean, ref.mean);
        bad += !(fabs(result.mean - ref.mean) <= RTOL * fabs(ref.mean));
        bad += compare("dH", result.dh, ref.dh, N * K, 0, 0, 0);
        bad += compare("dW", result.dw, ref.dw_kc, K * C, 0, K, C);
    }

    if (kn.simd) CHECK(smhost_cuMemFree_v2(kn.workspace));
    if (linear_xent != all) CHECK(smhost_cuModuleUnload(linear_xent));
    CHECK(smhost_cuModuleUnload(all));
    CHECK(smhost_cuDevicePrimaryCtxRelease_v2(device));
    if (bad) printf("FAILED: linear_xent_%s, %d values out of tolerance\n", variant, bad);
    else printf("OK: linear_xent_%s loss, dH, dW, db match float64 within %g (both layouts); bad label reported\n",
                variant, RTOL);
    return bad ? EXIT_FAILURE : EXIT_SUCCESS;
}
