// host.h: what the parts of libcudasim.so share. Every exported entry point takes the one lock, and all simulated
// device work runs on the calling thread under it, so the rest of the library is single-threaded. A failing call
// logs its reason and remembers it, so cuGetErrorString can say what went wrong rather than only name the code.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>
#include "../device/cudasim_abi.h"

#define EXPORT extern "C" __attribute__((visibility("default")))
#define LOCK std::lock_guard<std::mutex> lock_guard_(::sim::api_lock)

typedef int CUresult;
typedef unsigned long long CUdeviceptr;
enum : CUresult {
    CUDA_SUCCESS = 0, CUDA_ERROR_INVALID_VALUE = 1, CUDA_ERROR_OUT_OF_MEMORY = 2, CUDA_ERROR_INVALID_DEVICE = 101,
    CUDA_ERROR_INVALID_IMAGE = 200, CUDA_ERROR_INVALID_HANDLE = 400, CUDA_ERROR_NOT_FOUND = 500, CUDA_ERROR_NOT_READY = 600,
    CUDA_ERROR_ILLEGAL_ADDRESS = 700, CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES = 701, CUDA_ERROR_LAUNCH_FAILED = 719,
    CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED = 900, CUDA_ERROR_STREAM_CAPTURE_INVALIDATED = 901,
    CUDA_ERROR_STREAM_CAPTURE_IMPLICIT = 906,
};

namespace sim {
extern std::mutex api_lock;

int env_int(const char* name, int fallback);

// CUDASIM_DRYRUN=1: launches and GEMMs are checked and queued but not executed (copies and memsets still run), so a
// full-size training step can be profiled on a CPU in seconds. Every number it computes is garbage.
inline bool dry_run() { return env_int("CUDASIM_DRYRUN", 0) != 0; }
// CUDASIM_LOG=file receives everything; without it errors go to stderr and the rest is dropped.
void log_info(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// Logs "ERROR <message>", remembers it for cuGetErrorString(code) and returns code.
CUresult error(CUresult code, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
// Remembers (code, message) for cuGetErrorString without logging it again.
void remember_error(CUresult code, const std::string& message);
// The message of the latest failure with this code (for cuGetErrorString), else null.
const char* last_error_message(CUresult code);
bool tracing();  // CUDASIM_TRACE=1: log every launch, GEMM and copy

// ---- memory (driver_memory.cpp) ----
// True when [p, p + n) lies inside one device allocation; else logs why (naming `what`) and returns false.
bool device_range(uintptr_t p, size_t n, const char* what);
// Where a faulting address lies relative to the allocations ("12 bytes past the end of the allocation at ...").
std::string describe_address(uintptr_t p);
// True for page-locked host memory from cuMemAllocHost (any address inside it).
bool is_pinned(uintptr_t p);

// ---- stream work (streams_graphs.cpp) ----
using Work = std::function<CUresult()>;
// Queues work on `stream` (0: the legacy stream), or records it into the stream's capture.
CUresult enqueue(void* stream, Work work, const char* what);
// A call that waits for the device: refused during a capture (which it invalidates), else runs the queue and
// returns the first asynchronous error since the last synchronisation.
CUresult synchronize(const char* what);
// Runs the queue; an error stays pending for the next synchronize (cuMemFree, cuModuleUnload).
void drain();
bool capture_active();
// An allocation call during a capture in global or thread-local mode (the driver invalidates the capture).
CUresult check_capture_allows(const char* what);
bool stream_is_capturing(void* stream);

// ---- kernels (module.cpp, scheduler.cpp) ----
struct Module {
    void* dl;
    int fd;                           // the memfd holding the .so, kept open for addr2line
    const cudasim_kernel* kernels;
    int kernel_count;
    void* (*touch_shared)();
    size_t shared_bytes;              // the .so's thread-local block: every static __shared__ of its kernels
};
struct Function {
    Module* module;
    const cudasim_kernel* kernel;
    int max_dynamic_shared;
};
struct Launch {
    const Function* function;
    cudasim_dim3 grid, block;
    unsigned dynamic_shared;
    std::vector<void*> params;        // into `storage`
    std::vector<unsigned char> storage;
};
// The start of every image the simulated NVRTC makes (followed by the .so's size and bytes).
extern const char kImageMagic[];
// The calling thread's copy of the module's shared-memory block.
unsigned char* module_shared(const Module* m);
// "file:line (function)" for an address inside a kernel .so, or "" when unknown.
std::string source_of(const Module* m, uintptr_t address);
// Runs the launch to completion; on failure, `message` names kernel, block and thread.
CUresult run_grid(const Launch& launch, std::string& message);
const cudasim_runtime* runtime();
}  // namespace sim
