// gitleaks TOML import. The semantics mirrored here are gitleaks v8's (config/config.go,
// config/allowlist.go, detect/detect.go); where layersift's model cannot express them, the rule
// is skipped or the difference is reported as a warning, never silently approximated.
#include "layersift/rules/gitleaks_loader.h"

#include "layersift/rules/regex_syntax.h"
#include "layersift/rules/rule_regex.h"

#include <re2/re2.h>

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>

namespace layersift {
namespace {

// gitleaks regexes are unbounded (`{64,}?`, `.*`, `[\s\S-]{64,}?`); layersift needs a longest match
// to size the window around each keyword and the overlap between chunks. 1 KiB holds every token
// format of the default config; it cuts off PEM blocks longer than that (RSA keys of 2048 bits and
// more), which layersift's own private-key rules cover.
constexpr size_t kGitleaksMaxMatchBytes = 1024;
// gitleaks follows `[extend]` at most this deep (config.go, maxExtendDepth); a deeper `[extend]` is
// ignored, as there.
constexpr int kMaxExtendDepth = 2;

std::string LowerCase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// RE2's error for `pattern`, or "" when it compiles.
std::string RegexError(const std::string& pattern) {
  const RE2 regex(pattern, RuleRegexOptions());
  return regex.ok() ? std::string() : regex.error();
}

// ---------------------------------------------------------------------------------------------
// Reading TOML tables. gitleaks reads its config through viper, whose keys are case-insensitive
// (`secretGroup`, `secretgroup` and `SecretGroup` are the same field), so lookups here are too.

class TableReader {
 public:
  TableReader(const toml::table& table, std::string where) : where_(std::move(where)) {
    for (const auto& [key, node] : table) fields_.emplace(LowerCase(key.str()), &node);
  }

  const std::string& where() const { return where_; }

  const toml::node* Get(const std::string& lower_key) {
    auto it = fields_.find(lower_key);
    if (it == fields_.end()) return nullptr;
    used_.insert(lower_key);
    return it->second;
  }

  std::string String(const std::string& key) {
    const toml::node* node = Get(key);
    if (node == nullptr) return {};
    if (auto value = node->value_exact<std::string>()) return *value;
    throw RuleError(where_ + ": field '" + key + "' must be a string");
  }

  std::vector<std::string> Strings(const std::string& key) {
    std::vector<std::string> out;
    const toml::node* node = Get(key);
    if (node == nullptr) return out;
    const toml::array* array = node->as_array();
    if (array == nullptr) throw RuleError(where_ + ": field '" + key + "' must be an array");
    for (const toml::node& item : *array) {
      auto value = item.value_exact<std::string>();
      if (!value) throw RuleError(where_ + ": field '" + key + "' must hold strings");
      out.push_back(*value);
    }
    return out;
  }

  std::optional<double> Number(const std::string& key) {
    const toml::node* node = Get(key);
    if (node == nullptr) return std::nullopt;
    if (!node->is_number()) throw RuleError(where_ + ": field '" + key + "' must be a number");
    return node->value<double>();
  }

  std::optional<int64_t> Integer(const std::string& key) {
    const toml::node* node = Get(key);
    if (node == nullptr) return std::nullopt;
    if (auto value = node->value_exact<int64_t>()) return *value;
    throw RuleError(where_ + ": field '" + key + "' must be an integer");
  }

  std::optional<bool> Bool(const std::string& key) {
    const toml::node* node = Get(key);
    if (node == nullptr) return std::nullopt;
    if (auto value = node->value_exact<bool>()) return *value;
    throw RuleError(where_ + ": field '" + key + "' must be true or false");
  }

  // The tables of `key`: an array of tables, or (the deprecated single form) one table.
  std::vector<const toml::table*> Tables(const std::string& key) {
    std::vector<const toml::table*> out;
    const toml::node* node = Get(key);
    if (node == nullptr) return out;
    if (const toml::table* table = node->as_table()) {
      out.push_back(table);
    } else if (const toml::array* array = node->as_array()) {
      for (const toml::node& item : *array) {
        const toml::table* table = item.as_table();
        if (table == nullptr) throw RuleError(where_ + ": '" + key + "' must hold tables");
        out.push_back(table);
      }
    } else {
      throw RuleError(where_ + ": '" + key + "' must be a table or an array of tables");
    }
    return out;
  }

  // gitleaks (viper) ignores fields it does not know; say so rather than drop them silently.
  void WarnUnused(std::vector<std::string>& warnings) const {
    for (const auto& [key, node] : fields_) {
      if (!used_.count(key)) warnings.push_back(where_ + ": unknown field '" + key + "' ignored");
    }
  }

 private:
  std::string where_;
  std::map<std::string, const toml::node*> fields_;
  std::set<std::string> used_;
};

// ---------------------------------------------------------------------------------------------
// The gitleaks model, as read from TOML, before mapping.

struct GitleaksAllowlist {
  std::string where;
  bool condition_and = false;
  std::vector<std::string> commits;
  std::vector<std::string> paths;
  std::string regex_target;  // "" (the secret), "match" or "line"
  std::vector<std::string> regexes;
  std::vector<std::string> stopwords;
  std::vector<std::string> target_rules;  // global allowlists only
};

struct GitleaksRule {
  std::string id;
  std::string description;
  std::string regex;
  std::string path;
  int64_t secret_group = 0;
  double entropy = 0;
  std::vector<std::string> keywords;
  std::vector<GitleaksAllowlist> allowlists;
  bool composite = false;  // has [[rules.required]]
  bool skip_report = false;
  std::string source;
};

struct GitleaksConfig {
  std::vector<GitleaksRule> rules;
  std::vector<GitleaksAllowlist> allowlists;  // global
};

GitleaksAllowlist ReadAllowlist(const toml::table& table, const std::string& where, bool global,
                                std::vector<std::string>& warnings) {
  TableReader reader(table, where);
  GitleaksAllowlist allow;
  allow.where = where;
  reader.String("description");
  const std::string condition = LowerCase(reader.String("condition"));
  if (condition == "and" || condition == "&&") {
    allow.condition_and = true;
  } else if (!condition.empty() && condition != "or" && condition != "||") {
    throw RuleError(where + ": unknown condition '" + condition + "' (expected AND or OR)");
  }
  allow.commits = reader.Strings("commits");
  allow.paths = reader.Strings("paths");
  allow.regex_target = reader.String("regextarget");
  if (allow.regex_target == "secret") allow.regex_target.clear();
  if (!allow.regex_target.empty() && allow.regex_target != "match" &&
      allow.regex_target != "line") {
    throw RuleError(where + ": unknown regexTarget '" + allow.regex_target +
                    "' (expected secret, match or line)");
  }
  allow.regexes = reader.Strings("regexes");
  for (const std::string& word : reader.Strings("stopwords")) {
    allow.stopwords.push_back(LowerCase(word));
  }
  if (global) allow.target_rules = reader.Strings("targetrules");
  if (allow.commits.empty() && allow.paths.empty() && allow.regexes.empty() &&
      allow.stopwords.empty()) {
    throw RuleError(where + ": must contain at least one of commits, paths, regexes, stopwords");
  }
  reader.WarnUnused(warnings);
  return allow;
}

GitleaksRule ReadRule(const toml::table& table, const std::string& source, size_t index,
                      std::vector<std::string>& warnings) {
  GitleaksRule rule;
  rule.source = source;
  {
    TableReader id_reader(table, source + ": rules[" + std::to_string(index) + "]");
    rule.id = id_reader.String("id");
    if (rule.id.empty()) throw RuleError(id_reader.where() + ": field 'id' is required");
  }
  TableReader reader(table, source + ": rule '" + rule.id + "'");
  reader.Get("id");
  rule.description = reader.String("description");
  rule.regex = reader.String("regex");
  rule.path = reader.String("path");
  rule.secret_group = reader.Integer("secretgroup").value_or(0);
  rule.entropy = reader.Number("entropy").value_or(0);
  for (const std::string& keyword : reader.Strings("keywords")) {
    const std::string lower = LowerCase(keyword);
    if (!lower.empty() &&
        std::find(rule.keywords.begin(), rule.keywords.end(), lower) == rule.keywords.end()) {
      rule.keywords.push_back(lower);
    }
  }
  reader.Strings("tags");  // no equivalent; ignored without a warning
  rule.skip_report = reader.Bool("skipreport").value_or(false);
  rule.composite = reader.Get("required") != nullptr;
  const std::vector<const toml::table*> old_form = reader.Tables("allowlist");
  const std::vector<const toml::table*> tables = reader.Tables("allowlists");
  if (!old_form.empty() && !tables.empty()) {
    throw RuleError(reader.where() +
                    ": [rules.allowlist] is deprecated and cannot be used alongside "
                    "[[rules.allowlists]]");
  }
  for (const std::vector<const toml::table*>* list : {&old_form, &tables}) {
    for (const toml::table* allow : *list) {
      rule.allowlists.push_back(ReadAllowlist(
          *allow, reader.where() + ": allowlist " + std::to_string(rule.allowlists.size() + 1),
          /*global=*/false, warnings));
    }
  }
  reader.WarnUnused(warnings);
  return rule;
}

// ---------------------------------------------------------------------------------------------
// Regex structure: which parentheses capture, and where the secret group is.

// Whether capturing group `index` takes part in every match: neither it nor an enclosing group
// may be optional (?, *, {0,...}) or one branch of an alternation.
bool AlwaysTakesPart(const RegexShape& shape, int index, std::string_view re) {
  if (shape.top_alternation) return false;
  for (int g = index; g != -1; g = shape.groups[g].parent) {
    const RegexGroup& group = shape.groups[g];
    if (g != index && group.alternation) return false;
    if (group.close == std::string_view::npos) return false;
    const std::string_view after = re.substr(group.close + 1);
    if (!after.empty() && (after[0] == '?' || after[0] == '*')) return false;
    if (after.size() >= 2 && after[0] == '{' && after[1] == '0') return false;
  }
  return true;
}

// `re` with capturing group number `secret_group` (1-based) opened as (?P<secret>, every other
// named group made unnamed (so there is exactly one `secret`, and group numbers stay the same);
// secret_group 0 wraps the whole regex.
std::string RewriteSecretGroup(std::string_view re, const RegexShape& shape, size_t secret_group) {
  std::string out;
  size_t copied = 0;
  for (size_t k = 0; k < shape.capturing.size(); ++k) {
    const RegexGroup& group = shape.groups[shape.capturing[k]];
    const bool is_secret = k + 1 == secret_group;
    if (!is_secret && group.open_len == 1) continue;  // a plain '(' stays as it is
    out.append(re.substr(copied, group.open - copied));
    out.append(is_secret ? "(?P<secret>" : "(");
    copied = group.open + group.open_len;
  }
  out.append(re.substr(copied));
  return secret_group == 0 ? "(?P<secret>" + out + ")" : out;
}

// "gitleaks." + the id, lower-cased, with every character rule ids do not allow turned into '-'.
std::string LayersiftId(const std::string& gitleaks_id) {
  std::string id = "gitleaks.";
  for (const char c : LowerCase(gitleaks_id)) {
    const bool ok = std::islower(static_cast<unsigned char>(c)) ||
                    std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
    id.push_back(ok ? c : '-');
  }
  return id;
}

// Appends `from` to `to`, the way gitleaks applies it. Each list of a layersift Allowlist
// suppresses on its own (OR). A gitleaks AND allowlist with one kind of criterion is the same
// thing; with several it is not representable and is left out, which reports more, never less.
void MapAllowlist(const GitleaksAllowlist& from, Allowlist& to, std::vector<std::string>& warnings) {
  const int kinds = !from.paths.empty() + !from.regexes.empty() + !from.stopwords.empty();
  if (!from.commits.empty()) {
    if (from.condition_and) {
      // Outside git history there is no commit, so gitleaks itself never applies it.
      warnings.push_back(from.where +
                         ": condition AND with commits never applies to files; allowlist ignored");
      return;
    }
    warnings.push_back(from.where + ": commits ignored (a container layer has no commits)");
  }
  if (from.condition_and && kinds > 1) {
    warnings.push_back(from.where +
                       ": condition AND over several criteria cannot be represented "
                       "(layersift allowlists are OR); allowlist ignored");
    return;
  }
  auto add_regexes = [&](const std::vector<std::string>& regexes, std::vector<std::string>& into,
                         const char* what) {
    for (const std::string& regex : regexes) {
      const std::string error = RegexError(regex);
      if (!error.empty()) {
        warnings.push_back(from.where + ": " + what + " regex '" + regex +
                           "' dropped, RE2 rejects it: " + error);
        continue;
      }
      into.push_back(regex);
    }
  };
  if (from.regex_target == "match") {
    add_regexes(from.regexes, to.matches, "match");
  } else if (from.regex_target == "line") {
    add_regexes(from.regexes, to.lines, "line");
  } else {
    add_regexes(from.regexes, to.secrets, "secret");
  }
  add_regexes(from.paths, to.paths, "path");
  for (const std::string& word : from.stopwords) {
    if (!word.empty()) to.stopwords.push_back(word);
  }
}

// Maps one gitleaks rule, or returns the reason it cannot be.
std::optional<Rule> MapRule(const GitleaksRule& from, std::string& reason,
                            std::vector<std::string>& warnings) {
  const std::string where = from.source + ": rule '" + from.id + "'";
  if (from.skip_report) {
    reason = "skipReport: only a component of composite rules, never reported";
    return std::nullopt;
  }
  if (from.regex.empty()) {
    reason = from.path.empty() ? "neither regex nor path" : "path-only rules are not supported";
    return std::nullopt;
  }
  if (from.keywords.empty()) {
    reason = "no keywords: layersift needs prefilter literals";
    return std::nullopt;
  }
  if (from.secret_group < 0) {
    reason = "secretGroup " + std::to_string(from.secret_group) + " is negative";
    return std::nullopt;
  }
  if (from.entropy < 0 || from.entropy > 8) {
    reason = "entropy " + std::to_string(from.entropy) + " is outside 0..8 bits per byte";
    return std::nullopt;
  }

  const RegexShape shape = ScanRegex(from.regex);
  const size_t groups = shape.capturing.size();
  size_t secret_group = static_cast<size_t>(from.secret_group);
  if (secret_group > groups) {
    reason = "secretGroup " + std::to_string(secret_group) + " but the regex has " +
             std::to_string(groups) + " capturing groups";
    return std::nullopt;
  }
  if (secret_group == 0 && groups > 0) {
    // gitleaks without secretGroup reports the first non-empty capturing group, or the whole
    // match when every group is empty (detect.go). One named group cannot choose at match time:
    // group 1 is exact when it takes part in every match; otherwise the whole match is the secret,
    // a superset of gitleaks's, so nothing gitleaks finds is lost.
    if (AlwaysTakesPart(shape, shape.capturing[0], from.regex)) {
      secret_group = 1;
      if (groups > 1) {
        warnings.push_back(where + ": no secretGroup and " + std::to_string(groups) +
                           " groups: group 1 is the secret (it takes part in every match)");
      }
    } else {
      warnings.push_back(where + ": no secretGroup and group 1 does not take part in every "
                                 "match (alternation or optional): the whole match is the secret");
    }
  }

  Rule rule;
  rule.id = LayersiftId(from.id);
  rule.name = from.description.empty() ? from.id : from.description;
  rule.description = from.description;
  rule.kind = "gitleaks";
  const std::string lower_id = LowerCase(from.id);
  rule.vendor = lower_id.substr(0, lower_id.find('-'));
  rule.confidence = Confidence::kMedium;
  rule.max_match_bytes = kGitleaksMaxMatchBytes;
  rule.source = from.source;
  rule.pattern = RewriteSecretGroup(from.regex, shape, secret_group);
  if (const std::string error = RegexError(rule.pattern); !error.empty()) {
    reason = "RE2 rejects the regex: " + error;
    return std::nullopt;
  }
  // gitleaks requires a keyword somewhere in the scanned fragment (a file or a diff hunk);
  // layersift requires one inside the match (rules/README.md, "How a rule matches"). A gitleaks
  // rule whose regex does not consume its keyword (facebook-access-token: keyword "facebook",
  // regex of digits) is imported but does not report; whether a regex consumes a keyword is not
  // decidable from its text reliably enough to warn about it.
  rule.keywords = from.keywords;
  if (from.entropy > 0) rule.min_entropy = from.entropy;
  if (!from.path.empty()) {
    if (const std::string error = RegexError(from.path); !error.empty()) {
      reason = "RE2 rejects the path regex: " + error;
      return std::nullopt;
    }
    rule.paths.push_back(from.path);
  }
  if (from.composite) {
    warnings.push_back(where + ": [[rules.required]] ignored: reported without its required rules");
  }
  for (const GitleaksAllowlist& allow : from.allowlists) MapAllowlist(allow, rule.allow, warnings);
  return rule;
}

// ---------------------------------------------------------------------------------------------
// Reading a config and what it extends.

struct Reading {
  GitleaksImport* out;
  int depth = 0;
};

std::string ReadFileOrThrow(const std::filesystem::path& path, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw RuleError("cannot read " + what + " " + path.string());
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) throw RuleError("cannot read " + what + " " + path.string());
  return text.str();
}

// gitleaks's Config.extend: the extending config's rules win field by field, keywords and
// allowlists of a rule defined in both are concatenated, global allowlists are appended.
void Extend(GitleaksConfig& config, GitleaksConfig base, const std::vector<std::string>& disabled,
            const std::string& base_name, std::vector<std::string>& warnings) {
  std::map<std::string, size_t> by_id;
  for (size_t i = 0; i < config.rules.size(); ++i) by_id.emplace(config.rules[i].id, i);
  std::set<std::string> base_ids;
  for (const GitleaksRule& rule : base.rules) base_ids.insert(rule.id);
  for (const std::string& id : disabled) {
    if (!base_ids.count(id)) {
      warnings.push_back("disabledRules: '" + id + "' is not a rule of " + base_name);
    }
  }
  for (GitleaksRule& base_rule : base.rules) {
    if (std::find(disabled.begin(), disabled.end(), base_rule.id) != disabled.end()) continue;
    auto it = by_id.find(base_rule.id);
    if (it == by_id.end()) {
      config.rules.push_back(std::move(base_rule));
      continue;
    }
    GitleaksRule& own = config.rules[it->second];
    GitleaksRule merged = std::move(base_rule);
    if (!own.description.empty()) merged.description = own.description;
    if (own.entropy != 0) merged.entropy = own.entropy;
    if (own.secret_group != 0) merged.secret_group = own.secret_group;
    if (!own.regex.empty()) merged.regex = own.regex;
    if (!own.path.empty()) merged.path = own.path;
    for (std::string& k : own.keywords) {
      if (std::find(merged.keywords.begin(), merged.keywords.end(), k) == merged.keywords.end()) {
        merged.keywords.push_back(std::move(k));
      }
    }
    for (GitleaksAllowlist& a : own.allowlists) merged.allowlists.push_back(std::move(a));
    merged.source = own.source;
    own = std::move(merged);
  }
  for (GitleaksAllowlist& a : base.allowlists) config.allowlists.push_back(std::move(a));
  // gitleaks sorts the rule order after extending.
  std::stable_sort(config.rules.begin(), config.rules.end(),
                   [](const GitleaksRule& a, const GitleaksRule& b) { return a.id < b.id; });
}

GitleaksConfig ReadConfig(std::string_view text, const std::string& source_name, Reading& reading) {
  std::vector<std::string>& warnings = reading.out->warnings;
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    throw RuleError(source_name + ":" + std::to_string(e.source().begin.line) + ":" +
                    std::to_string(e.source().begin.column) +
                    ": invalid TOML: " + std::string(e.description()));
  }
  TableReader reader(root, source_name);
  reader.String("title");
  reader.String("description");
  reader.String("minversion");

  GitleaksConfig config;
  if (const toml::node* rules = reader.Get("rules")) {
    const toml::array* array = rules->as_array();
    if (array == nullptr) throw RuleError(source_name + ": 'rules' must be an array of tables");
    size_t index = 0;
    for (const toml::node& node : *array) {
      const toml::table* table = node.as_table();
      if (table == nullptr) throw RuleError(source_name + ": 'rules' must be an array of tables");
      config.rules.push_back(ReadRule(*table, source_name, index++, warnings));
    }
  }

  const std::vector<const toml::table*> old_form = reader.Tables("allowlist");
  const std::vector<const toml::table*> tables = reader.Tables("allowlists");
  if (!old_form.empty() && !tables.empty()) {
    throw RuleError(source_name +
                    ": [allowlist] is deprecated and cannot be used alongside [[allowlists]]");
  }
  for (const std::vector<const toml::table*>* list : {&old_form, &tables}) {
    for (const toml::table* table : *list) {
      config.allowlists.push_back(ReadAllowlist(
          *table, source_name + ": global allowlist " + std::to_string(config.allowlists.size() + 1),
          /*global=*/true, warnings));
    }
  }

  std::string extend_path;
  bool use_default = false;
  std::vector<std::string> disabled;
  if (const toml::node* node = reader.Get("extend")) {
    const toml::table* table = node->as_table();
    if (table == nullptr) throw RuleError(source_name + ": 'extend' must be a table");
    TableReader extend(*table, source_name + ": extend");
    extend_path = extend.String("path");
    use_default = extend.Bool("usedefault").value_or(false);
    disabled = extend.Strings("disabledrules");
    if (!extend.String("url").empty()) {
      warnings.push_back(source_name + ": extend.url ignored (gitleaks does not implement it)");
    }
    extend.WarnUnused(warnings);
  }
  reader.WarnUnused(warnings);

  if (extend_path.empty() && !use_default) return config;
  if (!extend_path.empty() && use_default) {
    throw RuleError(source_name + ": extend.path and extend.useDefault cannot both be set");
  }
  if (reading.depth >= kMaxExtendDepth) {
    warnings.push_back(source_name + ": [extend] ignored: gitleaks extends at most " +
                       std::to_string(kMaxExtendDepth) + " levels deep");
    return config;
  }
  if (use_default) {
    reading.out->use_default = true;
    warnings.push_back(source_name +
                       ": extend.useDefault: gitleaks's default rules are not bundled; "
                       "layersift's built-in rules are used alongside instead");
    if (!disabled.empty()) {
      warnings.push_back(source_name +
                         ": extend.disabledRules names gitleaks default rules, which are not "
                         "loaded; it has no effect");
    }
    return config;
  }
  namespace fs = std::filesystem;
  fs::path base_path(extend_path);
  if (base_path.is_relative()) base_path = fs::path(source_name).parent_path() / base_path;
  const std::string base_text = ReadFileOrThrow(base_path, "gitleaks config extended by " +
                                                               source_name + ":");
  ++reading.depth;
  GitleaksConfig base = ReadConfig(base_text, base_path.string(), reading);
  --reading.depth;
  Extend(config, std::move(base), disabled, base_path.string(), warnings);
  return config;
}

}  // namespace

GitleaksImport ParseGitleaksToml(std::string_view text, const std::string& source_name) {
  GitleaksImport out;
  Reading reading{&out};
  GitleaksConfig config = ReadConfig(text, source_name, reading);

  // Global allowlists: with targetRules they belong to those rules, otherwise to every rule.
  auto shared = std::make_shared<Allowlist>();
  std::map<std::string, std::vector<const GitleaksAllowlist*>> targeted;
  for (const GitleaksAllowlist& allow : config.allowlists) {
    if (allow.target_rules.empty()) {
      MapAllowlist(allow, *shared, out.warnings);
    } else {
      for (const std::string& id : allow.target_rules) targeted[id].push_back(&allow);
    }
  }
  std::set<std::string> known;
  for (const GitleaksRule& rule : config.rules) known.insert(rule.id);
  for (const auto& [id, lists] : targeted) {
    if (!known.count(id)) {
      out.warnings.push_back(lists.front()->where + ": targetRules names unknown rule '" + id +
                             "'");
    }
  }

  std::set<std::string> ids;
  for (GitleaksRule& from : config.rules) {
    if (auto it = targeted.find(from.id); it != targeted.end()) {
      for (const GitleaksAllowlist* allow : it->second) from.allowlists.push_back(*allow);
    }
    std::string reason;
    std::optional<Rule> rule = MapRule(from, reason, out.warnings);
    if (rule && !ids.insert(rule->id).second) {
      rule.reset();
      reason = "its id becomes '" + LayersiftId(from.id) + "', which another rule already has";
    }
    if (!rule) {
      out.skipped.push_back(from.id + ": " + reason);
      continue;
    }
    out.rules.push_back(std::move(*rule));
  }
  if (!shared->empty()) {
    const std::shared_ptr<const Allowlist> shared_allow = shared;
    for (Rule& rule : out.rules) rule.shared_allow = shared_allow;
  }
  return out;
}

GitleaksImport LoadGitleaksConfig(const std::string& path) {
  return ParseGitleaksToml(ReadFileOrThrow(path, "gitleaks config"), path);
}

}  // namespace layersift
