#ifndef LAYERSIFT_TOOLS_SIZE_PARSE_H_
#define LAYERSIFT_TOOLS_SIZE_PARSE_H_

#include <cstdint>
#include <string>

namespace layersift {

// "512MiB", "2GiB", "64KiB", "1.5GB", "4096": bytes. Throws std::invalid_argument naming `flag`.
uint64_t ParseByteSize(const std::string& text, const std::string& flag);

// For people: "12.3 MiB", "1.0 GiB", "0.5 KiB".
std::string HumanSize(uint64_t bytes);

}  // namespace layersift

#endif  // LAYERSIFT_TOOLS_SIZE_PARSE_H_
