// linear.cu — the linear layer Y = X·W + b and its backward products.
//
// Shapes, all row-major: X[N×K] (row stride ldx), W[K×C], b[C], Y[N×C],
// dY[N×C], dX[N×K], dW[K×C], db[C].
//   forward          Y[i,c]  = Σ_k X[i,k]·W[k,c] + b[c]     (b may be null: no bias)
//   backward input   dX[i,k] = Σ_c dY[i,c]·W[k,c]            dX = dY·Wᵀ
//   backward weight  dW[k,c] = Σ_i X[i,k]·dY[i,c]            dW = Xᵀ·dY
//   backward bias    db[c]   = Σ_i dY[i,c]
// Outputs are overwritten, never accumulated into.
//
// X comes as
//   f32  X[i,k] = X[i·ldx + k]
//   u8   X[i,k] = pixels[row(i)·ldx + k] · scale, row(i) = index[offset + i]
//        (row(i) = offset + i when index is null). The trainer keeps the whole
//        training set on the device as bytes and shuffles by index; scale is
//        1/255. A row(i) outside [0, rows) reads as NaN, so Y's row i (or all
//        of dW) comes out NaN: memory stays safe and the loss shows the fault.
//
// Variants of each product:
//   _naive  one thread per output, summing in order. The one to read first.
//   _smem   for GPUs: 256 threads per block, a 64×32 output tile, operands staged
//           through 16-deep shared-memory tiles, 4×2 outputs per thread in
//           registers. Uses barriers (SHARPMAX_SYNC).
//   _simd   for the CPU device only (not in the PTX): no barriers (SHARPMAX_NO_SYNC, so the CPU
//           runtime runs threads as plain calls). Each thread owns R output rows
//           and a SIMD_CHUNK (64) column stripe, swept in register tiles of
//           R × 16 floats; each step adds a broadcast A value times a 16-wide
//           row of B read contiguously. On the host the 16 lanes are two
//           8-float vectors: two ymm registers per tile row (AVX2 or AVX-512).
//           forward: R = 4 rows of Y, two tiles side by side (4 × 32 columns); B = W's rows.
//           input: dX's rows swept along k, B = Wᵀ's rows, made contiguous in a local
//           block per 64-column stripe and 64 values of c, 4 rows × 32 columns per
//           register block; each working thread takes 128 rows (one thread in 32 works)
//           and keeps partial sums between blocks of c when C > 64.
//           weight: computed as dWᵀ[C×K] = dYᵀ·X, B = X's rows, so one
//           conversion of 16 bytes feeds R classes; R = 4, 8, 10, 12 or 16, the
//           fewest covering C (16 beyond).
//           When all R classes exist, dY's broadcasts are fixed offsets from one
//           pointer per row (no clamped column indices to reload): R = 10 is
//           there so that C = 10 (the trainer's) takes that path.
//           A values of u8 X are converted 16 at a time into a small local block.
//           u8 weight: each gathered row's 64-byte stripe is converted once into a
//           float tile of 64 rows in L1, which the f32 loop then reads (same sums).
//   backward bias has one kernel: one thread per column, rows in order.
// u8 variants other than _naive sum raw bytes and multiply by scale once per
// output (exact integers in the sum, one rounding for the scale).
// Every variant sums in a fixed order, so results are bitwise the same run to run.
//
// Launch (rows × cols is the output's shape: N×C, N×K or K×C):
//   _naive  1-D, grid.x·block.x ≥ rows·cols
//   _smem   block 256; grid (⌈cols/32⌉, ⌈rows/64⌉)
//   _simd   any block.x; grid.x·block.x ≥ ⌈rows/4⌉ (threads past the last row
//           group return), grid.y = ⌈cols/64⌉, where rows × cols is N×C
//           (forward), N×K (input) and C×K (weight: dWᵀ)
//   bias    1-D, grid.x·block.x ≥ C
#include "sharpmax_compat.cuh"
#if !defined(__CUDACC__) && defined(__GNUC__) && !defined(__clang__)
// The host-only masked dX calls relu.cuh's relu_mask on 8-float vectors, force-inlined into each clone: no call
// passes a vector, so GCC's note that the baseline clone would pass it differently does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
#include "relu.cuh"

#if defined(__CUDACC__)
// The _simd kernels are host-only (see the end of the file); their helpers stay
// visible to nvcc, unused, rather than behind a guard each.
#pragma nv_diag_suppress 177
#endif

// On x86-64 ELF hosts the _simd kernels are compiled for three x86-64 levels
// and the loader picks the best the CPU has, so the same library vectorizes with
// AVX-512 or AVX2 where present and still loads anywhere.
#if !defined(__CUDACC__) && defined(__x86_64__) && defined(__ELF__) && (defined(__GNUC__) || defined(__clang__))
#define LINEAR_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LINEAR_SIMD_CLONES
#endif

namespace {

constexpr int SMEM_BM = 64;       // output rows per block
constexpr int SMEM_BN = 32;       // output columns per block
constexpr int SMEM_BK = 16;       // depth of a shared-memory tile
constexpr int SMEM_THREADS = 256;  // 16×16; thread (tx, ty) owns rows ty+16m, columns tx+16n
constexpr int SMEM_TM = SMEM_BM / 16;
constexpr int SMEM_TN = SMEM_BN / 16;

constexpr int SIMD_ROWS = 4;     // output rows per thread (forward, input)
constexpr int SIMD_TILE = 16;    // register tile width, in columns
constexpr int SIMD_CHUNK = 64;   // output columns per thread; grid.y covers wider outputs

__device__ __forceinline__ float nan_f32() { return __int_as_float(0x7fc00000); }

// ---- operands: element (r, s) of a matrix, and whether s is the contiguous index

struct MatF32 {
    using Elem = float;
    const float* m;
    int ld;
    static constexpr bool second_contiguous = true;
    __device__ __forceinline__ float at(int r, int s) const { return m[static_cast<long long>(r) * ld + s]; }
    __device__ __forceinline__ const float* row(int r) const { return m + static_cast<long long>(r) * ld; }
    __device__ __forceinline__ const float* any_row() const { return m; }
};

struct Pixels {
    using Elem = unsigned char;
    const unsigned char* pixels;
    int ld;
    int rows;
    const int* index;
    int offset;
    static constexpr bool second_contiguous = true;
    // Start of batch row i's bytes, or null when its source row is out of range.
    __device__ __forceinline__ const unsigned char* row(int i) const {
        int source = index ? index[offset + i] : offset + i;
        return (source >= 0 && source < rows) ? pixels + static_cast<long long>(source) * ld : nullptr;
    }
    __device__ __forceinline__ const unsigned char* any_row() const { return pixels; }
    __device__ __forceinline__ float at(int i, int k) const {
        const unsigned char* r = row(i);
        return r ? static_cast<float>(r[k]) : nan_f32();
    }
};

template <class M>
struct Transposed {
    M m;
    static constexpr bool second_contiguous = !M::second_contiguous;
    __device__ __forceinline__ float at(int r, int s) const { return m.at(s, r); }
};

template <class M>
__device__ __forceinline__ Transposed<M> transpose(const M& m) { return Transposed<M>{m}; }

// ---- naive: one thread per output

// Relu: the fused epilogue Y = relu(X·W + b) (linear_relu_forward_*), relu.cuh's relu_value.
template <bool Relu = false, class X>
__device__ __forceinline__ void forward_naive(const X& x, float scale, const float* __restrict__ W,
                                              const float* __restrict__ b, float* __restrict__ Y, int N, int K, int C) {
    long long t = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (t >= static_cast<long long>(N) * C) return;
    int i = static_cast<int>(t / C), c = static_cast<int>(t % C);
    float sum = 0.0f;
    for (int k = 0; k < K; ++k) sum += x.at(i, k) * scale * W[static_cast<long long>(k) * C + c];
    const float v = sum + (b ? b[c] : 0.0f);
    Y[t] = Relu ? relu_value(v) : v;
}

template <class X>
__device__ __forceinline__ void backward_weight_naive(const X& x, float scale, const float* __restrict__ dY,
                                                      float* __restrict__ dW, int N, int K, int C) {
    long long t = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (t >= static_cast<long long>(K) * C) return;
    int k = static_cast<int>(t / C), c = static_cast<int>(t % C);
    float sum = 0.0f;
    for (int i = 0; i < N; ++i) sum += x.at(i, k) * scale * dY[static_cast<long long>(i) * C + c];
    dW[t] = sum;
}

// ---- smem: out(i, j) = Σ_p A(i,p)·B(p,j) for an M×Ncols output, shared-memory tiles

template <class A, class B, class Out>
__device__ __forceinline__ void gemm_smem(const A& a, const B& b, const Out& out, int M, int Ncols, int P) {
    // +1 column of padding: tile loads along either index hit distinct banks.
    SHARPMAX_SHARED_2D(float, a_tile, SMEM_BK, SMEM_BM + 1);
    SHARPMAX_SHARED_2D(float, b_tile, SMEM_BK, SMEM_BN + 1);
    const int tid = static_cast<int>(threadIdx.x);
    const int tx = tid % 16, ty = tid / 16;
    const int i0 = static_cast<int>(blockIdx.y) * SMEM_BM, j0 = static_cast<int>(blockIdx.x) * SMEM_BN;
    float acc[SMEM_TM][SMEM_TN] = {};
    for (int p0 = 0; p0 < P; p0 += SMEM_BK) {
        // Consecutive threads load consecutive addresses of each operand.
        for (int e = tid; e < SMEM_BM * SMEM_BK; e += SMEM_THREADS) {
            int ii = A::second_contiguous ? e / SMEM_BK : e % SMEM_BM;
            int pp = A::second_contiguous ? e % SMEM_BK : e / SMEM_BM;
            int i = i0 + ii, p = p0 + pp;
            a_tile[pp][ii] = (i < M && p < P) ? a.at(i, p) : 0.0f;
        }
        for (int e = tid; e < SMEM_BK * SMEM_BN; e += SMEM_THREADS) {
            int jj = B::second_contiguous ? e % SMEM_BN : e / SMEM_BK;
            int pp = B::second_contiguous ? e / SMEM_BN : e % SMEM_BK;
            int j = j0 + jj, p = p0 + pp;
            b_tile[pp][jj] = (j < Ncols && p < P) ? b.at(p, j) : 0.0f;
        }
        __syncthreads();
        for (int pp = 0; pp < SMEM_BK; ++pp) {
            float av[SMEM_TM], bv[SMEM_TN];
            for (int m = 0; m < SMEM_TM; ++m) av[m] = a_tile[pp][ty + 16 * m];
            for (int n = 0; n < SMEM_TN; ++n) bv[n] = b_tile[pp][tx + 16 * n];
            for (int m = 0; m < SMEM_TM; ++m)
                for (int n = 0; n < SMEM_TN; ++n) acc[m][n] += av[m] * bv[n];
        }
        __syncthreads();
    }
    for (int m = 0; m < SMEM_TM; ++m)
        for (int n = 0; n < SMEM_TN; ++n) {
            int i = i0 + ty + 16 * m, j = j0 + tx + 16 * n;
            if (i < M && j < Ncols) out(i, j, acc[m][n]);
        }
}

// ---- simd: each thread owns R output rows and one SIMD_CHUNK stripe

// Lanes: SIMD_TILE (16) floats. On GCC/Clang hosts two 8-float vector-extension
// halves: one ymm register each with AVX2 or AVX-512. (A single 16-float vector
// is split through the stack below AVX-512, 10× slower with AVX2; below AVX2 the
// halves are, too: the baseline clone runs at about the naive kernels' speed.)
// Elsewhere a plain array.
#if !defined(__CUDACC__) && (defined(__GNUC__) || defined(__clang__))
typedef float Half __attribute__((vector_size(8 * sizeof(float))));
struct Lanes {
    Half lo, hi;
    __device__ __forceinline__ Lanes& operator+=(const Lanes& o) {
        lo += o.lo;
        hi += o.hi;
        return *this;
    }
    __device__ __forceinline__ float operator[](int c) const { return c < 8 ? lo[c] : hi[c - 8]; }
};
__device__ __forceinline__ Lanes operator*(float a, const Lanes& b) { return Lanes{a * b.lo, a * b.hi}; }
__device__ __forceinline__ void load_lanes(Lanes& v, const float* p) {
    __builtin_memcpy(&v.lo, p, sizeof v.lo);
    __builtin_memcpy(&v.hi, p + 8, sizeof v.hi);
}
__device__ __forceinline__ void store_lanes(Lanes& v, const float* f) { load_lanes(v, f); }
// The 16 lanes of v to p[0..15].
__device__ __forceinline__ void store_to(float* p, const Lanes& v) {
    __builtin_memcpy(p, &v.lo, sizeof v.lo);
    __builtin_memcpy(p + 8, &v.hi, sizeof v.hi);
}
// Bytes widen in steps: GCC 12 turns a direct byte-to-int conversion into
// scalar code, these into vpmovzxbw, vpmovzxwd and vcvtdq2ps.
typedef unsigned char ByteHalf __attribute__((vector_size(8)));
typedef unsigned short ShortHalf __attribute__((vector_size(16)));
typedef int IntHalf __attribute__((vector_size(32)));
__device__ __forceinline__ void widen(Half& out, const unsigned char* p) {
    ByteHalf b;
    __builtin_memcpy(&b, p, sizeof b);
    out = __builtin_convertvector(__builtin_convertvector(__builtin_convertvector(b, ShortHalf), IntHalf), Half);
}
__device__ __forceinline__ void load_lanes(Lanes& v, const unsigned char* p) {
    widen(v.lo, p);
    widen(v.hi, p + 8);
}
#else
struct Lanes {
    float v[SIMD_TILE];
    __device__ __forceinline__ float& operator[](int c) { return v[c]; }
    __device__ __forceinline__ Lanes& operator+=(const Lanes& o) {
        for (int c = 0; c < SIMD_TILE; ++c) v[c] += o.v[c];
        return *this;
    }
};
__device__ __forceinline__ Lanes operator*(float a, const Lanes& b) {
    Lanes r;
    for (int c = 0; c < SIMD_TILE; ++c) r.v[c] = a * b.v[c];
    return r;
}
template <class Elem>
__device__ __forceinline__ void load_lanes(Lanes& v, const Elem* p) {
    for (int c = 0; c < SIMD_TILE; ++c) v.v[c] = static_cast<float>(p[c]);
}
__device__ __forceinline__ void store_lanes(Lanes& v, const float* f) { load_lanes(v, f); }
__device__ __forceinline__ void store_to(float* p, const Lanes& v) {
    for (int c = 0; c < SIMD_TILE; ++c) p[c] = v.v[c];
}
#endif

// B operand with contiguous rows: B(p, j) = m.row(p)[j]. A full-width load may
// run past the row's last column into the next row (lanes never stored), but
// never past `end`, the buffer's last element + 1; only there does it load lane
// by lane. A null row (out-of-range pixel index) loads NaN.
template <class Elem>
__device__ __forceinline__ void load_lanes_partial(Lanes& v, const Elem* r, int width) {
    float f[SIMD_TILE];
    for (int c = 0; c < SIMD_TILE; ++c) f[c] = !r ? nan_f32() : c < width ? static_cast<float>(r[c]) : 0.0f;
    store_lanes(v, f);
}

template <class M>
struct SimdRowsB {
    M m;
    const typename M::Elem* end;
    __device__ __forceinline__ void load(Lanes& v, int p, int j0, int width) const {
        const typename M::Elem* r = m.row(p);
        if (r && end - (r + j0) >= SIMD_TILE) {
            load_lanes(v, r + j0);
        } else {
            load_lanes_partial(v, r ? r + j0 : r, width);
        }
    }
};

// A operands: gemm_simd calls prepare(p0, depth) once per block of depth ≤ SIMD_TILE
// values of p, then at(r, q) for A(r, p0 + q).

// The thread's R rows of a row-major matrix, A(r, p) = row[r][p], converted to
// float once per block rather than once per use. Rows past the end repeat a
// valid row; their outputs are not stored.
template <class Elem, int R>
struct SimdRowsA {
    static constexpr int rows = R;
    const Elem* row[R];
    float block[R][SIMD_TILE];
    __device__ __forceinline__ void prepare(int p0, int depth) {
        // A full block has a constant length: vector moves (conversions). With the length variable the compiler
        // copied f32 rows with `rep movsq`, whose start-up cost exceeded the 16 products a value feeds: it
        // doubled the forward's time at C = 10 and C = 256.
        // Through a register (load_lanes, then store_to): converting byte by byte into `block`, GCC had to
        // assume each float store may change the bytes still to read (a char pointer aliases anything) and left
        // the u8 forward's conversion scalar (one vcvtusi2ss per value), twice the f32 forward's time.
        if (depth == SIMD_TILE) {
            for (int r = 0; r < R; ++r) {
                Lanes v;
                load_lanes(v, row[r] + p0);
                store_to(block[r], v);
            }
            return;
        }
        for (int r = 0; r < R; ++r)
            for (int q = 0; q < depth; ++q) block[r][q] = static_cast<float>(row[r][p0 + q]);
    }
    __device__ __forceinline__ float at(int r, int q) const { return block[r][q]; }
};

// R adjacent columns c0.. c0+R-1 of a row-major float matrix, all in range:
// A(r, p) = m[p·ld + c0 + r], each a fixed offset from one pointer per p.
template <int R>
struct SimdAdjacentColumnsA {
    static constexpr int rows = R;
    const float* m;
    int ld;
    const float* base;
    __device__ __forceinline__ void prepare(int p0, int) { base = m + static_cast<long long>(p0) * ld; }
    __device__ __forceinline__ float at(int r, int q) const { return base[static_cast<long long>(q) * ld + r]; }
};

// R columns of a row-major float matrix, A(r, p) = m[p·ld + col[r]], read in
// place. Columns past the end repeat a valid column.
template <int R>
struct SimdColumnsA {
    static constexpr int rows = R;
    const float* m;
    int ld;
    int col[R];
    const float* base;
    __device__ __forceinline__ void prepare(int p0, int) { base = m + static_cast<long long>(p0) * ld; }
    __device__ __forceinline__ float at(int r, int q) const { return base[static_cast<long long>(q) * ld + col[r]]; }
};

// out(r, j, Σ_p A(r, p)·B(p, j)) for the thread's A::rows rows and columns
// [j0, j_end), one SIMD_TILE-wide register tile at a time, p in order.
template <class A, class B, class Out>
__device__ __forceinline__ void gemm_simd_columns(A& a, const B& b, const Out& out, int j0, int j_end, int P) {
    constexpr int R = A::rows;
    for (; j0 < j_end; j0 += SIMD_TILE) {
        const int width = min(SIMD_TILE, j_end - j0);
        Lanes acc[R] = {};
        for (int p0 = 0; p0 < P; p0 += SIMD_TILE) {
            const int depth = min(SIMD_TILE, P - p0);
            a.prepare(p0, depth);
            for (int q = 0; q < depth; ++q) {
                Lanes bv;
                b.load(bv, p0 + q, j0, width);
                for (int r = 0; r < R; ++r) acc[r] += a.at(r, q) * bv;
            }
        }
        for (int r = 0; r < R; ++r)
            for (int c = 0; c < width; ++c) out(r, j0 + c, acc[r][c]);
    }
}

// gemm_simd_columns over the thread's SIMD_CHUNK stripe (grid.y picks it).
template <class A, class B, class Out>
__device__ __forceinline__ void gemm_simd(A& a, const B& b, const Out& out, int Ncols, int P) {
    const int j_begin = static_cast<int>(blockIdx.y) * SIMD_CHUNK;
    gemm_simd_columns(a, b, out, j_begin, min(Ncols, j_begin + SIMD_CHUNK), P);
}

// gemm_simd with two register tiles side by side (R × 32 columns: 2R accumulators of 16 lanes), so each
// broadcast of A feeds 32 products instead of 16: the forward's inner loop was bound by those loads at
// C = 256. Each output is the same sum in the same order as gemm_simd's; leftover columns take its loop.
template <class A, class B, class Out>
__device__ __forceinline__ void gemm_simd_wide(A& a, const B& b, const Out& out, int Ncols, int P) {
    constexpr int R = A::rows;
    const int j_begin = static_cast<int>(blockIdx.y) * SIMD_CHUNK;
    const int j_end = min(Ncols, j_begin + SIMD_CHUNK);
    int j0 = j_begin;
    for (; j0 + 2 * SIMD_TILE <= j_end; j0 += 2 * SIMD_TILE) {
        Lanes acc0[R] = {}, acc1[R] = {};
        for (int p0 = 0; p0 < P; p0 += SIMD_TILE) {
            const int depth = min(SIMD_TILE, P - p0);
            a.prepare(p0, depth);
            for (int q = 0; q < depth; ++q) {
                Lanes b0, b1;
                b.load(b0, p0 + q, j0, SIMD_TILE);
                b.load(b1, p0 + q, j0 + SIMD_TILE, SIMD_TILE);
                for (int r = 0; r < R; ++r) {
                    const float av = a.at(r, q);
                    acc0[r] += av * b0;
                    acc1[r] += av * b1;
                }
            }
        }
        for (int r = 0; r < R; ++r)
            for (int c = 0; c < SIMD_TILE; ++c) {
                out(r, j0 + c, acc0[r][c]);
                out(r, j0 + SIMD_TILE + c, acc1[r][c]);
            }
    }
    gemm_simd_columns(a, b, out, j0, j_end, P);
}

// First output row of this thread's simd block of R rows, or -1 when it has none.
template <int R>
__device__ __forceinline__ int simd_first_row(int rows) {
    long long i0 = (static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x) * R;
    return i0 < rows ? static_cast<int>(i0) : -1;
}

// ---- the products, written once for both X dtypes

template <bool Relu>
struct ForwardOut {
    float* Y;
    const float* b;
    float scale;
    int C;
    int i0;
    int rows_here;
    bool bad[SIMD_ROWS];
    __device__ __forceinline__ void operator()(int r, int c, float acc) const {
        if (r < rows_here) {
            // fmaf, not a * s + b: the compiler contracts that differently per instantiation, and the fused
            // epilogue must give the plain forward's bits.
            const float v = bad[r] ? nan_f32() : fmaf(acc, scale, b ? b[c] : 0.0f);
            Y[static_cast<long long>(i0 + r) * C + c] = Relu ? relu_value(v) : v;
        }
    }
};

template <bool Relu = false, class X>
__device__ __forceinline__ void forward_simd(const X& x, float scale, const float* __restrict__ W,
                                             const float* __restrict__ b, float* __restrict__ Y, int N, int K, int C) {
    const int i0 = simd_first_row<SIMD_ROWS>(N);
    if (i0 < 0) return;
    SimdRowsA<typename X::Elem, SIMD_ROWS> rows;
    ForwardOut<Relu> out{Y, b, scale, C, i0, min(SIMD_ROWS, N - i0), {}};
    for (int r = 0; r < SIMD_ROWS; ++r) {
        const typename X::Elem* p = x.row(min(i0 + r, N - 1));
        out.bad[r] = p == nullptr;
        rows.row[r] = p ? p : x.any_row();
    }
#if !defined(__CUDACC__) && (defined(__GNUC__) || defined(__clang__))
    // Gathered u8 rows are random rows of the whole set, mostly not in cache: the thread of the next row group
    // (run next on this worker, threads being plain calls) finds its rows on their way while this one computes.
    if (sizeof(typename X::Elem) == 1)
        for (int r = 0; r < SIMD_ROWS; ++r)
            if (i0 + SIMD_ROWS + r < N)
                if (const typename X::Elem* p = x.row(i0 + SIMD_ROWS + r))
                    for (int k = 0; k < K; k += 64) __builtin_prefetch(p + k);
#endif
    gemm_simd_wide(rows, SimdRowsB<MatF32>{MatF32{W, C}, W + static_cast<long long>(K) * C}, out, C, K);
}

template <bool Relu = false, class X>
__device__ __forceinline__ void forward_smem(const X& x, float scale, const float* __restrict__ W,
                                             const float* __restrict__ b, float* __restrict__ Y, int N, int K, int C) {
    auto out = [=](int i, int c, float acc) {
        const float v = fmaf(acc, scale, b ? b[c] : 0.0f);  // as ForwardOut
        Y[static_cast<long long>(i) * C + c] = Relu ? relu_value(v) : v;
    };
    gemm_smem(x, MatF32{W, C}, out, N, C, K);
}

// dW is computed as its transpose dWᵀ[C×K] = dYᵀ·X, so that B = X is read
// along its rows (bytes converted 16 at a time), and each conversion feeds R
// classes: R is the smallest of 4, 8, 10, 12, 16 covering C (16 beyond).
template <int R, class X>
__device__ __forceinline__ void backward_weight_simd_rows(const X& x, const typename X::Elem* x_end, float scale,
                                                          const float* __restrict__ dY, float* __restrict__ dW, int N,
                                                          int K, int C) {
    const int c0 = simd_first_row<R>(C);
    if (c0 < 0) return;
    const int rows_here = min(R, C - c0);
    auto out = [=](int r, int k, float acc) {
        if (r < rows_here) dW[static_cast<long long>(k) * C + c0 + r] = acc * scale;
    };
    if (rows_here == R) {
        // Every class is in range: dY's broadcasts need no clamping.
        SimdAdjacentColumnsA<R> classes{dY + c0, C, dY};
        gemm_simd(classes, SimdRowsB<X>{x, x_end}, out, K, N);
        return;
    }
    SimdColumnsA<R> classes{dY, C, {}, dY};
    for (int r = 0; r < R; ++r) classes.col[r] = min(c0 + r, C - 1);
    gemm_simd(classes, SimdRowsB<X>{x, x_end}, out, K, N);
}

template <class X>
__device__ __forceinline__ void backward_weight_simd(const X& x, const typename X::Elem* x_end, float scale,
                                                     const float* __restrict__ dY, float* __restrict__ dW, int N, int K,
                                                     int C) {
    if (C <= 4) {
        backward_weight_simd_rows<4>(x, x_end, scale, dY, dW, N, K, C);
    } else if (C <= 8) {
        backward_weight_simd_rows<8>(x, x_end, scale, dY, dW, N, K, C);
    } else if (C <= 10) {
        backward_weight_simd_rows<10>(x, x_end, scale, dY, dW, N, K, C);
    } else if (C <= 12) {
        backward_weight_simd_rows<12>(x, x_end, scale, dY, dW, N, K, C);
    } else {
        backward_weight_simd_rows<16>(x, x_end, scale, dY, dW, N, K, C);
    }
}

template <class X>
__device__ __forceinline__ void backward_weight_smem(const X& x, float scale, const float* __restrict__ dY,
                                                     float* __restrict__ dW, int N, int K, int C) {
    auto out = [=](int k, int c, float acc) { dW[static_cast<long long>(k) * C + c] = acc * scale; };
    gemm_smem(transpose(x), MatF32{dY, C}, out, K, C, N);
}

}  // namespace

// ---- forward

extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) linear_forward_f32_naive(const float* X, int ldx, const float* W, const float* b, float* Y,
                                                    int N, int K, int C) {
    forward_naive(MatF32{X, ldx}, 1.0f, W, b, Y, N, K, C);
}

extern "C" __global__ void SHARPMAX_MAX_THREADS(SMEM_THREADS)
    linear_forward_f32_smem(const float* X, int ldx, const float* W, const float* b, float* Y, int N, int K, int C) {
    forward_smem(MatF32{X, ldx}, 1.0f, W, b, Y, N, K, C);
}

extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) linear_forward_u8_naive(const unsigned char* pixels, int ldx, int rows, const int* index,
                                                   int offset, float scale, const float* W, const float* b, float* Y,
                                                   int N, int K, int C) {
    forward_naive(Pixels{pixels, ldx, rows, index, offset}, scale, W, b, Y, N, K, C);
}

extern "C" __global__ void SHARPMAX_MAX_THREADS(SMEM_THREADS)
    linear_forward_u8_smem(const unsigned char* pixels, int ldx, int rows, const int* index, int offset, float scale,
                           const float* W, const float* b, float* Y, int N, int K, int C) {
    forward_smem(Pixels{pixels, ldx, rows, index, offset}, scale, W, b, Y, N, K, C);
}

// ---- backward input: dX = dY·Wᵀ

extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) linear_backward_input_f32_naive(const float* dY, const float* W, float* dX, int N, int K,
                                                           int C) {
    long long t = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (t >= static_cast<long long>(N) * K) return;
    int i = static_cast<int>(t / K), k = static_cast<int>(t % K);
    float sum = 0.0f;
    for (int c = 0; c < C; ++c) sum += dY[static_cast<long long>(i) * C + c] * W[static_cast<long long>(k) * C + c];
    dX[t] = sum;
}

extern "C" __global__ void SHARPMAX_MAX_THREADS(SMEM_THREADS)
    linear_backward_input_f32_smem(const float* dY, const float* W, float* dX, int N, int K, int C) {
    auto out = [=](int i, int k, float acc) { dX[static_cast<long long>(i) * K + k] = acc; };
    gemm_smem(MatF32{dY, C}, transpose(MatF32{W, C}), out, N, K, C);
}

// ---- fused epilogues for a ReLU network (relu.cuh's functions, so the values are relu.cu's)
//   linear_relu_forward_*            Y = relu(X·W + b)
//   linear_backward_input_relu_f32_* dX = (dY·Wᵀ) ⊙ [A > 0]: the input gradient of a layer whose input A is a
//                                    ReLU's saved output (relu_mask: A ≤ 0 gives 0, a NaN A passes the sum)

extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) linear_relu_forward_f32_naive(const float* X, int ldx, const float* W,
                                                                                   const float* b, float* Y, int N,
                                                                                   int K, int C) {
    forward_naive<true>(MatF32{X, ldx}, 1.0f, W, b, Y, N, K, C);
}

extern "C" __global__ void SHARPMAX_MAX_THREADS(SMEM_THREADS)
    linear_relu_forward_f32_smem(const float* X, int ldx, const float* W, const float* b, float* Y, int N, int K, int C) {
    forward_smem<true>(MatF32{X, ldx}, 1.0f, W, b, Y, N, K, C);
}

extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) linear_relu_forward_u8_naive(const unsigned char* pixels, int ldx,
                                                                                  int rows, const int* index,
                                                                                  int offset, float scale,
                                                                                  const float* W, const float* b,
                                                                                  float* Y, int N, int K, int C) {
    forward_naive<true>(Pixels{pixels, ldx, rows, index, offset}, scale, W, b, Y, N, K, C);
}

extern "C" __global__ void SHARPMAX_MAX_THREADS(SMEM_THREADS)
    linear_relu_forward_u8_smem(const unsigned char* pixels, int ldx, int rows, const int* index, int offset,
                                float scale, const float* W, const float* b, float* Y, int N, int K, int C) {
    forward_smem<true>(Pixels{pixels, ldx, rows, index, offset}, scale, W, b, Y, N, K, C);
}

extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) linear_backward_input_relu_f32_naive(const float* dY, const float* W,
                                                                                          const float* A, float* dX,
                                                                                          int N, int K, int C) {
    long long t = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (t >= static_cast<long long>(N) * K) return;
    int i = static_cast<int>(t / K), k = static_cast<int>(t % K);
    float sum = 0.0f;
    for (int c = 0; c < C; ++c) sum += dY[static_cast<long long>(i) * C + c] * W[static_cast<long long>(k) * C + c];
    dX[t] = relu_mask(A[t], sum);
}

extern "C" __global__ void SHARPMAX_MAX_THREADS(SMEM_THREADS)
    linear_backward_input_relu_f32_smem(const float* dY, const float* W, const float* A, float* dX, int N, int K, int C) {
    auto out = [=](int i, int k, float acc) {
        const long long at = static_cast<long long>(i) * K + k;
        dX[at] = relu_mask(A[at], acc);
    };
    gemm_smem(MatF32{dY, C}, transpose(MatF32{W, C}), out, N, K, C);
}

// ---- backward weight: dW = Xᵀ·dY

extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) linear_backward_weight_f32_naive(const float* X, int ldx, const float* dY, float* dW, int N,
                                                            int K, int C) {
    backward_weight_naive(MatF32{X, ldx}, 1.0f, dY, dW, N, K, C);
}

extern "C" __global__ void SHARPMAX_MAX_THREADS(SMEM_THREADS)
    linear_backward_weight_f32_smem(const float* X, int ldx, const float* dY, float* dW, int N, int K, int C) {
    backward_weight_smem(MatF32{X, ldx}, 1.0f, dY, dW, N, K, C);
}

extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) linear_backward_weight_u8_naive(const unsigned char* pixels, int ldx, int rows,
                                                           const int* index, int offset, float scale, const float* dY,
                                                           float* dW, int N, int K, int C) {
    backward_weight_naive(Pixels{pixels, ldx, rows, index, offset}, scale, dY, dW, N, K, C);
}

extern "C" __global__ void SHARPMAX_MAX_THREADS(SMEM_THREADS)
    linear_backward_weight_u8_smem(const unsigned char* pixels, int ldx, int rows, const int* index, int offset,
                                   float scale, const float* dY, float* dW, int N, int K, int C) {
    backward_weight_smem(Pixels{pixels, ldx, rows, index, offset}, scale, dY, dW, N, K, C);
}

// ---- backward bias: db = Σ_rows dY, one thread per column, rows in order

extern "C" __global__ void SHARPMAX_MAX_THREADS(1024) linear_backward_bias_f32(const float* dY, float* db, int N, int C) {
    long long c = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float sum = 0.0f;
    for (int i = 0; i < N; ++i) sum += dY[static_cast<long long>(i) * C + c];
    db[c] = sum;
}

// ---- host-only: the CPU device's _simd kernels ----------------------------
// Not compiled into the PTX (GPUs run _smem; C# never asks a GPU for _simd):
// they would only add to the JIT time of every cuModuleLoadData.
#if !defined(__CUDACC__)

extern "C" __global__ LINEAR_SIMD_CLONES void linear_forward_f32_simd(const float* X, int ldx, const float* W,
                                                                      const float* b, float* Y, int N, int K, int C) {
    forward_simd(MatF32{X, ldx}, 1.0f, W, b, Y, N, K, C);
}

extern "C" __global__ LINEAR_SIMD_CLONES void linear_forward_u8_simd(const unsigned char* pixels, int ldx, int rows,
                                                                     const int* index, int offset, float scale,
                                                                     const float* W, const float* b, float* Y, int N,
                                                                     int K, int C) {
    forward_simd(Pixels{pixels, ldx, rows, index, offset}, scale, W, b, Y, N, K, C);
}

// dX = dY·Wᵀ by rows, as the forward sweeps Y: Wᵀ's rows (c) are made contiguous in a local block
// wt[c][kk] = W[k_begin + kk, c] for the thread's SIMD_CHUNK stripe of k, ROWS_C_BLOCK values of c at a time, and
// each output row is Σ_c dY[i, c] · wt[c][·], a broadcast of dY times 16-wide rows of wt, in register blocks of
// 4 rows × 32 columns. Each output is summed c = 0 … C−1 in sequence from +0, whatever its row block or stripe.
// The transpose (scalar: 64 loads and stores per c) costs as much as a few rows' products, so it is shared by
// ROWS_GROUPS row groups: the thread of every ROWS_GROUPS-th 4-row group computes the rows of that many groups
// and the others return. The launch rule stays the other _simd kernels' (threads are plain calls on the CPU
// device, so an idle one costs a call).
// This replaced dot products along C (dY's and W's rows are both contiguous there; 8 lanes summed across at
// the end), whose per-output work outweighed the products at small C: 20× OpenBLAS's time at 256×10·10×256
// on one Zen 4 core, 1.4× at 256×256·256×784; by rows, 1.0× and 1.2×. (At N = 5, C = 1000 the dot products
// were 2.5× faster, the transpose being shared by 5 rows only; the summation order stays a function of C.)
constexpr int ROWS_C_BLOCK = 64;     // values of c per transposed block: wt is 16 KiB
constexpr int ROWS_GROUPS = 32;      // 4-row groups per working thread: 128 rows of dX
constexpr int ROWS_REG_ROWS = 4;     // rows per register block
constexpr int ROWS_REG_TILES = 2;    // 16-lane tiles per register block

// Where dX's sums go: out(i, k, sum) one output, out(i, k, v) the 8 outputs (i, k..k+7) (one vector store from
// the register; through a buffer the compiler reloaded 8-lane stores as 16-lane loads, which the CPU cannot
// forward). The masked form applies relu_mask to the 8 lanes as a vector (a compare and a mask; lane by lane
// the compiler left it scalar), the same function and so the same values as the scalar form.
struct InputOut {
    float* dX;
    int K;
    __device__ __forceinline__ void operator()(int i, int k, float sum) const { dX[static_cast<long long>(i) * K + k] = sum; }
#if defined(__GNUC__) || defined(__clang__)
    __device__ __forceinline__ void operator()(int i, int k, const Half& v) const {
        __builtin_memcpy(dX + static_cast<long long>(i) * K + k, &v, sizeof v);
    }
#endif
};

struct InputReluOut {
    float* dX;
    const float* A;
    int K;
    __device__ __forceinline__ void operator()(int i, int k, float sum) const {
        const long long at = static_cast<long long>(i) * K + k;
        dX[at] = relu_mask(A[at], sum);
    }
#if defined(__GNUC__) || defined(__clang__)
    __device__ __forceinline__ void operator()(int i, int k, const Half& v) const {
        const long long at = static_cast<long long>(i) * K + k;
        Half a;
        __builtin_memcpy(&a, A + at, sizeof a);
        const Half masked = relu_mask(a, v);
        __builtin_memcpy(dX + at, &masked, sizeof masked);
    }
#endif
};

// out(i, k + c, v[c]) for the 16 lanes, 8 at a time.
template <class Out>
__device__ __forceinline__ void out_lanes(const Out& out, int i, int k, const Lanes& v) {
#if defined(__GNUC__) || defined(__clang__)
    out(i, k, v.lo);
    out(i, k + 8, v.hi);
#else
    for (int c = 0; c < SIMD_TILE; ++c) out(i, k + c, v.v[c]);
#endif
}

// Rows [i, i + RB) of dX's stripe, ROWS_REG_TILES register tiles at a time (RB × 32 outputs: 16 registers of
// accumulators at RB = 4, each wt load feeding RB products), over c in [c0, c0 + cn) (wt holds those rows of
// Wᵀ); tiles wholly past K are skipped. The sums start at +0 (c0 = 0) or from part (these rows' partial sums)
// and go to part, or to out after the last block of c (last).
template <int RB, class Out>
__device__ __forceinline__ void backward_input_rows_block(const float* __restrict__ dY,
                                                          const float (*__restrict__ wt)[SIMD_CHUNK],
                                                          float (*__restrict__ part)[SIMD_CHUNK], bool last,
                                                          const Out& out, int i, int C, int c0, int cn, int k_begin,
                                                          int width) {
    constexpr int CT = ROWS_REG_TILES;
    const float* dy_row[RB];
    for (int r = 0; r < RB; ++r) dy_row[r] = dY + static_cast<long long>(i + r) * C + c0;
    for (int t0 = 0; t0 * SIMD_TILE < width; t0 += CT) {
        Lanes acc[RB][CT];
        for (int r = 0; r < RB; ++r)
            for (int t = 0; t < CT; ++t) {
                if (c0 == 0)
                    acc[r][t] = Lanes{};
                else
                    load_lanes(acc[r][t], part[r] + (t0 + t) * SIMD_TILE);
            }
        for (int c = 0; c < cn; ++c) {
            Lanes b[CT];
            for (int t = 0; t < CT; ++t) load_lanes(b[t], wt[c] + (t0 + t) * SIMD_TILE);
            for (int r = 0; r < RB; ++r) {
                const float a = dy_row[r][c];
                for (int t = 0; t < CT; ++t) acc[r][t] += a * b[t];
            }
        }
        // Unrolled so that the accumulators are stored from their registers (the masked form's longer body
        // was otherwise left a loop over a spilled copy).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 4
#endif
        for (int r = 0; r < RB; ++r)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC unroll 2
#endif
            for (int t = 0; t < CT; ++t) {
                const int kk = (t0 + t) * SIMD_TILE;
                if (!last) {
                    store_to(part[r] + kk, acc[r][t]);
                } else if (kk + SIMD_TILE <= width) {
                    out_lanes(out, i + r, k_begin + kk, acc[r][t]);
                } else {
                    float sums[SIMD_TILE];
                    store_to(sums, acc[r][t]);
                    for (int q = 0; q < width - kk; ++q) out(i + r, k_begin + kk + q, sums[q]);
                }
            }
    }
}

// One block of c: transpose W's stripe into wt, then every row block of the thread's rows.
template <class Out>
__device__ __forceinline__ void backward_input_rows_pass(const float* __restrict__ dY, const float* __restrict__ W,
                                                         float (*__restrict__ wt)[SIMD_CHUNK],
                                                         float (*__restrict__ part)[SIMD_CHUNK], const Out& out,
                                                         int i_begin, int i_end, int C, int c0, int cn, int k_begin,
                                                         int width) {
    const bool last = c0 + cn == C;
    const float* w_stripe = W + static_cast<long long>(k_begin) * C + c0;
    // Columns past K are zeros: their sums are computed and never stored.
    for (int c = 0; c < cn; ++c) {
        if (width == SIMD_CHUNK)
            for (int kk = 0; kk < SIMD_CHUNK; ++kk) wt[c][kk] = w_stripe[static_cast<long long>(kk) * C + c];
        else
            for (int kk = 0; kk < SIMD_CHUNK; ++kk)
                wt[c][kk] = kk < width ? w_stripe[static_cast<long long>(kk) * C + c] : 0.0f;
    }
    int i = i_begin;
    for (; i + ROWS_REG_ROWS <= i_end; i += ROWS_REG_ROWS)
        backward_input_rows_block<ROWS_REG_ROWS>(dY, wt, part ? part + (i - i_begin) : part, last, out, i, C, c0, cn,
                                                 k_begin, width);
    for (; i < i_end; ++i)
        backward_input_rows_block<1>(dY, wt, part ? part + (i - i_begin) : part, last, out, i, C, c0, cn, k_begin,
                                     width);
}

// Up to ROWS_C_BLOCK values of c take one pass and no partial sums (the output layer's C = 10); wider C keeps
// the thread's partial sums in `part` between passes (32 KiB).
template <class Out>
__device__ __forceinline__ void backward_input_simd(const float* __restrict__ dY, const float* __restrict__ W,
                                                    const Out& out, int N, int K, int C) {
    const long long group = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (group % ROWS_GROUPS != 0 || group * SIMD_ROWS >= N) return;
    const int i_begin = static_cast<int>(group * SIMD_ROWS);
    const int i_end = min(N, i_begin + ROWS_GROUPS * SIMD_ROWS);
    const int k_begin = static_cast<int>(blockIdx.y) * SIMD_CHUNK;
    const int width = min(SIMD_CHUNK, K - k_begin);
    float wt[ROWS_C_BLOCK][SIMD_CHUNK];
    if (C <= ROWS_C_BLOCK) {
        backward_input_rows_pass(dY, W, wt, nullptr, out, i_begin, i_end, C, 0, C, k_begin, width);
        return;
    }
    float part[ROWS_GROUPS * SIMD_ROWS][SIMD_CHUNK];
    for (int c0 = 0; c0 < C; c0 += ROWS_C_BLOCK)
        backward_input_rows_pass(dY, W, wt, part, out, i_begin, i_end, C, c0, min(ROWS_C_BLOCK, C - c0), k_begin,
                                 width);
}

extern "C" __global__ LINEAR_SIMD_CLONES void linear_backward_input_f32_simd(const float* dY, const float* W,
                                                                             float* dX, int N, int K, int C) {
    backward_input_simd(dY, W, InputOut{dX, K}, N, K, C);
}

extern "C" __global__ LINEAR_SIMD_CLONES void linear_backward_weight_f32_simd(const float* X, int ldx, const float* dY,
                                                                              float* dW, int N, int K, int C) {
    backward_weight_simd(MatF32{X, ldx}, X + static_cast<long long>(max(N - 1, 0)) * ldx + K, 1.0f, dY, dW, N, K, C);
}

// dWᵀ = dYᵀ·X for u8 X as backward_weight_simd_rows, with the thread's SIMD_CHUNK stripe of each gathered row
// converted to floats once per chunk of WEIGHT_U8_ROWS rows, into a tile that stays in L1 (16 KiB); the
// products then read floats as the f32 kernel does. Converting inside the product loop (an index load, a
// bounds check and six widening steps per 16 values between the FMAs) made it 1.5× the f32 kernel's time.
// Each output is the same sum in the same order (rows in order from +0; the partial sums of a chunk are
// stored and reloaded exactly), so the bits are those of the in-loop form.
constexpr int WEIGHT_U8_ROWS = 64;

// SIMD_CHUNK bytes to floats. A plain loop between restrict pointers: GCC 12 vectorizes it into one widening
// chain per 16 values (vpmovzxbw, vpmovzxwd, vcvtdq2ps), where load_lanes' vector conversions came out as
// twelve shuffles per 8 values (the conversion pass alone took the f32 product's time).
__device__ __forceinline__ void widen_chunk(float* __restrict out, const unsigned char* __restrict p) {
    for (int kk = 0; kk < SIMD_CHUNK; ++kk) out[kk] = static_cast<float>(p[kk]);
}

template <int R>
__device__ __forceinline__ void backward_weight_u8_tiled(const Pixels& x, const unsigned char* x_end, float scale,
                                                         const float* __restrict__ dY, float* __restrict__ dW, int N,
                                                         int K, int C) {
    const int c0 = simd_first_row<R>(C);
    if (c0 < 0) return;
    const int rows_here = min(R, C - c0);
    const int k_begin = static_cast<int>(blockIdx.y) * SIMD_CHUNK;
    const int width = max(0, min(SIMD_CHUNK, K - k_begin));
    int col[R];
    for (int r = 0; r < R; ++r) col[r] = min(c0 + r, C - 1);
    float tile[WEIGHT_U8_ROWS][SIMD_CHUNK];
    float part[R][SIMD_CHUNK];
    int p0 = 0;
    do {  // at least once: N = 0 still writes its zeros
        const int pn = max(0, min(WEIGHT_U8_ROWS, N - p0));
        for (int q = 0; q < pn; ++q) {
            const unsigned char* row = x.row(p0 + q);
            float* t = tile[q];
            if (row && width == SIMD_CHUNK && x_end - (row + k_begin) >= SIMD_CHUNK) {
                widen_chunk(t, row + k_begin);
            } else {
                // A null row (out-of-range index) reads NaN; columns past K are zeros, never stored.
                for (int kk = 0; kk < SIMD_CHUNK; ++kk)
                    t[kk] = !row ? nan_f32() : kk < width ? static_cast<float>(row[k_begin + kk]) : 0.0f;
            }
        }
        const bool first = p0 == 0, last = p0 + pn >= N;
        for (int j = 0; j < width; j += SIMD_TILE) {
            Lanes acc[R];
            for (int r = 0; r < R; ++r) {
                if (first)
                    acc[r] = Lanes{};
                else
                    load_lanes(acc[r], part[r] + j);
            }
            if (rows_here == R) {
                // Every class is in range: dY's broadcasts are fixed offsets from one pointer per row.
                for (int q = 0; q < pn; ++q) {
                    Lanes b;
                    load_lanes(b, tile[q] + j);
                    const float* dy = dY + static_cast<long long>(p0 + q) * C + c0;
                    for (int r = 0; r < R; ++r) acc[r] += dy[r] * b;
                }
            } else {
                for (int q = 0; q < pn; ++q) {
                    Lanes b;
                    load_lanes(b, tile[q] + j);
                    const float* dy = dY + static_cast<long long>(p0 + q) * C;
                    for (int r = 0; r < R; ++r) acc[r] += dy[col[r]] * b;
                }
            }
            if (!last) {
                for (int r = 0; r < R; ++r) store_to(part[r] + j, acc[r]);
            } else {
                const int n = min(SIMD_TILE, width - j);
                for (int r = 0; r < rows_here; ++r)
                    for (int c = 0; c < n; ++c)
                        dW[static_cast<long long>(k_begin + j + c) * C + c0 + r] = acc[r][c] * scale;
            }
        }
        p0 += WEIGHT_U8_ROWS;
    } while (p0 < N);
}

extern "C" __global__ LINEAR_SIMD_CLONES void linear_backward_weight_u8_simd(const unsigned char* pixels, int ldx,
                                                                             int rows, const int* index, int offset,
                                                                             float scale, const float* dY, float* dW,
                                                                             int N, int K, int C) {
    const Pixels x{pixels, ldx, rows, index, offset};
    const unsigned char* x_end = pixels + static_cast<long long>(max(rows - 1, 0)) * ldx + K;
    if (C <= 4) {
        backward_weight_u8_tiled<4>(x, x_end, scale, dY, dW, N, K, C);
    } else if (C <= 8) {
        backward_weight_u8_tiled<8>(x, x_end, scale, dY, dW, N, K, C);
    } else if (C <= 10) {
        backward_weight_u8_tiled<10>(x, x_end, scale, dY, dW, N, K, C);
    } else if (C <= 12) {
        backward_weight_u8_tiled<12>(x, x_end, scale, dY, dW, N, K, C);
    } else {
        backward_weight_u8_tiled<16>(x, x_end, scale, dY, dW, N, K, C);
    }
}

extern "C" __global__ LINEAR_SIMD_CLONES void linear_relu_forward_f32_simd(const float* X, int ldx, const float* W,
                                                                           const float* b, float* Y, int N, int K,
                                                                           int C) {
    forward_simd<true>(MatF32{X, ldx}, 1.0f, W, b, Y, N, K, C);
}

extern "C" __global__ LINEAR_SIMD_CLONES void linear_relu_forward_u8_simd(const unsigned char* pixels, int ldx,
                                                                          int rows, const int* index, int offset,
                                                                          float scale, const float* W, const float* b,
                                                                          float* Y, int N, int K, int C) {
    forward_simd<true>(Pixels{pixels, ldx, rows, index, offset}, scale, W, b, Y, N, K, C);
}

extern "C" __global__ LINEAR_SIMD_CLONES void linear_backward_input_relu_f32_simd(const float* dY, const float* W,
                                                                                  const float* A, float* dX, int N,
                                                                                  int K, int C) {
    backward_input_simd(dY, W, InputReluOut{dX, A, K}, N, K, C);
}

#endif  // !defined(__CUDACC__)

SHARPMAX_EXPORT(linear_forward_f32_naive, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT(linear_forward_f32_smem, SHARPMAX_SYNC)
SHARPMAX_EXPORT(linear_forward_u8_naive, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT(linear_forward_u8_smem, SHARPMAX_SYNC)
SHARPMAX_EXPORT(linear_backward_input_f32_naive, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT(linear_backward_input_f32_smem, SHARPMAX_SYNC)
SHARPMAX_EXPORT(linear_backward_weight_f32_naive, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT(linear_backward_weight_f32_smem, SHARPMAX_SYNC)
SHARPMAX_EXPORT(linear_backward_weight_u8_naive, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT(linear_backward_weight_u8_smem, SHARPMAX_SYNC)
SHARPMAX_EXPORT(linear_backward_bias_f32, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT(linear_relu_forward_f32_naive, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT(linear_relu_forward_f32_smem, SHARPMAX_SYNC)
SHARPMAX_EXPORT(linear_relu_forward_u8_naive, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT(linear_relu_forward_u8_smem, SHARPMAX_SYNC)
SHARPMAX_EXPORT(linear_backward_input_relu_f32_naive, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT(linear_backward_input_relu_f32_smem, SHARPMAX_SYNC)
SHARPMAX_EXPORT_HOST_ONLY(linear_relu_forward_f32_simd, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT_HOST_ONLY(linear_relu_forward_u8_simd, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT_HOST_ONLY(linear_backward_input_relu_f32_simd, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT_HOST_ONLY(linear_forward_f32_simd, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT_HOST_ONLY(linear_forward_u8_simd, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT_HOST_ONLY(linear_backward_input_f32_simd, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT_HOST_ONLY(linear_backward_weight_f32_simd, SHARPMAX_NO_SYNC)
SHARPMAX_EXPORT_HOST_ONLY(linear_backward_weight_u8_simd, SHARPMAX_NO_SYNC)
// Static __shared__ bytes and launch bounds, for modules bound without PTX
// (the checked mode compares them with the PTX: kernels/README.md).
#define SMEM_TILE_BYTES (sizeof(float) * SMEM_BK * ((SMEM_BM + 1) + (SMEM_BN + 1)))
SHARPMAX_STATIC_SHARED(linear_forward_f32_smem, SMEM_TILE_BYTES)
SHARPMAX_STATIC_SHARED(linear_forward_u8_smem, SMEM_TILE_BYTES)
SHARPMAX_STATIC_SHARED(linear_backward_input_f32_smem, SMEM_TILE_BYTES)
SHARPMAX_STATIC_SHARED(linear_backward_weight_f32_smem, SMEM_TILE_BYTES)
SHARPMAX_STATIC_SHARED(linear_backward_weight_u8_smem, SMEM_TILE_BYTES)
SHARPMAX_STATIC_SHARED(linear_relu_forward_f32_smem, SMEM_TILE_BYTES)
SHARPMAX_STATIC_SHARED(linear_relu_forward_u8_smem, SMEM_TILE_BYTES)
SHARPMAX_STATIC_SHARED(linear_backward_input_relu_f32_smem, SMEM_TILE_BYTES)
SHARPMAX_LAUNCH_BOUNDS(linear_forward_f32_smem, SMEM_THREADS)
SHARPMAX_LAUNCH_BOUNDS(linear_forward_u8_smem, SMEM_THREADS)
SHARPMAX_LAUNCH_BOUNDS(linear_backward_input_f32_smem, SMEM_THREADS)
SHARPMAX_LAUNCH_BOUNDS(linear_backward_weight_f32_smem, SMEM_THREADS)
SHARPMAX_LAUNCH_BOUNDS(linear_backward_weight_u8_smem, SMEM_THREADS)
SHARPMAX_LAUNCH_BOUNDS(linear_relu_forward_f32_smem, SMEM_THREADS)
SHARPMAX_LAUNCH_BOUNDS(linear_relu_forward_u8_smem, SMEM_THREADS)
SHARPMAX_LAUNCH_BOUNDS(linear_backward_input_relu_f32_smem, SMEM_THREADS)
