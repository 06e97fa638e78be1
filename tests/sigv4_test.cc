// SigV4 signing against aws-c-auth's signing test suite (tests/data/third_party/aws-sigv4, see its README):
// every case in both modes, the canonical request, string to sign, signature and the signed
// request compared byte for byte. Then the building blocks, and the choices the suite does not
// pin down (S3 paths, query pieces the suite never writes).
#include "sigv4.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace layersift {
namespace {

namespace fs = std::filesystem;

const fs::path kSuiteDir = LAYERSIFT_SIGV4_SUITE_DIR;
constexpr size_t kSuiteCaseCount = 38;
const std::string kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Every case directory's name, sorted; empty when the suite is missing (SuiteIsComplete fails
// then, so a missing suite is never a silent pass).
std::vector<std::string> SuiteCases() {
  std::vector<std::string> cases;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(kSuiteDir, error)) {
    if (entry.is_directory()) cases.push_back(entry.path().filename().string());
  }
  std::sort(cases.begin(), cases.end());
  return cases;
}

// request.txt as the suite's README describes it: the target is everything between the first
// space and the final " HTTP/1.1" (it may hold spaces); a line starting with whitespace
// continues the previous header; an empty line ends the headers and the rest is the body.
SigV4Request ParseRequestFile(const std::string& text) {
  SigV4Request request;
  size_t line_end = text.find('\n');
  const std::string request_line = text.substr(0, line_end);
  constexpr std::string_view kVersion = " HTTP/1.1";
  const size_t space = request_line.find(' ');
  if (space == std::string::npos || request_line.size() < space + 1 + kVersion.size() ||
      request_line.compare(request_line.size() - kVersion.size(), kVersion.size(), kVersion) != 0) {
    throw std::runtime_error("bad request line: " + request_line);
  }
  request.method = request_line.substr(0, space);
  request.target =
      request_line.substr(space + 1, request_line.size() - kVersion.size() - space - 1);
  size_t pos = line_end == std::string::npos ? text.size() : line_end + 1;
  while (pos < text.size()) {
    line_end = text.find('\n', pos);
    const std::string line =
        text.substr(pos, line_end == std::string::npos ? std::string::npos : line_end - pos);
    pos = line_end == std::string::npos ? text.size() : line_end + 1;
    if (line.empty()) {
      request.body = text.substr(pos);
      break;
    }
    if (line[0] == ' ' || line[0] == '\t') {
      if (request.headers.empty()) throw std::runtime_error("continuation before any header");
      request.headers.back().second += "\n" + line;
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == std::string::npos) throw std::runtime_error("header without ':': " + line);
    request.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
  }
  return request;
}

// As aws-c-auth's generator wrote the *-signed-request.txt files.
std::string SerializeRequest(const SigV4Request& request) {
  std::string out = request.method + " " + request.target + " HTTP/1.1\n";
  for (const auto& [name, value] : request.headers) out += name + ":" + value + "\n";
  return out + "\n" + request.body;
}

std::time_t ParseTimestamp(const std::string& text) {
  std::tm tm{};
  std::istringstream in(text);
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%SZ");
  if (in.fail()) throw std::runtime_error("bad timestamp: " + text);
  return timegm(&tm);
}

struct SuiteCase {
  SigV4Request request;
  SigningCredentials credentials;
  SigV4Params params;
};

SuiteCase LoadCase(const std::string& name) {
  const fs::path dir = kSuiteDir / name;
  const auto context = nlohmann::json::parse(ReadFile(dir / "context.json"));
  SuiteCase out;
  out.request = ParseRequestFile(ReadFile(dir / "request.txt"));
  const auto& credentials = context.at("credentials");
  out.credentials.access_key_id = credentials.at("access_key_id").get<std::string>();
  out.credentials.secret_access_key = credentials.at("secret_access_key").get<std::string>();
  out.credentials.session_token = credentials.value("token", "");
  out.params.region = context.at("region").get<std::string>();
  out.params.service = context.at("service").get<std::string>();
  out.params.time = ParseTimestamp(context.at("timestamp").get<std::string>());
  out.params.normalize_path = context.at("normalize").get<bool>();
  out.params.double_encode_path = true;  // upstream's harness always sets use_double_uri_encode
  out.params.sign_body = context.at("sign_body").get<bool>();
  out.params.omit_session_token = context.value("omit_session_token", false);
  out.params.expires_seconds = context.at("expiration_in_seconds").get<int64_t>();
  return out;
}

std::string TestName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

class Sigv4SuiteTest : public ::testing::TestWithParam<std::string> {
 protected:
  void Check(const std::string& mode) {
    SuiteCase c = LoadCase(GetParam());
    const SigV4Result result = mode == "header"
                                   ? SignWithHeaders(c.request, c.credentials, c.params)
                                   : SignWithQuery(c.request, c.credentials, c.params);
    const fs::path dir = kSuiteDir / GetParam();
    EXPECT_EQ(result.canonical_request, ReadFile(dir / (mode + "-canonical-request.txt")));
    EXPECT_EQ(result.string_to_sign, ReadFile(dir / (mode + "-string-to-sign.txt")));
    EXPECT_EQ(result.signature, ReadFile(dir / (mode + "-signature.txt")));
    EXPECT_EQ(SerializeRequest(c.request), ReadFile(dir / (mode + "-signed-request.txt")));
  }
};

TEST_P(Sigv4SuiteTest, HeaderMode) { Check("header"); }
TEST_P(Sigv4SuiteTest, QueryMode) { Check("query"); }

INSTANTIATE_TEST_SUITE_P(Aws, Sigv4SuiteTest, ::testing::ValuesIn(SuiteCases()), TestName);

TEST(Sigv4Suite, SuiteIsComplete) {
  ASSERT_TRUE(fs::is_directory(kSuiteDir)) << kSuiteDir << " is missing";
  EXPECT_EQ(SuiteCases().size(), kSuiteCaseCount) << "in " << kSuiteDir;
}

// The parser must round-trip every request file, or the signed-request comparison above would
// test the parser rather than the signer.
TEST(Sigv4Suite, RequestFilesRoundTrip) {
  for (const std::string& name : SuiteCases()) {
    const std::string text = ReadFile(kSuiteDir / name / "request.txt");
    const SigV4Request request = ParseRequestFile(text);
    std::string expected = text;
    if (request.body.empty()) expected += "\n";  // a bodiless file ends after the last header
    EXPECT_EQ(SerializeRequest(request), expected) << name;
  }
}

// ---------------------------------------------------------------------------------------------
// Building blocks

TEST(Sigv4Test, Sha256HexOfKnownInputs) {
  EXPECT_EQ(Sha256Hex(""), kEmptySha256);
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sigv4Test, HmacSha256MatchesRfc4231) {
  const std::string mac = HmacSha256("Jefe", "what do ya want for nothing?");
  ASSERT_EQ(mac.size(), 32u);
  std::string hex;
  for (unsigned char c : mac) {
    static constexpr char kDigits[] = "0123456789abcdef";
    hex += kDigits[c >> 4];
    hex += kDigits[c & 0xf];
  }
  EXPECT_EQ(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Sigv4Test, AmzDateIsUtc) {
  EXPECT_EQ(AmzDate(1440938160), "20150830T123600Z");
  EXPECT_EQ(AmzDate(0), "19700101T000000Z");
  EXPECT_EQ(AmzDate(951782400), "20000229T000000Z");  // leap day
}

TEST(Sigv4Test, UriEncode) {
  EXPECT_EQ(UriEncode("", false), "");
  EXPECT_EQ(UriEncode("AZaz09-._~", false), "AZaz09-._~");
  EXPECT_EQ(UriEncode("a b/c", true), "a%20b/c");
  EXPECT_EQ(UriEncode("a b/c", false), "a%20b%2Fc");
  EXPECT_EQ(UriEncode("+=&%?#*", false), "%2B%3D%26%25%3F%23%2A");
  EXPECT_EQ(UriEncode("\xE1\x88\xB4", false), "%E1%88%B4");  // uppercase hex, byte by byte
  EXPECT_EQ(UriEncode(std::string("\0\xff", 2), false), "%00%FF");
}

// ---------------------------------------------------------------------------------------------
// Choices the suite does not pin down

SigV4Result SignGet(const std::string& target, SigV4Params params = {}) {
  SigV4Request request{"GET", target, {{"Host", "example.amazonaws.com"}}, ""};
  params.region = "us-east-1";
  params.service = "service";
  params.time = 1440938160;
  return SignWithHeaders(request, SigningCredentials{"AKIDEXAMPLE", "secret", ""}, params);
}

std::string CanonicalUriOf(const SigV4Result& result) {
  const size_t start = result.canonical_request.find('\n') + 1;
  return result.canonical_request.substr(start, result.canonical_request.find('\n', start) - start);
}

std::string CanonicalQueryOf(const SigV4Result& result) {
  const size_t start =
      result.canonical_request.find('\n', result.canonical_request.find('\n') + 1) + 1;
  return result.canonical_request.substr(start, result.canonical_request.find('\n', start) - start);
}

TEST(Sigv4Test, NormalizedPathKeepsOnlyAWrittenTrailingSlash) {
  EXPECT_EQ(CanonicalUriOf(SignGet("/a/b/..")), "/a");
  EXPECT_EQ(CanonicalUriOf(SignGet("/a/b/../")), "/a/");
  EXPECT_EQ(CanonicalUriOf(SignGet("/../..")), "/");
  EXPECT_EQ(CanonicalUriOf(SignGet("")), "/");
  EXPECT_EQ(CanonicalUriOf(SignGet("?a=b")), "/");
}

TEST(Sigv4Test, DoubleEncodingEncodesAnEncodedPathAgain) {
  EXPECT_EQ(CanonicalUriOf(SignGet("/a%20b/%2F")), "/a%2520b/%252F");
}

TEST(Sigv4Test, S3PathIsEncodedOnceWhetherWrittenRawOrEncoded) {
  SigV4Params s3;
  s3.normalize_path = false;
  s3.double_encode_path = false;
  EXPECT_EQ(CanonicalUriOf(SignGet("/a b/c%2Fd//%7e%e1%88%b4", s3)), "/a%20b/c%2Fd//~%E1%88%B4");
  EXPECT_EQ(CanonicalUriOf(SignGet("/100%/x", s3)), "/100%25/x");
}

TEST(Sigv4Test, QueryIsDecodedEncodedAndSortedByKeyThenValue) {
  EXPECT_EQ(CanonicalQueryOf(SignGet("/?b=2&a=z&a=y&c&&d=%2b+%20")), "a=y&a=z&b=2&c=&d=%2B%2B%20");
  EXPECT_EQ(CanonicalQueryOf(SignGet("/?=v&%=%zz")), "=v&%25=%25zz");
}

TEST(Sigv4Test, QueryModeAppendsAfterAnExistingSeparator) {
  SigningCredentials credentials{"AKIDEXAMPLE", "secret", ""};
  SigV4Params params;
  params.region = "r";
  params.service = "s";
  const std::pair<std::string, std::string> kCases[] = {
      {"/x", "/x?X-Amz-Algorithm="},
      {"/x?", "/x?X-Amz-Algorithm="},
      {"/x?a=1&", "/x?a=1&X-Amz-Algorithm="},
      {"/x?a=1", "/x?a=1&X-Amz-Algorithm="},
  };
  for (const auto& [target, prefix] : kCases) {
    SigV4Request request{"GET", target, {{"Host", "h"}}, ""};
    SignWithQuery(request, credentials, params);
    EXPECT_TRUE(request.target.starts_with(prefix)) << request.target;
  }
}

// The payload hash is always the body's; sign_body only adds (and signs) x-amz-content-sha256.
TEST(Sigv4Test, SignBodyOnlyAddsTheContentHeader) {
  SigV4Params params;
  params.region = "r";
  params.service = "s";
  for (const bool sign_body : {false, true}) {
    params.sign_body = sign_body;
    SigV4Request request{"PUT", "/", {{"Host", "h"}}, "payload"};
    const SigV4Result result = SignWithHeaders(request, {"AKID", "secret", ""}, params);
    EXPECT_TRUE(result.canonical_request.ends_with("\n" + Sha256Hex("payload"))) << sign_body;
    EXPECT_EQ(result.canonical_request.find("x-amz-content-sha256") != std::string::npos,
              sign_body);
    // Host, X-Amz-Date, [x-amz-content-sha256], Authorization
    ASSERT_EQ(request.headers.size(), sign_body ? 4u : 3u);
    if (sign_body) {
      EXPECT_EQ(request.headers[2],
                std::make_pair(std::string("x-amz-content-sha256"), Sha256Hex("payload")));
    }
  }
}

}  // namespace
}  // namespace layersift
