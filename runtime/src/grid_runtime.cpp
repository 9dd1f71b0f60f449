// The CPU grid runtime: runs a kernel launch on the host.
//
// Blocks run in parallel on a pool of worker threads (one per core by default);
// a block never leaves the worker that started it, so thread-local storage is
// per block (that is how __shared__ works, see sharpmax_compat.cuh).
//
// Inside a block:
// - SHARPMAX_NO_SYNC kernels: each thread is a plain call, one after the other.
// - SHARPMAX_SYNC kernels: each thread is a fiber (Boost.Context fcontext, a
//   few ns per switch; ucontext's swapcontext costs a system call). A barrier
//   counts arrivals among the live threads (of the block, or of the warp for
//   shuffles); a thread that arrives early yields to the block's scheduler
//   until the barrier's generation advances. A pass in which no thread makes
//   progress is a deadlock and fails the launch.
// - With a schedule seed, every pass runs the threads in a shuffled order, and
//   shared memory (dynamic, and static SHARPMAX_SHARED arrays where a block
//   first reaches them) starts as NaN bytes, so a missing barrier shows up as
//   a result that changes with the seed.
// - In the checked mode, shared memory also starts as NaN bytes, and dynamic
//   shared memory is followed by a guard region checked after each block (an overrun fails the
//   launch with CUDA_ERROR_ILLEGAL_ADDRESS), and every warp shuffle, vote and
//   __syncwarp checks its mask: the calling lane must be in it, and every lane
//   it names must be live and make the same kind of call with the same mask
//   (CUDA_ERROR_ILLEGAL_INSTRUCTION otherwise). Two different shuffles with
//   equal masks are not told apart: a call's return address would, but the
//   compiler duplicates calls into branches, so lanes at one source line can
//   have different return addresses.
#include <boost/context/detail/fcontext.hpp>

#if defined(_WIN32)
#include <windows.h>
#else
#include <sys/mman.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <numeric>
#include <thread>

#include "runtime_internal.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SHARPMAX_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SHARPMAX_ASAN 1
#endif
#if SHARPMAX_ASAN
#include <sanitizer/common_interface_defs.h>
#endif


namespace bctx = boost::context::detail;

namespace sharpmax_rt {

SHARPMAX_TLS_FAST uint3 tls_thread_idx;
SHARPMAX_TLS_FAST std::uint64_t tls_block_serial;
SHARPMAX_TLS_FAST bool tls_poison_shared;
SHARPMAX_TLS_FAST uint3 tls_block_idx;
SHARPMAX_TLS_FAST dim3 tls_block_dim;
SHARPMAX_TLS_FAST dim3 tls_grid_dim;

namespace {

#if SHARPMAX_ASAN
constexpr std::size_t kFiberStackBytes = 512 * 1024;  // ASan's redzones need room
#else
constexpr std::size_t kFiberStackBytes = 128 * 1024;
#endif
constexpr std::size_t kGuardBytes = 4096;
constexpr unsigned int kMaxThreadsPerBlock = 1024;

std::atomic<std::uint64_t> g_schedule_seed{0};

std::uint64_t splitmix64(std::uint64_t& state) {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void shuffle(std::vector<unsigned int>& order, std::uint64_t& rng) {
    for (std::size_t i = order.size(); i > 1; --i) {
        std::size_t j = static_cast<std::size_t>(splitmix64(rng) % i);
        std::swap(order[i - 1], order[j]);
    }
}

// One fiber stack per possible thread of a block, mapped once per worker with
// a guard page below each stack; pages are committed only when touched.
class StackPool {
public:
#if defined(_WIN32)
    ~StackPool() {
        if (base_ != nullptr) VirtualFree(base_, 0, MEM_RELEASE);
    }
    bool reserve() {
        if (base_ != nullptr) return true;
        bytes_ = kMaxThreadsPerBlock * (kFiberStackBytes + kGuardBytes);
        base_ = static_cast<char*>(VirtualAlloc(nullptr, bytes_, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE));
        if (base_ == nullptr) return false;
        DWORD old;
        for (unsigned int i = 0; i < kMaxThreadsPerBlock; ++i) VirtualProtect(slot(i), kGuardBytes, PAGE_NOACCESS, &old);
        return true;
    }
#else
    ~StackPool() {
        if (base_ != nullptr) munmap(base_, bytes_);
    }
    bool reserve() {
        if (base_ != nullptr) return true;
        bytes_ = kMaxThreadsPerBlock * (kFiberStackBytes + kGuardBytes);
        void* p = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) return false;
        base_ = static_cast<char*>(p);
        for (unsigned int i = 0; i < kMaxThreadsPerBlock; ++i) mprotect(slot(i), kGuardBytes, PROT_NONE);
        return true;
    }
#endif
    // Lowest address of stack i (above its guard page).
    char* bottom(unsigned int i) const { return slot(i) + kGuardBytes; }
    char* top(unsigned int i) const { return bottom(i) + kFiberStackBytes; }

private:
    char* slot(unsigned int i) const { return base_ + static_cast<std::size_t>(i) * (kFiberStackBytes + kGuardBytes); }
    char* base_ = nullptr;
    std::size_t bytes_ = 0;
};

struct Barrier {
    unsigned int live = 0;
    unsigned int arrived = 0;
    std::uint64_t generation = 0;
};

struct Fiber {
    bctx::fcontext_t context = nullptr;
    uint3 index{};
    bool done = false;
};

// What a lane asked of its warp at the current warp barrier (checked mode).
enum class WarpOp : unsigned char { shuffle, vote, sync };
struct WarpCall {
    unsigned int mask = 0;
    WarpOp op = WarpOp::sync;
};

const char* op_name(WarpOp op) { return op == WarpOp::shuffle ? "a warp shuffle" : op == WarpOp::vote ? "a warp vote" : "__syncwarp"; }

// The pattern the checked mode writes into the guard after dynamic shared memory.
constexpr unsigned char kGuardByte = 0xA5;

// Everything one worker needs to run one block; reused from block to block.
struct Worker {
    StackPool stacks;
    std::vector<unsigned char, std::allocator<unsigned char>> dynamic_shared;
    void* dynamic_shared_aligned = nullptr;
    std::size_t dynamic_bytes = 0;
    std::size_t guard_bytes = 0;  // checked mode: guard region after dynamic shared memory
    // Where the guard was last written whole and found intact since: a block
    // that left it intact leaves nothing to re-arm for the next block.
    const unsigned char* guard_armed_at = nullptr;
    std::size_t guard_armed_bytes = 0;
    bool checked = false;

    const KernelEntry* kernel = nullptr;
    void** params = nullptr;
    unsigned int thread_count = 0;
    bool fiber_mode = false;

    std::vector<Fiber> fibers;
    std::vector<unsigned int> order;
    unsigned int current = 0;
    Barrier block_barrier;
    std::vector<Barrier> warp_barriers;
    std::vector<std::uint64_t> exchange;
    std::vector<WarpCall> warp_calls;
    bctx::fcontext_t scheduler = nullptr;
    bool progress = false;

    std::string failure;  // non-empty: the block failed
    SMresult failure_code = SMHOST_ERROR_LAUNCH_FAILED;

#if SHARPMAX_ASAN
    const void* scheduler_stack_bottom = nullptr;
    std::size_t scheduler_stack_size = 0;
#endif
};

thread_local Worker* tls_worker = nullptr;

Worker& this_worker() {
    thread_local std::unique_ptr<Worker> worker;
    if (!worker) {
        worker = std::make_unique<Worker>();
        tls_worker = worker.get();
    }
    return *worker;
}

// ---- fiber switching -------------------------------------------------------

void fail_block(Worker& w, std::string why, SMresult code = SMHOST_ERROR_LAUNCH_FAILED) {
    if (w.failure.empty()) {
        w.failure = std::move(why);
        w.failure_code = code;
    }
}

// Called on a fiber: give control back to the block's scheduler.
void yield_to_scheduler(Worker& w) {
#if SHARPMAX_ASAN
    void* fake_stack = nullptr;
    __sanitizer_start_switch_fiber(&fake_stack, w.scheduler_stack_bottom, w.scheduler_stack_size);
#endif
    bctx::transfer_t t = bctx::jump_fcontext(w.scheduler, nullptr);
    w.scheduler = t.fctx;
#if SHARPMAX_ASAN
    __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
}

void release_if_complete(Barrier& b) {
    if (b.arrived > 0 && b.arrived == b.live) {
        b.arrived = 0;
        ++b.generation;
    }
}

void wait_at(Worker& w, Barrier& b) {
    w.progress = true;
    std::uint64_t generation = b.generation;
    ++b.arrived;
    release_if_complete(b);
    while (b.generation == generation) yield_to_scheduler(w);
    w.progress = true;
}

unsigned int linear_index(const uint3& t, const dim3& d) { return t.x + d.x * (t.y + d.y * t.z); }

void fiber_main(bctx::transfer_t t) {
    Worker& w = *static_cast<Worker*>(t.data);
    w.scheduler = t.fctx;
#if SHARPMAX_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &w.scheduler_stack_bottom, &w.scheduler_stack_size);
#endif
    w.kernel->invoker(w.kernel->kernel, w.params);

    Fiber& self = w.fibers[w.current];
    self.done = true;
    w.progress = true;
    unsigned int linear = linear_index(self.index, tls_block_dim);
    --w.block_barrier.live;
    release_if_complete(w.block_barrier);
    Barrier& warp = w.warp_barriers[linear / 32];
    --warp.live;
    release_if_complete(warp);
#if SHARPMAX_ASAN
    __sanitizer_start_switch_fiber(nullptr, w.scheduler_stack_bottom, w.scheduler_stack_size);
#endif
    bctx::jump_fcontext(w.scheduler, nullptr);  // never resumed
}

void run_block_as_fibers(Worker& w, std::uint64_t& rng, bool randomized) {
    const dim3 d = tls_block_dim;
    w.fibers.assign(w.thread_count, Fiber{});
    w.order.resize(w.thread_count);
    std::iota(w.order.begin(), w.order.end(), 0u);
    unsigned int warps = (w.thread_count + 31) / 32;
    w.warp_barriers.assign(warps, Barrier{});
    for (unsigned int i = 0; i < w.thread_count; ++i) {
        w.fibers[i].index = {i % d.x, (i / d.x) % d.y, i / (d.x * d.y)};
        w.fibers[i].context = bctx::make_fcontext(w.stacks.top(i), kFiberStackBytes, &fiber_main);
        ++w.warp_barriers[i / 32].live;
    }
    w.block_barrier = Barrier{};
    w.block_barrier.live = w.thread_count;
    w.exchange.assign(w.thread_count, 0);
    w.warp_calls.assign(w.thread_count, WarpCall{});

    unsigned int remaining = w.thread_count;
    while (remaining > 0) {
        if (randomized) shuffle(w.order, rng);
        w.progress = false;
        for (unsigned int i : w.order) {
            Fiber& f = w.fibers[i];
            if (f.done) continue;
            w.current = i;
            tls_thread_idx = f.index;
#if SHARPMAX_ASAN
            void* fake_stack = nullptr;
            __sanitizer_start_switch_fiber(&fake_stack, w.stacks.bottom(i), kFiberStackBytes);
#endif
            bctx::transfer_t t = bctx::jump_fcontext(f.context, &w);
#if SHARPMAX_ASAN
            __sanitizer_finish_switch_fiber(fake_stack, nullptr, nullptr);
#endif
            f.context = t.fctx;
            if (f.done) --remaining;
            if (!w.failure.empty()) return;  // the other fibers are abandoned, as after a deadlock
        }
        if (!w.progress && remaining > 0) {
            fail_block(w, "kernel '" + w.kernel->name + "' deadlocked: threads wait at barriers that others never reach");
            return;  // the suspended fibers are abandoned; their stacks are reused
        }
    }
}

void run_block_as_calls(Worker& w, std::uint64_t& rng, bool randomized) {
    const dim3 d = tls_block_dim;
    if (!randomized) {
        for (unsigned int z = 0; z < d.z; ++z)
            for (unsigned int y = 0; y < d.y; ++y)
                for (unsigned int x = 0; x < d.x; ++x) {
                    tls_thread_idx = {x, y, z};
                    w.kernel->invoker(w.kernel->kernel, w.params);
                }
        return;
    }
    w.order.resize(w.thread_count);
    std::iota(w.order.begin(), w.order.end(), 0u);
    shuffle(w.order, rng);
    for (unsigned int i : w.order) {
        tls_thread_idx = {i % d.x, (i / d.x) % d.y, i / (d.x * d.y)};
        w.kernel->invoker(w.kernel->kernel, w.params);
    }
}

// ---- the grid --------------------------------------------------------------

struct GridJob {
    const KernelEntry* kernel;
    LaunchShape shape;
    void** params;
    std::uint64_t seed;
    std::uint64_t block_count;
    std::atomic<std::uint64_t> next_block{0};
    std::mutex failure_mutex;
    std::string failure;
    SMresult failure_code = SMHOST_ERROR_LAUNCH_FAILED;
};

void record_failure(GridJob& job, const Worker& w) {
    std::lock_guard<std::mutex> lock(job.failure_mutex);
    if (job.failure.empty()) {
        job.failure = w.failure;
        job.failure_code = w.failure_code;
    }
    job.next_block.store(job.block_count);  // stop handing out blocks
}

bool prepare_worker(Worker& w, GridJob& job) {
    w.kernel = job.kernel;
    w.params = job.params;
    w.thread_count = job.shape.block.x * job.shape.block.y * job.shape.block.z;
    w.fiber_mode = job.kernel->synchronizes && w.thread_count > 1;
    w.failure.clear();
    w.failure_code = SMHOST_ERROR_LAUNCH_FAILED;
    w.checked = checked_mode();
    if (w.fiber_mode && !w.stacks.reserve()) {
        fail_block(w, "could not map fiber stacks");
        return false;
    }
    std::size_t dynamic = job.shape.dynamic_shared_bytes;
    // The guard covers the largest overrun a block could make on the profile.
    w.dynamic_bytes = dynamic;
    w.guard_bytes = w.checked ? static_cast<std::size_t>(gpu_profile().shared_per_block_optin) : 0;
    if (w.dynamic_shared.size() < dynamic + w.guard_bytes + 64) {
        w.dynamic_shared.resize(dynamic + w.guard_bytes + 64);
        w.guard_armed_at = nullptr;
    }
    if (!w.checked) w.guard_armed_at = nullptr;  // unchecked blocks may write where a guard was
    auto address = reinterpret_cast<std::uintptr_t>(w.dynamic_shared.data());
    w.dynamic_shared_aligned = reinterpret_cast<void*>((address + 63) & ~std::uintptr_t{63});
    tls_block_dim = job.shape.block;
    tls_grid_dim = job.shape.grid;
    return true;
}

// Checked mode: poison dynamic shared memory and arm its guard before a block
// (the guard only when it is not already armed, intact, at this place).
void arm_dynamic_shared(Worker& w) {
    auto* base = static_cast<unsigned char*>(w.dynamic_shared_aligned);
    std::memset(base, 0xFF, w.dynamic_bytes);  // NaN as float, -1 as int
    unsigned char* guard = base + w.dynamic_bytes;
    if (w.guard_armed_at == guard && w.guard_armed_bytes == w.guard_bytes) return;
    std::memset(guard, kGuardByte, w.guard_bytes);
    w.guard_armed_at = guard;
    w.guard_armed_bytes = w.guard_bytes;
}

// True when all `n` guard bytes still hold the pattern: the first byte is the
// pattern and every byte equals the one after it, which glibc's vectorized
// memcmp checks at memory speed (a byte loop over the sm_90 profile's 227 KiB
// cost ~1 ms per block).
bool guard_intact(const unsigned char* guard, std::size_t n) {
    return n == 0 || (guard[0] == kGuardByte && std::memcmp(guard, guard + 1, n - 1) == 0);
}

// Checked mode: a guard byte that changed is a write past the dynamic shared
// memory the launch gave. After each block only the guard's first
// kNearGuardBytes are checked (an overrun by a few rows lands there, and the
// message names the block); the whole guard, up to the profile's opt-in
// maximum, once after the worker's last block of the launch, so a far overrun
// still fails the launch without reading 227 KiB per block.
constexpr std::size_t kNearGuardBytes = 4096;

void check_dynamic_shared_guard(Worker& w, bool whole) {
    const auto* guard = static_cast<const unsigned char*>(w.dynamic_shared_aligned) + w.dynamic_bytes;
    std::size_t checked = whole ? w.guard_bytes : std::min(w.guard_bytes, kNearGuardBytes);
    if (guard_intact(guard, checked)) return;
    w.guard_armed_at = nullptr;  // re-armed before the next block
    for (std::size_t i = 0; i < checked; ++i)
        if (guard[i] != kGuardByte) {
            std::string which = whole ? std::string("a block of this launch") :
                "block " + std::to_string(tls_block_idx.x) + "," + std::to_string(tls_block_idx.y) + "," + std::to_string(tls_block_idx.z);
            fail_block(w,
                       "kernel '" + w.kernel->name + "' (" + which + ") wrote shared memory " + std::to_string(i) + " bytes past the " +
                           std::to_string(w.dynamic_bytes) + " bytes of dynamic shared memory its launch gave (checked mode)",
                       SMHOST_ERROR_ILLEGAL_ADDRESS);
            return;
        }
}

void run_blocks(GridJob& job) {
    Worker& w = this_worker();
    if (!prepare_worker(w, job)) {
        record_failure(job, w);
        return;
    }
    const dim3 g = job.shape.grid;
    const bool randomized = job.seed != 0;
    bool ran_blocks = false;
    for (;;) {
        std::uint64_t b = job.next_block.fetch_add(1, std::memory_order_relaxed);
        if (b >= job.block_count) break;
        tls_block_idx = {static_cast<unsigned int>(b % g.x), static_cast<unsigned int>((b / g.x) % g.y),
                         static_cast<unsigned int>(b / (static_cast<std::uint64_t>(g.x) * g.y))};
        std::uint64_t rng = job.seed ^ (b * 0xD1B54A32D192ED03ull);
        // A new block: its static shared memory (SHARPMAX_SHARED) is poisoned
        // where it is first reached, under the same rule as the dynamic part.
        ++tls_block_serial;
        tls_poison_shared = w.checked || randomized;
        if (w.checked)
            arm_dynamic_shared(w);
        else if (randomized && job.shape.dynamic_shared_bytes > 0)
            std::memset(w.dynamic_shared_aligned, 0xFF, job.shape.dynamic_shared_bytes);
        if (w.fiber_mode)
            run_block_as_fibers(w, rng, randomized);
        else
            run_block_as_calls(w, rng, randomized);
        ran_blocks = true;
        if (w.checked && w.failure.empty()) check_dynamic_shared_guard(w, false);
        if (!w.failure.empty()) {
            record_failure(job, w);
            break;
        }
    }
    if (w.checked && w.failure.empty() && ran_blocks) {  // a worker that ran no block armed no guard
        check_dynamic_shared_guard(w, true);
        if (!w.failure.empty()) record_failure(job, w);
    }
    w.kernel = nullptr;
}

// Workers beyond the calling thread, started on first use. The caller takes
// blocks itself as soon as the grid is published; a helper joins only while the
// grid is still open, so a small grid never waits for a helper to wake up.
// Helpers spin for a while before sleeping, because launches come in quick runs
// with host work between them (a training step's launches, then the next step's
// argument checks): a helper that slept would take a futex wake-up, tens of µs,
// to join, and a two-block grid would run on the caller alone. A millisecond
// covers the gaps of a training loop; OpenMP runtimes spin as long by default.
class WorkerPool {
public:
    ~WorkerPool() { stop(); }

    void run(GridJob& job, int workers) {
        int helpers = static_cast<int>(std::min<std::uint64_t>(static_cast<std::uint64_t>(workers), job.block_count)) - 1;
        if (helpers <= 0) {
            run_blocks(job);
            return;
        }
        std::lock_guard<std::mutex> serial(launch_mutex_);  // one grid at a time
        ensure_threads(helpers);
        {
            std::lock_guard<std::mutex> lock(mutex_);
            job_ = &job;
            wanted_ = helpers;
            joined_ = 0;
            finished_.store(0);
            open_ = true;
            epoch_.fetch_add(1, std::memory_order_release);
        }
        wake_.notify_all();
        run_blocks(job);
        int joined;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            open_ = false;  // no helper joins from here on
            joined = joined_;
        }
        // The helpers are finishing their last blocks: spin for them a while (a condition-variable sleep costs a
        // futex wake-up, tens of µs, per launch), then sleep.
        auto spin_until = std::chrono::steady_clock::now() + kSpin;
        while (finished_.load(std::memory_order_acquire) != joined && std::chrono::steady_clock::now() < spin_until) {
        }
        std::unique_lock<std::mutex> lock(mutex_);
        done_.wait(lock, [&] { return finished_.load() == joined_; });
        job_ = nullptr;
    }

private:
    static constexpr auto kSpin = std::chrono::microseconds(1000);

    void ensure_threads(int count) {
        while (static_cast<int>(threads_.size()) < count) {
            int id = static_cast<int>(threads_.size());
            threads_.emplace_back([this, id] { loop(id); });
        }
    }

    void loop(int id) {
        std::uint64_t seen = 0;
        for (;;) {
            auto spin_until = std::chrono::steady_clock::now() + kSpin;
            while (epoch_.load(std::memory_order_acquire) == seen && !stopping_.load() &&
                   std::chrono::steady_clock::now() < spin_until) {
            }
            GridJob* job = nullptr;
            {
                std::unique_lock<std::mutex> lock(mutex_);
                wake_.wait(lock, [&] { return stopping_.load() || epoch_.load() != seen; });
                if (stopping_.load()) return;
                seen = epoch_.load();
                if (!open_ || id >= wanted_) continue;
                ++joined_;
                job = job_;
            }
            run_blocks(*job);
            {
                std::lock_guard<std::mutex> lock(mutex_);
                finished_.fetch_add(1, std::memory_order_release);
            }
            done_.notify_all();
        }
    }

    void stop() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stopping_.store(true);
        }
        wake_.notify_all();
        for (auto& t : threads_) t.join();
        threads_.clear();
    }

    std::mutex launch_mutex_;
    std::mutex mutex_;
    std::condition_variable wake_;
    std::condition_variable done_;
    std::vector<std::thread> threads_;
    GridJob* job_ = nullptr;
    int wanted_ = 0;
    int joined_ = 0;
    std::atomic<int> finished_{0};  // also read without the lock, by the caller spinning for its helpers
    bool open_ = false;
    std::atomic<std::uint64_t> epoch_{0};
    std::atomic<bool> stopping_{false};
};

std::atomic<int> g_worker_count{0};

WorkerPool& pool() {
    static WorkerPool instance;
    return instance;
}

}  // namespace

// ---- called from kernels ---------------------------------------------------

void* dynamic_shared() { return tls_worker->dynamic_shared_aligned; }

void syncthreads() {
    Worker& w = *tls_worker;
    if (!w.fiber_mode) {
        if (w.thread_count > 1)
            fail_block(w, "kernel '" + w.kernel->name + "' calls __syncthreads but is exported SHARPMAX_NO_SYNC");
        return;
    }
    wait_at(w, w.block_barrier);
}

namespace {

std::string hex32(unsigned int v) {
    char buffer[16];
    std::snprintf(buffer, sizeof buffer, "0x%08x", v);
    return buffer;
}

// Checked mode, before a lane arrives at its warp barrier: it must be in the mask.
bool check_caller_in_mask(Worker& w, unsigned int self, unsigned int mask, WarpOp op) {
    w.warp_calls[self] = WarpCall{mask, op};
    if ((mask >> (self % 32)) & 1u) return true;
    fail_block(w, "kernel '" + w.kernel->name + "': lane " + std::to_string(self % 32) + " of warp " + std::to_string(self / 32) +
                      " calls " + op_name(op) + " with mask " + hex32(mask) + ", which leaves it out (checked mode)",
               SMHOST_ERROR_ILLEGAL_INSTRUCTION);
    return false;
}

// Checked mode, once the warp has arrived: every lane the mask names is live
// and made the same call with the same mask.
bool check_mask_lanes(Worker& w, unsigned int self) {
    const WarpCall& mine = w.warp_calls[self];
    unsigned int base = self & ~31u;
    for (unsigned int lane = 0; lane < 32; ++lane) {
        if (!((mine.mask >> lane) & 1u)) continue;
        unsigned int other = base + lane;
        // The message is built only for a failure: this loop runs for every lane of every warp operation.
        auto fail = [&](const std::string& what) {
            fail_block(w,
                       "kernel '" + w.kernel->name + "': " + op_name(mine.op) + " with mask " + hex32(mine.mask) + " in warp " +
                           std::to_string(self / 32) + " names lane " + std::to_string(lane) + ", which " + what + " (checked mode)",
                       SMHOST_ERROR_ILLEGAL_INSTRUCTION);
            return false;
        };
        if (other >= w.thread_count) return fail("the block does not have (" + std::to_string(w.thread_count) + " threads)");
        if (w.fibers[other].done) return fail("has exited");
        const WarpCall& theirs = w.warp_calls[other];
        if (theirs.mask != mine.mask || theirs.op != mine.op)
            return fail("is at a different call (" + std::string(op_name(theirs.op)) + ", mask " + hex32(theirs.mask) + "): the warp diverged");
    }
    return true;
}

// A warp operation outside fibers: legal only for a one-thread block, whose
// mask (checked mode) must then name exactly lane 0.
void single_thread_warp_op(Worker& w, const char* what, unsigned int mask, WarpOp op) {
    if (w.thread_count > 1) {
        fail_block(w, "kernel '" + w.kernel->name + "' " + what + " but is exported SHARPMAX_NO_SYNC");
        return;
    }
    if (w.checked && mask != 1u)
        fail_block(w, "kernel '" + w.kernel->name + "': " + op_name(op) + " with mask " + hex32(mask) +
                          ((mask & 1u) ? " names lanes a one-thread block does not have" : " leaves out the calling lane 0") + " (checked mode)",
                   SMHOST_ERROR_ILLEGAL_INSTRUCTION);
}

}  // namespace

void syncwarp(unsigned int mask) {
    Worker& w = *tls_worker;
    if (!w.fiber_mode) {
        single_thread_warp_op(w, "calls __syncwarp", mask, WarpOp::sync);
        return;
    }
    unsigned int self = w.current;
    if (w.checked && !check_caller_in_mask(w, self, mask, WarpOp::sync)) return;
    wait_at(w, w.warp_barriers[self / 32]);
    if (w.checked && check_mask_lanes(w, self))
        wait_at(w, w.warp_barriers[self / 32]);  // no lane records its next call before all have checked this one
}

std::uint64_t warp_exchange(std::uint64_t value, int src_lane, unsigned int mask) {
    Worker& w = *tls_worker;
    if (!w.fiber_mode) {
        single_thread_warp_op(w, "uses a warp shuffle", mask, WarpOp::shuffle);
        return value;
    }
    unsigned int self = w.current;
    unsigned int warp_base = self & ~31u;
    Barrier& warp = w.warp_barriers[self / 32];
    if (w.checked && !check_caller_in_mask(w, self, mask, WarpOp::shuffle)) return value;
    w.exchange[self] = value;
    wait_at(w, warp);
    if (w.checked && !check_mask_lanes(w, self)) return value;
    unsigned int lane = static_cast<unsigned int>(src_lane & 31);
    if (w.checked && !((mask >> lane) & 1u)) {
        fail_block(w, "kernel '" + w.kernel->name + "': a warp shuffle with mask " + hex32(mask) + " reads lane " + std::to_string(lane) +
                          ", which the mask leaves out (checked mode)",
                   SMHOST_ERROR_ILLEGAL_INSTRUCTION);
        return value;
    }
    unsigned int source = warp_base + lane;
    std::uint64_t result = source < w.thread_count ? w.exchange[source] : value;
    wait_at(w, warp);  // nobody overwrites a slot before every lane has read it
    return result;
}

unsigned int warp_ballot(bool predicate, unsigned int mask) {
    Worker& w = *tls_worker;
    if (!w.fiber_mode) {
        single_thread_warp_op(w, "uses a warp vote", mask, WarpOp::vote);
        return predicate ? 1u : 0u;
    }
    unsigned int self = w.current;
    unsigned int warp_base = self & ~31u;
    Barrier& warp = w.warp_barriers[self / 32];
    if (w.checked && !check_caller_in_mask(w, self, mask, WarpOp::vote)) return 0;
    w.exchange[self] = predicate ? 1u : 0u;
    wait_at(w, warp);
    if (w.checked && !check_mask_lanes(w, self)) return 0;
    unsigned int result = 0;
    for (unsigned int lane = 0; lane < 32 && warp_base + lane < w.thread_count; ++lane)
        if (w.exchange[warp_base + lane] != 0 && !w.fibers[warp_base + lane].done && ((mask >> lane) & 1u)) result |= 1u << lane;
    wait_at(w, warp);
    return result;
}

// ---- entry points for the driver API --------------------------------------

SMresult run_grid(const KernelEntry& kernel, const LaunchShape& shape, void** params) {
    GridJob job;
    job.kernel = &kernel;
    job.shape = shape;
    job.params = params;
    job.seed = g_schedule_seed.load();
    job.block_count = static_cast<std::uint64_t>(shape.grid.x) * shape.grid.y * shape.grid.z;
    pool().run(job, worker_count());
    if (!job.failure.empty()) {
        set_error_detail("cuLaunchKernel: " + job.failure);
        return job.failure_code;
    }
    return SMHOST_SUCCESS;
}

void set_schedule_seed(std::uint64_t seed) { g_schedule_seed.store(seed); }

void set_worker_count(int workers) { g_worker_count.store(workers < 0 ? 0 : workers); }

int worker_count() {
    int n = g_worker_count.load();
    if (n > 0) return n;
    // hardware_concurrency() reads /sys on every call: ask once.
    static const int cores = [] {
        unsigned int hw = std::thread::hardware_concurrency();
        return hw == 0 ? 1 : static_cast<int>(hw);
    }();
    return cores;
}

}  // namespace sharpmax_rt
