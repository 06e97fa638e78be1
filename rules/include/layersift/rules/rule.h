// The rule model: what a detector is, independent of the engine that runs it.
#ifndef LAYERSIFT_RULES_RULE_H_
#define LAYERSIFT_RULES_RULE_H_

#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace layersift {

// A rule file that cannot be used. The message names the file, the rule (when known) and the
// field at fault.
class RuleError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class Confidence { kLow, kMedium, kHigh };

// "low" / "medium" / "high"; ParseConfidence returns nullopt for anything else.
std::string_view ConfidenceName(Confidence confidence);
std::optional<Confidence> ParseConfidence(std::string_view name);

// Offline validity checks: they look only at the secret's bytes, never at the network.
enum class Validator {
  kNone,
  kGithubChecksum,   // last 6 chars = base62(CRC32(the 30 random chars before them))
  kNpmChecksum,      // the same scheme on npm_ tokens
  kAwsAccessKeyId,   // known prefix, base32 alphabet, plausible encoded account number
  kJwt,              // header and payload are base64url JSON objects, alg (if any) not "none",
                     // the payload holds a registered claim (iss, sub, aud, exp, nbf, iat, jti)
  kJwtBase64,        // base 64 of a JWT that passes kJwt (JWTs stored in Kubernetes secrets)
  kPemPrivateKey,    // the body is base64 of a plausible key length (DER or OpenSSH)
};

// The names used in rule files ("github-checksum", ...); ParseValidator returns nullopt for an
// unknown name.
std::string_view ValidatorName(Validator validator);
std::optional<Validator> ParseValidator(std::string_view name);

// What happens to a match whose check fails.
enum class OnInvalid { kSuppress, kDowngrade };

// Regexes (RE2) that suppress a match, and stop words. Used per rule (`allow`, `stopwords`) and
// per rule file (a top-level `allowlist`, shared by every rule loaded with it).
struct Allowlist {
  std::vector<std::string> secrets;    // searched in the secret group
  std::vector<std::string> matches;    // searched in the whole match
  std::vector<std::string> lines;      // searched in the match's line (at most kLineContextBytes
                                       // on each side of the match)
  std::vector<std::string> paths;      // searched in the file path (with a leading '/')
  std::vector<std::string> stopwords;  // lower-case; a secret containing one is suppressed

  static constexpr size_t kLineContextBytes = 256;
  bool empty() const {
    return secrets.empty() && matches.empty() && lines.empty() && paths.empty() &&
           stopwords.empty();
  }
};

// A text a rule is proved against (`rules check`). In rule files: a plain string, or a mapping
// with `text` and optionally `secret` (the exact secret the rule must report) and `path` (the
// file path the text is scanned under, for rules with path conditions).
struct RuleExample {
  std::string text;
  std::string secret;  // empty: any finding of the rule will do
  std::string path;
};

struct Rule {
  static constexpr size_t kDefaultMaxMatchBytes = 256;

  std::string id;    // unique, [a-z0-9-]+
  std::string name;  // human readable
  std::string kind;  // coarse kind: aws, github, private-key, ...
  // RE2 syntax, with a named group `secret`. A match only counts if it contains one of `keywords`.
  std::string pattern;
  // Literals for the prefilter, stored lower-case; matched case-insensitively (ASCII).
  std::vector<std::string> keywords;
  std::optional<double> min_entropy;  // Shannon entropy of the secret, bits per byte
  // The longest whole match possible, in bytes. Bounds the window searched around a keyword and
  // the overlap between chunks of a large file; longer matches are dropped.
  size_t max_match_bytes = kDefaultMaxMatchBytes;
  bool enabled = true;
  std::string vendor;  // lower-case vendor name: aws, github, discord, generic, ...
  Confidence confidence = Confidence::kMedium;
  std::string description;
  std::vector<std::string> references;
  // Only files whose path (with a leading '/') matches one of these regexes are searched; empty:
  // every file.
  std::vector<std::string> paths;
  Allowlist allow;                               // this rule's own
  std::shared_ptr<const Allowlist> shared_allow;  // its rule file set's, may be null
  Validator validate = Validator::kNone;
  OnInvalid on_invalid = OnInvalid::kSuppress;
  std::vector<RuleExample> examples;           // each must yield a finding of this rule
  std::vector<RuleExample> negative_examples;  // none may yield a finding of this rule
  std::string source;                          // where the rule was read from, for messages
};

}  // namespace layersift

#endif  // LAYERSIFT_RULES_RULE_H_
