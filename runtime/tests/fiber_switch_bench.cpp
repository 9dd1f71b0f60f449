// Measures one fiber switch with Boost.Context's fcontext (what the runtime
// uses) and with POSIX ucontext (the alternative), on this machine.
//   build/runtime/tests/fiber_switch_bench
#include <boost/context/detail/fcontext.hpp>
#include <ucontext.h>

#include <chrono>
#include <cstdio>
#include <vector>

namespace ctx = boost::context::detail;

constexpr long kSwitches = 2'000'000;

ctx::transfer_t ping(ctx::transfer_t t) {
    for (;;) t = ctx::jump_fcontext(t.fctx, nullptr);
}

ucontext_t g_main, g_fiber;
void pong() {
    for (;;) swapcontext(&g_fiber, &g_main);
}

int main() {
    std::vector<char> stack(64 * 1024);
    ctx::fcontext_t f = ctx::make_fcontext(stack.data() + stack.size(), stack.size(), [](ctx::transfer_t t) { ping(t); });
    auto start = std::chrono::steady_clock::now();
    for (long i = 0; i < kSwitches / 2; ++i) f = ctx::jump_fcontext(f, nullptr).fctx;
    double fcontext_ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() / kSwitches;

    std::vector<char> stack2(64 * 1024);
    getcontext(&g_fiber);
    g_fiber.uc_stack.ss_sp = stack2.data();
    g_fiber.uc_stack.ss_size = stack2.size();
    g_fiber.uc_link = nullptr;
    makecontext(&g_fiber, pong, 0);
    start = std::chrono::steady_clock::now();
    for (long i = 0; i < kSwitches / 2; ++i) swapcontext(&g_main, &g_fiber);
    double ucontext_ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count() / kSwitches;

    std::printf("one switch: fcontext %.1f ns, ucontext %.1f ns (%.0fx)\n", fcontext_ns, ucontext_ns, ucontext_ns / fcontext_ns);
}
