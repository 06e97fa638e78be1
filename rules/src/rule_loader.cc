#include "layersift/rules/rule_loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <span>
#include <sstream>

#include "layersift/rules/embedded_file.h"

namespace layersift {
namespace embedded {
std::span<const EmbeddedFile> BuiltinRuleFiles();
std::span<const EmbeddedFile> DefaultExclusionFiles();
}  // namespace embedded

namespace {

constexpr size_t kMaxMatchBytesLimit = 1 << 16;

std::string Where(const std::string& source, const std::string& rule_id) {
  return rule_id.empty() ? source : source + ": rule '" + rule_id + "'";
}

std::string RequiredString(const YAML::Node& node, const char* field, const std::string& where) {
  const YAML::Node value = node[field];
  if (!value || !value.IsScalar() || value.as<std::string>().empty()) {
    throw RuleError(where + ": field '" + field + "' is required and must be a non-empty string");
  }
  return value.as<std::string>();
}

std::vector<std::string> StringList(const YAML::Node& node, const char* field,
                                    const std::string& where) {
  std::vector<std::string> out;
  const YAML::Node value = node[field];
  if (!value) return out;
  if (value.IsScalar()) {
    out.push_back(value.as<std::string>());
    return out;
  }
  if (!value.IsSequence()) throw RuleError(where + ": field '" + field + "' must be a list");
  for (const YAML::Node& item : value) {
    if (!item.IsScalar()) throw RuleError(where + ": field '" + field + "' must hold strings");
    out.push_back(item.as<std::string>());
  }
  return out;
}

bool ValidId(const std::string& id) {
  return std::all_of(id.begin(), id.end(), [](unsigned char c) {
    return std::islower(c) || std::isdigit(c) || c == '-' || c == '.' || c == '_';
  });
}

Rule ParseRule(const YAML::Node& node, const std::string& source) {
  if (!node.IsMap()) throw RuleError(source + ": each entry of 'rules' must be a mapping");
  Rule rule;
  rule.source = source;
  rule.id = RequiredString(node, "id", source);
  const std::string where = Where(source, rule.id);
  if (!ValidId(rule.id)) {
    throw RuleError(where + ": id may hold only lower-case letters, digits, '-', '.' and '_'");
  }
  rule.name = RequiredString(node, "name", where);
  rule.kind = RequiredString(node, "kind", where);
  rule.pattern = RequiredString(node, "pattern", where);
  for (std::string keyword : StringList(node, "keywords", where)) {
    if (keyword.empty()) throw RuleError(where + ": keywords must not be empty strings");
    std::transform(keyword.begin(), keyword.end(), keyword.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (std::find(rule.keywords.begin(), rule.keywords.end(), keyword) == rule.keywords.end()) {
      rule.keywords.push_back(std::move(keyword));
    }
  }
  if (rule.keywords.empty()) {
    throw RuleError(where + ": field 'keywords' is required: at least one literal the match contains");
  }
  try {
    if (const YAML::Node v = node["min_entropy"]) rule.min_entropy = v.as<double>();
    if (const YAML::Node v = node["max_match_bytes"]) {
      const long long bytes = v.as<long long>();
      if (bytes <= 0 || static_cast<size_t>(bytes) > kMaxMatchBytesLimit) {
        throw RuleError(where + ": max_match_bytes must be between 1 and " +
                        std::to_string(kMaxMatchBytesLimit));
      }
      rule.max_match_bytes = static_cast<size_t>(bytes);
    }
    if (const YAML::Node v = node["enabled"]) rule.enabled = v.as<bool>();
  } catch (const YAML::BadConversion& e) {
    throw RuleError(where + ": " + e.what());
  }
  if (rule.min_entropy && (*rule.min_entropy < 0 || *rule.min_entropy > 8)) {
    throw RuleError(where + ": min_entropy must be between 0 and 8 bits per byte");
  }
  rule.examples = StringList(node, "examples", where);
  rule.negative_examples = StringList(node, "negative_examples", where);
  static const char* const kKnownFields[] = {
      "id", "name", "kind", "pattern", "keywords", "min_entropy", "max_match_bytes",
      "enabled", "examples", "negative_examples", "references", "vendor", "confidence",
      "description"};
  for (const auto& field : node) {
    const std::string key = field.first.as<std::string>();
    if (std::find_if(std::begin(kKnownFields), std::end(kKnownFields),
                     [&](const char* known) { return key == known; }) == std::end(kKnownFields)) {
      throw RuleError(where + ": unknown field '" + key + "'");
    }
  }
  return rule;
}

}  // namespace

std::vector<Rule> ParseRulesYaml(std::string_view yaml_text, const std::string& source_name) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    throw RuleError(source_name + ": invalid YAML: " + e.what());
  }
  if (!root.IsMap() || !root["rules"] || !root["rules"].IsSequence()) {
    throw RuleError(source_name + ": expected a mapping with a 'rules' list");
  }
  std::vector<Rule> rules;
  for (const YAML::Node& node : root["rules"]) rules.push_back(ParseRule(node, source_name));
  std::vector<Rule> merged;
  MergeRules(merged, std::move(rules));
  return merged;
}

std::vector<Rule> LoadRulesFromPath(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<fs::path> files;
  if (fs::is_directory(path, ec)) {
    for (const fs::directory_entry& entry : fs::directory_iterator(path, ec)) {
      const std::string ext = entry.path().extension().string();
      if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(entry.path());
    }
    if (ec) throw RuleError("cannot list rule directory " + path + ": " + ec.message());
    std::sort(files.begin(), files.end());
    if (files.empty()) throw RuleError("rule directory " + path + " holds no .yaml or .yml file");
  } else if (fs::exists(path, ec)) {
    files.push_back(path);
  } else {
    throw RuleError("rule file " + path + " does not exist");
  }
  std::vector<Rule> rules;
  for (const fs::path& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw RuleError("cannot read rule file " + file.string());
    std::stringstream text;
    text << in.rdbuf();
    MergeRules(rules, ParseRulesYaml(text.str(), file.string()));
  }
  return rules;
}

std::vector<Rule> BuiltinRules() {
  std::vector<Rule> rules;
  for (const EmbeddedFile& file : embedded::BuiltinRuleFiles()) {
    MergeRules(rules, ParseRulesYaml(file.contents, "builtin:" + std::string(file.name)));
  }
  return rules;
}

void MergeRules(std::vector<Rule>& rules, std::vector<Rule> more) {
  std::map<std::string, const Rule*> by_id;
  for (const Rule& rule : rules) by_id.emplace(rule.id, &rule);
  for (const Rule& rule : more) {
    auto [it, inserted] = by_id.emplace(rule.id, &rule);
    if (!inserted) {
      throw RuleError("duplicate rule id '" + rule.id + "' in " + it->second->source + " and " +
                      rule.source);
    }
  }
  rules.reserve(rules.size() + more.size());
  for (Rule& rule : more) rules.push_back(std::move(rule));
}

std::vector<std::string> DefaultExcludedPathPatterns() {
  std::vector<std::string> patterns;
  for (const EmbeddedFile& file : embedded::DefaultExclusionFiles()) {
    std::istringstream lines{std::string(file.contents)};
    std::string line;
    while (std::getline(lines, line)) {
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
      if (line.empty() || line[0] == '#') continue;
      patterns.push_back(line);
    }
  }
  return patterns;
}

}  // namespace layersift
