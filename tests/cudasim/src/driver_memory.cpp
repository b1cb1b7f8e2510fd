// driver_memory.cpp: the driver API's device, context and memory calls, and the library's shared helpers
// (lock, log, errors). One device: compute capability 9.0, 16 GiB, the limits of an H100/H200 where Electra asks.
//
// Device memory is host memory laid out so that mistakes fault: each allocation gets its own mapping whose end
// (rounded up to 256 bytes, the driver's alignment) touches a PROT_NONE page, and fresh memory holds 0xFF bytes
// (NaN floats, -1 ints; CUDASIM_POISON=0 gives zeros). Freed memory is unmapped, so a later use faults too.
// Copies check that their device side lies inside one live allocation.
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sys/mman.h>
#include <unistd.h>
#include "host.h"

namespace sim {

std::mutex api_lock;

int env_int(const char* name, int fallback) {
    const char* v = getenv(name);
    return v && *v ? atoi(v) : fallback;
}

bool tracing() { return env_int("CUDASIM_TRACE", 0) != 0; }

namespace {
CUresult g_last_code = CUDA_SUCCESS;
std::string g_last_message;

void write_log(bool is_error, const char* text) {
    const char* path = getenv("CUDASIM_LOG");
    if (path && *path) {
        if (FILE* f = fopen(path, "a")) {
            fprintf(f, "[%d] %s%s\n", (int)getpid(), is_error ? "ERROR " : "", text);
            fclose(f);
        }
    } else if (is_error) {
        fprintf(stderr, "cudasim: %s\n", text);
    }
}
}  // namespace

void log_info(const char* fmt, ...) {
    char b[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    write_log(false, b);
}

CUresult error(CUresult code, const char* fmt, ...) {
    char b[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    write_log(true, b);
    remember_error(code, b);
    return code;
}

void remember_error(CUresult code, const std::string& message) {
    g_last_code = code;
    g_last_message = message;
}

// The message of the latest failure with this code, else null.
const char* last_error_message(CUresult code) { return code == g_last_code && code ? g_last_message.c_str() : nullptr; }

namespace {
constexpr size_t kPage = 4096, kTotalMemory = 16ull << 30;

struct Allocation {
    uintptr_t base;
    size_t size;
    void* map;
    size_t map_size;
    bool pinned;
};
std::map<uintptr_t, Allocation> g_allocations;  // by base
size_t g_device_bytes = 0;

size_t rounded(size_t bytes) { return bytes == 0 ? 256 : (bytes + 255) / 256 * 256; }

bool map_guarded(size_t bytes, bool pinned, bool poison, Allocation& a) {
    size_t r = rounded(bytes), pages = (r + kPage - 1) / kPage, map_size = (pages + 2) * kPage;
    void* m = mmap(nullptr, map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return false;
    mprotect(m, kPage, PROT_NONE);
    mprotect((char*)m + (pages + 1) * kPage, kPage, PROT_NONE);
    uintptr_t base = (uintptr_t)m + (pages + 1) * kPage - r;
    if (poison) memset((void*)base, 0xFF, r);
    a = Allocation{base, bytes, m, map_size, pinned};
    g_allocations[base] = a;
    return true;
}

const Allocation* find(uintptr_t p) {
    auto it = g_allocations.upper_bound(p);
    if (it == g_allocations.begin()) return nullptr;
    --it;
    return p < it->second.base + rounded(it->second.size) ? &it->second : nullptr;
}
}  // namespace

bool device_range(uintptr_t p, size_t n, const char* what) {
    if (n == 0) return true;
    const Allocation* a = find(p);
    if (!a || a->pinned) {
        error(CUDA_ERROR_INVALID_VALUE, "%s: 0x%lx is not device memory", what, (unsigned long)p);
        return false;
    }
    if (p + n > a->base + a->size) {
        error(CUDA_ERROR_INVALID_VALUE, "%s: %zu bytes at 0x%lx overrun the allocation at 0x%lx of %zu bytes by %zu", what, n, (unsigned long)p,
              (unsigned long)a->base, a->size, (size_t)(p + n - a->base - a->size));
        return false;
    }
    return true;
}

std::string describe_address(uintptr_t p) {
    char b[200];
    auto above = g_allocations.upper_bound(p);
    if (above != g_allocations.begin()) {
        const Allocation& a = std::prev(above)->second;
        if (p >= a.base + a.size && p < (uintptr_t)a.map + a.map_size) {
            snprintf(b, sizeof b, "%zu bytes past the end of the allocation at 0x%lx of %zu bytes", (size_t)(p - a.base - a.size), (unsigned long)a.base, a.size);
            return b;
        }
    }
    if (above != g_allocations.end() && p >= (uintptr_t)above->second.map) {
        snprintf(b, sizeof b, "%zu bytes before the allocation at 0x%lx", (size_t)(above->second.base - p), (unsigned long)above->second.base);
        return b;
    }
    return "not in any live allocation (freed, or never allocated)";
}

bool is_pinned(uintptr_t p) {
    const Allocation* a = find(p);
    return a && a->pinned;
}

namespace {
// A host pointer handed in as a host pointer must not be device memory (a swapped argument).
bool host_range(uintptr_t p, size_t n, const char* what) {
    const Allocation* a = n ? find(p) : nullptr;
    if (a && !a->pinned) {
        error(CUDA_ERROR_INVALID_VALUE, "%s: the host side 0x%lx is device memory", what, (unsigned long)p);
        return false;
    }
    if (a && p + n > a->base + a->size) {
        error(CUDA_ERROR_INVALID_VALUE, "%s: %zu bytes at 0x%lx overrun the pinned buffer of %zu bytes", what, n, (unsigned long)p, a->size);
        return false;
    }
    return true;
}

CUresult copy_now(uintptr_t dst, uintptr_t src, size_t n) {
    memmove((void*)dst, (const void*)src, n);
    return CUDA_SUCCESS;
}

enum Kind { H2D, D2H, D2D };
bool check_copy(Kind k, uintptr_t dst, uintptr_t src, size_t n, const char* what) {
    bool ok = k == H2D ? device_range(dst, n, what) && host_range(src, n, what)
            : k == D2H ? host_range(dst, n, what) && device_range(src, n, what)
                       : device_range(dst, n, what) && device_range(src, n, what);
    if (ok && tracing()) log_info("%s %zu bytes 0x%lx -> 0x%lx", what, n, (unsigned long)src, (unsigned long)dst);
    return ok;
}

CUresult copy_sync(Kind k, uintptr_t dst, uintptr_t src, size_t n, const char* what) {
    LOCK;
    if (CUresult r = synchronize(what)) return r;
    if (!check_copy(k, dst, src, n, what)) return CUDA_ERROR_INVALID_VALUE;
    return copy_now(dst, src, n);
}

// Pageable host memory makes an asynchronous copy partly synchronous, as in the driver: the source of a
// host-to-device copy is staged before the call returns, a device-to-host copy completes before it returns. Neither
// can be captured into a graph.
CUresult copy_async(Kind k, uintptr_t dst, uintptr_t src, size_t n, void* stream, const char* what) {
    LOCK;
    if (!check_copy(k, dst, src, n, what)) return CUDA_ERROR_INVALID_VALUE;
    bool pageable = (k == H2D && !is_pinned(src)) || (k == D2H && !is_pinned(dst));
    if (pageable && stream_is_capturing(stream)) {
        synchronize(what);  // refused during a capture: invalidates it
        return error(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "%s: pageable host memory cannot be captured into a graph", what);
    }
    if (pageable && k == H2D) {
        auto staged = std::make_shared<std::vector<unsigned char>>((unsigned char*)src, (unsigned char*)src + n);
        return enqueue(stream, [=] { return copy_now(dst, (uintptr_t)staged->data(), n); }, what);
    }
    if (pageable) {
        if (CUresult r = synchronize(what)) return r;
        return copy_now(dst, src, n);
    }
    return enqueue(stream, [=] { return copy_now(dst, src, n); }, what);
}

CUresult memset_work(uintptr_t d, unsigned value, size_t count, int width) {
    if (width == 1) memset((void*)d, (int)value, count);
    else for (size_t i = 0; i < count; i++) ((unsigned*)d)[i] = value;
    return CUDA_SUCCESS;
}

CUresult memset_call(uintptr_t d, unsigned value, size_t count, int width, bool async, void* stream, const char* what) {
    LOCK;
    if (width == 4 && d % 4) return error(CUDA_ERROR_INVALID_VALUE, "%s: 0x%lx is not 4-byte aligned", what, (unsigned long)d);
    if (!device_range(d, count * width, what)) return CUDA_ERROR_INVALID_VALUE;
    if (!async)
        if (CUresult r = synchronize(what)) return r;
    return enqueue(async ? stream : nullptr, [=] { return memset_work(d, value, count, width); }, what);
}
}  // namespace
}  // namespace sim

using namespace sim;

EXPORT CUresult cuInit(unsigned) { return CUDA_SUCCESS; }
EXPORT CUresult cuDriverGetVersion(int* v) { *v = 12080; return CUDA_SUCCESS; }
EXPORT CUresult cuDeviceGetCount(int* n) { *n = 1; return CUDA_SUCCESS; }
EXPORT CUresult cuDeviceGet(int* d, int ordinal) {
    if (ordinal != 0) return error(CUDA_ERROR_INVALID_DEVICE, "cuDeviceGet(%d): the simulator has device 0 only", ordinal);
    *d = 0;
    return CUDA_SUCCESS;
}
EXPORT CUresult cuDeviceGetName(char* name, int length, int) { snprintf(name, length, "CPU simulator (cudasim)"); return CUDA_SUCCESS; }
EXPORT CUresult cuDeviceGetAttribute(int* v, int attribute, int) {
    switch (attribute) {
    case 1: case 2: case 3: *v = 1024; break;     // threads per block, block x and y
    case 4: *v = 64; break;                       // block z
    case 5: *v = 2147483647; break;               // grid x
    case 6: case 7: *v = 65535; break;            // grid y, z
    case 8: *v = 48 * 1024; break;                // shared memory per block without opt-in
    case 10: *v = 32; break;                      // warp size
    case 12: case 82: *v = 65536; break;          // registers per block / per SM
    case 13: *v = 1980000; break;                 // clock, kHz
    case 16: *v = 132; break;                     // SMs
    case 36: *v = 2619000; break;                 // memory clock, kHz
    case 37: *v = 5120; break;                    // memory bus width, bits
    case 38: *v = 50 * 1024 * 1024; break;        // L2
    case 39: *v = 2048; break;                    // threads per SM
    case 75: *v = 9; break;                       // compute capability
    case 76: *v = 0; break;
    case 81: *v = 228 * 1024; break;              // shared memory per SM
    case 97: *v = 227 * 1024; break;              // shared memory per block with opt-in
    default: *v = 0; break;
    }
    return CUDA_SUCCESS;
}
EXPORT CUresult cuDeviceTotalMem_v2(size_t* bytes, int) { *bytes = kTotalMemory; return CUDA_SUCCESS; }

int g_primary_context;
EXPORT CUresult cuDevicePrimaryCtxRetain(void** context, int) { *context = &g_primary_context; return CUDA_SUCCESS; }
EXPORT CUresult cuDevicePrimaryCtxRelease_v2(int) { return CUDA_SUCCESS; }
EXPORT CUresult cuCtxSetCurrent(void*) { return CUDA_SUCCESS; }
EXPORT CUresult cuCtxSynchronize() { LOCK; return synchronize("cuCtxSynchronize"); }

EXPORT CUresult cuMemGetInfo_v2(size_t* free_bytes, size_t* total) {
    LOCK;
    *total = kTotalMemory;
    *free_bytes = kTotalMemory - g_device_bytes;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemAlloc_v2(CUdeviceptr* p, size_t bytes) {
    LOCK;
    if (bytes == 0) return error(CUDA_ERROR_INVALID_VALUE, "cuMemAlloc of 0 bytes");
    if (CUresult r = check_capture_allows("cuMemAlloc")) return r;
    Allocation a;
    if (g_device_bytes + bytes > kTotalMemory || !map_guarded(bytes, false, env_int("CUDASIM_POISON", 1) != 0, a))
        return error(CUDA_ERROR_OUT_OF_MEMORY, "cuMemAlloc of %zu bytes: out of memory (%zu in use)", bytes, g_device_bytes);
    g_device_bytes += bytes;
    *p = a.base;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemFree_v2(CUdeviceptr p) {
    LOCK;
    if (p == 0) return CUDA_SUCCESS;
    if (CUresult r = check_capture_allows("cuMemFree")) return r;
    if (!capture_active()) drain();  // the driver waits for the device before it frees
    auto it = g_allocations.find((uintptr_t)p);
    if (it == g_allocations.end() || it->second.pinned) return error(CUDA_ERROR_INVALID_VALUE, "cuMemFree(0x%llx): not the start of a device allocation", p);
    g_device_bytes -= it->second.size;
    munmap(it->second.map, it->second.map_size);
    g_allocations.erase(it);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemAllocHost_v2(void** p, size_t bytes) {
    LOCK;
    Allocation a;
    if (!map_guarded(bytes, true, false, a)) return error(CUDA_ERROR_OUT_OF_MEMORY, "cuMemAllocHost of %zu bytes: out of memory", bytes);
    *p = (void*)a.base;
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemFreeHost(void* p) {
    LOCK;
    auto it = g_allocations.find((uintptr_t)p);
    if (it == g_allocations.end() || !it->second.pinned) return error(CUDA_ERROR_INVALID_VALUE, "cuMemFreeHost(%p): not a pinned allocation", p);
    munmap(it->second.map, it->second.map_size);
    g_allocations.erase(it);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr d, const void* s, size_t n) { return copy_sync(H2D, d, (uintptr_t)s, n, "cuMemcpyHtoD"); }
EXPORT CUresult cuMemcpyDtoH_v2(void* d, CUdeviceptr s, size_t n) { return copy_sync(D2H, (uintptr_t)d, s, n, "cuMemcpyDtoH"); }
EXPORT CUresult cuMemcpyDtoD_v2(CUdeviceptr d, CUdeviceptr s, size_t n) { return copy_sync(D2D, d, s, n, "cuMemcpyDtoD"); }
EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr d, const void* s, size_t n, void* st) { return copy_async(H2D, d, (uintptr_t)s, n, st, "cuMemcpyHtoDAsync"); }
EXPORT CUresult cuMemcpyDtoHAsync_v2(void* d, CUdeviceptr s, size_t n, void* st) { return copy_async(D2H, (uintptr_t)d, s, n, st, "cuMemcpyDtoHAsync"); }
EXPORT CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr d, CUdeviceptr s, size_t n, void* st) { return copy_async(D2D, d, s, n, st, "cuMemcpyDtoDAsync"); }
EXPORT CUresult cuMemsetD8_v2(CUdeviceptr d, unsigned char v, size_t n) { return memset_call(d, v, n, 1, false, nullptr, "cuMemsetD8"); }
EXPORT CUresult cuMemsetD32_v2(CUdeviceptr d, unsigned v, size_t n) { return memset_call(d, v, n, 4, false, nullptr, "cuMemsetD32"); }
EXPORT CUresult cuMemsetD8Async(CUdeviceptr d, unsigned char v, size_t n, void* st) { return memset_call(d, v, n, 1, true, st, "cuMemsetD8Async"); }
EXPORT CUresult cuMemsetD32Async(CUdeviceptr d, unsigned v, size_t n, void* st) { return memset_call(d, v, n, 4, true, st, "cuMemsetD32Async"); }
