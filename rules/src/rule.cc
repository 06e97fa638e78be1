#include "layersift/rules/rule.h"

#include <array>
#include <utility>

namespace layersift {
namespace {

constexpr std::array<std::pair<Confidence, std::string_view>, 3> kConfidenceNames{{
    {Confidence::kLow, "low"}, {Confidence::kMedium, "medium"}, {Confidence::kHigh, "high"}}};

constexpr std::array<std::pair<Validator, std::string_view>, 7> kValidatorNames{{
    {Validator::kNone, "none"},
    {Validator::kGithubChecksum, "github-checksum"},
    {Validator::kNpmChecksum, "npm-checksum"},
    {Validator::kAwsAccessKeyId, "aws-access-key-id"},
    {Validator::kJwt, "jwt"},
    {Validator::kJwtBase64, "jwt-base64"},
    {Validator::kPemPrivateKey, "pem-private-key"}}};

template <typename Enum, size_t N>
std::string_view NameOf(const std::array<std::pair<Enum, std::string_view>, N>& table, Enum value) {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return "?";
}

template <typename Enum, size_t N>
std::optional<Enum> ValueOf(const std::array<std::pair<Enum, std::string_view>, N>& table,
                            std::string_view name) {
  for (const auto& [v, n] : table) {
    if (n == name) return v;
  }
  return std::nullopt;
}

}  // namespace

std::string_view ConfidenceName(Confidence confidence) {
  return NameOf(kConfidenceNames, confidence);
}
std::optional<Confidence> ParseConfidence(std::string_view name) {
  return ValueOf(kConfidenceNames, name);
}
std::string_view ValidatorName(Validator validator) { return NameOf(kValidatorNames, validator); }
std::optional<Validator> ParseValidator(std::string_view name) {
  return ValueOf(kValidatorNames, name);
}

}  // namespace layersift
