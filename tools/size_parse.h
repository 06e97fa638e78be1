#ifndef LAYERSIFT_TOOLS_SIZE_PARSE_H_
#define LAYERSIFT_TOOLS_SIZE_PARSE_H_

#include <cstdint>
#include <string>

namespace layersift {

// "512MiB", "2GiB", "64KiB", "1.5GB", "4096": bytes. Throws std::invalid_argument naming `flag`.
uint64_t ParseByteSize(const std::string& text, const std::string& flag);

}  // namespace layersift

#endif  // LAYERSIFT_TOOLS_SIZE_PARSE_H_
