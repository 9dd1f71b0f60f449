// The CPU device's vectorized row loops (kernels/rowwise.cuh, row_exp_sub_lanes2 and row_exp_sum's host path) give
// bitwise the results of the scalar functions they replace, at every SIMD level the row kernels are cloned for;
// row_exp_sum_except_pairs (the cross-entropy _row kernel's sum) gives the double sum's value.
// Also xent_row_sums_f64_lanes (kernels/xent_terms.cuh, train_step.cu's rows side by side) against
// xent_row_sums_f64 one row at a time. The kernels' own tests compare with float64 references at a tolerance; this
// is the exact check, since the trainer's determinism and the clones' agreement rest on it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "rowwise.cuh"
#include "xent_terms.cuh"

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

std::uint64_t bits(double v) {
    std::uint64_t b;
    std::memcpy(&b, &v, 8);
    return b;
}

// ---- row_exp_sum_except_pairs: the _row kernel's exp sum in compensated float pairs ------------------------------

struct PairSums {
    double with_e, without_e;
};

#define PAIR_SUMS(name, attributes)                                                                  \
    attributes PairSums name(const float* x, int C, float m, int skip, float* e) {                   \
        return PairSums{row_exp_sum_except_pairs(x, C, m, e, skip), row_exp_sum_except_pairs(x, C, m, nullptr, skip)}; \
    }
#if defined(__GNUC__) && !defined(__clang__)
PAIR_SUMS(pair_sums_baseline, __attribute__((optimize("fp-contract=off"))))
#else
PAIR_SUMS(pair_sums_baseline, )
#endif
#if defined(ROW_TEST_LEVEL)
PAIR_SUMS(pair_sums_avx2, ROW_TEST_LEVEL("x86-64-v3"))
PAIR_SUMS(pair_sums_avx512, ROW_TEST_LEVEL("x86-64-v4"))
#endif

// Not the double sum's bits, but its value: within 2^-40 of it relatively (the pairs' bound is ~2^-40; a sum that
// dropped the exps' or the TwoSum's rounding errors is off by ~2^-24 at C = 20000); the exps kept are row_exp_sub's
// floats; and every SIMD level gives the same bits, since the row kernel's clones must.
void expect_pair_sums_close_to_the_double_sum(PairSums (*fn)(const float*, int, float, int, float*), const char* level) {
    for (int C : {1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 63, 64, 1000, 1037, 20000}) {
        for (unsigned seed = 1; seed <= 4; ++seed) {
            std::vector<float> x = row_of(C, seed * 57u + static_cast<unsigned>(C));
            if (seed == 3 && C > 20) x[C / 2] = std::numeric_limits<float>::quiet_NaN();
            float m = row_max(x.data(), C);
            for (int skip : {-1, 0, 8, 16, 31, 32, C / 2, C - 1}) {
                if (skip >= C) continue;
                std::vector<float> e(C), e_base(C);
                PairSums got = fn(x.data(), C, m, skip, e.data());
                PairSums base = pair_sums_baseline(x.data(), C, m, skip, e_base.data());
                // the double sum, the skipped column left out (also when it holds the row's NaN)
                double want = row_sum_f64(C, [&](int c) { return c == skip ? 0.0 : row_exp_sub_f64(x[c], m); });
                ASSERT_EQ(bits(got.with_e), bits(base.with_e)) << level << " vs baseline, C = " << C << ", skip " << skip;
                ASSERT_EQ(bits(got.without_e), bits(got.with_e)) << level << ", C = " << C << ", skip " << skip;
                if (std::isnan(want))
                    ASSERT_TRUE(std::isnan(got.with_e)) << level << ", C = " << C << ": a NaN entry makes the sum NaN";
                else
                    ASSERT_LE(std::fabs(got.with_e - want), 0x1p-40 * want)
                        << level << ", C = " << C << ", seed " << seed << ", skip " << skip << ": " << got.with_e << " vs " << want;
                for (int c = 0; c < C; ++c)
                    ASSERT_EQ(bits(e[c]), bits(row_exp_sub(x[c], m))) << level << ", C = " << C << ", column " << c;
            }
        }
    }
}

TEST(RowLanes, PairSumsAreTheDoubleSumsValue) { expect_pair_sums_close_to_the_double_sum(pair_sums_baseline, "baseline x86-64"); }

#if defined(ROW_TEST_LEVEL)
TEST(RowLanes, PairSumsAreTheDoubleSumsValueWithAvx2) {
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) GTEST_SKIP() << "this CPU has no AVX2";
    expect_pair_sums_close_to_the_double_sum(pair_sums_avx2, "x86-64-v3");
}

TEST(RowLanes, PairSumsAreTheDoubleSumsValueWithAvx512) {
    if (!__builtin_cpu_supports("avx512f")) GTEST_SKIP() << "this CPU has no AVX-512";
    expect_pair_sums_close_to_the_double_sum(pair_sums_avx512, "x86-64-v4");
}
#endif

// ---- xent_row_sums_f64_lanes: ROW_LANES rows side by side, against one row at a time --------------------------

// Both forms in one function per SIMD level, without FMA contraction: the lanes must do the scalar form's
// operations in its order. (With contraction, as in train_step.cu's clones, GCC may fuse a multiply-add of the exp in
// one form and not in the other; the step therefore takes every row through the lanes form.)
template <int C>
struct RowSumsBoth {
    XentRowSums lanes[ROW_LANES], rows[ROW_LANES];
    float e_lanes[ROW_LANES][C], e_rows[ROW_LANES][C];
};

#define ROW_SUMS_BOTH(name, attributes)                                                                            \
    template <int C>                                                                                               \
    attributes void name(const float* lr, const int* label, const bool* used, RowSumsBoth<C>& out) {              \
        row_lanes_f32 columns[C];                                                                                  \
        for (int c = 0; c < C; ++c)                                                                                \
            for (int l = 0; l < ROW_LANES; ++l) columns[c][l] = lr[l * C + c];                                     \
        xent_row_sums_f64_lanes<C, C>(columns, label, used, out.e_lanes, out.lanes);                               \
        for (int l = 0; l < ROW_LANES; ++l)                                                                        \
            out.rows[l] = xent_row_sums_f64<false>(lr + l * C, out.e_rows[l], C, label[l], used[l], 0.0f);         \
    }
#if defined(__GNUC__) && !defined(__clang__)
ROW_SUMS_BOTH(row_sums_baseline, __attribute__((optimize("fp-contract=off"))))
#else
ROW_SUMS_BOTH(row_sums_baseline, )
#endif
#if defined(ROW_TEST_LEVEL)
ROW_SUMS_BOTH(row_sums_avx2, ROW_TEST_LEVEL("x86-64-v3"))
ROW_SUMS_BOTH(row_sums_avx512, ROW_TEST_LEVEL("x86-64-v4"))
#endif

// Eight rows that stress the sums: ordinary logits, -inf columns, a NaN, +inf, ties at the max, exps that underflow
// or sit at the -87.34 cut, huge and subnormal logits, an all -inf row; labels at both edges, and unused rows
// (ignored: no label skipped, no exps kept).
template <int C>
void rows_of(unsigned seed, float* lr, int* label, bool* used) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> logit(-12.0f, 12.0f);
    const float inf = std::numeric_limits<float>::infinity();
    for (int l = 0; l < ROW_LANES; ++l) {
        float* x = lr + l * C;
        for (int c = 0; c < C; ++c) x[c] = logit(rng);
        switch ((l + seed) % ROW_LANES) {
            case 1: for (int c = 0; c < C; c += 3) x[c] = -inf; break;
            case 2: x[C / 2] = std::numeric_limits<float>::quiet_NaN(); break;
            case 3: for (int c = 0; c < C; ++c) x[c] = 5.0f; break;
            case 4: for (int c = 1; c < C; c += 2) x[c] = x[0] - 87.33f - 0.004f * static_cast<float>(c); break;
            case 5: for (int c = 0; c < C; ++c) x[c] *= 3.0e37f; break;
            case 6: for (int c = 0; c < C; ++c) x[c] = (c % 2 ? -inf : 1.0e-40f); break;
            case 7: if (seed % 3 == 0) for (int c = 0; c < C; ++c) x[c] = -inf; else x[C - 1] = inf; break;
            default: break;
        }
        label[l] = (l % 3 == 0) ? 0 : (l % 3 == 1 ? C - 1 : static_cast<int>(rng() % C));
        used[l] = (l + seed) % 5 != 0;
        if (!used[l]) label[l] = -100;
    }
}

template <int C>
using RowSumsFn = void (*)(const float*, const int*, const bool*, RowSumsBoth<C>&);

template <int C>
void expect_lanes_match_rows(RowSumsFn<C> both, const char* level) {
    for (unsigned seed = 0; seed < 40; ++seed) {
        float lr[ROW_LANES * C];
        int label[ROW_LANES];
        bool used[ROW_LANES];
        rows_of<C>(seed, lr, label, used);
        RowSumsBoth<C> out{};
        both(lr, label, used, out);
        for (int l = 0; l < ROW_LANES; ++l) {
            const XentRowSums &a = out.lanes[l], &b = out.rows[l];
            std::uint64_t rest_a, rest_b, el_a, el_b;
            std::memcpy(&rest_a, &a.rest, 8), std::memcpy(&rest_b, &b.rest, 8);
            std::memcpy(&el_a, &a.e_label, 8), std::memcpy(&el_b, &b.e_label, 8);
            ASSERT_EQ(bits(a.m), bits(b.m)) << level << ", C = " << C << ", seed " << seed << ", row " << l << ": max";
            ASSERT_EQ(rest_a, rest_b) << level << ", C = " << C << ", seed " << seed << ", row " << l << ": " << a.rest
                                      << " vs " << b.rest;
            ASSERT_EQ(el_a, el_b) << level << ", C = " << C << ", seed " << seed << ", row " << l << ": exp of the label";
            if (used[l])
                for (int c = 0; c < C; ++c)
                    ASSERT_EQ(bits(out.e_lanes[l][c]), bits(out.e_rows[l][c]))
                        << level << ", C = " << C << ", seed " << seed << ", row " << l << ", column " << c;
        }
    }
}

template <template <int> class Both>
void expect_all_widths(const char* level) {
    expect_lanes_match_rows<1>(Both<1>::fn, level);
    expect_lanes_match_rows<7>(Both<7>::fn, level);
    expect_lanes_match_rows<8>(Both<8>::fn, level);
    expect_lanes_match_rows<10>(Both<10>::fn, level);
    expect_lanes_match_rows<16>(Both<16>::fn, level);
    expect_lanes_match_rows<17>(Both<17>::fn, level);
    expect_lanes_match_rows<40>(Both<40>::fn, level);
}

template <int C>
struct Baseline {
    static constexpr RowSumsFn<C> fn = row_sums_baseline<C>;
};
TEST(RowLanes, RowSumsSideBySideMatchOneRowAtATimeBitwise) { expect_all_widths<Baseline>("baseline x86-64"); }

#if defined(ROW_TEST_LEVEL)
template <int C>
struct Avx2 {
    static constexpr RowSumsFn<C> fn = row_sums_avx2<C>;
};
template <int C>
struct Avx512 {
    static constexpr RowSumsFn<C> fn = row_sums_avx512<C>;
};
TEST(RowLanes, RowSumsSideBySideMatchOneRowAtATimeBitwiseWithAvx2) {
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) GTEST_SKIP() << "this CPU has no AVX2";
    expect_all_widths<Avx2>("x86-64-v3");
}
TEST(RowLanes, RowSumsSideBySideMatchOneRowAtATimeBitwiseWithAvx512) {
    if (!__builtin_cpu_supports("avx512f")) GTEST_SKIP() << "this CPU has no AVX-512";
    expect_all_widths<Avx512>("x86-64-v4");
}
#endif

}  // namespace
