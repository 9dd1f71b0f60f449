// row_exp_fmaf.cpp — the accuracy of row_exp's polynomial (kernels/rowwise.cuh) in the two forms the kernels compute
// it: the host's (separate roundings: row_exp_pieces under #else) and a GPU's (fmaf where a multiply meets an add,
// every other product rounded apart: row_exp_pieces under __CUDACC__, which row_exp_sub_poly uses), each with a float
// and a double result, against double exp over every float x in [-87.33654, 0]. The operations are repeated here
// with std::fmaf (IEEE fused, as CUDA's fmaf): keep them in step with rowwise.cuh.
//   g++ -O2 -mfma -ffp-contract=off -o /tmp/row_exp_fmaf tests/accuracy/row_exp_fmaf.cpp -lpthread && /tmp/row_exp_fmaf
// Measured (docs/softmax-and-cross-entropy.md, "Accuracy"): fmaf float 0.704 ulp, host float 0.702, both double 0.217.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <cstdio>
#include <thread>
#include <vector>
static uint32_t bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return u;
}

static float fl(uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}

struct Pieces {
    float head, tail, scale;
};

// rowwise.cuh's row_exp_pieces: FMA = the __CUDACC__ form (fmaf), else the host form. Built with
// -ffp-contract=off, so every other a*b rounds apart, as __fmul_rn does on a GPU and the host clones do.
template <bool FMA>
static Pieces pieces(float x, float lo) {
    float t = FMA ? std::fmaf(x, 1.44269504088896341f, 12582912.0f) : x * 1.44269504088896341f + 12582912.0f;
    float n = t - 12582912.0f;
    float rh = FMA ? std::fmaf(n, -0.693359375f, x) : x - n * 0.693359375f;
    float rl = n * -2.12194440e-4f;
    float r = (rh - rl) + lo;
    const float coef[5] = {1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
    float p = 1.9875691500e-4f;
    for (float k : coef) p = FMA ? std::fmaf(p, r, k) : p * r + k;
    float c = p * (r * r);
    float one_rh = 1.0f + rh;
    float one_rh_err = (1.0f - one_rh) + rh;
    float scale = fl((bits(t) - 0x4B400000u + 127u) << 23);
    return {one_rh, ((one_rh_err - rl) + lo) + c, scale};
}

template <bool FMA>
static float ex(float x) {
    Pieces q = pieces<FMA>(x, 0.0f);
    return x < -87.33654f ? 0.0f : (q.head + q.tail) * q.scale;
}

template <bool FMA>
static double exd(float x) {
    Pieces q = pieces<FMA>(x, 0.0f);
    return x < -87.33654f ? 0.0 : (static_cast<double>(q.head) + q.tail) * q.scale;
}

// The spacing of floats at (float)t (that of FLT_MIN below it), as the C# tests' Ulp.
static double ulp(double t) {
    double a = std::fabs(static_cast<double>(static_cast<float>(t)));
    return a < 1.1754943508222875e-38 ? std::ldexp(1.0, -149) : std::ldexp(1.0, std::ilogb(a) - 23);
}

int main() {
    // Negative floats: from -0 (0x80000000) the bits grow with the magnitude, up to -87.33654.
    const uint32_t first = 0x80000000u, last = bits(-87.33654f);
    const int threads = 2;
    const char* names[4] = {"fmaf float", "host float", "fmaf f64", "host f64"};
    std::vector<double> worst(4 * threads, 0);
    std::vector<float> worst_x(4 * threads, 0);
    std::vector<std::thread> pool;
    for (int k = 0; k < threads; k++)
        pool.emplace_back([&, k] {
            for (uint64_t b = first + k; b <= last; b += threads) {
                float x = fl(static_cast<uint32_t>(b));
                double t = std::exp(static_cast<double>(x)), u = ulp(t);
                double e[4] = {std::fabs(ex<true>(x) - t) / u, std::fabs(ex<false>(x) - t) / u,
                               std::fabs(exd<true>(x) - t) / u, std::fabs(exd<false>(x) - t) / u};
                for (int i = 0; i < 4; i++)
                    if (e[i] > worst[4 * k + i]) worst[4 * k + i] = e[i], worst_x[4 * k + i] = x;
            }
        });
    for (auto& t : pool) t.join();
    for (int i = 0; i < 4; i++) {
        double m = 0;
        float mx = 0;
        for (int k = 0; k < threads; k++)
            if (worst[4 * k + i] > m) m = worst[4 * k + i], mx = worst_x[4 * k + i];
        printf("%s: %.3f ulp at x = %.9g\n", names[i], m, mx);
    }
}
