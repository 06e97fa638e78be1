// Finding fields that only the formats of other tools need (SARIF, gitleaks), computed in one
// place so that those formats agree with each other.
#ifndef LAYERSIFT_ENGINE_SRC_REPORT_FIELDS_H_
#define LAYERSIFT_ENGINE_SRC_REPORT_FIELDS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "layersift/rules/rule.h"

namespace layersift {

// A 1-based line and column (in bytes, like Finding::line and Finding::column).
struct TextPosition {
  uint64_t line = 1;
  uint64_t column = 1;
};

// The position just past `text` when it starts at `start`. Lines end at '\n', as the scanner
// counts them; a secret can span lines (PEM keys).
inline TextPosition PositionAfter(TextPosition start, std::string_view text) {
  const size_t last_newline = text.rfind('\n');
  if (last_newline == std::string_view::npos) return {start.line, start.column + text.size()};
  uint64_t newlines = 0;
  for (const char c : text) newlines += c == '\n';
  return {start.line + newlines, text.size() - last_newline};
}

// Tags for importers that group or filter by them: the rule's kind and vendor (rules carry no
// free-form tags), each once.
inline std::vector<std::string> RuleTags(const Rule& rule) {
  std::vector<std::string> tags;
  if (!rule.kind.empty()) tags.push_back(rule.kind);
  if (!rule.vendor.empty() && rule.vendor != rule.kind) tags.push_back(rule.vendor);
  return tags;
}

}  // namespace layersift

#endif  // LAYERSIFT_ENGINE_SRC_REPORT_FIELDS_H_
