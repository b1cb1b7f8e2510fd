// streams_graphs.cpp: stream work, events, stream capture and CUDA graphs, and the driver's error strings.
//
// Work on every stream goes into one in-order queue that runs at the next synchronising call, so the host sees
// device results only after it waited for them, as on a GPU (a missing synchronisation reads stale memory). The
// first error of queued work drops the rest of the queue and is returned by the next synchronising call, which
// then forgets it (CUDASIM_STICKY=1 keeps it for every later call, as a real context would: tests that plant a
// bug would otherwise end the process's use of the device).
//
// Capture records a stream's work into a graph instead of queueing it. Anything that waits for the device, work
// on the legacy stream, pageable-memory copies and (outside relaxed mode) allocations invalidate the capture, as
// the driver does: the call fails and cuStreamEndCapture returns CUDA_ERROR_STREAM_CAPTURE_INVALIDATED.
#include <chrono>
#include <set>
#include "host.h"

namespace sim {
namespace {

struct Graph { std::vector<Work> work; };
struct Stream {
    int id;
    bool capturing = false, invalidated = false;
    int mode = 0;  // CU_STREAM_CAPTURE_MODE_GLOBAL 0, THREAD_LOCAL 1, RELAXED 2
    Graph* graph = nullptr;
};
struct Event { double ms = 0; bool recorded = false; };

std::vector<Work> g_queue;
CUresult g_async_code = CUDA_SUCCESS;
std::string g_async_message;
std::set<Stream*> g_streams;
Stream g_legacy{0};
int g_next_stream_id = 1;

Stream* stream_of(void* handle) { return handle ? static_cast<Stream*>(handle) : &g_legacy; }

Stream* capturing_stream() {
    for (Stream* s : g_streams) if (s->capturing) return s;
    return nullptr;
}

CUresult invalidate(Stream* s, CUresult code, const char* what, const char* why) {
    s->invalidated = true;
    return error(code, "%s %s stream %d is capturing: the capture is invalidated", what, why, s->id);
}
}  // namespace

void drain() {
    std::vector<Work> work;
    work.swap(g_queue);
    for (auto& w : work) {
        if (g_async_code) break;  // the context is broken until the error is reported
        if (CUresult r = w()) {
            g_async_code = r;
            g_async_message = last_error_message(r) ? last_error_message(r) : "";
        }
    }
}

CUresult synchronize(const char* what) {
    if (Stream* s = capturing_stream()) return invalidate(s, CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, what, "waits for the device while");
    drain();
    CUresult r = g_async_code;
    if (r) {
        remember_error(r, g_async_message);  // so cuGetErrorString describes it
        if (!env_int("CUDASIM_STICKY", 0)) g_async_code = CUDA_SUCCESS;
    }
    return r;
}

bool capture_active() { return capturing_stream() != nullptr; }
bool stream_is_capturing(void* stream) { return stream_of(stream)->capturing; }

CUresult check_capture_allows(const char* what) {
    Stream* s = capturing_stream();
    if (s && s->mode != 2) return invalidate(s, CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, what, "outside relaxed mode while");
    return CUDA_SUCCESS;
}

CUresult enqueue(void* stream, Work work, const char* what) {
    Stream* s = stream_of(stream);
    if (s->capturing) {
        if (s->invalidated) return error(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "%s: the capture of stream %d was invalidated", what, s->id);
        s->graph->work.push_back(std::move(work));
        return CUDA_SUCCESS;
    }
    if (s == &g_legacy)
        if (Stream* c = capturing_stream()) return invalidate(c, CUDA_ERROR_STREAM_CAPTURE_IMPLICIT, what, "on the legacy stream while");
    g_queue.push_back(std::move(work));
    return CUDA_SUCCESS;
}

}  // namespace sim

using namespace sim;

EXPORT CUresult cuStreamCreate(void** s, unsigned) {
    LOCK;
    auto* x = new Stream{g_next_stream_id++};
    g_streams.insert(x);
    *s = x;
    return CUDA_SUCCESS;
}
EXPORT CUresult cuStreamDestroy_v2(void* s) {
    LOCK;
    if (!g_streams.count(static_cast<Stream*>(s))) return error(CUDA_ERROR_INVALID_HANDLE, "cuStreamDestroy: not a stream");
    drain();
    g_streams.erase(static_cast<Stream*>(s));
    delete static_cast<Stream*>(s);
    return CUDA_SUCCESS;
}
EXPORT CUresult cuStreamSynchronize(void* s) {
    LOCK;
    if (stream_of(s)->capturing) return invalidate(stream_of(s), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "cuStreamSynchronize", "of a stream while");
    return synchronize("cuStreamSynchronize");
}

EXPORT CUresult cuEventCreate(void** e, unsigned) { *e = new Event(); return CUDA_SUCCESS; }
EXPORT CUresult cuEventDestroy_v2(void* e) { delete static_cast<Event*>(e); return CUDA_SUCCESS; }
EXPORT CUresult cuEventRecord(void* e, void* stream) {
    LOCK;
    auto* ev = static_cast<Event*>(e);
    ev->recorded = false;  // re-recorded: not complete until the queued record runs
    return enqueue(stream, [=] {
        ev->ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
        ev->recorded = true;
        return CUDA_SUCCESS;
    }, "cuEventRecord");
}
EXPORT CUresult cuEventSynchronize(void*) { LOCK; return synchronize("cuEventSynchronize"); }
// Work queues until a synchronisation, so an event is complete only once a synchronisation has run its record.
EXPORT CUresult cuEventQuery(void* e) { LOCK; return static_cast<Event*>(e)->recorded ? CUDA_SUCCESS : CUDA_ERROR_NOT_READY; }
EXPORT CUresult cuEventElapsedTime(float* ms, void* start, void* end) {
    LOCK;
    auto *a = static_cast<Event*>(start), *b = static_cast<Event*>(end);
    if (!a->recorded || !b->recorded) return error(CUDA_ERROR_NOT_READY, "cuEventElapsedTime: an event has not completed");
    *ms = (float)(b->ms - a->ms);
    return CUDA_SUCCESS;
}

EXPORT CUresult cuStreamBeginCapture_v2(void* stream, int mode) {
    LOCK;
    Stream* s = stream_of(stream);
    if (s == &g_legacy) return error(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "cuStreamBeginCapture: the legacy stream cannot be captured");
    if (s->capturing) return error(CUDA_ERROR_INVALID_VALUE, "cuStreamBeginCapture: stream %d is capturing already", s->id);
    s->capturing = true;
    s->invalidated = false;
    s->mode = mode;
    s->graph = new Graph();
    return CUDA_SUCCESS;
}
EXPORT CUresult cuStreamEndCapture(void* stream, void** graph) {
    LOCK;
    Stream* s = stream_of(stream);
    *graph = nullptr;
    if (!s->capturing) return error(CUDA_ERROR_INVALID_VALUE, "cuStreamEndCapture: stream %d is not capturing", s->id);
    s->capturing = false;
    if (s->invalidated) {
        delete s->graph;
        s->graph = nullptr;
        return error(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "cuStreamEndCapture: the capture of stream %d was invalidated", s->id);
    }
    *graph = s->graph;
    s->graph = nullptr;
    return CUDA_SUCCESS;
}
EXPORT CUresult cuGraphInstantiateWithFlags(void** exec, void* graph, unsigned long long) {
    LOCK;
    if (!graph) return error(CUDA_ERROR_INVALID_VALUE, "cuGraphInstantiate: no graph");
    *exec = new Graph(*static_cast<Graph*>(graph));
    return CUDA_SUCCESS;
}
EXPORT CUresult cuGraphLaunch(void* exec, void* stream) {
    LOCK;
    for (auto& w : static_cast<Graph*>(exec)->work)
        if (CUresult r = enqueue(stream, w, "cuGraphLaunch")) return r;
    return CUDA_SUCCESS;
}
EXPORT CUresult cuGraphExecDestroy(void* exec) { delete static_cast<Graph*>(exec); return CUDA_SUCCESS; }
EXPORT CUresult cuGraphDestroy(void* graph) { delete static_cast<Graph*>(graph); return CUDA_SUCCESS; }

EXPORT CUresult cuGetErrorName(CUresult e, const char** s) {
    switch (e) {
    case CUDA_SUCCESS: *s = "CUDA_SUCCESS"; break;
    case CUDA_ERROR_INVALID_VALUE: *s = "CUDA_ERROR_INVALID_VALUE"; break;
    case CUDA_ERROR_OUT_OF_MEMORY: *s = "CUDA_ERROR_OUT_OF_MEMORY"; break;
    case CUDA_ERROR_INVALID_DEVICE: *s = "CUDA_ERROR_INVALID_DEVICE"; break;
    case CUDA_ERROR_INVALID_IMAGE: *s = "CUDA_ERROR_INVALID_IMAGE"; break;
    case CUDA_ERROR_INVALID_HANDLE: *s = "CUDA_ERROR_INVALID_HANDLE"; break;
    case CUDA_ERROR_NOT_FOUND: *s = "CUDA_ERROR_NOT_FOUND"; break;
    case CUDA_ERROR_NOT_READY: *s = "CUDA_ERROR_NOT_READY"; break;
    case CUDA_ERROR_ILLEGAL_ADDRESS: *s = "CUDA_ERROR_ILLEGAL_ADDRESS"; break;
    case CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES: *s = "CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES"; break;
    case CUDA_ERROR_LAUNCH_FAILED: *s = "CUDA_ERROR_LAUNCH_FAILED"; break;
    case CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED: *s = "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED"; break;
    case CUDA_ERROR_STREAM_CAPTURE_INVALIDATED: *s = "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED"; break;
    case CUDA_ERROR_STREAM_CAPTURE_IMPLICIT: *s = "CUDA_ERROR_STREAM_CAPTURE_IMPLICIT"; break;
    default: *s = "CUDA_ERROR_UNKNOWN"; return CUDA_ERROR_INVALID_VALUE;
    }
    return CUDA_SUCCESS;
}

// The reason of the latest failure with this code, else its name.
EXPORT CUresult cuGetErrorString(CUresult e, const char** s) {
    static std::string text;
    LOCK;
    const char* detail = last_error_message(e);
    const char* name;
    cuGetErrorName(e, &name);
    text = std::string("cudasim: ") + (detail ? detail : name);
    *s = text.c_str();
    return CUDA_SUCCESS;
}
