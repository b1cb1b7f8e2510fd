// module.cpp: the module loader and kernel launches. A "CUBIN" from the simulated NVRTC is a magic line followed by
// a kernel .so; loading writes the .so into a memfd and dlopens it, so an image works wherever it is cached.
// Launches are checked as the driver checks them (grid and block limits, __launch_bounds__, dynamic shared memory
// against the function's limit) and queued; the parameters are copied at the call, as the driver copies them.
#include <cstring>
#include <dlfcn.h>
#include <link.h>
#include <sys/mman.h>
#include <unistd.h>
#include "host.h"

namespace sim {

const char kImageMagic[] = "CUDASIM-KERNEL-SO\n";

unsigned char* module_shared(const Module* m) {
    m->touch_shared();
    void* block = nullptr;
    dlinfo(m->dl, RTLD_DI_TLS_DATA, &block);
    return static_cast<unsigned char*>(block);
}

std::string source_of(const Module* m, uintptr_t address) {
    Dl_info info;
    if (!dladdr((void*)address, &info) || !info.dli_fbase) return "";
    char cmd[256];
    snprintf(cmd, sizeof cmd, "addr2line -C -f -e /proc/%d/fd/%d 0x%lx 2>/dev/null", (int)getpid(), m->fd,
             (unsigned long)(address - (uintptr_t)info.dli_fbase));
    FILE* p = popen(cmd, "r");
    if (!p) return "";
    char function[512] = "", line[512] = "";
    if (!fgets(function, sizeof function, p) || !fgets(line, sizeof line, p)) line[0] = 0;
    pclose(p);
    function[strcspn(function, "\n")] = line[strcspn(line, "\n")] = 0;
    if (!line[0] || line[0] == '?') return "";
    if (char* d = strstr(line, " (discriminator")) *d = 0;
    return std::string(line + (strncmp(line, "./", 2) ? 0 : 2)) + " (" + function + ")";
}

namespace {
size_t tls_size_of(void* dl) {
    size_t module_id = 0;
    if (dlinfo(dl, RTLD_DI_TLS_MODID, &module_id) != 0 || module_id == 0) return 0;
    struct Find { size_t id, size; } find{module_id, 0};
    dl_iterate_phdr([](dl_phdr_info* info, size_t, void* data) {
        auto* f = static_cast<Find*>(data);
        if (info->dlpi_tls_modid != f->id) return 0;
        for (int i = 0; i < info->dlpi_phnum; i++)
            if (info->dlpi_phdr[i].p_type == PT_TLS) f->size = info->dlpi_phdr[i].p_memsz;
        return 1;
    }, &find);
    return find.size;
}

const char* function_name(void* f) { return static_cast<Function*>(f)->kernel->name; }
}  // namespace
}  // namespace sim

using namespace sim;

EXPORT CUresult cuModuleLoadData(void** module, const void* image) {
    LOCK;
    const char* p = static_cast<const char*>(image);
    size_t magic = sizeof kImageMagic - 1;
    if (memcmp(p, kImageMagic, magic) != 0)
        return error(CUDA_ERROR_INVALID_IMAGE, "cuModuleLoadData: not an image of the simulated NVRTC (a real CUBIN or PTX? keep the simulator's "
                                               "kernel cache apart: ELECTRA_KERNEL_CACHE)");
    size_t bytes;
    memcpy(&bytes, p + magic, sizeof bytes);
    int fd = memfd_create("cudasim-kernel.so", 0);
    if (fd < 0 || write(fd, p + magic + sizeof bytes, bytes) != (ssize_t)bytes) return error(CUDA_ERROR_INVALID_IMAGE, "cuModuleLoadData: memfd failed");
    std::string path = "/proc/self/fd/" + std::to_string(fd);
    void* dl = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!dl) { close(fd); return error(CUDA_ERROR_INVALID_IMAGE, "cuModuleLoadData: dlopen: %s", dlerror()); }
    auto kernels = (const cudasim_kernel* (*)(int*))dlsym(dl, "cudasim_kernels");
    auto bind = (void (*)(const cudasim_runtime*))dlsym(dl, "cudasim_bind");
    auto touch = (void* (*)())dlsym(dl, "cudasim_touch_shared");
    if (!kernels || !bind || !touch) return error(CUDA_ERROR_INVALID_IMAGE, "cuModuleLoadData: the .so lacks the simulator's exports");
    bind(runtime());
    auto* m = new Module{dl, fd, nullptr, 0, touch, tls_size_of(dl)};
    m->kernels = kernels(&m->kernel_count);
    *module = m;
    return CUDA_SUCCESS;
}

// The .so stays mapped: a graph may still launch its kernels, as the driver would refuse to let it.
EXPORT CUresult cuModuleUnload(void*) { LOCK; drain(); return CUDA_SUCCESS; }

EXPORT CUresult cuModuleGetFunction(void** function, void* module, const char* name) {
    LOCK;
    auto* m = static_cast<Module*>(module);
    for (int i = 0; i < m->kernel_count; i++)
        if (strcmp(m->kernels[i].name, name) == 0) {
            *function = new Function{m, &m->kernels[i], 48 * 1024};
            return CUDA_SUCCESS;
        }
    std::string names;
    for (int i = 0; i < m->kernel_count; i++) names += std::string(i ? ", " : "") + m->kernels[i].name;
    return error(CUDA_ERROR_NOT_FOUND, "cuModuleGetFunction: no kernel '%s' in the module (it has: %s)", name, names.c_str());
}

EXPORT CUresult cuFuncGetAttribute(int* v, int attribute, void* function) {
    auto* f = static_cast<Function*>(function);
    switch (attribute) {
    case 0: *v = f->kernel->max_threads; break;   // max threads per block
    case 4: *v = 32; break;                       // registers: unknown here (the Nvrtc tests read ptxas)
    case 5: case 6: *v = 90; break;               // PTX and binary version
    case 8: *v = f->max_dynamic_shared; break;
    default: *v = 0; break;                       // static shared, constant, local sizes: not tracked
    }
    return CUDA_SUCCESS;
}

EXPORT CUresult cuFuncSetAttribute(void* function, int attribute, int v) {
    LOCK;
    auto* f = static_cast<Function*>(function);
    if (attribute == 8) {
        if (v < 0 || v > 227 * 1024)
            return error(CUDA_ERROR_INVALID_VALUE, "cuFuncSetAttribute(%s): %d bytes of dynamic shared memory > the device's 227 KiB", f->kernel->name, v);
        f->max_dynamic_shared = v;
    }
    return CUDA_SUCCESS;
}

EXPORT CUresult cuLaunchKernel(void* function, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz, unsigned shared,
                               void* stream, void** params, void** extra) {
    LOCK;
    if (!function) return error(CUDA_ERROR_INVALID_HANDLE, "cuLaunchKernel: no function");
    auto* f = static_cast<Function*>(function);
    const char* name = function_name(function);
    unsigned long long threads = (unsigned long long)bx * by * bz;
    if (extra) return error(CUDA_ERROR_INVALID_VALUE, "cuLaunchKernel(%s): 'extra' parameters are not simulated", name);
    if (!gx || !gy || !gz || !bx || !by || !bz || gy > 65535 || gz > 65535 || bx > 1024 || by > 1024 || bz > 64 || threads > 1024)
        return error(CUDA_ERROR_INVALID_VALUE, "cuLaunchKernel(%s): invalid configuration grid (%u,%u,%u) block (%u,%u,%u): blocks are at most "
                     "(1024,1024,64) and 1024 threads, grids (2^31-1,65535,65535), none 0", name, gx, gy, gz, bx, by, bz);
    if (threads > (unsigned long long)f->kernel->max_threads)
        return error(CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES, "cuLaunchKernel(%s): a block of %llu threads exceeds its __launch_bounds__(%d)", name, threads,
                     f->kernel->max_threads);
    if (shared > (unsigned)f->max_dynamic_shared)
        return error(CUDA_ERROR_INVALID_VALUE, "cuLaunchKernel(%s): %u bytes of dynamic shared memory exceed the function's limit of %d "
                     "(raise it with cuFuncSetAttribute)", name, shared, f->max_dynamic_shared);
    if (f->kernel->param_count && !params) return error(CUDA_ERROR_INVALID_VALUE, "cuLaunchKernel(%s): no parameters", name);
    auto launch = std::make_shared<Launch>();
    launch->function = f;
    launch->grid = {gx, gy, gz};
    launch->block = {bx, by, bz};
    launch->dynamic_shared = shared;
    size_t total = 0;
    for (int i = 0; i < f->kernel->param_count; i++) total += (f->kernel->param_sizes[i] + 15) / 16 * 16;
    launch->storage.resize(total + 16);
    size_t offset = 0;
    for (int i = 0; i < f->kernel->param_count; i++) {
        memcpy(launch->storage.data() + offset, params[i], f->kernel->param_sizes[i]);
        launch->params.push_back(launch->storage.data() + offset);
        offset += (f->kernel->param_sizes[i] + 15) / 16 * 16;
    }
    if (tracing()) log_info("launch %s grid (%u,%u,%u) block (%u,%u,%u) shared %u", name, gx, gy, gz, bx, by, bz, shared);
    return enqueue(stream, [launch] {
        if (dry_run()) return (CUresult)CUDA_SUCCESS;
        std::string message;
        CUresult r = run_grid(*launch, message);
        return r ? error(r, "%s", message.c_str()) : CUDA_SUCCESS;
    }, name);
}
