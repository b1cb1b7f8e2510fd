// nvrtc.cpp: NVRTC as g++. A program's source and headers are written to a scratch folder and compiled twice:
//   1. preprocessed only (-D__CUDASIM_SCAN: CUDA keywords become markers), to find the extern "C" __global__
//      functions and their __launch_bounds__, and to refuse what the simulator cannot run: inline PTX outside an
//      #if ELECTRA_CUDASIM branch, extern __shared__ arrays, kernels without C linkage;
//   2. as C++17 into a shared object, with device/cudasim.h force-included and a generated table of the kernels;
//      UBSan checks array indices, alignment and integer division (CUDASIM_UBSAN=0: off).
// The "CUBIN" is the .so itself behind a magic line (module.cpp). The version reads 99.N, N a hash of the device
// headers and the compile settings, so Electra's kernel cache never mixes real images, simulated ones, or ones
// built against another version of the simulator.
//
// Settings: CUDASIM_FMAD=1 contracts a·b+c into FMAs as nvcc does by default (else every operation is rounded
// on its own); CUDASIM_OPT (default -O1); CUDASIM_KEEP=1 keeps the scratch folder; CUDASIM_MUTATE (below).
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>
#include "host.h"

namespace sim {
namespace {

struct Program {
    std::string source, name, log, image;
    std::vector<std::pair<std::string, std::string>> headers;  // (include name, text)
};

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

bool write_file(const std::string& path, const std::string& text) {
    for (size_t slash = path.find('/', 1); slash != std::string::npos; slash = path.find('/', slash + 1)) mkdir(path.substr(0, slash).c_str(), 0700);
    std::ofstream f(path, std::ios::binary);
    f << text;
    return (bool)f;
}

std::string quoted(const std::string& s) {
    std::string r = "'";
    for (char c : s) r += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return r + "'";
}

int run(const std::string& command, std::string& output) {
    FILE* p = popen((command + " 2>&1").c_str(), "r");
    if (!p) return -1;
    char buffer[4096];
    for (size_t n; (n = fread(buffer, 1, sizeof buffer, p)) > 0;) output.append(buffer, n);
    return pclose(p);
}

// The folder of cudasim.h: $CUDASIM_HOME, else device/ beside this library.
std::string device_dir() {
    if (const char* h = getenv("CUDASIM_HOME")) return h;
    Dl_info info;
    dladdr((void*)&device_dir, &info);
    std::string self = info.dli_fname;
    return self.substr(0, self.rfind('/')) + "/device";
}

std::string compile_flags() {
    bool fmad = env_int("CUDASIM_FMAD", 0) != 0;
    // g++ forms FMAs only from -O2 on.
    std::string opt = getenv("CUDASIM_OPT") ? getenv("CUDASIM_OPT") : fmad ? "-O2" : "-O1";
    // Line tables (DWARF 4: addr2line reads inlined code's files right) name the source line of a fault.
    std::string f = "-std=c++17 -fPIC -fvisibility=hidden -fno-strict-aliasing -w -g1 -gdwarf-4 " + opt +
                    (fmad ? " -mfma -ffp-contract=fast" : " -ffp-contract=off");
    // The checks call cudasim.h's handlers, which fail the launch; the .so is linked without UBSan's runtime.
    if (env_int("CUDASIM_UBSAN", 1)) f += " -fsanitize=alignment,bounds,integer-divide-by-zero -fno-sanitize-recover=all";
    return f;
}

// A path inside the scratch folder for a program or header name ("kernels-cu/x.cu" stays as it is).
std::string relative(const std::string& name) {
    if (name.empty() || name[0] == '/' || name.find("..") != std::string::npos) return name.substr(name.rfind('/') + 1);
    return name;
}

// CUDASIM_MUTATE="file.cu|from|to;;file.cu|from|to" replaces the first `from` in a source: a way to check that the
// project's tests notice a broken kernel.
void mutate(const std::string& name, std::string& source) {
    const char* all = getenv("CUDASIM_MUTATE");
    if (!all) return;
    std::string spec = all, stem = name.substr(name.rfind('/') + 1);
    for (size_t start = 0; start < spec.size();) {
        size_t end = spec.find(";;", start);
        std::string one = spec.substr(start, end == std::string::npos ? std::string::npos : end - start);
        start = end == std::string::npos ? spec.size() : end + 2;
        size_t a = one.find('|'), b = one.find('|', a + 1);
        if (b == std::string::npos || one.substr(0, a) != stem) continue;
        std::string from = one.substr(a + 1, b - a - 1), to = one.substr(b + 1);
        size_t at = source.find(from);
        if (at == std::string::npos) { error(CUDA_ERROR_NOT_FOUND, "CUDASIM_MUTATE: '%s' is not in %s", from.c_str(), stem.c_str()); continue; }
        source.replace(at, from.size(), to);
        log_info("CUDASIM_MUTATE: %s: '%s' -> '%s'", stem.c_str(), from.c_str(), to.c_str());
    }
}

// ---- the scan of the preprocessed source -----------------------------------------------------------------------
struct Token { std::string text; std::string file; int line; };

std::vector<Token> tokenize(const std::string& s) {
    std::vector<Token> out;
    std::string file = "?";
    int line = 1;
    for (size_t i = 0; i < s.size();) {
        char c = s[i];
        if (c == '\n') { line++; i++; continue; }
        if (c == '#' && (i == 0 || s[i - 1] == '\n')) {  // a line marker `# 12 "file"` or a #pragma
            size_t end = s.find('\n', i);
            std::string directive = s.substr(i, end - i);
            int n;
            char f[1024];
            if (sscanf(directive.c_str(), "# %d \"%1023[^\"]\"", &n, f) == 2) { line = n - 1; file = f; }
            i = end;
            continue;
        }
        if (isspace((unsigned char)c)) { i++; continue; }
        size_t j = i + 1;
        if (isalpha((unsigned char)c) || c == '_') while (j < s.size() && (isalnum((unsigned char)s[j]) || s[j] == '_')) j++;
        else if (isdigit((unsigned char)c)) while (j < s.size() && (isalnum((unsigned char)s[j]) || s[j] == '.' || s[j] == '\'')) j++;
        else if (c == '"' || c == '\'') { while (j < s.size() && s[j] != c) j += s[j] == '\\' ? 2 : 1; j++; }
        else if (c == ':' && j < s.size() && s[j] == ':') j++;
        out.push_back({s.substr(i, j - i), file, line});
        i = j;
    }
    return out;
}

bool is_identifier(const std::string& t) { return !t.empty() && (isalpha((unsigned char)t[0]) || t[0] == '_'); }

struct Kernel { std::string name, bound; };

// Finds the kernels and refuses what the simulator cannot run; returns false with the reasons in `log`.
bool scan(const std::vector<Token>& tokens, std::vector<Kernel>& kernels, std::string& log) {
    struct Scope { bool function; std::string name; };  // a function, or a namespace/struct/block that names nothing
    std::vector<Scope> scopes;
    size_t head = 0;  // first token of the declaration being read
    bool ok = true;
    auto where = [&](const Token& t) { return t.file + "(" + std::to_string(t.line) + ")"; };
    auto qualified = [&](const std::string& name) {
        std::string q;
        for (auto& s : scopes) if (!s.function && !s.name.empty()) q += s.name + "::";
        return q + name;
    };
    auto function = [&]() -> std::string {
        for (auto it = scopes.rbegin(); it != scopes.rend(); ++it) if (it->function) return it->name;
        return "file scope";
    };
    // The name declared by tokens [from, to): the identifier before the first '(' that is not an attribute's.
    auto declared_name = [&](size_t from, size_t to) -> std::string {
        int depth = 0;
        for (size_t k = from; k < to; k++) {
            const std::string& t = tokens[k].text;
            if (t == "(") {
                if (depth++ == 0 && k > from) {
                    const std::string& p = tokens[k - 1].text;
                    if (is_identifier(p) && p != "__attribute__" && p != "__cudasim_launch_bounds" && p != "alignas" && p != "decltype") return p;
                }
            } else if (t == ")") depth--;
        }
        return "";
    };
    for (size_t i = 0; i < tokens.size(); i++) {
        const std::string& t = tokens[i].text;
        bool in_function = !scopes.empty() && scopes.back().function;
        if (t == "{") {
            bool inner = false;
            for (auto& s : scopes) inner |= s.function;
            std::string first = head < i ? tokens[head].text : "";
            if (inner) scopes.push_back({false, ""});
            else if (first == "namespace") scopes.push_back({false, head + 1 < i ? tokens[head + 1].text : ""});
            else if (first == "struct" || first == "class" || first == "union") scopes.push_back({false, head + 1 < i ? tokens[head + 1].text : ""});
            else if (i > 0 && tokens[i - 1].text != "=" && !declared_name(head, i).empty()) scopes.push_back({true, qualified(declared_name(head, i))});
            else scopes.push_back({false, ""});
            head = i + 1;
        } else if (t == "}") {
            if (!scopes.empty()) scopes.pop_back();
            head = i + 1;
        } else if (t == ";") {
            head = i + 1;
        } else if (t == "asm" || t == "__asm" || t == "__asm__") {
            std::string ptx = "?";
            for (size_t k = i + 1; k < tokens.size() && k < i + 8; k++) if (tokens[k].text[0] == '"') { ptx = tokens[k].text; break; }
            log += where(tokens[i]) + ": error: inline PTX " + ptx + " in " + function() +
                   " has no #if ELECTRA_CUDASIM branch; the simulator runs C++ only (tests/cudasim/README.md)\n";
            ok = false;
        } else if (t == "extern" && i + 1 < tokens.size() && tokens[i + 1].text == "__cudasim_shared") {
            log += where(tokens[i]) + ": error: extern __shared__ in " + function() +
                   ": declare dynamic shared memory with DYNAMIC_SHARED(type, name) from common.cuh\n";
            ok = false;
        } else if (t == "__cudasim_global" && !in_function) {
            if (i < 2 || tokens[i - 2].text != "extern" || tokens[i - 1].text != "\"C\"") {
                log += where(tokens[i]) + ": error: a __global__ function without extern \"C\": the simulator finds kernels by their C names\n";
                ok = false;
                continue;
            }
            Kernel k{"", "1024"};
            int depth = 0;
            for (size_t j = i + 1; j < tokens.size(); j++) {
                const std::string& u = tokens[j].text;
                if (u == "__cudasim_launch_bounds" && j + 2 < tokens.size()) {
                    std::string bound;
                    int d = 0;
                    for (size_t m = j + 2; m < tokens.size(); m++) {
                        const std::string& v = tokens[m].text;
                        if ((v == "," || v == ")") && d == 0) break;
                        d += v == "(" ? 1 : v == ")" ? -1 : 0;
                        bound += v + " ";
                    }
                    k.bound = bound;
                }
                if (u == "(" && depth++ == 0 && is_identifier(tokens[j - 1].text) && tokens[j - 1].text != "__cudasim_launch_bounds" &&
                    tokens[j - 1].text != "__attribute__") {
                    k.name = qualified(tokens[j - 1].text);
                    break;
                }
                if (u == ")") depth--;
            }
            bool seen = false;
            for (auto& x : kernels) seen |= x.name == k.name;
            if (!k.name.empty() && !seen) kernels.push_back(k);
        }
    }
    return ok;
}

}  // namespace
}  // namespace sim

using namespace sim;

EXPORT int nvrtcVersion(int* major, int* minor) {
    std::string dir = device_dir();
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : read_file(dir + "/cudasim.h") + read_file(dir + "/cudasim_abi.h") + compile_flags()) { h ^= c; h *= 1099511628211ull; }
    *major = 99;
    *minor = (int)(h % 100000);
    return 0;
}
EXPORT int nvrtcGetNumSupportedArchs(int* n) { *n = 4; return 0; }
EXPORT int nvrtcGetSupportedArchs(int* archs) { archs[0] = 80; archs[1] = 86; archs[2] = 89; archs[3] = 90; return 0; }
EXPORT const char* nvrtcGetErrorString(int r) {
    switch (r) {
    case 0: return "NVRTC_SUCCESS";
    case 5: return "NVRTC_ERROR_INVALID_OPTION";
    case 6: return "NVRTC_ERROR_COMPILATION";
    default: return "NVRTC_ERROR (cudasim)";
    }
}
EXPORT int nvrtcCreateProgram(void** program, const char* source, const char* name, int header_count, const char* const* headers,
                              const char* const* include_names) {
    auto* p = new Program();
    p->source = source;
    p->name = name ? name : "kernel.cu";
    for (int i = 0; i < header_count; i++) p->headers.push_back({include_names[i], headers[i]});
    *program = p;
    return 0;
}
EXPORT int nvrtcDestroyProgram(void** program) { delete static_cast<Program*>(*program); *program = nullptr; return 0; }
EXPORT int nvrtcGetProgramLogSize(void* program, size_t* n) { *n = static_cast<Program*>(program)->log.size() + 1; return 0; }
EXPORT int nvrtcGetProgramLog(void* program, char* out) {
    auto& log = static_cast<Program*>(program)->log;
    memcpy(out, log.c_str(), log.size() + 1);
    return 0;
}
EXPORT int nvrtcGetCUBINSize(void* program, size_t* n) { *n = static_cast<Program*>(program)->image.size(); return 0; }
EXPORT int nvrtcGetCUBIN(void* program, char* out) {
    auto& image = static_cast<Program*>(program)->image;
    memcpy(out, image.data(), image.size());
    return 0;
}
EXPORT int nvrtcGetPTXSize(void* program, size_t* n) { return nvrtcGetCUBINSize(program, n); }
EXPORT int nvrtcGetPTX(void* program, char* out) { return nvrtcGetCUBIN(program, out); }

EXPORT int nvrtcCompileProgram(void* program, int option_count, const char* const* options) {
    auto* p = static_cast<Program*>(program);
    p->log.clear();
    std::string defines;
    for (int i = 0; i < option_count; i++) {
        std::string o = options[i];
        int arch;
        if (o.rfind("-D", 0) == 0) defines += " " + quoted(o);
        else if (o.rfind("--define-macro=", 0) == 0) defines += " " + quoted("-D" + o.substr(15));
        else if (sscanf(o.c_str(), "--gpu-architecture=%*[a-z]_%d", &arch) == 1 || sscanf(o.c_str(), "-arch=%*[a-z]_%d", &arch) == 1)
            defines += " -D__CUDA_ARCH__=" + std::to_string(arch * 10);
        else if (o == "-default-device" || o == "-lineinfo" || o.rfind("--std=", 0) == 0 || o.rfind("-std=", 0) == 0 ||
                 o.rfind("--ptxas-options", 0) == 0 || o.rfind("--fmad", 0) == 0) {}  // no meaning for g++ (CUDASIM_FMAD decides)
        else p->log += "cudasim: ignoring option " + o + "\n";
    }
    char scratch[] = "/tmp/cudasim-nvrtc-XXXXXX";
    if (!mkdtemp(scratch)) { p->log += "cudasim: cannot create a scratch folder in /tmp\n"; return 6; }
    std::string dir = scratch, rel = relative(p->name), source = p->source;
    std::string rel_dir = rel.find('/') == std::string::npos ? "" : rel.substr(0, rel.rfind('/') + 1);
    mutate(p->name, source);
    bool written = write_file(dir + "/" + rel, source);
    for (auto& h : p->headers) written &= write_file(dir + "/" + rel_dir + relative(h.first), h.second);
    std::string include = " -include " + quoted(device_dir() + "/cudasim.h");
    std::string cd = "cd " + quoted(dir) + " && g++ ";
    int status = 6;
    std::string pre, out;
    std::vector<Kernel> kernels;
    if (!written) p->log += "cudasim: cannot write the sources into " + dir + "\n";
    else if (run(cd + "-E -x c++ -std=c++17 -D__CUDASIM_SCAN" + defines + include + " " + quoted(rel), pre) != 0) p->log += pre;
    else if (scan(tokenize(pre), kernels, p->log)) {
        std::string gen = "#include \"" + rel + "\"\nCUDASIM_MODULE(\n";
        for (auto& k : kernels) gen += "    CUDASIM_KERNEL(" + k.name + ", " + k.bound + ")\n";
        gen += ")\n";
        write_file(dir + "/cudasim_module.cpp", gen);
        // Line tables name sources as the program did ("kernels-cu/x.cu"), not inside the scratch folder.
        int rc = run(cd + compile_flags() + " -fdebug-prefix-map=" + quoted(dir + "=.") + defines + include +
                     " -c cudasim_module.cpp -o kernel.o && g++ -shared kernel.o -o kernel.so", out);
        p->log += out;
        if (rc == 0) {
            std::string so = read_file(dir + "/kernel.so");
            size_t bytes = so.size();
            p->image = std::string(kImageMagic) + std::string((const char*)&bytes, sizeof bytes) + so;
            log_info("compiled %s: %zu kernels", p->name.c_str(), kernels.size());
            status = 0;
        }
    }
    if (env_int("CUDASIM_KEEP", 0)) log_info("kept %s", dir.c_str());
    else run("rm -rf " + quoted(dir), out);
    return status;
}
