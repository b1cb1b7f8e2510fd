// The simulator's self-test without .NET: compiles planted_bugs.cu with the simulated NVRTC, runs every planted bug
// and checks the report (error code, kernel, block, thread, what happened), checks the launch limits and a
// synchronisation inside a stream capture, that inline PTX outside an ELECTRA_CUDASIM branch is refused, and that
// the race changes with the order while the correct kernel does not. Usage: selftest DIR_OF_PLANTED_BUGS COMMON_CUH
// (run.sh passes them). CudasimTests.cs checks the same through Electra's bindings.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern "C" {
int nvrtcCreateProgram(void**, const char*, const char*, int, const char* const*, const char* const*);
int nvrtcCompileProgram(void*, int, const char* const*);
int nvrtcGetProgramLogSize(void*, size_t*);
int nvrtcGetProgramLog(void*, char*);
int nvrtcGetCUBINSize(void*, size_t*);
int nvrtcGetCUBIN(void*, char*);
int cuModuleLoadData(void**, const void*);
int cuModuleGetFunction(void**, void*, const char*);
int cuMemAlloc_v2(unsigned long long*, size_t);
int cuMemcpyHtoD_v2(unsigned long long, const void*, size_t);
int cuMemcpyDtoH_v2(void*, unsigned long long, size_t);
int cuLaunchKernel(void*, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void*, void**, void**);
int cuCtxSynchronize();
int cuStreamCreate(void**, unsigned);
int cuStreamBeginCapture_v2(void*, int);
int cuStreamEndCapture(void*, void**);
int cuGetErrorString(int, const char**);
}

static int failures = 0, passes = 0;

static std::string slurp(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

static void expect(const char* name, bool ok, const std::string& detail) {
    printf("%s %s: %s\n", ok ? "PASS" : "FAIL", name, detail.c_str());
    failures += !ok;
    passes += ok;
}

static std::string message(int code) {
    const char* s = "";
    cuGetErrorString(code, &s);
    return s;
}

// Compiles `source`; returns the module, or null with the log in `log`.
static void* compile(const std::string& source, const std::string& common, std::string& log) {
    const char* headers[] = {common.c_str()};
    const char* names[] = {"common.cuh"};
    void* program;
    nvrtcCreateProgram(&program, source.c_str(), "planted_bugs.cu", 1, headers, names);
    const char* options[] = {"--gpu-architecture=sm_90"};
    int r = nvrtcCompileProgram(program, 1, options);
    size_t n;
    nvrtcGetProgramLogSize(program, &n);
    log.assign(n, 0);
    nvrtcGetProgramLog(program, log.data());
    if (r) return nullptr;
    nvrtcGetCUBINSize(program, &n);
    std::vector<char> image(n);
    nvrtcGetCUBIN(program, image.data());
    void* module = nullptr;
    cuModuleLoadData(&module, image.data());
    return module;
}

struct Buffer {
    unsigned long long ptr = 0;
    explicit Buffer(size_t floats) { cuMemAlloc_v2(&ptr, floats * 4); }
};

// Launches kernel `name` and returns the launch's code, or the next synchronisation's.
static int launch(void* module, const char* name, unsigned grid, unsigned block, unsigned shared, std::vector<void*> args) {
    void* f = nullptr;
    if (cuModuleGetFunction(&f, module, name)) return -1;
    if (int r = cuLaunchKernel(f, grid, 1, 1, block, 1, 1, shared, nullptr, args.data(), nullptr)) return r;
    return cuCtxSynchronize();
}

static bool contains_all(const std::string& text, std::vector<std::string> parts) {
    for (auto& p : parts) if (text.find(p) == std::string::npos) return false;
    return true;
}

int main(int argc, char** argv) {
    if (argc != 3) { fprintf(stderr, "usage: selftest PLANTED_BUGS_CU COMMON_CUH\n"); return 2; }
    std::string source = slurp(argv[1]), common = slurp(argv[2]), log;
    void* m = compile(source, common, log);
    if (!m) { printf("FAIL compile: %s\n", log.c_str()); return 1; }
    setenv("CUDASIM_ORDER", "0", 1);

    Buffer x(64), y(128), count(1);
    int n64 = 64, one = 1, dyn = 32, zero = 0;
    struct Case { const char* kernel; unsigned block, shared; std::vector<void*> args; int code; std::vector<std::string> parts; };
    std::vector<Case> cases = {
        {"oob_global_write", 32, 0, {&x.ptr, &n64}, 700, {"block (1,0,0) thread (0,0,0)", "illegal address", "0 bytes past the end of the allocation", "of 256 bytes", "planted_bugs.cu:9"}},
        {"oob_shared_static", 32, 0, {&y.ptr, &one}, 719, {"block (1,0,0) thread (31,0,0)", "index 32 out of bounds for type 'float [32]'", "planted_bugs.cu:15"}},
        {"oob_shared_dynamic", 32, 128, {&y.ptr, &dyn}, 700, {"block (1,0,0) thread (0,0,0)", "illegal address", "past the end of the 128 bytes of dynamic shared memory", "planted_bugs.cu:23"}},
        {"misaligned_load", 32, 0, {&x.ptr, &y.ptr}, 719, {"block (1,0,0) thread (0,0,0)", "misaligned address", "requires 16-byte alignment", "planted_bugs.cu:30"}},
        {"barrier_after_exit", 64, 0, {&y.ptr}, 719, {"block (1,0,0) thread (32,0,0)", "barrier divergence", "exited while 32 threads wait"}},
        {"barrier_two_sites", 64, 0, {&y.ptr}, 719, {"block (1,0,0) thread (32,0,0)", "barrier divergence", "planted_bugs.cu:48", "planted_bugs.cu:47"}},
        {"shuffle_exited_lane", 32, 0, {&y.ptr}, 719, {"block (1,0,0) thread (5,0,0)", "exited", "shuffle"}},
        {"mma_exited_lane", 32, 0, {&y.ptr}, 719, {"block (1,0,0) thread (3,0,0)", "exited", "mma.sync"}},
        {"deadlock", 32, 0, {&y.ptr}, 719, {"block (1,0,0) thread (0,0,0)", "deadlock", "16 threads wait at __syncthreads"}},
        {"bounded", 128, 0, {&y.ptr}, 701, {"bounded", "__launch_bounds__(64)"}},
        {"bounded", 2048, 0, {&y.ptr}, 1, {"bounded", "invalid configuration"}},
        {"bounded", 32, 64 * 1024, {&y.ptr}, 1, {"bounded", "65536 bytes of dynamic shared memory exceed the function's limit of 49152"}},
    };
    for (auto& c : cases) {
        int r = launch(m, c.kernel, 2, c.block, c.shared, c.args);
        std::string text = message(r);
        expect(c.kernel, r == c.code && contains_all(text, c.parts) && text.find(c.kernel) != std::string::npos,
               "code " + std::to_string(r) + " (want " + std::to_string(c.code) + "): " + text);
    }

    // A synchronous copy while a stream captures: refused, and the capture invalidated.
    void* stream;
    cuStreamCreate(&stream, 0);
    cuStreamBeginCapture_v2(stream, 2);
    float host[4];
    int r = cuMemcpyDtoH_v2(host, y.ptr, sizeof host);
    std::string text = message(r);
    void* graph = nullptr;
    int end = cuStreamEndCapture(stream, &graph);
    expect("sync_in_capture", r == 900 && end == 901 && contains_all(text, {"cuMemcpyDtoH", "capturing"}),
           "copy " + std::to_string(r) + ", end capture " + std::to_string(end) + ": " + text);

    // Inline PTX outside an ELECTRA_CUDASIM branch, and extern __shared__: refused at compile time, naming the function.
    std::string bad = "#include \"common.cuh\"\nextern \"C\" __global__ void uses_ptx(float* y) {\n  float v;\n"
                      "  asm(\"mov.f32 %0, 1.0;\" : \"=f\"(v));\n  y[0] = v;\n}\n";
    expect("inline_ptx_refused", !compile(bad, common, log) && contains_all(log, {"planted_bugs.cu(4)", "uses_ptx", "mov.f32", "ELECTRA_CUDASIM"}), log);
    bad = "extern \"C\" __global__ void dyn(float* y) {\n  extern __shared__ float s[];\n  y[0] = s[0];\n}\n";
    expect("extern_shared_refused", !compile(bad, common, log) && contains_all(log, {"planted_bugs.cu(2)", "dyn", "DYNAMIC_SHARED"}), log);

    // The race differs between orders; the correct kernel gives the same bits under every order.
    std::vector<float> input(128);
    for (int i = 0; i < 128; i++) input[i] = (float)((i * 37) % 101) / 7.f - 3.f;
    cuMemcpyHtoD_v2(x.ptr, input.data(), 64 * 4);
    Buffer x2(128);
    cuMemcpyHtoD_v2(x2.ptr, input.data(), 128 * 4);
    std::vector<std::vector<float>> racy, correct;
    for (const char* order : {"0", "1", "2"}) {
        setenv("CUDASIM_ORDER", order, 1);
        setenv("CUDASIM_SEED", "7", 1);
        std::vector<float> out(128);
        launch(m, "racy", 2, 64, 0, {&y.ptr});
        cuMemcpyDtoH_v2(out.data(), y.ptr, 128 * 4);
        racy.push_back(out);
        cuMemcpyHtoD_v2(count.ptr, &zero, 4);
        int rc = launch(m, "correct", 2, 64, 64 * 4, {&x2.ptr, &y.ptr, &count.ptr});
        int blocks = 0;
        cuMemcpyDtoH_v2(out.data(), y.ptr, 128 * 4);
        cuMemcpyDtoH_v2(&blocks, count.ptr, 4);
        if (rc || blocks != 2) { expect("correct", false, "code " + std::to_string(rc) + ", blocks counted " + std::to_string(blocks) + ": " + message(rc)); }
        correct.push_back(out);
    }
    auto same = [](const std::vector<float>& a, const std::vector<float>& b) { return memcmp(a.data(), b.data(), a.size() * 4) == 0; };
    expect("racy_depends_on_order", !same(racy[0], racy[1]), "order 0 and order 1 differ");
    expect("correct_in_every_order", same(correct[0], correct[1]) && same(correct[0], correct[2]), "orders 0, 1 and 2 give the same bits");
    printf("cudasim selftest: succeeded: %d, failed: %d\n", passes, failures);  // counted by .ci/run's closing line
    return failures ? 1 : 0;
}
