// scheduler.cpp: runs one launch, block after block, on the calling thread. A block's threads are fibers, each on
// its own guarded stack, switched only where CUDA lets threads wait for each other: __syncthreads, warp collectives
// and mma. Between two such points a thread runs alone, so the execution order (CUDASIM_ORDER: 0 in order,
// 1 reverse, 2 shuffled by CUDASIM_SEED; threads within a block and blocks within the grid) decides who writes
// shared or global memory first, and a race shows as a result that changes with the order.
//
// What it reports, naming kernel, block and thread: barrier divergence (two different __syncthreads, or a barrier
// while some threads have exited), warp collectives that name exited lanes, leave the caller out or disagree,
// deadlock, __trap, and faults (guard pages of device memory and stacks, UBSan's bounds/alignment traps), with the
// source line when the kernel .so has line tables.
#include <algorithm>
#include <csetjmp>
#include <csignal>
#include <pthread.h>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <sys/mman.h>
#include <ucontext.h>
#include "host.h"

// Saves the callee-saved registers, MXCSR and the x87 control word on the current stack, stores the stack pointer
// in *save and resumes the fiber whose stack pointer is `to`. A new fiber's stack is laid out as if it had called
// this, returning into cudasim_trampoline, which calls r13(r12).
extern "C" void cudasim_switch(void** save, void* to);
extern "C" void cudasim_trampoline();
asm(R"(
.text
.globl cudasim_switch
.hidden cudasim_switch
.type cudasim_switch,@function
cudasim_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
.size cudasim_switch, .-cudasim_switch
.globl cudasim_trampoline
.hidden cudasim_trampoline
.type cudasim_trampoline,@function
cudasim_trampoline:
    movq %r12, %rdi
    callq *%r13
    ud2
.size cudasim_trampoline, .-cudasim_trampoline
)");

namespace sim {
namespace {

constexpr size_t kPage = 4096, kStack = 256 * 1024;
constexpr int kMma = 100;  // warp op code of mma (the others are cudasim_warp_op)

enum State { READY, AT_BARRIER, IN_WARP_OP, DONE };

struct Thread {
    cudasim_thread pub;
    unsigned linear;
    State state;
    bool started;
    void* sp;
    // the warp collective this lane waits in
    unsigned long long value, result;
    int src;
    float* mma_d;
    const unsigned* mma_a;
    unsigned mma_b[2];
};

struct Warp {
    unsigned arrived, mask, exited;  // lanes beyond the block's size count as exited
    int op;
    const char* site;
};

struct Block {
    std::vector<Thread> threads;
    std::vector<Warp> warps;
    std::vector<unsigned> order;
    unsigned live, at_barrier;
    const char* barrier_site;
};

const Launch* g_launch;
Block g_block;
Thread* g_thread;              // the running fiber, or null in the scheduler
cudasim_thread* g_current;     // what device code reads through the runtime table
cudasim_dim3 g_block_idx, g_block_dim, g_grid_dim;
void* g_dynamic_shared;
void* g_scheduler_sp;
std::vector<unsigned char*> g_stacks;  // one per thread index, reused by every launch
std::string g_error;

// Fault handling: a signal inside a kernel jumps back to run_grid. Other threads' faults are not ours (the .NET
// runtime turns some into exceptions), hence the thread check.
sigjmp_buf g_fault_jump;
volatile sig_atomic_t g_in_kernel;
pthread_t g_kernel_thread;
volatile int g_fault_signal;
void* volatile g_fault_address;
void* volatile g_fault_pc;
struct sigaction g_previous[32];

const char* op_name(int op) {
    switch (op) {
    case CUDASIM_SHFL: return "a shuffle";
    case CUDASIM_BALLOT: return "__ballot_sync";
    case CUDASIM_ANY: return "__any_sync";
    case CUDASIM_ALL: return "__all_sync";
    case CUDASIM_SYNCWARP: return "__syncwarp";
    case kMma: return "mma.sync";
    default: return "a warp collective";
    }
}

const char* kernel_name() { return g_launch->function->kernel->name; }

// "kernel block (x,y,z) thread (x,y,z): " for thread t of the running block.
std::string prefix(const Thread* t) {
    char head[256];
    int k = snprintf(head, sizeof head, "%s block (%u,%u,%u)", kernel_name(), g_block_idx.x, g_block_idx.y, g_block_idx.z);
    if (t) snprintf(head + k, sizeof head - k, " thread (%u,%u,%u)", t->pub.idx.x, t->pub.idx.y, t->pub.idx.z);
    return std::string(head) + ": ";
}

// Keeps the launch's first error only: what follows it is usually its consequence.
void vreport(const Thread* t, const char* fmt, va_list ap) {
    if (!g_error.empty()) return;
    char body[768];
    vsnprintf(body, sizeof body, fmt, ap);
    g_error = prefix(t) + body;
}

__attribute__((format(printf, 2, 3))) void report(const Thread* t, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vreport(t, fmt, ap);
    va_end(ap);
}

void to_scheduler() { cudasim_switch(&g_thread->sp, g_scheduler_sp); }

// Reports the error and leaves the calling fiber for good: the scheduler stops the launch at once.
[[noreturn]] __attribute__((format(printf, 1, 2))) void fail(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vreport(g_thread, fmt, ap);
    va_end(ap);
    to_scheduler();
    __builtin_unreachable();
}

[[noreturn]] void thread_exit() {
    Thread* t = g_thread;
    Warp& w = g_block.warps[t->linear / 32];
    unsigned bit = 1u << (t->linear % 32);
    t->state = DONE;
    g_block.live--;
    w.exited |= bit;
    if (w.arrived && (w.mask & bit))
        fail("exited while lanes 0x%08x of its warp wait for it in %s at %s (mask 0x%08x)", w.arrived, op_name(w.op), w.site, w.mask);
    if (g_block.at_barrier)
        fail("barrier divergence: exited while %u threads wait at __syncthreads at %s", g_block.at_barrier, g_block.barrier_site);
    to_scheduler();
    __builtin_unreachable();
}

void fiber_main(Thread*) {
    g_launch->function->kernel->run(g_launch->params.data());
    thread_exit();
}

void start_fiber(Thread* t) {
    unsigned char* stack = g_stacks[t->linear];
    auto* sp = reinterpret_cast<uint64_t*>(stack + kStack - 8 * 8);  // the stack top is 16-byte aligned
    sp[0] = 0x1F80ull | (0x037Full << 32);  // default MXCSR and x87 control word
    sp[1] = sp[2] = 0;                      // r15, r14
    sp[3] = (uint64_t)&fiber_main;          // r13
    sp[4] = (uint64_t)t;                    // r12
    sp[5] = sp[6] = 0;                      // rbx, rbp
    sp[7] = (uint64_t)&cudasim_trampoline;  // return address
    t->sp = sp;
    t->started = true;
}

void syncthreads(const char* site) {
    Block& b = g_block;
    unsigned total = (unsigned)b.threads.size();
    if (b.live < total)
        fail("barrier divergence: __syncthreads at %s while %u of the block's %u threads have exited", site, total - b.live, total);
    if (b.at_barrier && strcmp(site, b.barrier_site) != 0)
        fail("barrier divergence: __syncthreads at %s while %u threads wait at __syncthreads at %s", site, b.at_barrier, b.barrier_site);
    b.barrier_site = site;
    if (++b.at_barrier == b.live) {
        for (auto& t : b.threads) if (t.state == AT_BARRIER) t.state = READY;
        b.at_barrier = 0;
        return;
    }
    g_thread->state = AT_BARRIER;
    to_scheduler();
}

float bf16_low(unsigned u) { unsigned x = u << 16; float f; memcpy(&f, &x, 4); return f; }
float bf16_high(unsigned u) { unsigned x = u & 0xFFFF0000u; float f; memcpy(&f, &x, 4); return f; }

// D = A·B + C for one warp, from each lane's fragments (the layout of the PTX ISA for m16n8k16 .bf16: lane
// g = lane/4, t = lane%4 holds A[g][2t..], A[g+8][2t..], A[g][2t+8..], A[g+8][2t+8..]; B[2t..][g], B[2t+8..][g];
// C and D [g][2t], [g][2t+1], [g+8][2t], [g+8][2t+1]). Products of bf16 values are exact in float; the hardware's
// order of accumulation is unspecified, this one is sequential over k.
void mma_complete(Thread* lanes) {
    float A[16][16], B[16][8], C[16][8];
    for (int l = 0; l < 32; l++) {
        const unsigned* a = lanes[l].mma_a;
        const unsigned* b = lanes[l].mma_b;
        const float* c = lanes[l].mma_d;
        int g = l / 4, t = l % 4;
        for (int h = 0; h < 2; h++) {
            for (int r = 0; r < 2; r++) {
                A[g + 8 * r][2 * t + 8 * h] = bf16_low(a[2 * h + r]);
                A[g + 8 * r][2 * t + 8 * h + 1] = bf16_high(a[2 * h + r]);
            }
            B[2 * t + 8 * h][g] = bf16_low(b[h]);
            B[2 * t + 8 * h + 1][g] = bf16_high(b[h]);
            C[g + 8 * h][2 * t] = c[2 * h];
            C[g + 8 * h][2 * t + 1] = c[2 * h + 1];
        }
    }
    for (int l = 0; l < 32; l++) {
        int g = l / 4, t = l % 4;
        for (int e = 0; e < 4; e++) {
            int row = g + 8 * (e / 2), col = 2 * t + e % 2;
            float acc = C[row][col];
            for (int k = 0; k < 16; k++) acc += A[row][k] * B[k][col];
            lanes[l].mma_d[e] = acc;
        }
    }
}

void warp_complete(Warp& w, Thread* lanes) {
    unsigned votes = 0;
    for (int l = 0; l < 32; l++) if ((w.mask >> l & 1u) && lanes[l].value) votes |= 1u << l;
    if (w.op == kMma) mma_complete(lanes);
    for (int l = 0; l < 32; l++) {
        if (!(w.mask >> l & 1u)) continue;
        Thread& t = lanes[l];
        switch (w.op) {
        case CUDASIM_SHFL:
            if (t.src >= 0 && !(w.mask >> t.src & 1u))
                fail("a shuffle at %s makes lane %d read lane %d, which is not in its mask 0x%08x", w.site, l, t.src, w.mask);
            t.result = t.src < 0 ? t.value : lanes[t.src].value;
            break;
        case CUDASIM_BALLOT: t.result = votes; break;
        case CUDASIM_ANY: t.result = votes != 0; break;
        case CUDASIM_ALL: t.result = votes == w.mask; break;
        default: break;
        }
        if (&t != g_thread) t.state = READY;
    }
    w.arrived = 0;
    w.mask = 0;
    w.op = 0;
}

// The calling lane joins collective `op` over `mask`; returns when every lane of the mask has joined.
void warp_join(int op, unsigned mask, const char* site) {
    Thread* t = g_thread;
    unsigned lane = t->pub.lane, bit = 1u << lane;
    Warp& w = g_block.warps[t->linear / 32];
    if (!(mask & bit)) fail("%s at %s with mask 0x%08x, which leaves out the calling lane %u", op_name(op), site, mask, lane);
    if (unsigned gone = mask & w.exited)
        fail("%s at %s names lanes 0x%08x (mask 0x%08x) that have exited or are beyond the block", op_name(op), site, gone, mask);
    if (w.arrived && (w.op != op || w.mask != mask))
        fail("divergent warp collectives: lane %u calls %s at %s with mask 0x%08x while lanes 0x%08x wait in %s at %s with mask 0x%08x",
             lane, op_name(op), site, mask, w.arrived, op_name(w.op), w.site, w.mask);
    if (!w.arrived) { w.op = op; w.mask = mask; w.site = site; }
    w.arrived |= bit;
    if (w.arrived == mask) { warp_complete(w, g_block.threads.data() + t->linear / 32 * 32); return; }
    t->state = IN_WARP_OP;
    to_scheduler();
}

unsigned long long warp(int op, unsigned mask, unsigned long long value, int src, const char* site) {
    g_thread->value = value;
    g_thread->src = src;
    warp_join(op, mask, site);
    return g_thread->result;
}

void mma_bf16(float* d, const unsigned* a, unsigned b0, unsigned b1, const char* site) {
    Thread* t = g_thread;
    t->mma_d = d;
    t->mma_a = a;
    t->mma_b[0] = b0;
    t->mma_b[1] = b1;
    t->value = 0;
    warp_join(kMma, 0xffffffffu, site);
}

unsigned active_mask() { return ~g_block.warps[g_thread->linear / 32].exited; }

[[noreturn]] void trap(const char* what, const char* site) { fail("%s at %s", what, site); }

const cudasim_runtime g_runtime = {&g_current, &g_block_idx, &g_block_dim, &g_grid_dim, &g_dynamic_shared,
                                   syncthreads, warp, mma_bf16, active_mask, trap};

// ---- execution order -------------------------------------------------------------------------------------------
uint64_t splitmix(uint64_t& s) {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void fill_order(std::vector<unsigned>& order, size_t n, int mode, uint64_t seed) {
    order.resize(n);
    for (size_t i = 0; i < n; i++) order[i] = (unsigned)(mode == 1 ? n - 1 - i : i);
    if (mode == 2)
        for (size_t i = n; i > 1; i--) std::swap(order[i - 1], order[splitmix(seed) % i]);
}

// ---- faults --------------------------------------------------------------------------------------------------------
void on_fault(int sig, siginfo_t* info, void* context) {
    if (g_in_kernel && pthread_equal(pthread_self(), g_kernel_thread)) {
        g_in_kernel = 0;
        g_fault_signal = sig;
        g_fault_address = info->si_addr;
        g_fault_pc = (void*)static_cast<ucontext_t*>(context)->uc_mcontext.gregs[REG_RIP];
        siglongjmp(g_fault_jump, 1);
    }
    // Not ours: hand it on.
    struct sigaction& old = g_previous[sig];
    if (old.sa_flags & SA_SIGINFO) { if (old.sa_sigaction) { old.sa_sigaction(sig, info, context); return; } }
    else if (old.sa_handler != SIG_DFL && old.sa_handler != SIG_IGN) { old.sa_handler(sig); return; }
    signal(sig, SIG_DFL);
    raise(sig);
}

void install_fault_handlers() {
    static bool installed = false;
    if (installed) return;
    installed = true;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE}) sigaction(sig, &sa, &g_previous[sig]);
}

std::string describe_fault() {
    uintptr_t addr = (uintptr_t)g_fault_address;
    char what[400];
    if (g_fault_signal == SIGILL)
        snprintf(what, sizeof what, "trap: UBSan found an out-of-bounds index or a misaligned access");
    else if (g_fault_signal == SIGFPE)
        snprintf(what, sizeof what, "integer division by zero");
    else {
        std::string where = describe_address(addr);
        uintptr_t shared_end = (uintptr_t)g_dynamic_shared + (g_launch->dynamic_shared + 15) / 16 * 16;
        if (addr >= shared_end && addr < shared_end + kPage)
            where = std::to_string(addr - (uintptr_t)g_dynamic_shared - g_launch->dynamic_shared) + " bytes past the end of the " +
                    std::to_string(g_launch->dynamic_shared) + " bytes of dynamic shared memory";
        for (auto* s : g_stacks) if (addr >= (uintptr_t)s - kPage && addr < (uintptr_t)s) where = "the guard page below its stack: stack overflow";
        snprintf(what, sizeof what, "illegal address 0x%lx, %s", (unsigned long)addr, where.c_str());
    }
    std::string where = source_of(g_launch->function->module, (uintptr_t)g_fault_pc);
    return std::string(what) + (where.empty() ? "" : " in " + where);
}

// ---- the grid ----------------------------------------------------------------------------------------------------------
unsigned char* guarded_buffer(size_t bytes, size_t& capacity, unsigned char*& base) {
    size_t need = std::max(kPage, (bytes + kPage - 1) / kPage * kPage);
    if (need > capacity) {
        if (base) munmap(base - kPage, capacity + 2 * kPage);
        auto* m = (unsigned char*)mmap(nullptr, need + 2 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) return nullptr;
        mprotect(m, kPage, PROT_NONE);
        mprotect(m + kPage + need, kPage, PROT_NONE);
        base = m + kPage;
        capacity = need;
    }
    return base + capacity - (bytes + 15) / 16 * 16;  // the end touches the guard page
}

bool ensure_stacks(size_t n) {
    while (g_stacks.size() < n) {
        auto* m = (unsigned char*)mmap(nullptr, kStack + kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) return false;
        mprotect(m, kPage, PROT_NONE);  // the guard below the stack
        g_stacks.push_back(m + kPage);
    }
    return true;
}

void run_block(unsigned shared_bytes, unsigned char* shared, size_t shared_size, int mode, uint64_t seed) {
    Block& b = g_block;
    const cudasim_dim3& d = g_block_dim;
    unsigned n = d.x * d.y * d.z;
    b.threads.assign(n, Thread{});
    for (unsigned i = 0; i < n; i++) {
        Thread& t = b.threads[i];
        t.linear = i;
        t.pub.idx = {i % d.x, i / d.x % d.y, i / (d.x * d.y)};
        t.pub.lane = i % 32;
        t.state = READY;
    }
    b.warps.assign((n + 31) / 32, Warp{});
    if (n % 32) b.warps.back().exited = ~0u << (n % 32);
    b.live = n;
    b.at_barrier = 0;
    b.barrier_site = nullptr;
    fill_order(b.order, n, mode, seed);
    if (shared_bytes) memset(g_dynamic_shared, 0xFF, shared_bytes);
    if (shared) memset(shared, 0xFF, shared_size);
    while (b.live > 0) {
        bool progressed = false;
        for (unsigned k = 0; k < n; k++) {
            Thread& t = b.threads[b.order[k]];
            if (t.state != READY) continue;
            if (!t.started) start_fiber(&t);
            progressed = true;
            g_thread = &t;
            g_current = &t.pub;
            cudasim_switch(&g_scheduler_sp, t.sp);
            g_thread = nullptr;
            if (!g_error.empty()) return;
        }
        if (!progressed) {  // every live thread waits for one that never comes
            unsigned in_warp_ops = 0;
            const Thread* first = nullptr;
            for (auto& t : b.threads) if (t.state == IN_WARP_OP && !in_warp_ops++) first = &t;
            if (!first) for (auto& t : b.threads) if (t.state == AT_BARRIER) { first = &t; break; }
            const Warp& w = b.warps[first->linear / 32];
            std::string mine = first->state == IN_WARP_OP
                ? std::string("waits in ") + op_name(w.op) + " at " + w.site + " for lanes that never join; "
                : std::string("waits at __syncthreads at ") + b.barrier_site + "; ";
            report(first, "deadlock: %s%u threads wait at __syncthreads, %u in warp collectives, %u have exited", mine.c_str(), b.at_barrier,
                   in_warp_ops, n - b.live);
            return;
        }
    }
}

}  // namespace

const cudasim_runtime* runtime() { return &g_runtime; }

CUresult run_grid(const Launch& launch, std::string& message) {
    static size_t shared_capacity = 0;
    static unsigned char* shared_base = nullptr;
    static unsigned char altstack[64 * 1024];
    g_launch = &launch;
    g_error.clear();
    g_block_dim = launch.block;
    g_grid_dim = launch.grid;
    g_block_idx = {0, 0, 0};
    unsigned threads = launch.block.x * launch.block.y * launch.block.z;
    g_dynamic_shared = guarded_buffer(launch.dynamic_shared, shared_capacity, shared_base);
    if (!g_dynamic_shared || !ensure_stacks(threads)) {
        message = std::string(launch.function->kernel->name) + ": out of host memory for the simulated block";
        return CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES;
    }
    const Module* module = launch.function->module;
    unsigned char* shared = module_shared(module);
    int mode = env_int("CUDASIM_ORDER", 0);
    uint64_t seed = (uint64_t)env_int("CUDASIM_SEED", 0) * 0x2545F4914F6CDD1Dull + 1;
    size_t blocks = (size_t)launch.grid.x * launch.grid.y * launch.grid.z;
    std::vector<unsigned> block_order;
    fill_order(block_order, blocks, mode, seed);

    install_fault_handlers();
    g_kernel_thread = pthread_self();
    // Faults on a fiber's stack (an overflow) need a stack of their own for the handler.
    stack_t ours{}, previous{};
    ours.ss_sp = altstack;
    ours.ss_size = sizeof altstack;
    sigaltstack(&ours, &previous);
    volatile CUresult result = CUDA_SUCCESS;  // set on both sides of the sigsetjmp
    if (sigsetjmp(g_fault_jump, 1)) {
        g_error = prefix(g_thread) + describe_fault();
        result = g_fault_signal == SIGSEGV || g_fault_signal == SIGBUS ? CUDA_ERROR_ILLEGAL_ADDRESS : CUDA_ERROR_LAUNCH_FAILED;
    } else {
        for (size_t k = 0; k < blocks && g_error.empty(); k++) {
            size_t i = block_order[k];
            g_block_idx = {(unsigned)(i % launch.grid.x), (unsigned)(i / launch.grid.x % launch.grid.y),
                           (unsigned)(i / ((size_t)launch.grid.x * launch.grid.y))};
            g_in_kernel = 1;
            run_block(launch.dynamic_shared, shared, module->shared_bytes, mode, seed ^ (i * 0x9E3779B97F4A7C15ull));
            g_in_kernel = 0;
        }
        if (!g_error.empty()) result = CUDA_ERROR_LAUNCH_FAILED;
    }
    g_in_kernel = 0;
    g_thread = nullptr;
    sigaltstack(&previous, nullptr);
    message = g_error;
    return result;
}

}  // namespace sim
