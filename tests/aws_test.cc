// Unit tests of the AWS pieces that need no server: ECR host and perimeter parsing, repository
// globs, the shared config files, endpoints and their overrides, answer parsing and the policies
// `ecr verify` prints. The credential chain and the ECR API are tested end to end against
// tests/support/fake_aws.py (ecr_test.py).
#include <gtest/gtest.h>
#include <fstream>
#include <nlohmann/json.hpp>

#include "aws_call.h"
#include "aws_config_file.h"
#include "layersift/fetch/aws.h"
#include "layersift/fetch/ecr.h"
#include "test_util.h"

namespace layersift {
namespace {

TEST(EcrHost, RecognisesEveryPartitionAndVariant) {
  struct Case {
    const char* host;
    const char* account;
    const char* region;
    bool fips;
    bool dual_stack;
  };
  const Case cases[] = {
      {"123456789012.dkr.ecr.us-east-1.amazonaws.com", "123456789012", "us-east-1", false, false},
      {"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "123456789012", "cn-north-1", false, false},
      {"123456789012.dkr.ecr-fips.us-east-2.amazonaws.com", "123456789012", "us-east-2", true, false},
      {"123456789012.dkr.ecr.us-gov-west-1.amazonaws.com", "123456789012", "us-gov-west-1", false, false},
      {"123456789012.dkr-ecr.eu-west-1.on.aws", "123456789012", "eu-west-1", false, true},
      {"123456789012.DKR.ECR.US-EAST-1.AMAZONAWS.COM", "123456789012", "us-east-1", false, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.host);
    const auto parsed = ParseEcrRegistryHost(c.host);
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(parsed->account, c.account);
    EXPECT_EQ(parsed->region, c.region);
    EXPECT_EQ(parsed->fips, c.fips);
    EXPECT_EQ(parsed->dual_stack, c.dual_stack);
  }
}

TEST(EcrHost, RejectsLookAlikes) {
  for (const char* host : {"public.ecr.aws", "12345678901.dkr.ecr.us-east-1.amazonaws.com",
                           "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example",
                           "123456789012.dkr.ecr.us-east-1.example.com", "123456789012.ecr.us-east-1.amazonaws.com",
                           "abcdefghijkl.dkr.ecr.us-east-1.amazonaws.com", "localhost:5000", "docker.io"}) {
    EXPECT_FALSE(ParseEcrRegistryHost(host).has_value()) << host;
  }
}

TEST(EcrHost, StandardHostNames) {
  EXPECT_EQ(EcrRegistryHostName("123456789012", "eu-west-1"), "123456789012.dkr.ecr.eu-west-1.amazonaws.com");
  EXPECT_EQ(EcrRegistryHostName("123456789012", "cn-northwest-1"),
            "123456789012.dkr.ecr.cn-northwest-1.amazonaws.com.cn");
}

TEST(EcrPerimeterSpec, AccountRegionAndHosts) {
  auto spec = ParseEcrPerimeterSpec("ecr://123456789012/us-west-2");
  ASSERT_TRUE(spec.has_value());
  EXPECT_EQ(spec->account, "123456789012");
  EXPECT_EQ(spec->region, "us-west-2");
  spec = ParseEcrPerimeterSpec("ecr://123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com");
  ASSERT_TRUE(spec.has_value());
  EXPECT_TRUE(spec->fips);
  EXPECT_EQ(spec->region, "us-gov-west-1");
  spec = ParseEcrPerimeterSpec("123456789012.dkr.ecr.us-east-1.amazonaws.com");
  ASSERT_TRUE(spec.has_value());
  // HOST/REPO is an image, not a perimeter; other targets are not perimeters at all.
  EXPECT_FALSE(ParseEcrPerimeterSpec("123456789012.dkr.ecr.us-east-1.amazonaws.com/app").has_value());
  EXPECT_FALSE(ParseEcrPerimeterSpec("oci:/tmp/layout").has_value());
  EXPECT_FALSE(ParseEcrPerimeterSpec("alpine:3").has_value());
  EXPECT_THROW(ParseEcrPerimeterSpec("ecr://12345/us-east-1"), AwsError);
  EXPECT_THROW(ParseEcrPerimeterSpec("ecr://123456789012"), AwsError);
  EXPECT_THROW(ParseEcrPerimeterSpec("ecr://123456789012/us-east-1/app"), AwsError);
}

TEST(RepositoryGlob, StarCrossesSlashes) {
  EXPECT_TRUE(RepositoryGlobMatch("team-a/*", "team-a/api"));
  EXPECT_TRUE(RepositoryGlobMatch("team-a/*", "team-a/api/worker"));
  EXPECT_TRUE(RepositoryGlobMatch("*", "x/y/z"));
  EXPECT_TRUE(RepositoryGlobMatch("svc-?", "svc-1"));
  EXPECT_FALSE(RepositoryGlobMatch("svc-?", "svc-10"));
  EXPECT_FALSE(RepositoryGlobMatch("team-a/*", "team-b/api"));
  EXPECT_TRUE(RepositoryGlobMatch("app-[ab]", "app-b"));
}

class SharedConfigTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = (dir_.path() / name).string();
    std::ofstream(path) << text;
    return path;
  }
  testing::TempDir dir_;
};

TEST_F(SharedConfigTest, MergesBothFilesAndReadsProfileSections) {
  const std::string config = Write("config",
                                   "[default]\nregion = eu-west-1\n\n"
                                   "# a comment\n[profile dev]\nregion=us-east-2\nrole_arn = arn:aws:iam::1:role/r\n"
                                   "source_profile = base\ns3 =\n  max_concurrent_requests = 20\n"
                                   "external_id = ext-1\n[sso-session corp]\nsso_region = us-east-1\n");
  const std::string credentials = Write("credentials",
                                        "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = s/e+cret\n"
                                        "[dev]\nregion = ap-south-1\n");
  const AwsSharedConfig loaded = AwsSharedConfig::Load(config, credentials);
  const auto dev = loaded.Profile("dev");
  ASSERT_TRUE(dev.has_value());
  EXPECT_EQ(dev->at("role_arn"), "arn:aws:iam::1:role/r");
  EXPECT_EQ(dev->at("external_id"), "ext-1");  // after a nested s3 block
  EXPECT_EQ(dev->count("max_concurrent_requests"), 0u);
  EXPECT_EQ(dev->at("region"), "ap-south-1");  // the credentials file wins
  EXPECT_EQ(loaded.Profile("base")->at("aws_secret_access_key"), "s/e+cret");
  EXPECT_EQ(loaded.Profile("default")->at("region"), "eu-west-1");
  EXPECT_FALSE(loaded.Profile("corp").has_value());  // an sso-session is no profile
  EXPECT_FALSE(loaded.Profile("missing").has_value());
}

TEST_F(SharedConfigTest, MissingFilesAreEmptyAndMalformedLinesNameTheFile) {
  EXPECT_FALSE(AwsSharedConfig::Load((dir_.path() / "none").string(), (dir_.path() / "none2").string())
                   .Profile("default")
                   .has_value());
  const std::string bad = Write("bad", "[default]\nthis line has no equals sign\n");
  try {
    AwsSharedConfig::Load(bad, "");
    FAIL() << "no error";
  } catch (const AwsError& e) {
    EXPECT_NE(std::string(e.what()).find(bad + ":2"), std::string::npos) << e.what();
  }
}

TEST(AwsEndpoints, DefaultsPartitionsAndOverrides) {
  // An empty variable counts as unset, as in the AWS SDKs.
  testing::ScopedEnv global("AWS_ENDPOINT_URL", "");
  testing::ScopedEnv ecr("AWS_ENDPOINT_URL_ECR", "");
  testing::ScopedEnv sts("AWS_ENDPOINT_URL_STS", "");
  testing::ScopedEnv ecr_public("AWS_ENDPOINT_URL_ECR_PUBLIC", "");
  testing::ScopedEnv ignore("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "");
  EXPECT_EQ(AwsSession::Endpoint("ecr", "eu-west-1"), "https://api.ecr.eu-west-1.amazonaws.com");
  EXPECT_EQ(AwsSession::Endpoint("ecr", "cn-north-1"), "https://api.ecr.cn-north-1.amazonaws.com.cn");
  EXPECT_EQ(AwsSession::Endpoint("ecr", "us-gov-west-1", /*fips=*/true), "https://ecr-fips.us-gov-west-1.amazonaws.com");
  EXPECT_EQ(AwsSession::Endpoint("sts", "eu-west-1"), "https://sts.eu-west-1.amazonaws.com");
  EXPECT_EQ(AwsSession::Endpoint("sts", ""), "https://sts.amazonaws.com");
  EXPECT_EQ(AwsSession::Endpoint("ecr-public", "us-east-1"), "https://api.ecr-public.us-east-1.amazonaws.com");
  {
    testing::ScopedEnv global_set("AWS_ENDPOINT_URL", "http://127.0.0.1:1/");
    testing::ScopedEnv sts_set("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:2");
    testing::ScopedEnv ecr_public_set("AWS_ENDPOINT_URL_ECR_PUBLIC", "http://127.0.0.1:3");
    EXPECT_EQ(AwsSession::Endpoint("ecr", "eu-west-1"), "http://127.0.0.1:1");  // the global one, slash trimmed
    EXPECT_EQ(AwsSession::Endpoint("sts", "eu-west-1"), "http://127.0.0.1:2");  // the service's wins
    EXPECT_EQ(AwsSession::Endpoint("ecr-public", "us-east-1"), "http://127.0.0.1:3");
    testing::ScopedEnv ignore_set("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true");
    EXPECT_EQ(AwsSession::Endpoint("sts", "eu-west-1"), "https://sts.eu-west-1.amazonaws.com");
  }
}

TEST(AwsAnswers, XmlAndTimes) {
  const std::string xml =
      "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>"
      "<AssumedRoleUser><Arn>arn:aws:sts::1:assumed-role/r/s</Arn></AssumedRoleUser>"
      "<Credentials><AccessKeyId>ASIAX</AccessKeyId><Expiration>2026-11-30T12:00:00Z</Expiration>"
      "</Credentials></AssumeRoleResult></AssumeRoleResponse>";
  EXPECT_EQ(XmlElementText(xml, "Credentials", "AccessKeyId"), "ASIAX");
  EXPECT_EQ(XmlElementText(xml, "Arn"), "arn:aws:sts::1:assumed-role/r/s");
  EXPECT_EQ(XmlElementText(xml, "Credentials", "Arn"), "");
  EXPECT_EQ(XmlElementText("not xml <", "Arn"), "");
  const auto t = ParseIso8601("2026-11-30T12:00:00Z");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(AwsClock::to_time_t(*t), 1796040000);  // date -u -d 2026-11-30T12:00:00Z +%s
  EXPECT_EQ(ParseIso8601("2026-11-30T12:00:00.123Z"), t);
  EXPECT_EQ(ParseIso8601("2026-11-30T12:00:00+00:00"), t);
  EXPECT_FALSE(ParseIso8601("2026-11-30T12:00:00+02:00").has_value());
  EXPECT_FALSE(ParseIso8601("yesterday").has_value());
}

TEST(EcrPolicies, LeastPrivilegeIdentityPolicySplitsRegistryWideActions) {
  const nlohmann::json policy = nlohmann::json::parse(
      EcrIdentityPolicy({"ecr:GetAuthorizationToken", "ecr:ListImages", "ecr:BatchGetImage"}, "us-gov-west-1",
                        "123456789012"));
  ASSERT_EQ(policy["Statement"].size(), 2u);
  EXPECT_EQ(policy["Statement"][0]["Resource"], "*");
  EXPECT_EQ(policy["Statement"][0]["Action"], nlohmann::json({"ecr:GetAuthorizationToken"}));
  EXPECT_EQ(policy["Statement"][1]["Resource"], "arn:aws-us-gov:ecr:us-gov-west-1:123456789012:repository/*");
  EXPECT_EQ(policy["Statement"][1]["Action"], nlohmann::json({"ecr:ListImages", "ecr:BatchGetImage"}));
  const nlohmann::json only_wide = nlohmann::json::parse(EcrIdentityPolicy({"ecr:DescribeRepositories"}, "eu-west-1", "1"));
  EXPECT_EQ(only_wide["Statement"].size(), 1u);
}

TEST(EcrPolicies, RepositoryPolicyNamesTheRoleNotItsSession) {
  const nlohmann::json policy = nlohmann::json::parse(
      EcrRepositoryPolicy({"ecr:BatchGetImage"}, "arn:aws:sts::123456789012:assumed-role/scanner/layersift-1"));
  EXPECT_EQ(policy["Statement"][0]["Principal"]["AWS"], "arn:aws:iam::123456789012:role/scanner");
  const nlohmann::json user = nlohmann::json::parse(
      EcrRepositoryPolicy({"ecr:BatchGetImage"}, "arn:aws:iam::123456789012:user/ci"));
  EXPECT_EQ(user["Statement"][0]["Principal"]["AWS"], "arn:aws:iam::123456789012:user/ci");
}

TEST(AwsErrors, CredentialAndAccessDeniedCodes) {
  EXPECT_TRUE(AwsError("x", "InvalidClientTokenId").IsCredentialError());
  EXPECT_TRUE(AwsError("x", "ExpiredTokenException").IsCredentialError());
  EXPECT_FALSE(AwsError("x", "AccessDeniedException").IsCredentialError());
  EXPECT_TRUE(AwsError("x", "AccessDeniedException").IsAccessDenied());
  EXPECT_TRUE(AwsError("x", "AccessDenied").IsAccessDenied());
  EXPECT_FALSE(AwsError("x", "RepositoryNotFoundException").IsAccessDenied());
}

}  // namespace
}  // namespace layersift
