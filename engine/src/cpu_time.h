// Thread CPU time, for the per-stage and per-rule accounting of --stats and `rules profile`.
#ifndef LAYERSIFT_ENGINE_SRC_CPU_TIME_H_
#define LAYERSIFT_ENGINE_SRC_CPU_TIME_H_

#include <ctime>

namespace layersift {

// CPU seconds the calling thread has used: work done, not time spent waiting or descheduled
// while more threads than cores are runnable (a layer reader runs three threads next to the
// matchers), so what is accounted with it adds up to at most the process's CPU time.
inline double ThreadCpuSeconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

}  // namespace layersift

#endif  // LAYERSIFT_ENGINE_SRC_CPU_TIME_H_
