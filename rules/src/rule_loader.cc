#include "layersift/rules/rule_loader.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <future>
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

template <size_t N>
void RejectUnknownFields(const YAML::Node& node, const char* const (&known)[N],
                         const std::string& where, const char* what);

std::vector<RuleExample> Examples(const YAML::Node& node, const char* field,
                                  const std::string& where, bool positive) {
  std::vector<RuleExample> out;
  const YAML::Node value = node[field];
  if (!value) return out;
  if (!value.IsSequence()) throw RuleError(where + ": field '" + field + "' must be a list");
  for (const YAML::Node& item : value) {
    RuleExample example;
    if (item.IsScalar()) {
      example.text = item.as<std::string>();
    } else if (item.IsMap()) {
      const std::string at = where + ": " + field;
      static const char* const kPositive[] = {"text", "secret", "path"};
      static const char* const kNegative[] = {"text", "path"};
      if (positive) {
        RejectUnknownFields(item, kPositive, at, "field");
      } else {
        RejectUnknownFields(item, kNegative, at, "field");
      }
      example.text = RequiredString(item, "text", at);
      if (const YAML::Node secret = item["secret"]) example.secret = secret.as<std::string>();
      if (const YAML::Node path = item["path"]) example.path = path.as<std::string>();
    } else {
      throw RuleError(where + ": each of '" + field + "' must be a string or a mapping with text");
    }
    out.push_back(std::move(example));
  }
  return out;
}

bool ValidId(const std::string& id) {
  return std::all_of(id.begin(), id.end(), [](unsigned char c) {
    return std::islower(c) || std::isdigit(c) || c == '-' || c == '.' || c == '_';
  });
}

std::string LowerCase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// Fails on a key of `node` that is not in `known`: a misspelt field must not be ignored.
template <size_t N>
void RejectUnknownFields(const YAML::Node& node, const char* const (&known)[N],
                         const std::string& where, const char* what) {
  for (const auto& field : node) {
    const std::string key = field.first.as<std::string>();
    if (std::find_if(std::begin(known), std::end(known),
                     [&](const char* k) { return key == k; }) == std::end(known)) {
      throw RuleError(where + ": unknown " + what + " '" + key + "'");
    }
  }
}

// `allow` of a rule or the top-level `allowlist` of a file: secrets/matches/lines/paths regexes
// and (at the top level) stopwords.
void ParseAllowlist(const YAML::Node& node, const std::string& where, Allowlist& out) {
  if (!node) return;
  if (!node.IsMap()) throw RuleError(where + ": must be a mapping");
  static const char* const kFields[] = {"secrets", "matches", "lines", "paths", "stopwords",
                                        "description"};
  RejectUnknownFields(node, kFields, where, "field");
  auto append = [&](const char* field, std::vector<std::string>& to, bool lower) {
    for (std::string value : StringList(node, field, where)) {
      if (value.empty()) throw RuleError(where + ": '" + field + "' must not hold empty strings");
      to.push_back(lower ? LowerCase(std::move(value)) : std::move(value));
    }
  };
  append("secrets", out.secrets, false);
  append("matches", out.matches, false);
  append("lines", out.lines, false);
  append("paths", out.paths, false);
  append("stopwords", out.stopwords, true);
}

void AppendAllowlist(Allowlist& to, const Allowlist& from) {
  auto add = [](std::vector<std::string>& a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
  };
  add(to.secrets, from.secrets);
  add(to.matches, from.matches);
  add(to.lines, from.lines);
  add(to.paths, from.paths);
  add(to.stopwords, from.stopwords);
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
  static const char* const kKnownFields[] = {
      "id", "name", "kind", "vendor", "confidence", "description", "references", "pattern",
      "keywords", "min_entropy", "max_match_bytes", "paths", "allow", "stopwords", "validate",
      "on_invalid", "enabled", "examples", "negative_examples"};
  RejectUnknownFields(node, kKnownFields, where, "field");
  rule.name = RequiredString(node, "name", where);
  rule.kind = RequiredString(node, "kind", where);
  rule.pattern = RequiredString(node, "pattern", where);
  for (std::string keyword : StringList(node, "keywords", where)) {
    if (keyword.empty()) throw RuleError(where + ": keywords must not be empty strings");
    keyword = LowerCase(std::move(keyword));
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
    if (const YAML::Node v = node["vendor"]) rule.vendor = LowerCase(v.as<std::string>());
    if (const YAML::Node v = node["description"]) rule.description = v.as<std::string>();
    if (const YAML::Node v = node["confidence"]) {
      const auto confidence = ParseConfidence(v.as<std::string>());
      if (!confidence) throw RuleError(where + ": confidence must be high, medium or low");
      rule.confidence = *confidence;
    }
    if (const YAML::Node v = node["validate"]) {
      const auto validator = ParseValidator(v.as<std::string>());
      if (!validator) {
        throw RuleError(where + ": unknown validate '" + v.as<std::string>() +
                        "' (expected github-checksum, npm-checksum, aws-access-key-id, jwt, "
                        "jwt-base64 or pem-private-key)");
      }
      rule.validate = *validator;
    }
    if (const YAML::Node v = node["on_invalid"]) {
      const std::string value = v.as<std::string>();
      if (value == "suppress") {
        rule.on_invalid = OnInvalid::kSuppress;
      } else if (value == "downgrade") {
        rule.on_invalid = OnInvalid::kDowngrade;
      } else {
        throw RuleError(where + ": on_invalid must be suppress or downgrade");
      }
      if (rule.validate == Validator::kNone) {
        throw RuleError(where + ": on_invalid needs a validate check");
      }
    }
  } catch (const YAML::BadConversion& e) {
    throw RuleError(where + ": " + e.what());
  }
  if (rule.min_entropy && (*rule.min_entropy < 0 || *rule.min_entropy > 8)) {
    throw RuleError(where + ": min_entropy must be between 0 and 8 bits per byte");
  }
  rule.references = StringList(node, "references", where);
  rule.paths = StringList(node, "paths", where);
  ParseAllowlist(node["allow"], where + ": allow", rule.allow);
  for (std::string word : StringList(node, "stopwords", where)) {
    if (word.empty()) throw RuleError(where + ": stopwords must not be empty strings");
    rule.allow.stopwords.push_back(LowerCase(std::move(word)));
  }
  rule.examples = Examples(node, "examples", where, true);
  rule.negative_examples = Examples(node, "negative_examples", where, false);
  return rule;
}

// One file's rules and its top-level allowlist.
struct ParsedFile {
  std::vector<Rule> rules;
  Allowlist allowlist;
};

ParsedFile ParseFile(std::string_view yaml_text, const std::string& source_name) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    throw RuleError(source_name + ": invalid YAML: " + e.what());
  }
  if (!root.IsMap() || (!root["rules"] && !root["allowlist"])) {
    throw RuleError(source_name + ": expected a mapping with a 'rules' list or an 'allowlist'");
  }
  static const char* const kTopFields[] = {"rules", "allowlist"};
  RejectUnknownFields(root, kTopFields, source_name, "top-level field");
  ParsedFile parsed;
  ParseAllowlist(root["allowlist"], source_name + ": allowlist", parsed.allowlist);
  if (const YAML::Node rules = root["rules"]) {
    if (!rules.IsSequence()) throw RuleError(source_name + ": 'rules' must be a list");
    std::vector<Rule> list;
    for (const YAML::Node& node : rules) list.push_back(ParseRule(node, source_name));
    MergeRules(parsed.rules, std::move(list));
  }
  return parsed;
}

// Rules loaded together share the union of their files' allowlists.
std::vector<Rule> ShareAllowlist(std::vector<ParsedFile> files) {
  auto shared = std::make_shared<Allowlist>();
  std::vector<Rule> rules;
  for (ParsedFile& file : files) {
    AppendAllowlist(*shared, file.allowlist);
    MergeRules(rules, std::move(file.rules));
  }
  if (!shared->empty()) {
    for (Rule& rule : rules) rule.shared_allow = shared;
  }
  return rules;
}

}  // namespace

std::vector<Rule> ParseRulesYaml(std::string_view yaml_text, const std::string& source_name) {
  std::vector<ParsedFile> files;
  files.push_back(ParseFile(yaml_text, source_name));
  return ShareAllowlist(std::move(files));
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
  std::vector<ParsedFile> parsed;
  for (const fs::path& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) throw RuleError("cannot read rule file " + file.string());
    std::stringstream text;
    text << in.rdbuf();
    parsed.push_back(ParseFile(text.str(), file.string()));
  }
  return ShareAllowlist(std::move(parsed));
}

std::vector<Rule> BuiltinRules() {
  // Parsing the YAML is most of a scan's fixed cost (an incremental scan with nothing new pays
  // little else): the files are parsed in parallel, and kept in their order.
  std::vector<std::future<ParsedFile>> pending;
  for (const EmbeddedFile& file : embedded::BuiltinRuleFiles()) {
    pending.push_back(std::async(std::launch::async, [&file] {
      return ParseFile(file.contents, "builtin:" + std::string(file.name));
    }));
  }
  std::vector<ParsedFile> parsed;
  for (std::future<ParsedFile>& file : pending) parsed.push_back(file.get());
  return ShareAllowlist(std::move(parsed));
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
