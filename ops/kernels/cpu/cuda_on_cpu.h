// CUDA on the CPU: what ops/kernels/*.cu take from CUDA, defined for the host C++ compiler,
// and the grid runner of the test harness (ops/_cpu_kernels.py; docs/ops.md, "How the
// kernels are verified"). The kernel sources compile unchanged after this header.
//
// Arithmetic matches the GPU where the kernels ask for it: the _rn intrinsics are plain
// IEEE operations here, and the harness compiles with -ffp-contract=off as NVRTC gets
// --fmad=false, so no a*b+c is fused on either side. Math library calls (expf, ...) are
// glibc's and may differ from CUDA's in the last bit.
#pragma once

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <ucontext.h>

#include <type_traits>

#define __global__
#define __device__
#define __forceinline__ inline
// One block runs at a time (under the harness's lock), so a function-static variable is
// exactly one block's shared memory. Its contents carry over from the previous block, as
// uninitialised shared memory may on a GPU.
#define __shared__ static

struct uint3 { unsigned int x, y, z; };
struct dim3 { unsigned int x, y, z; };

static uint3 threadIdx, blockIdx;
static dim3 blockDim, gridDim;

// ---- rounding intrinsics: IEEE round-to-nearest-even, as on the GPU -------------------
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fdiv_rn(float a, float b) { return a / b; }
static inline double __dadd_rn(double a, double b) { return a + b; }
static inline double __dsub_rn(double a, double b) { return a - b; }
static inline double __dmul_rn(double a, double b) { return a * b; }
static inline double __ddiv_rn(double a, double b) { return a / b; }
static inline float __double2float_rn(double d) { return (float)d; }

// cvt.rni.s32: nearest even, saturating, NaN -> 0 (a C cast would be undefined there).
static inline int __double2int_rn(double d) {
    if (d != d) return 0;
    if (d >= 2147483647.0) return INT_MAX;
    if (d <= -2147483648.0) return INT_MIN;
    return (int)nearbyint(d);
}
static inline int __float2int_rn(float f) { return __double2int_rn((double)f); }

// CUDA's integer min/max; mixed integer types follow C++'s usual conversions. (The kernels
// call fminf/fmin for floating point, which <math.h> gives.)
template <typename A, typename B,
          typename = typename std::enable_if<std::is_integral<A>::value &&
                                             std::is_integral<B>::value>::type>
static inline typename std::common_type<A, B>::type min(A a, B b) { return b < a ? b : a; }
template <typename A, typename B,
          typename = typename std::enable_if<std::is_integral<A>::value &&
                                             std::is_integral<B>::value>::type>
static inline typename std::common_type<A, B>::type max(A a, B b) { return a < b ? b : a; }

// ---- inline PTX, portably ---------------------------------------------------------------
// Each PTX instruction the kernels use sits in one named function in common.cuh behind
// #ifndef TVO_PTX_PORTABLE; here is the same function in plain C++.
#define TVO_PTX_PORTABLE 1

// cvt.f32.f16: IEEE binary16 bits -> float (exact).
static inline float half_to_float(unsigned short h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, bits;
    if (exp == 0x1fu) {
        bits = sign | 0x7f800000u | (man << 13);            // inf, nan (payload kept)
    } else if (exp != 0) {
        bits = sign | ((exp + 112u) << 23) | (man << 13);   // normal: rebias 15 -> 127
    } else if (man == 0) {
        bits = sign;                                        // +-0
    } else {                                                // subnormal: normalise
        exp = 113u;
        while (!(man & 0x400u)) { man <<= 1; --exp; }
        bits = sign | (exp << 23) | ((man & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

// ---- the grid runner ----------------------------------------------------------------------
namespace cuda_on_cpu {

typedef void (*Body)(void** args);

struct Launch {
    const char* kernel;
    Body body;
    void** args;
    char* err;
    int errlen;
};

static Launch* current;
static sigjmp_buf fault_jump;
static volatile sig_atomic_t fault_signal;
static void* volatile fault_address;
static pthread_t launcher;
// SIGALRM: the watchdog (a launch running past its time limit: an endless loop?).
static const int N_SIGNALS = 4;
static const int fault_signals[N_SIGNALS] = {SIGSEGV, SIGBUS, SIGFPE, SIGALRM};
static struct sigaction previous[N_SIGNALS];

// The launch's error: "kernel K: what (block x,y,z thread x,y,z)".
static void fail(const char* what) {
    snprintf(current->err, current->errlen, "kernel %s: %s (block %u,%u,%u thread %u,%u,%u)",
             current->kernel, what, blockIdx.x, blockIdx.y, blockIdx.z, threadIdx.x,
             threadIdx.y, threadIdx.z);
}

// A fault on the launching thread ends the launch with an error; one on any other thread
// goes to whoever handled it before (Python's faulthandler, or the default action). The
// watchdog's SIGALRM goes to the process: it is passed on to the launching thread.
static void on_fault(int sig, siginfo_t* info, void* ctx) {
    if (pthread_equal(pthread_self(), launcher)) {
        fault_signal = sig;
        fault_address = info->si_addr;
        siglongjmp(fault_jump, 1);
    }
    if (sig == SIGALRM) {
        pthread_kill(launcher, SIGALRM);
        return;
    }
    for (int i = 0; i < N_SIGNALS; ++i) {
        if (fault_signals[i] != sig) continue;
        if (previous[i].sa_flags & SA_SIGINFO) {
            previous[i].sa_sigaction(sig, info, ctx);
        } else if (previous[i].sa_handler != SIG_IGN && previous[i].sa_handler != SIG_DFL) {
            previous[i].sa_handler(sig);
        } else {
            signal(sig, SIG_DFL);  // returning re-executes the access: default action
        }
    }
}

// ---- cooperative mode: one fiber per thread of the block, for __syncthreads ----------
enum State { READY, AT_BARRIER, DONE };
static const size_t FIBER_STACK = 256 * 1024;
static ucontext_t scheduler;
static ucontext_t* fibers;
static State* states;
static const char** barrier_files;
static int* barrier_lines;
static int running;       // the fiber now executing; -1 outside cooperative mode
static bool cooperative;

static void fiber_main() {
    current->body(current->args);
    states[running] = DONE;
}  // returns to `scheduler` (uc_link)

}  // namespace cuda_on_cpu

// __syncthreads: every thread of the block reaches the same call (file and line: the
// compiler may duplicate a call, a source line it cannot) before any goes on.
static void tvo_syncthreads(const char* file, int line) {
    using namespace cuda_on_cpu;
    if (!cooperative) {
        if (blockDim.x * blockDim.y * blockDim.z == 1) return;
        fail("__syncthreads in a module compiled without cooperative mode");
        siglongjmp(fault_jump, 2);
    }
    barrier_files[running] = file;
    barrier_lines[running] = line;
    states[running] = AT_BARRIER;
    swapcontext(&fibers[running], &scheduler);
}
#define __syncthreads() tvo_syncthreads(__FILE__, __LINE__)

namespace cuda_on_cpu {

static void set_thread(unsigned t) {
    threadIdx.x = t % blockDim.x;
    threadIdx.y = (t / blockDim.x) % blockDim.y;
    threadIdx.z = t / (blockDim.x * blockDim.y);
}

// One block as fibers; false (with the message written) on a divergent barrier.
static bool run_block_cooperative(unsigned nthreads, char* stacks) {
    for (unsigned t = 0; t < nthreads; ++t) {
        getcontext(&fibers[t]);
        fibers[t].uc_stack.ss_sp = stacks + (size_t)t * FIBER_STACK;
        fibers[t].uc_stack.ss_size = FIBER_STACK;
        fibers[t].uc_link = &scheduler;
        makecontext(&fibers[t], fiber_main, 0);
        states[t] = READY;
    }
    for (;;) {
        for (unsigned t = 0; t < nthreads; ++t) {
            if (states[t] != READY) continue;
            running = (int)t;
            set_thread(t);
            swapcontext(&scheduler, &fibers[t]);
        }
        unsigned waiting = 0, done = 0, first_waiting = 0, first_done = 0;
        for (unsigned t = 0; t < nthreads; ++t) {
            if (states[t] == AT_BARRIER && waiting++ == 0) first_waiting = t;
            if (states[t] == DONE && done++ == 0) first_done = t;
        }
        if (done == nthreads) return true;
        for (unsigned t = 0; t < nthreads; ++t) {
            if (done || barrier_lines[t] != barrier_lines[first_waiting] ||
                strcmp(barrier_files[t], barrier_files[first_waiting]) != 0) {
                set_thread(done ? first_done : t);
                fail(done ? "a thread returned while others wait at __syncthreads "
                            "(a divergent barrier: undefined in CUDA)"
                          : "threads wait at different __syncthreads calls "
                            "(a divergent barrier: undefined in CUDA)");
                return false;
            }
        }
        for (unsigned t = 0; t < nthreads; ++t) states[t] = READY;
    }
}

// Runs kernel `kernel` over grid x block. 0: done; 1: an error, described in err.
// timeout_ms > 0: the watchdog ends a launch running longer, with an error.
static int run_grid(const char* kernel, bool uses_barriers, const unsigned* grid,
                    const unsigned* block, Body body, void** args, char* err, int errlen,
                    int timeout_ms) {
    Launch launch = {kernel, body, args, err, errlen};
    current = &launch;
    gridDim.x = grid[0]; gridDim.y = grid[1]; gridDim.z = grid[2];
    blockDim.x = block[0]; blockDim.y = block[1]; blockDim.z = block[2];
    const unsigned nthreads = block[0] * block[1] * block[2];
    cooperative = uses_barriers && nthreads > 1;
    running = -1;
    err[0] = 0;

    char* stacks = NULL;
    if (cooperative) {
        stacks = (char*)malloc((size_t)nthreads * FIBER_STACK);
        fibers = (ucontext_t*)calloc(nthreads, sizeof(ucontext_t));
        states = (State*)calloc(nthreads, sizeof(State));
        barrier_files = (const char**)calloc(nthreads, sizeof(char*));
        barrier_lines = (int*)calloc(nthreads, sizeof(int));
        if (!stacks || !fibers || !states || !barrier_files || !barrier_lines) {
            snprintf(err, errlen, "kernel %s: no memory for %u fiber stacks", kernel, nthreads);
            free(stacks); free(fibers); free(states); free(barrier_files); free(barrier_lines);
            return 1;
        }
    }
    // A stack of its own for the fault handler: a fiber's overflow must still be reported.
    static char alt_stack[64 * 1024];
    stack_t alt = {}, old_alt;
    alt.ss_sp = alt_stack;
    alt.ss_size = sizeof alt_stack;
    sigaltstack(&alt, &old_alt);
    struct sigaction sa = {};
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    launcher = pthread_self();
    for (int i = 0; i < N_SIGNALS; ++i) sigaction(fault_signals[i], &sa, &previous[i]);
    static struct itimerval watchdog, old_timer;  // static: intact across siglongjmp
    static volatile bool armed;
    armed = false;
    watchdog.it_value.tv_sec = timeout_ms / 1000;
    watchdog.it_value.tv_usec = (timeout_ms % 1000) * 1000;

    int status = 0;
    const int jumped = sigsetjmp(fault_jump, 1);
    if (jumped == 1 && fault_signal == SIGALRM) {
        char what[160];
        snprintf(what, sizeof what, "ran longer than the harness's %d ms limit (an endless "
                 "loop?)", timeout_ms);
        fail(what);
        status = 1;
    } else if (jumped == 1) {
        char what[160];
        snprintf(what, sizeof what, "%s at address %p",
                 fault_signal == SIGFPE ? "SIGFPE (integer division by zero?)"
                 : fault_signal == SIGBUS ? "SIGBUS" : "SIGSEGV (an access outside every array)",
                 fault_address);
        fail(what);
        status = 1;
    } else if (jumped == 2) {
        status = 1;
    } else {
        if (timeout_ms > 0) armed = setitimer(ITIMER_REAL, &watchdog, &old_timer) == 0;
        for (unsigned bz = 0; bz < grid[2] && !status; ++bz)
            for (unsigned by = 0; by < grid[1] && !status; ++by)
                for (unsigned bx = 0; bx < grid[0] && !status; ++bx) {
                    blockIdx.x = bx; blockIdx.y = by; blockIdx.z = bz;
                    if (cooperative) {
                        if (!run_block_cooperative(nthreads, stacks)) status = 1;
                        continue;
                    }
                    for (unsigned t = 0; t < nthreads; ++t) {
                        set_thread(t);
                        body(args);
                    }
                }
    }

    if (armed) setitimer(ITIMER_REAL, &old_timer, NULL);  // whoever timed before, as it was
    for (int i = 0; i < N_SIGNALS; ++i) sigaction(fault_signals[i], &previous[i], NULL);
    sigaltstack(&old_alt, NULL);
    if (cooperative) {
        free(stacks); free(fibers); free(states); free(barrier_files); free(barrier_lines);
    }
    cooperative = false;
    current = NULL;
    return status;
}

}  // namespace cuda_on_cpu
