// The CLI's exit codes, documented in --help and README.md.
#ifndef LAYERSIFT_TOOLS_EXIT_CODES_H_
#define LAYERSIFT_TOOLS_EXIT_CODES_H_

namespace layersift {

inline constexpr int kExitClean = 0;
inline constexpr int kExitFindings = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitIncomplete = 3;
inline constexpr int kExitInterrupted = 130;  // stopped by SIGINT (128 + 2), what was done kept

}  // namespace layersift

#endif  // LAYERSIFT_TOOLS_EXIT_CODES_H_
