#include <cstdio>
#include "size_parse.h"

#include <cctype>
#include <cmath>
#include <stdexcept>
#include <string_view>

namespace layersift {

uint64_t ParseByteSize(const std::string& text, const std::string& flag) {
  size_t end = 0;
  double number = 0;
  try {
    number = std::stod(text, &end);
  } catch (const std::exception&) {
    end = 0;
  }
  std::string unit = text.substr(end);
  for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  struct Unit {
    std::string_view name;
    double bytes;
  };
  static const Unit kUnits[] = {{"", 1},          {"b", 1},          {"k", 1024},
                                {"kib", 1024},    {"kb", 1e3},       {"m", 1 << 20},
                                {"mib", 1 << 20}, {"mb", 1e6},       {"g", 1 << 30},
                                {"gib", 1 << 30}, {"gb", 1e9}};
  if (end > 0 && number > 0 && std::isfinite(number)) {
    for (const Unit& u : kUnits) {
      if (unit == u.name) return static_cast<uint64_t>(number * u.bytes);
    }
  }
  throw std::invalid_argument(flag + ": '" + text +
                              "' is not a size (examples: 4096, 64KiB, 512MiB, 2GiB)");
}

std::string HumanSize(uint64_t bytes) {
  char text[32];
  if (bytes >= (1ull << 30)) {
    std::snprintf(text, sizeof text, "%.1f GiB", static_cast<double>(bytes) / (1ull << 30));
  } else if (bytes >= (1ull << 20)) {
    std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1ull << 20));
  } else {
    std::snprintf(text, sizeof text, "%.1f KiB", static_cast<double>(bytes) / 1024);
  }
  return text;
}

}  // namespace layersift
