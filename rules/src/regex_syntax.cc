#include "layersift/rules/regex_syntax.h"

namespace layersift {

const RegexGroup* RegexShape::GroupAt(size_t offset) const {
  for (const RegexGroup& group : groups) {
    if (group.open == offset) return &group;
  }
  return nullptr;
}

size_t RegexTokenEnd(std::string_view re, size_t i) {
  const size_t n = re.size();
  if (re[i] == '\\') {
    if (i + 1 < n && re[i + 1] == 'Q') {
      const size_t end = re.find("\\E", i + 2);
      return end == std::string_view::npos ? n : end + 2;
    }
    if (i + 2 < n && (re[i + 1] == 'p' || re[i + 1] == 'P') && re[i + 2] == '{') {
      const size_t end = re.find('}', i + 3);
      return end == std::string_view::npos ? n : end + 1;
    }
    return i + 2 < n ? i + 2 : n;
  }
  if (re[i] != '[') return i + 1;
  size_t j = i + 1;
  if (j < n && re[j] == '^') ++j;
  if (j < n && re[j] == ']') ++j;
  while (j < n && re[j] != ']') {
    if (re[j] == '\\') {
      j += 2;
    } else if (re[j] == '[' && j + 1 < n && re[j + 1] == ':') {
      const size_t end = re.find(":]", j + 2);
      j = end == std::string_view::npos ? n : end + 2;
    } else {
      ++j;
    }
  }
  return j < n ? j + 1 : n;
}

RegexShape ScanRegex(std::string_view re) {
  RegexShape shape;
  std::vector<int> open;
  const size_t n = re.size();
  size_t i = 0;
  while (i < n) {
    const char c = re[i];
    if (c == '(') {
      RegexGroup group;
      group.open = i;
      group.parent = open.empty() ? -1 : open.back();
      if (i + 1 < n && re[i + 1] == '?') {
        size_t name_at = std::string_view::npos;
        if (re.substr(i + 2, 2) == "P<") {
          name_at = i + 4;
        } else if (i + 3 < n && re[i + 2] == '<' && re[i + 3] != '=' && re[i + 3] != '!') {
          name_at = i + 3;
        }
        const size_t name_end =
            name_at == std::string_view::npos ? name_at : re.find('>', name_at);
        if (name_end != std::string_view::npos) {
          group.capturing = true;
          group.open_len = name_end + 1 - i;
        } else {
          size_t end = i + 2;  // past "(?": flags up to ':' or ')'
          while (end < n && re[end] != ':' && re[end] != ')') ++end;
          group.open_len = (end < n && re[end] == ':') ? end + 1 - i : 2;
        }
      }
      shape.groups.push_back(group);
      const int index = static_cast<int>(shape.groups.size()) - 1;
      if (group.capturing || re.substr(i, 2) != "(?") {
        shape.groups.back().capturing = true;
        shape.capturing.push_back(index);
      }
      open.push_back(index);
      i += shape.groups.back().open_len;
      continue;
    }
    if (c == ')') {
      if (!open.empty()) {
        shape.groups[open.back()].close = i;
        open.pop_back();
      }
    } else if (c == '|') {
      if (open.empty()) {
        shape.top_alternation = true;
      } else {
        shape.groups[open.back()].alternation = true;
      }
    }
    i = RegexTokenEnd(re, i);
  }
  return shape;
}

}  // namespace layersift
