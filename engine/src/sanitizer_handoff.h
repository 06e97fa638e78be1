// Tells ThreadSanitizer about hand-offs that pass through oneTBB. libtbb.so is not built with
// TSan, so the synchronisation inside it (task queues, concurrent_bounded_queue waits) is
// invisible and every chunk a reader fills and a matcher reads would look like a race. The
// annotations state the real edge: everything written before Release(p) happens before what is
// read after Acquire(p). No-ops in other builds.
#ifndef LAYERSIFT_ENGINE_SRC_SANITIZER_HANDOFF_H_
#define LAYERSIFT_ENGINE_SRC_SANITIZER_HANDOFF_H_

#if defined(__SANITIZE_THREAD__)
#include <sanitizer/tsan_interface.h>
#endif

namespace layersift {

inline void HandoffRelease([[maybe_unused]] void* object) {
#if defined(__SANITIZE_THREAD__)
  __tsan_release(object);
#endif
}

inline void HandoffAcquire([[maybe_unused]] void* object) {
#if defined(__SANITIZE_THREAD__)
  __tsan_acquire(object);
#endif
}

}  // namespace layersift

#endif  // LAYERSIFT_ENGINE_SRC_SANITIZER_HANDOFF_H_
