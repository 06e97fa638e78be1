// Shared by the matcher backends: the compiled rule table and the confirm stage, so that the
// backends differ only in how they find candidates.
#ifndef LAYERSIFT_ENGINE_SRC_MATCHER_INTERNAL_H_
#define LAYERSIFT_ENGINE_SRC_MATCHER_INTERNAL_H_

#include <re2/re2.h>
#include <re2/set.h>

#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "layersift/engine/matcher.h"

namespace layersift::matcher_internal {

struct KeywordHit {
  uint32_t keyword;  // index into RuleTable::keywords
  uint32_t begin;    // offset of the occurrence in the buffer
};

// What every backend needs to know about the enabled rules, computed once.
struct RuleTable {
  explicit RuleTable(const std::vector<Rule>& all_rules, const MatcherOptions& options);

  std::vector<Rule> rules;                          // enabled rules only
  MatcherOptions options;
  std::vector<std::string> keywords;                // distinct, lower-case
  std::vector<std::vector<uint32_t>> keyword_rules; // keyword -> rules that list it
  std::vector<std::vector<uint32_t>> rule_keywords; // rule -> its keywords
  std::vector<uint32_t> keyword_window_bytes;       // keyword -> largest max_match_bytes of its rules
  size_t longest_keyword_bytes = 0;
  size_t context_bytes = 0;

  // A rule's compiled pattern, compiled on first use and shared by every worker: a rule is
  // compiled and its DFA warmed once, not once per worker, and only if the data reaches it
  // (RE2 objects are thread-safe; the confirm stage runs them only around keyword occurrences,
  // so they rarely contend). `secret_group` receives the index of its `secret` group. Throws
  // RuleError if the pattern does not compile (Confirmer::Validate has checked its syntax).
  const RE2& Regex(uint32_t rule, int* secret_group) const;
  // The largest `secret` group index any rule can have: its number of capturing groups.
  int most_groups = 0;

 private:
  mutable std::unique_ptr<std::once_flag[]> regex_once_;
  mutable std::vector<std::unique_ptr<RE2>> regexes_;
  mutable std::vector<int> secret_groups_;
};

// Compiles the RE2::Set of every enabled rule; throws MatcherError if it runs out of memory.
std::unique_ptr<RE2::Set> CompileRuleSet(const RuleTable& table);

// A rule's suppressions and path conditions, compiled: its own allowlist, its rule file set's
// shared one, and its `paths`.
struct CompiledRuleFilters {
  struct Regexes {
    std::vector<std::unique_ptr<RE2>> secrets, matches, lines, paths;
    std::vector<std::string> stopwords;
  };
  std::vector<const Regexes*> allowlists;  // own and shared, those that are not empty
  std::vector<std::unique_ptr<RE2>> required_paths;
  bool has_path_conditions = false;
};

// The per-worker confirm stage: each rule's RE2 (RuleTable::Regex, shared by the workers) run
// around its keyword occurrences, plus, for the re2 backend's candidate stage, a worker-local
// RE2::Set of all rules (a shared set's DFA cache lock would serialise the workers).
class Confirmer {
 public:
  // Compiles nothing up front: the RE2::Set is compiled on first use, so a worker of a backend
  // that never calls MatchSet never pays for it.
  explicit Confirmer(const RuleTable& table);

  // Parses every pattern (syntax, a `secret` group) and compiles every filter once; throws
  // RuleError naming the first bad rule.
  static void Validate(const RuleTable& table);

  // Sets the path of the file being scanned, for rules' path conditions.
  void SetPath(std::string_view path);

  // Appends the matches of `rule` that contain the keyword occurrence `hit` and survive its
  // filters (entropy, allowlists, stop words, validity check, path conditions).
  void Confirm(uint32_t rule, const KeywordHit& hit, std::string_view buffer,
               std::vector<RuleMatch>& out);

  // The same as Confirm for each of `hits` (occurrences of the rule's keywords, sorted by
  // begin), with the same result, but reading dense clusters of occurrences once instead of once
  // per occurrence: see the definition.
  void ConfirmHits(uint32_t rule, std::span<const KeywordHit> hits, std::string_view buffer,
                   std::vector<RuleMatch>& out);

  // Whether per-rule costs are being counted (MatcherOptions::profile_rules).
  bool profiling() const { return !profile_.empty(); }

  // Counts a prefilter hit of `keyword` against each rule that lists it, when profiling.
  void CountKeywordHit(uint32_t keyword) {
    if (!profiling()) return;
    for (uint32_t rule : table_.keyword_rules[keyword]) ++profile_[rule].keyword_hits;
  }

  // See ScanContext::AddProfileTo.
  void AddProfileTo(std::vector<RuleProfile>& totals) const;

  // Rules of the set with a match somewhere in `text`, into `matched` (cleared first).
  // Throws MatcherError if the DFA runs out of memory.
  void MatchSet(std::string_view text, std::vector<int>& matched);

 private:
  void ConfirmUnprofiled(uint32_t rule, const KeywordHit& hit, std::string_view buffer,
                         std::vector<RuleMatch>& out);
  void ConfirmHitsUnprofiled(uint32_t rule, std::span<const KeywordHit> hits,
                             std::string_view buffer, std::vector<RuleMatch>& out);
  // Runs `confirm` (which appends the rule's matches to `out`) and adds what it did, and how
  // long it took, to the rule's profile.
  template <typename Work>
  void Profiled(uint32_t rule, uint64_t candidates, const std::vector<RuleMatch>& out,
                Work&& confirm);
  // Whether the rule may fire in the current file, cached per file.
  bool PathPermits(uint32_t rule);
  // Whether an allowlist or stop word suppresses this match.
  bool Suppressed(uint32_t rule, std::string_view buffer, size_t match_begin, size_t match_end,
                  std::string_view secret) const;

  const RuleTable& table_;
  // Compiled once per distinct allowlist: rules loaded together share one.
  std::vector<std::unique_ptr<CompiledRuleFilters::Regexes>> allowlists_;
  std::vector<CompiledRuleFilters> filters_;  // per rule
  std::string_view path_;
  std::string rooted_path_;
  bool rooted_path_ready_ = false;
  std::vector<int8_t> path_verdict_;          // per rule: -1 unknown, 0 no, 1 yes
  bool any_path_conditions_ = false;
  std::vector<RuleProfile> profile_;  // per rule, when profiling
  uint64_t suppressed_ = 0;           // matches dropped by a filter, for the profile
  std::unique_ptr<RE2::Set> set_;             // worker-local, null until first used
  std::vector<re2::StringPiece> groups_;
};

// Sorts by (secret_begin, rule_index, secret_end) and drops duplicates.
void SortAndDeduplicate(std::vector<RuleMatch>& matches, size_t first);

std::unique_ptr<ScanContext> NewRe2Context(const RuleTable& table);
std::unique_ptr<const PatternDatabase> NewVectorscanDatabase(std::unique_ptr<RuleTable> table);

}  // namespace layersift::matcher_internal

#endif  // LAYERSIFT_ENGINE_SRC_MATCHER_INTERNAL_H_
