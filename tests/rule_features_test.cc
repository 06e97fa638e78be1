// The rule format's filters and checks (allowlists, stop words, path conditions, offline
// validity checks), selection, the rule-set hash and `rules eval`, on both engines.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "layersift/engine/matcher.h"
#include "layersift/engine/rule_check.h"
#include "layersift/engine/rule_eval.h"
#include "layersift/engine/rule_set.h"
#include "layersift/engine/validate.h"
#include "layersift/rules/rule_loader.h"
#include "layersift/rules/selection.h"

namespace layersift {
namespace {

// All secrets below are invented.
constexpr std::string_view kTokenRules = R"yaml(
rules:
  - id: tok
    name: test token
    kind: test
    vendor: acme
    confidence: high
    pattern: '\b(?P<secret>tok_[A-Za-z0-9]{12})\b'
    keywords: [tok_]
    examples: ['t = tok_Q2w9Zr7Lk3Vb']
    negative_examples: ['t = tok_short']
)yaml";

std::vector<RuleMatch> ScanText(const std::vector<Rule>& rules, MatchEngine engine,
                                std::string_view text, std::string_view path = "f.txt") {
  MatcherOptions options;
  options.engine = engine;
  const auto database = PatternDatabase::Compile(rules, options);
  const auto context = database->NewContext();
  std::vector<RuleMatch> out;
  context->Scan({reinterpret_cast<const uint8_t*>(text.data()), text.size()}, 0, text.size(), path,
                out);
  return out;
}

std::vector<Rule> TokenRule() { return ParseRulesYaml(kTokenRules, "test"); }

// Standard base 64 with padding, written here so the validators are checked against an
// independent encoder.
std::string Base64(std::string_view bytes) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t v = static_cast<uint32_t>(static_cast<uint8_t>(bytes[i])) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[i + 1])) << 8;
    if (i + 2 < bytes.size()) v |= static_cast<uint8_t>(bytes[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back(i + 2 < bytes.size() ? kAlphabet[v & 63] : '=');
  }
  return out;
}

class RuleFilterTest : public ::testing::TestWithParam<MatchEngine> {};

TEST_P(RuleFilterTest, AllowlistsSuppressBySecretMatchLineAndPath) {
  const std::string text = "a = tok_Q2w9Zr7Lk3Vb\n";
  ASSERT_EQ(ScanText(TokenRule(), GetParam(), text).size(), 1u);

  auto rules = TokenRule();
  rules[0].allow.secrets = {"Lk3V"};
  EXPECT_TRUE(ScanText(rules, GetParam(), text).empty());

  rules = TokenRule();
  rules[0].allow.matches = {"^tok_Q"};
  EXPECT_TRUE(ScanText(rules, GetParam(), text).empty());

  rules = TokenRule();
  rules[0].allow.lines = {"^a = "};
  EXPECT_TRUE(ScanText(rules, GetParam(), text).empty());
  EXPECT_EQ(ScanText(rules, GetParam(), "b = tok_Q2w9Zr7Lk3Vb\n").size(), 1u);

  rules = TokenRule();
  rules[0].allow.paths = {"/fixtures/"};
  EXPECT_TRUE(ScanText(rules, GetParam(), text, "src/fixtures/x.txt").empty());
  EXPECT_EQ(ScanText(rules, GetParam(), text, "src/app/x.txt").size(), 1u);

  rules = TokenRule();
  rules[0].allow.stopwords = {"zr7l"};  // case-insensitive
  EXPECT_TRUE(ScanText(rules, GetParam(), text).empty());
}

TEST_P(RuleFilterTest, LineAllowlistSeesOnlyTheMatchLine) {
  auto rules = TokenRule();
  rules[0].allow.lines = {"fake"};
  EXPECT_EQ(ScanText(rules, GetParam(), "fake\nx = tok_Q2w9Zr7Lk3Vb\nfake\n").size(), 1u);
  EXPECT_TRUE(ScanText(rules, GetParam(), "x = tok_Q2w9Zr7Lk3Vb # fake\n").empty());
  // Bounded: text further than kLineContextBytes from the match is not the line any more.
  const std::string far(Allowlist::kLineContextBytes + 10, ' ');
  EXPECT_EQ(ScanText(rules, GetParam(), "fake" + far + "tok_Q2w9Zr7Lk3Vb\n").size(), 1u);
}

TEST_P(RuleFilterTest, FileAllowlistIsSharedByTheFilesRules) {
  const std::string yaml = std::string(kTokenRules) + R"yaml(
allowlist:
  secrets: ['^tok_Q2w9']
  stopwords: [Sample]
)yaml";
  const auto rules = ParseRulesYaml(yaml, "test");
  ASSERT_TRUE(rules[0].shared_allow);
  EXPECT_EQ(rules[0].shared_allow->stopwords, std::vector<std::string>{"sample"});
  EXPECT_TRUE(ScanText(rules, GetParam(), "tok_Q2w9Zr7Lk3Vb").empty());
  EXPECT_TRUE(ScanText(rules, GetParam(), "tok_SAMPLEk3Vb12").empty());
  EXPECT_EQ(ScanText(rules, GetParam(), "tok_R2w9Zr7Lk3Vb").size(), 1u);
}

TEST_P(RuleFilterTest, PathConditionLimitsTheRuleToMatchingFiles) {
  auto rules = TokenRule();
  rules[0].paths = {R"((^|/)\.tokenrc$)"};
  EXPECT_EQ(ScanText(rules, GetParam(), "tok_Q2w9Zr7Lk3Vb", "home/u/.tokenrc").size(), 1u);
  EXPECT_TRUE(ScanText(rules, GetParam(), "tok_Q2w9Zr7Lk3Vb", "home/u/notes.txt").empty());
}

TEST_P(RuleFilterTest, FailedCheckSuppressesOrDowngrades) {
  // ghp_ + 30 random + base62(CRC32(random)); the checksum was computed with Python's zlib.
  const std::string valid = "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";
  const std::string broken = "ghp_Ky9Pf34qY6Nb3wWD25RQ4F5ZR3qa7y3gm1IM";
  const std::string yaml = R"yaml(
rules:
  - id: gh
    name: gh
    kind: github
    pattern: '\b(?P<secret>ghp_[A-Za-z0-9]{36})\b'
    keywords: [ghp_]
    validate: github-checksum
)yaml";
  auto rules = ParseRulesYaml(yaml, "test");
  auto matches = ScanText(rules, GetParam(), "x=" + valid);
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_EQ(matches[0].check, CheckResult::kPassed);
  EXPECT_TRUE(ScanText(rules, GetParam(), "x=" + broken).empty());

  rules[0].on_invalid = OnInvalid::kDowngrade;
  matches = ScanText(rules, GetParam(), "x=" + broken);
  ASSERT_EQ(matches.size(), 1u);
  EXPECT_EQ(matches[0].check, CheckResult::kFailed);
  EXPECT_EQ(EffectiveConfidence(rules[0], matches[0].check), Confidence::kLow);
  EXPECT_EQ(EffectiveConfidence(rules[0], CheckResult::kPassed), Confidence::kMedium);
}

TEST_P(RuleFilterTest, BuiltinAllowlistDropsDocumentationValuesAndPlaceholders) {
  const std::vector<Rule> rules = BuiltinRules();
  auto ids = [&](std::string_view text) {
    std::vector<std::string> out;
    MatcherOptions options;
    options.engine = GetParam();
    const auto db = PatternDatabase::Compile(rules, options);
    for (const RuleMatch& m : ScanText(rules, GetParam(), text)) out.push_back(db->rules()[m.rule_index].id);
    return out;
  };
  // AWS's own documentation key id, and the same shape with random characters.
  EXPECT_TRUE(ids("aws_access_key_id = AKIAIOSFODNN7EXAMPLE\n").empty());
  EXPECT_FALSE(ids("aws_access_key_id = AKIABZPUZDIKKUJDIVTY\n").empty());
  EXPECT_TRUE(ids("postgres://app:${DB_PASSWORD}@db:5432/app\n").empty());
  EXPECT_TRUE(ids("postgres://app:<password>@db:5432/app\n").empty());
  EXPECT_TRUE(ids("postgres://app:changeme@db:5432/app\n").empty());
  EXPECT_FALSE(ids("postgres://app:Vq8s2LkP0zR4@db:5432/app\n").empty());
}

INSTANTIATE_TEST_SUITE_P(Engines, RuleFilterTest,
                         ::testing::Values(MatchEngine::kVectorscan, MatchEngine::kRe2),
                         [](const auto& info) { return std::string(MatchEngineName(info.param)); });

TEST(ValidateTest, Crc32Base62MatchesAnIndependentComputation) {
  // Reference values from Python: zlib.crc32 then base62 (0-9A-Za-z), padded to 6.
  EXPECT_EQ(Crc32Base62(""), "000000");
  EXPECT_EQ(Crc32Base62("a"), "4GEHKN");
  EXPECT_EQ(Crc32Base62("Ky9Pf34qY6Nb3wWD25RQ4F5ZR3qa7y"), "3gm1IL");
}

TEST(ValidateTest, TokenChecksums) {
  EXPECT_TRUE(PassesValidation(Validator::kGithubChecksum, "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"));
  EXPECT_TRUE(PassesValidation(Validator::kNpmChecksum, "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"));
  EXPECT_FALSE(PassesValidation(Validator::kGithubChecksum, "ghp_Ky9Pf34qY6Nb3wWD25RQ4F5ZR3qa7y3gm1IK"));
  EXPECT_FALSE(PassesValidation(Validator::kGithubChecksum, "ghp_Ky9Pf34qY6Nb3wWD25RQ4F5ZR3qa7y3gm1"));
  EXPECT_FALSE(PassesValidation(Validator::kNpmChecksum, "npmKy9Pf34qY6Nb3wWD25RQ4F5ZR3qa7y3gm1IL"));
}

TEST(ValidateTest, AwsAccessKeyIdStructure) {
  // Built in Python: account 123456789012 << 7 in the first six bytes, base32-encoded.
  EXPECT_TRUE(PassesValidation(Validator::kAwsAccessKeyId, "AKIABZPUZDIKKUJDIVTY"));
  EXPECT_FALSE(PassesValidation(Validator::kAwsAccessKeyId, "AKIA1ZPUZDIKKUJDIVTY"));  // 1 is not base32
  EXPECT_FALSE(PassesValidation(Validator::kAwsAccessKeyId, "AXYZBZPUZDIKKUJDIVTY"));  // no such prefix
  EXPECT_FALSE(PassesValidation(Validator::kAwsAccessKeyId, "AKIABZPUZDIKKUJDIVT"));   // 19 chars
  EXPECT_FALSE(PassesValidation(Validator::kAwsAccessKeyId, "AKIA7777777777777777"));  // account too large
  EXPECT_FALSE(PassesValidation(Validator::kAwsAccessKeyId, "AKIAAAAAAAAAAAAAAAAA"));  // account zero
}

TEST(ValidateTest, JwtStructure) {
  // {"alg":"HS256","typ":"JWT"} . {"sub":"1234","iat":1700000000} . signature
  const std::string header = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";
  const std::string payload = "eyJzdWIiOiIxMjM0IiwiaWF0IjoxNzAwMDAwMDAwfQ";
  EXPECT_TRUE(PassesValidation(Validator::kJwt, header + "." + payload + ".c2lnbmF0dXJlLWJ5dGVz"));
  // {"alg":"none"}
  EXPECT_FALSE(PassesValidation(Validator::kJwt, "eyJhbGciOiJub25lIn0." + payload + "."));
  EXPECT_FALSE(PassesValidation(Validator::kJwt, header + ".bm90IGpzb24." + "c2ln"));  // "not json"
  EXPECT_FALSE(PassesValidation(Validator::kJwt, header + payload));
  // {"some":"payload"}: JSON, but no registered claim, as in library documentation.
  EXPECT_FALSE(PassesValidation(Validator::kJwt,
                                header + ".eyJzb21lIjoicGF5bG9hZCJ9.c2lnbmF0dXJlLWJ5dGVz"));
  // The same JWT base64-encoded again, as Kubernetes secrets store it.
  const std::string jwt = header + "." + payload + ".c2lnbmF0dXJlLWJ5dGVz";
  EXPECT_TRUE(PassesValidation(Validator::kJwtBase64, Base64(jwt)));
  EXPECT_FALSE(PassesValidation(Validator::kJwtBase64, jwt));
}

TEST(ValidateTest, PemPrivateKeyBody) {
  // 64 bytes: an ASN.1 SEQUENCE header followed by filler, base64-encoded over two lines.
  std::string der = "\x30\x3e";
  der.append(62, '\x11');
  const std::string b64 = Base64(der);
  const std::string body = b64.substr(0, 64) + "\n" + b64.substr(64);
  auto pem = [&](const std::string& b) {
    return "-----BEGIN PRIVATE KEY-----\n" + b + "\n-----END PRIVATE KEY-----";
  };
  EXPECT_TRUE(PassesValidation(Validator::kPemPrivateKey, pem(body)));
  // The same inside a JSON string, with \n escapes.
  std::string escaped = pem(body);
  for (size_t at = escaped.find('\n'); at != std::string::npos; at = escaped.find('\n', at + 2)) {
    escaped.replace(at, 1, "\\n");
  }
  EXPECT_TRUE(PassesValidation(Validator::kPemPrivateKey, escaped));
  EXPECT_FALSE(PassesValidation(Validator::kPemPrivateKey, pem("this is not base64 at all!!")));
  EXPECT_FALSE(PassesValidation(Validator::kPemPrivateKey, pem(b64.substr(0, 40))));  // too short
  std::string not_sequence = body;
  not_sequence[0] = 'A';  // first byte no longer 0x30
  EXPECT_FALSE(PassesValidation(Validator::kPemPrivateKey, pem(not_sequence)));
}

TEST(RuleLoaderExtensionsTest, ParsesTheExtendedFormat) {
  const auto rules = ParseRulesYaml(R"yaml(
rules:
  - id: x
    name: x
    kind: test
    vendor: Acme
    confidence: low
    references: [https://example.invalid/doc]
    pattern: '(?P<secret>x_[a-z]{8})'
    keywords: [x_]
    paths: ['\.env$']
    allow: {secrets: ['^x_aaaa'], lines: ['#nosecret']}
    stopwords: [Demo]
    validate: jwt
    on_invalid: downgrade
    examples: [{text: 'k=x_abcdefgh', secret: x_abcdefgh, path: a/.env}]
    negative_examples: [{text: 'k=x_abc', path: a/.env}]
)yaml", "t");
  ASSERT_EQ(rules.size(), 1u);
  const Rule& r = rules[0];
  EXPECT_EQ(r.vendor, "acme");
  EXPECT_EQ(r.confidence, Confidence::kLow);
  EXPECT_EQ(r.paths, std::vector<std::string>{"\\.env$"});
  EXPECT_EQ(r.allow.secrets, std::vector<std::string>{"^x_aaaa"});
  EXPECT_EQ(r.allow.stopwords, std::vector<std::string>{"demo"});
  EXPECT_EQ(r.validate, Validator::kJwt);
  EXPECT_EQ(r.on_invalid, OnInvalid::kDowngrade);
  ASSERT_EQ(r.examples.size(), 1u);
  EXPECT_EQ(r.examples[0].secret, "x_abcdefgh");
  EXPECT_EQ(r.examples[0].path, "a/.env");
}

TEST(RuleLoaderExtensionsTest, RejectsBadValues) {
  auto load = [](const std::string& extra) {
    return ParseRulesYaml("rules:\n  - id: x\n    name: x\n    kind: t\n    pattern: '(?P<secret>x)'\n"
                          "    keywords: [x]\n" + extra, "bad.yaml");
  };
  EXPECT_THROW(load("    confidence: certain\n"), RuleError);
  EXPECT_THROW(load("    validate: luhn\n"), RuleError);
  EXPECT_THROW(load("    on_invalid: downgrade\n"), RuleError);  // no validate
  EXPECT_THROW(load("    allow: {sekrets: [a]}\n"), RuleError);
  EXPECT_THROW(load("    examples: [{txt: a}]\n"), RuleError);
  EXPECT_THROW(ParseRulesYaml("allowlist: {secrets: [a]}\nrulez: []\n", "bad.yaml"), RuleError);
}

TEST(RuleCheckExtensionsTest, ExpectedSecretMustBeTheOneReported) {
  auto rules = TokenRule();
  rules[0].examples = {RuleExample{"t = tok_Q2w9Zr7Lk3Vb", "tok_Q2w9Zr7Lk3Vb", ""}};
  EXPECT_TRUE(CheckRuleExamples(rules, MatchEngine::kRe2).empty());
  rules[0].examples = {RuleExample{"t = tok_Q2w9Zr7Lk3Vb", "Q2w9Zr7Lk3Vb", ""}};
  const auto failures = CheckRuleExamples(rules, MatchEngine::kVectorscan);
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_NE(failures[0].message.find("instead of"), std::string::npos);
}

// rules check rejects a pattern that can begin at any byte of a repeated class, in any
// alternative and inside groups, and accepts literal, delimiter and flag-group starts.
TEST(RuleCheckExtensionsTest, PatternMustNotBeginWithARepeatedClass) {
  auto failures_for = [](const std::string& pattern) {
    auto rules = TokenRule();
    rules[0].pattern = pattern;
    rules[0].examples = {RuleExample{"t = tok_Q2w9Zr7Lk3Vb", "", ""}};
    std::vector<std::string> messages;
    for (const auto& f : CheckRuleExamples(rules, MatchEngine::kRe2)) messages.push_back(f.message);
    return messages;
  };
  auto flagged = [&](const std::string& pattern) {
    for (const std::string& m : failures_for(pattern)) {
      if (m.find("repeated character class") != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(flagged(R"(\b(?P<secret>[a-z]{3}_[A-Za-z0-9]{12}))"));
  EXPECT_TRUE(flagged(R"((?i)(?P<secret>\w+_[A-Za-z0-9]{12}))"));
  EXPECT_TRUE(flagged(R"((?:tok|.*)(?P<secret>_[A-Za-z0-9]{12}))"));
  EXPECT_TRUE(flagged(R"((?P<secret>(?:x_|\p{L}{2,})[A-Za-z0-9]{12}))"));
  EXPECT_FALSE(flagged(R"(\b(?P<secret>tok_[A-Za-z0-9]{12}))"));
  EXPECT_FALSE(flagged(R"((?i)(?:^|[\s=])(?P<secret>tok_[A-Za-z0-9]{12}))"));
  EXPECT_FALSE(flagged(R"((?i:tok|tk)(?P<secret>_[A-Za-z0-9]{12}))"));
  EXPECT_FALSE(flagged(R"(\b(?P<secret>[t]ok_[A-Za-z0-9]{12}))"));
}

TEST(RuleSelectionTest, OnlyKindsEnableDisable) {
  auto make = [] {
    auto rules = ParseRulesYaml(std::string(kTokenRules) + R"yaml(
  - id: gen
    name: generic
    kind: generic-password
    enabled: false
    pattern: 'pw=(?P<secret>[a-z]{8})'
    keywords: ['pw=']
)yaml", "t");
    return rules;
  };
  auto rules = make();
  ApplyRuleSelection(rules, RuleSelection{{}, {"generic-password"}, {}, {}});
  EXPECT_TRUE(rules[1].enabled);
  rules = make();
  ApplyRuleSelection(rules, RuleSelection{{"gen"}, {}, {}, {}});
  EXPECT_FALSE(rules[0].enabled);
  EXPECT_TRUE(rules[1].enabled);
  rules = make();
  ApplyRuleSelection(rules, RuleSelection{{}, {}, {"gen"}, {"tok"}});
  EXPECT_FALSE(rules[0].enabled);
  EXPECT_TRUE(rules[1].enabled);
  rules = make();
  EXPECT_THROW(ApplyRuleSelection(rules, RuleSelection{{}, {}, {}, {"tokk"}}), RuleError);
  EXPECT_THROW(ApplyRuleSelection(rules, RuleSelection{{"nope"}, {}, {}, {}}), RuleError);
  EXPECT_THROW(ApplyRuleSelection(rules, RuleSelection{{}, {"no-kind"}, {}, {}}), RuleError);
}

TEST(RuleSetHashTest, CoversDefinitionsNotPresentation) {
  const auto base = BuiltinRules();
  const std::string hash = RuleSetHash(base);
  EXPECT_EQ(hash.rfind("sha256:", 0), 0u);
  EXPECT_EQ(hash.size(), 7u + 64u);

  auto reversed = base;
  std::reverse(reversed.begin(), reversed.end());
  EXPECT_EQ(RuleSetHash(reversed), hash);

  auto renamed = base;
  renamed[0].name += " (renamed)";
  renamed[0].examples.clear();
  EXPECT_EQ(RuleSetHash(renamed), hash);

  auto changed = base;
  changed[0].pattern += "x";
  EXPECT_NE(RuleSetHash(changed), hash);
  auto disabled = base;
  disabled[0].enabled = false;
  EXPECT_NE(RuleSetHash(disabled), hash);
  auto stricter = base;
  stricter[0].min_entropy = 4.5;
  EXPECT_NE(RuleSetHash(stricter), hash);
  auto allowed = base;
  allowed[0].allow.stopwords.push_back("zzz");
  EXPECT_NE(RuleSetHash(allowed), hash);
}

TEST(RuleEvalTest, CountsPerKindAndVendor) {
  const std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("layersift_eval_" + std::to_string(getpid()) + ".jsonl");
  {
    std::ofstream out(file);
    out << R"({"text":"a = tok_Q2w9Zr7Lk3Vb","label":"positive","kind":"other-service","vendor":"acme_token"})" "\n"
        << R"({"text":"a = tok_nope","label":"positive","kind":"other-service","vendor":"acme","synthetic":true})" "\n"
        << R"({"text":"a = tok_R2w9Zr7Lk3Vb","label":"negative","kind":"other-service","vendor":"acme"})" "\n"
        << R"({"text":"b = tok_R2w9Zr7Lk3Vb","label":"negative","kind":"other-service","vendor":"globex"})" "\n"
        << R"({"text":"nothing","label":"positive","kind":"aws","vendor":"aws"})" "\n";
  }
  const auto examples = LoadLabelledExamples(file.string());
  std::filesystem::remove(file);
  ASSERT_EQ(examples.size(), 5u);
  const EvalReport report = EvaluateRules(TokenRule(), examples, MatchEngine::kVectorscan);
  ASSERT_EQ(report.rows.size(), 3u);  // aws, other-service/acme, other-service/globex
  const EvalRow& aws = report.rows[0];
  EXPECT_EQ(aws.kind, "aws");
  EXPECT_FALSE(aws.covered);
  const EvalRow& acme = report.rows[1];
  EXPECT_EQ(acme.vendor, "acme");
  EXPECT_TRUE(acme.covered);
  EXPECT_EQ(acme.positives, 1u);
  EXPECT_EQ(acme.detected, 1u);
  EXPECT_EQ(acme.synthetic_positives, 1u);
  EXPECT_EQ(acme.synthetic_detected, 0u);
  EXPECT_EQ(acme.negatives, 1u);
  EXPECT_EQ(acme.false_alarms, 1u);
  // The acme rule firing on a globex negative is not a false alarm of globex's kind.
  const EvalRow& globex = report.rows[2];
  EXPECT_FALSE(globex.covered);
  EXPECT_EQ(globex.false_alarms, 0u);
  EXPECT_EQ(report.covered_total.positives, 1u);
  EXPECT_EQ(report.uncovered_total.positives, 1u);
}

TEST(RuleEvalTest, BadRecordNamesFileAndLine) {
  const std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("layersift_eval_bad_" + std::to_string(getpid()) + ".jsonl");
  {
    std::ofstream out(file);
    out << R"({"text":"x","label":"positive","kind":"aws"})" "\n" << R"({"text":"x","label":"maybe","kind":"aws"})" "\n";
  }
  try {
    LoadLabelledExamples(file.string());
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(file.string() + ":2"), std::string::npos) << e.what();
  }
  std::filesystem::remove(file);
}

}  // namespace
}  // namespace layersift
