// The CPU device's vectorized row loops (kernels/rowwise.cuh, row_exp_sub_lanes2 and row_exp_sum's host path) give
// bitwise the results of the scalar functions they replace, at every SIMD level the row kernels are cloned for.
// The kernels' own tests compare with float64 references at a tolerance; this is the exact check, since the
// trainer's determinism and the clones' agreement rest on it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "rowwise.cuh"

namespace {

// The scalar form: row_sum over row_exp_sub, as row_exp_sum computed it before the vector path.
float scalar_exp_sum(const float* x, float m, float* e, int C) {
    return row_sum(C, [=](int c) {
        float v = row_exp_sub(x[c], m);
        e[c] = v;
        return v;
    });
}

using ExpSum = float (*)(const float*, float, float*, int);

float exp_sum_baseline(const float* x, float m, float* e, int C) { return row_exp_sum(x, m, e, C); }

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define ROW_TEST_LEVEL(level) __attribute__((target("arch=" level), optimize("fp-contract=off")))
#elif defined(__x86_64__) && defined(__clang__)
#define ROW_TEST_LEVEL(level) __attribute__((target("arch=" level)))
#endif

#if defined(ROW_TEST_LEVEL)
ROW_TEST_LEVEL("x86-64-v3") float exp_sum_avx2(const float* x, float m, float* e, int C) { return row_exp_sum(x, m, e, C); }
ROW_TEST_LEVEL("x86-64-v4") float exp_sum_avx512(const float* x, float m, float* e, int C) { return row_exp_sum(x, m, e, C); }
#endif

std::uint32_t bits(float v) {
    std::uint32_t b;
    std::memcpy(&b, &v, 4);
    return b;
}

// Ordinary logits, with entries that stress the exp: -inf (a masked column), NaN, values far below the max (an
// exp that underflows to 0, or lands just above the -87.34 cut), and equal maxima.
std::vector<float> row_of(int C, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> logit(-12.0f, 12.0f);
    std::vector<float> x(C);
    for (float& v : x) v = logit(rng);
    for (int c = 0; c < C; c += 7) x[c] = x[0] - 87.3f - 0.01f * static_cast<float>(c % 5);
    for (int c = 3; c < C; c += 11) x[c] = -std::numeric_limits<float>::infinity();
    for (int c = 5; c < C; c += 13) x[c] = x[0] - 200.0f;
    return x;
}

void expect_same_as_scalar(ExpSum under_test, const char* level) {
    for (int C : {1, 7, 8, 9, 15, 16, 17, 24, 31, 33, 1000, 1024, 1037, 2048 + 5, 5000}) {
        for (unsigned seed = 1; seed <= 3; ++seed) {
            std::vector<float> x = row_of(C, seed * 977u + static_cast<unsigned>(C));
            if (seed == 3 && C > 20) x[C / 2] = std::numeric_limits<float>::quiet_NaN();
            float m = row_max(x.data(), C);
            std::vector<float> e_ref(C), e(C);
            float want = scalar_exp_sum(x.data(), m, e_ref.data(), C);
            float got = under_test(x.data(), m, e.data(), C);
            ASSERT_EQ(bits(got), bits(want)) << level << ", C = " << C << ", seed " << seed << ": sum " << got << " vs " << want;
            for (int c = 0; c < C; ++c)
                ASSERT_EQ(bits(e[c]), bits(e_ref[c])) << level << ", C = " << C << ", column " << c << ": " << e[c] << " vs " << e_ref[c];
        }
    }
}

TEST(RowLanes, ExpSumMatchesTheScalarFormBitwise) { expect_same_as_scalar(exp_sum_baseline, "baseline x86-64"); }

#if defined(ROW_TEST_LEVEL)
TEST(RowLanes, ExpSumMatchesTheScalarFormBitwiseWithAvx2) {
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) GTEST_SKIP() << "this CPU has no AVX2";
    expect_same_as_scalar(exp_sum_avx2, "x86-64-v3");
}

TEST(RowLanes, ExpSumMatchesTheScalarFormBitwiseWithAvx512) {
    if (!__builtin_cpu_supports("avx512f")) GTEST_SKIP() << "this CPU has no AVX-512";
    expect_same_as_scalar(exp_sum_avx512, "x86-64-v4");
}
#endif

// Every float difference d = x - m in [-90, 0] on a fine grid (and the rounding error of x - m that row_exp_sub
// folds in): the 16-lane exp gives the scalar exp's bits.
TEST(RowLanes, LaneExpMatchesScalarExpOverTheRange) {
    const int lanes = 2 * ROW_LANES;
    for (float m : {0.0f, 3.7f, -1.0e4f, 81.25f}) {
        float x[lanes], e[lanes];
        for (int i = 0; i < 90 * 4096; i += lanes) {
            for (int j = 0; j < lanes; ++j) x[j] = m - static_cast<float>(i + j) / 4096.0f - 1e-3f * static_cast<float>(j);
            row_exp_sub_lanes2(x, m, e);
            for (int j = 0; j < lanes; ++j)
                ASSERT_EQ(bits(e[j]), bits(row_exp_sub(x[j], m))) << "x = " << x[j] << ", m = " << m;
        }
    }
}

}  // namespace
