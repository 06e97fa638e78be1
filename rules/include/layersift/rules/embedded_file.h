#ifndef LAYERSIFT_RULES_EMBEDDED_FILE_H_
#define LAYERSIFT_RULES_EMBEDDED_FILE_H_

#include <string_view>

namespace layersift {

// A data file compiled into the binary (see cmake/EmbedFiles.cmake).
struct EmbeddedFile {
  std::string_view name;
  std::string_view contents;
};

}  // namespace layersift

#endif  // LAYERSIFT_RULES_EMBEDDED_FILE_H_
