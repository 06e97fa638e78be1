#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>

#include <map>

#include "layersift/engine/matcher.h"
#include "layersift/engine/validate.h"
#include "layersift/rules/rule_regex.h"
#include "cpu_time.h"
#include "matcher_internal.h"

namespace layersift {
namespace matcher_internal {

RuleTable::RuleTable(const std::vector<Rule>& all_rules, const MatcherOptions& matcher_options)
    : options(matcher_options) {
  for (const Rule& rule : all_rules) {
    if (rule.enabled) rules.push_back(rule);
  }
  rule_keywords.resize(rules.size());
  for (uint32_t r = 0; r < rules.size(); ++r) {
    for (std::string keyword : rules[r].keywords) {
      // The prefilter compares lower-case; rules built in code may not be.
      for (char& c : keyword) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      auto it = std::find(keywords.begin(), keywords.end(), keyword);
      const uint32_t k = static_cast<uint32_t>(it - keywords.begin());
      if (it == keywords.end()) {
        keywords.push_back(keyword);
        keyword_rules.emplace_back();
        keyword_window_bytes.push_back(0);
      }
      keyword_rules[k].push_back(r);
      rule_keywords[r].push_back(k);
      keyword_window_bytes[k] =
          std::max<uint32_t>(keyword_window_bytes[k], static_cast<uint32_t>(rules[r].max_match_bytes));
      longest_keyword_bytes = std::max(longest_keyword_bytes, keyword.size());
    }
    context_bytes = std::max(context_bytes, rules[r].max_match_bytes);
  }
  context_bytes += longest_keyword_bytes;
  regex_once_ = std::make_unique<std::once_flag[]>(rules.size());
  regexes_.resize(rules.size());
  secret_groups_.assign(rules.size(), 0);
  for (const Rule& rule : rules) {
    // Every capturing group starts with '(': their count is an upper bound on the index of the
    // `secret` group, enough to size the capture array before any pattern is compiled.
    most_groups = std::max(
        most_groups, static_cast<int>(std::count(rule.pattern.begin(), rule.pattern.end(), '(')));
  }
  // A line allowlist looks this far beyond the match, so chunks must carry it too.
  for (const Rule& rule : rules) {
    if (!rule.allow.lines.empty() || (rule.shared_allow && !rule.shared_allow->lines.empty())) {
      context_bytes += Allowlist::kLineContextBytes;
      break;
    }
  }
}

namespace {

std::unique_ptr<RE2> CompileFilterRegex(const Rule& rule, const std::string& pattern,
                                        const char* what) {
  auto regex = std::make_unique<RE2>(pattern, RuleRegexOptions());
  if (!regex->ok()) {
    throw RuleError(rule.source + ": rule '" + rule.id + "': " + what + " regex '" + pattern +
                    "' does not compile: " + regex->error());
  }
  return regex;
}

std::unique_ptr<CompiledRuleFilters::Regexes> CompileAllowlist(const Rule& rule,
                                                               const Allowlist& allow) {
  auto out = std::make_unique<CompiledRuleFilters::Regexes>();
  auto compile = [&](const std::vector<std::string>& from, std::vector<std::unique_ptr<RE2>>& to,
                     const char* what) {
    for (const std::string& pattern : from) to.push_back(CompileFilterRegex(rule, pattern, what));
  };
  compile(allow.secrets, out->secrets, "allow.secrets");
  compile(allow.matches, out->matches, "allow.matches");
  compile(allow.lines, out->lines, "allow.lines");
  compile(allow.paths, out->paths, "allow.paths");
  out->stopwords = allow.stopwords;
  return out;
}

bool AnySearch(const std::vector<std::unique_ptr<RE2>>& regexes, std::string_view text) {
  const re2::StringPiece piece(text.data(), text.size());
  for (const auto& regex : regexes) {
    if (RE2::PartialMatch(piece, *regex)) return true;
  }
  return false;
}

bool ContainsCaseless(std::string_view text, std::string_view lower_word) {
  if (lower_word.size() > text.size()) return false;
  for (size_t i = 0; i + lower_word.size() <= text.size(); ++i) {
    size_t j = 0;
    while (j < lower_word.size() &&
           std::tolower(static_cast<unsigned char>(text[i + j])) == lower_word[j]) {
      ++j;
    }
    if (j == lower_word.size()) return true;
  }
  return false;
}

RE2::Options SetOptions(const RuleTable& table) {
  RE2::Options options = RuleRegexOptions();
  options.set_max_mem(table.options.re2_set_max_mem_bytes);
  options.set_never_capture(true);
  return options;
}

// Compiles one rule's pattern; throws RuleError naming the rule if it does not compile or has no
// `secret` group.
std::unique_ptr<RE2> CompileRulePattern(const Rule& rule, int64_t max_mem_bytes,
                                        int* secret_group) {
  RE2::Options options = RuleRegexOptions();
  options.set_max_mem(max_mem_bytes);
  auto regex = std::make_unique<RE2>(rule.pattern, options);
  if (!regex->ok()) {
    throw RuleError(rule.source + ": rule '" + rule.id + "': pattern does not compile: " +
                    regex->error());
  }
  const auto& names = regex->NamedCapturingGroups();
  auto it = names.find("secret");
  if (it == names.end()) {
    throw RuleError(rule.source + ": rule '" + rule.id +
                    "': pattern has no named group (?P<secret>...)");
  }
  *secret_group = it->second;
  return regex;
}

}  // namespace

void Confirmer::Validate(const RuleTable& table) {
  RE2::Set set(SetOptions(table), RE2::UNANCHORED);
  for (const Rule& rule : table.rules) {
    // Parsing (RE2::Set::Add) finds syntax errors at a fraction of the cost of compiling every
    // rule; a pattern is compiled when the data first reaches it.
    if (rule.pattern.find("(?P<secret>") == std::string::npos) {
      throw RuleError(rule.source + ": rule '" + rule.id +
                      "': pattern has no named group (?P<secret>...)");
    }
    std::string error;
    if (set.Add(rule.pattern, &error) < 0) {
      throw RuleError(rule.source + ": rule '" + rule.id + "': " + error);
    }
  }
  Confirmer filters(table);  // compiles every allowlist and path regex
}

std::unique_ptr<RE2::Set> CompileRuleSet(const RuleTable& table) {
  auto set = std::make_unique<RE2::Set>(SetOptions(table), RE2::UNANCHORED);
  for (const Rule& rule : table.rules) {
    std::string error;
    if (set->Add(rule.pattern, &error) < 0) {
      throw RuleError(rule.source + ": rule '" + rule.id + "': " + error);
    }
  }
  if (!set->Compile()) {
    throw MatcherError("the rule set does not compile as an RE2::Set (out of memory)");
  }
  return set;
}

Confirmer::Confirmer(const RuleTable& table) : table_(table) {
  groups_.resize(static_cast<size_t>(table.most_groups) + 1);
  std::map<const Allowlist*, const CompiledRuleFilters::Regexes*> shared;
  filters_.resize(table.rules.size());
  for (size_t r = 0; r < table.rules.size(); ++r) {
    const Rule& rule = table.rules[r];
    CompiledRuleFilters& filters = filters_[r];
    if (!rule.allow.empty()) {
      allowlists_.push_back(CompileAllowlist(rule, rule.allow));
      filters.allowlists.push_back(allowlists_.back().get());
    }
    if (rule.shared_allow && !rule.shared_allow->empty()) {
      auto [it, inserted] = shared.emplace(rule.shared_allow.get(), nullptr);
      if (inserted) {
        allowlists_.push_back(CompileAllowlist(rule, *rule.shared_allow));
        it->second = allowlists_.back().get();
      }
      filters.allowlists.push_back(it->second);
    }
    for (const std::string& pattern : rule.paths) {
      filters.required_paths.push_back(CompileFilterRegex(rule, pattern, "paths"));
    }
    filters.has_path_conditions = !filters.required_paths.empty();
    for (const auto* allow : filters.allowlists) {
      if (!allow->paths.empty()) filters.has_path_conditions = true;
    }
    any_path_conditions_ = any_path_conditions_ || filters.has_path_conditions;
  }
  path_verdict_.assign(table.rules.size(), -1);
  if (table.options.profile_rules) profile_.resize(table.rules.size());
}

const RE2& RuleTable::Regex(uint32_t rule, int* secret_group) const {
  std::call_once(regex_once_[rule], [&] {
    regexes_[rule] = CompileRulePattern(rules[rule], options.re2_rule_max_mem_bytes,
                                        &secret_groups_[rule]);
  });
  *secret_group = secret_groups_[rule];
  return *regexes_[rule];
}

void Confirmer::MatchSet(std::string_view text, std::vector<int>& matched) {
  matched.clear();
  if (!set_) set_ = CompileRuleSet(table_);
  RE2::Set::ErrorInfo info{};
  if (!set_->Match(re2::StringPiece(text.data(), text.size()), &matched, &info) &&
      info.kind != RE2::Set::kNoError) {
    throw MatcherError(info.kind == RE2::Set::kOutOfMemory
                           ? "RE2::Set ran out of DFA memory (raise the per-worker budget)"
                           : "RE2::Set failed to match");
  }
}

void Confirmer::SetPath(std::string_view path) {
  path_ = path;
  rooted_path_ready_ = false;
  if (any_path_conditions_) std::fill(path_verdict_.begin(), path_verdict_.end(), -1);
}

bool Confirmer::PathPermits(uint32_t rule_index) {
  const CompiledRuleFilters& filters = filters_[rule_index];
  if (!filters.has_path_conditions) return true;
  int8_t& verdict = path_verdict_[rule_index];
  if (verdict < 0) {
    if (!rooted_path_ready_) {  // paths are matched with a leading '/', as path exclusions are
      rooted_path_.assign(path_.empty() || path_[0] != '/' ? "/" : "");
      rooted_path_.append(path_);
      rooted_path_ready_ = true;
    }
    bool permitted =
        filters.required_paths.empty() || AnySearch(filters.required_paths, rooted_path_);
    for (const auto* allow : filters.allowlists) {
      if (permitted && AnySearch(allow->paths, rooted_path_)) permitted = false;
    }
    verdict = permitted ? 1 : 0;
  }
  return verdict == 1;
}

bool Confirmer::Suppressed(uint32_t rule_index, std::string_view buffer, size_t match_begin,
                           size_t match_end, std::string_view secret) const {
  for (const auto* allow : filters_[rule_index].allowlists) {
    if (AnySearch(allow->secrets, secret)) return true;
    for (const std::string& word : allow->stopwords) {
      if (ContainsCaseless(secret, word)) return true;
    }
    if (!allow->matches.empty() &&
        AnySearch(allow->matches, buffer.substr(match_begin, match_end - match_begin))) {
      return true;
    }
    if (!allow->lines.empty()) {
      // The match's line, bounded so that a chunk's context always holds it.
      constexpr size_t kReach = Allowlist::kLineContextBytes;
      size_t line_begin = match_begin > kReach ? match_begin - kReach : 0;
      const size_t newline = buffer.substr(line_begin, match_begin - line_begin).rfind('\n');
      if (newline != std::string_view::npos) line_begin += newline + 1;
      const size_t reach_end = std::min(buffer.size(), match_end + kReach);
      size_t line_end = buffer.substr(match_end, reach_end - match_end).find('\n');
      line_end = line_end == std::string_view::npos ? reach_end : match_end + line_end;
      if (AnySearch(allow->lines, buffer.substr(line_begin, line_end - line_begin))) return true;
    }
  }
  return false;
}

void Confirmer::AddProfileTo(std::vector<RuleProfile>& totals) const {
  for (size_t r = 0; r < profile_.size() && r < totals.size(); ++r) totals[r].Add(profile_[r]);
}

template <typename Work>
void Confirmer::Profiled(uint32_t rule_index, uint64_t candidates, const std::vector<RuleMatch>& out,
                         Work&& confirm) {
  const double start = ThreadCpuSeconds();  // the same clock as --stats' match stage
  const size_t before = out.size();
  const uint64_t suppressed_before = suppressed_;
  confirm();
  RuleProfile& profile = profile_[rule_index];
  profile.candidates += candidates;
  profile.confirmed += out.size() - before;
  profile.suppressed += suppressed_ - suppressed_before;
  profile.confirm_seconds += ThreadCpuSeconds() - start;
}

void Confirmer::Confirm(uint32_t rule_index, const KeywordHit& hit, std::string_view buffer,
                        std::vector<RuleMatch>& out) {
  if (profile_.empty()) {
    ConfirmUnprofiled(rule_index, hit, buffer, out);
    return;
  }
  Profiled(rule_index, 1, out, [&] { ConfirmUnprofiled(rule_index, hit, buffer, out); });
}

void Confirmer::ConfirmUnprofiled(uint32_t rule_index, const KeywordHit& hit,
                                  std::string_view buffer, std::vector<RuleMatch>& out) {
  const Rule& rule = table_.rules[rule_index];
  if (!PathPermits(rule_index)) return;  // not counted as suppressed: the regex did not run
  const size_t keyword_end = hit.begin + table_.keywords[hit.keyword].size();
  const size_t max_match = rule.max_match_bytes;
  // Every match of at most max_match bytes that contains [hit.begin, keyword_end) lies here.
  const size_t window_begin = keyword_end > max_match ? keyword_end - max_match : 0;
  const size_t window_end = std::min(buffer.size(), hit.begin + max_match);
  int secret_group = 0;
  const RE2& regex = table_.Regex(rule_index, &secret_group);
  const re2::StringPiece text(buffer.data(), buffer.size());
  size_t pos = window_begin;
  while (pos <= window_end && pos <= hit.begin) {
    if (!regex.Match(text, pos, window_end, RE2::UNANCHORED, groups_.data(), secret_group + 1)) break;
    const size_t begin = static_cast<size_t>(groups_[0].data() - buffer.data());
    const size_t end = begin + groups_[0].size();
    if (begin > hit.begin) break;  // later matches cannot contain the occurrence
    pos = end > begin ? end : begin + 1;
    if (end < keyword_end || end - begin > max_match) continue;
    const re2::StringPiece secret = groups_[secret_group];
    if (secret.data() == nullptr) continue;  // the secret group did not take part in the match
    if (rule.min_entropy &&
        ShannonEntropy(std::string_view(secret.data(), secret.size())) < *rule.min_entropy) {
      ++suppressed_;
      continue;
    }
    const std::string_view secret_text(secret.data(), secret.size());
    if (Suppressed(rule_index, buffer, begin, end, secret_text)) {
      ++suppressed_;
      continue;
    }
    CheckResult check = CheckResult::kNotChecked;
    if (rule.validate != Validator::kNone) {
      const bool valid = PassesValidation(rule.validate, secret_text);
      if (!valid && rule.on_invalid == OnInvalid::kSuppress) {
        ++suppressed_;
        continue;
      }
      check = valid ? CheckResult::kPassed : CheckResult::kFailed;
    }
    const uint32_t secret_begin = static_cast<uint32_t>(secret.data() - buffer.data());
    out.push_back(RuleMatch{rule_index, static_cast<uint32_t>(begin), static_cast<uint32_t>(end),
                            secret_begin, secret_begin + static_cast<uint32_t>(secret.size()),
                            check});
  }
}

void Confirmer::ConfirmHits(uint32_t rule_index, std::span<const KeywordHit> hits,
                            std::string_view buffer, std::vector<RuleMatch>& out) {
  if (profile_.empty()) {
    ConfirmHitsUnprofiled(rule_index, hits, buffer, out);
    return;
  }
  Profiled(rule_index, hits.size(), out,
           [&] { ConfirmHitsUnprofiled(rule_index, hits, buffer, out); });
}

// Text dense with a rule's keywords (a config file full of "password" and "token" whose values
// are placeholders) used to cost one regex pass per occurrence over a window of up to twice
// max_match_bytes, so each byte was read dozens of times: 8 MB/s on the benchmark's worst-case
// layer. Here occurrences whose windows overlap form a run, and a run is swept left to right:
// one search (RE2's DFAs only: the match's bounds, no groups) finds the leftmost match M in the
// run's remaining span. No occurrence's window can hold a match that starts before M, since that
// match would lie in the span too (RE2 judges ^, $ and \b against the whole buffer either way),
// so occurrences whose (widened, see below) windows end at or before M's start have no match and
// are dropped, those whose windows contain M's start are confirmed one by one exactly as Confirm
// does, and the sweep goes on after M's start. A run without any match costs one pass over its span. An isolated
// occurrence is confirmed directly, as before. The result is what Confirm gives for each hit.
void Confirmer::ConfirmHitsUnprofiled(uint32_t rule_index, std::span<const KeywordHit> hits,
                                      std::string_view buffer, std::vector<RuleMatch>& out) {
  if (hits.empty() || !PathPermits(rule_index)) return;
  const size_t max_match = table_.rules[rule_index].max_match_bytes;
  // The sweep reasons about windows widened to begin max_match before the occurrence (Confirm's
  // begins at the keyword's end minus max_match): a superset, so nothing is missed, and one that
  // begins in the order of the (sorted) hits whatever their keywords' lengths.
  auto window_floor = [&](const KeywordHit& hit) {
    return hit.begin > max_match ? hit.begin - max_match : size_t{0};
  };
  auto window_end = [&](const KeywordHit& hit) {
    return std::min(buffer.size(), static_cast<size_t>(hit.begin) + max_match);
  };
  int secret_group = 0;
  const RE2& regex = table_.Regex(rule_index, &secret_group);
  const re2::StringPiece text(buffer.data(), buffer.size());
  size_t run_first = 0;
  while (run_first < hits.size()) {
    size_t run_end = window_end(hits[run_first]);
    size_t run_last = run_first + 1;
    while (run_last < hits.size() && window_floor(hits[run_last]) < run_end) {
      run_end = std::max(run_end, window_end(hits[run_last]));
      ++run_last;
    }
    if (run_last - run_first == 1) {
      ConfirmUnprofiled(rule_index, hits[run_first], buffer, out);
      run_first = run_last;
      continue;
    }
    size_t next = run_first;
    size_t search_from = window_floor(hits[next]);
    while (next < run_last) {
      search_from = std::max(search_from, window_floor(hits[next]));
      re2::StringPiece leftmost;
      if (!regex.Match(text, search_from, run_end, RE2::UNANCHORED, &leftmost, 1)) break;
      const size_t match_begin = static_cast<size_t>(leftmost.data() - buffer.data());
      while (next < run_last && window_floor(hits[next]) <= match_begin) {
        if (window_end(hits[next]) > match_begin) {
          ConfirmUnprofiled(rule_index, hits[next], buffer, out);
        }
        ++next;
      }
      search_from = match_begin + 1;  // every remaining window begins after match_begin
    }
    run_first = run_last;
  }
}

void SortAndDeduplicate(std::vector<RuleMatch>& matches, size_t first) {
  auto key = [](const RuleMatch& m) {
    return std::tuple(m.secret_begin, m.rule_index, m.secret_end, m.match_begin, m.match_end);
  };
  std::sort(matches.begin() + static_cast<ptrdiff_t>(first), matches.end(),
            [&](const RuleMatch& a, const RuleMatch& b) { return key(a) < key(b); });
  // Two occurrences of a keyword inside one secret find it twice, possibly with different match
  // bounds: one finding per (rule, secret).
  auto last = std::unique(matches.begin() + static_cast<ptrdiff_t>(first), matches.end(),
                          [](const RuleMatch& a, const RuleMatch& b) {
                            return a.secret_begin == b.secret_begin &&
                                   a.rule_index == b.rule_index && a.secret_end == b.secret_end;
                          });
  matches.erase(last, matches.end());
}

namespace {

// The reference backend: RE2::Set over the whole buffer, then the keyword occurrences of each
// rule the set reports, found by a plain case-insensitive search.
class Re2ScanContext final : public ScanContext {
 public:
  // The reference backend passes every buffer through the set: a worker-local one, since a
  // shared set's DFA cache lock would serialise the workers.
  explicit Re2ScanContext(const RuleTable& table)
      : table_(table), confirmer_(table) {}

  void Scan(std::span<const uint8_t> bytes, size_t own_begin, size_t own_end,
            std::string_view path, std::vector<RuleMatch>& out) override {
    const std::string_view buffer(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    const size_t first = out.size();
    confirmer_.SetPath(path);
    confirmer_.MatchSet(buffer, matched_);
    for (int r : matched_) {
      const auto rule = static_cast<uint32_t>(r);
      hits_.clear();
      for (uint32_t k : table_.rule_keywords[rule]) {
        const std::string& keyword = table_.keywords[k];
        for (size_t pos = own_begin; pos < own_end && pos + keyword.size() <= buffer.size(); ++pos) {
          if (EqualsCaseless(buffer.substr(pos, keyword.size()), keyword)) {
            confirmer_.CountKeywordHit(k);
            hits_.push_back(KeywordHit{k, static_cast<uint32_t>(pos)});
          }
        }
      }
      std::sort(hits_.begin(), hits_.end(),
                [](const KeywordHit& a, const KeywordHit& b) { return a.begin < b.begin; });
      confirmer_.ConfirmHits(rule, hits_, buffer, out);
    }
    SortAndDeduplicate(out, first);
  }

  void AddProfileTo(std::vector<RuleProfile>& totals) const override {
    confirmer_.AddProfileTo(totals);
  }

 private:
  static bool EqualsCaseless(std::string_view text, std::string_view lower_keyword) {
    for (size_t i = 0; i < text.size(); ++i) {
      char c = text[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c != lower_keyword[i]) return false;
    }
    return true;
  }

  const RuleTable& table_;
  Confirmer confirmer_;
  std::vector<int> matched_;
  std::vector<KeywordHit> hits_;  // one rule's keyword occurrences, reused
};

class Re2Database final : public PatternDatabase {
 public:
  explicit Re2Database(std::unique_ptr<RuleTable> table) : table_(std::move(table)) {
    Confirmer::Validate(*table_);  // reject bad patterns at compile time, not in a worker
  }
  const std::vector<Rule>& rules() const override { return table_->rules; }
  const MatcherOptions& options() const override { return table_->options; }
  size_t context_bytes() const override { return table_->context_bytes; }
  std::unique_ptr<ScanContext> NewContext() const override {
    return std::make_unique<Re2ScanContext>(*table_);
  }

 private:
  std::unique_ptr<RuleTable> table_;
};

}  // namespace
}  // namespace matcher_internal

std::string_view CheckResultName(CheckResult result) {
  switch (result) {
    case CheckResult::kPassed:
      return "passed";
    case CheckResult::kFailed:
      return "failed";
    case CheckResult::kNotChecked:
      break;
  }
  return "";
}

std::string_view MatchEngineName(MatchEngine engine) {
  return engine == MatchEngine::kRe2 ? "re2" : "vectorscan";
}

MatchEngine ParseMatchEngine(std::string_view name) {
  if (name == "re2") return MatchEngine::kRe2;
  if (name == "vectorscan") return MatchEngine::kVectorscan;
  throw std::invalid_argument("unknown engine '" + std::string(name) +
                              "' (expected vectorscan or re2)");
}

double ShannonEntropy(std::string_view bytes) {
  if (bytes.empty()) return 0;
  std::array<uint32_t, 256> counts{};
  for (unsigned char c : bytes) ++counts[c];
  double entropy = 0;
  const double n = static_cast<double>(bytes.size());
  for (uint32_t count : counts) {
    if (count == 0) continue;
    const double p = count / n;
    entropy -= p * std::log2(p);
  }
  return entropy;
}

std::unique_ptr<const PatternDatabase> PatternDatabase::Compile(const std::vector<Rule>& rules,
                                                                const MatcherOptions& options) {
  auto table = std::make_unique<matcher_internal::RuleTable>(rules, options);
  if (table->rules.empty()) throw RuleError("no enabled rule to scan with");
  if (options.engine == MatchEngine::kRe2) {
    return std::make_unique<matcher_internal::Re2Database>(std::move(table));
  }
  return matcher_internal::NewVectorscanDatabase(std::move(table));
}

}  // namespace layersift
