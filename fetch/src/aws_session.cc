#include <mutex>
#include <nlohmann/json.hpp>

#include "aws_call.h"
#include "aws_config_file.h"
#include "aws_credentials.h"
#include "http_client.h"
#include "layersift/fetch/aws.h"

namespace layersift {
namespace {

bool IsExpired(const AwsError& e) { return e.code() == "ExpiredToken" || e.code() == "ExpiredTokenException"; }

std::string EndpointOverride(const std::string& service) {
  const std::string ignore = GetEnv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
  if (ignore == "true" || ignore == "TRUE" || ignore == "1") return "";
  // AWS_ENDPOINT_URL_<service id in upper case, spaces and dashes as underscores>.
  std::string name = "AWS_ENDPOINT_URL_";
  for (const char c : service) name.push_back(c == '-' || c == ' ' ? '_' : static_cast<char>(std::toupper(c)));
  std::string url = GetEnv(name.c_str());
  if (url.empty()) url = GetEnv("AWS_ENDPOINT_URL");
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

}  // namespace

class AwsSession::Impl {
 public:
  explicit Impl(AwsOptions options) : options_(std::move(options)), http_(options_.http) {}

  std::string Region() {
    std::lock_guard<std::mutex> lock(region_mutex_);
    if (region_) return *region_;
    std::string region = options_.region;
    if (region.empty()) region = GetEnv("AWS_REGION");
    if (region.empty()) region = GetEnv("AWS_DEFAULT_REGION");
    if (region.empty()) {
      const std::optional<AwsProfile> profile = Config().Profile(ProfileName());
      if (profile && profile->count("region")) region = profile->at("region");
    }
    if (region.empty()) region = RegionFromInstanceMetadata();
    if (region.empty()) {
      throw AwsError("no AWS region: give --aws-region, set AWS_REGION, or add `region =` to the profile " +
                     ProfileName());
    }
    region_ = region;
    return region;
  }

  CachedCredentials& Credentials() {
    std::lock_guard<std::mutex> lock(credentials_mutex_);
    if (!credentials_) {
      StsContext sts;
      sts.http = &http_;
      // STS is called in the session's region (regional endpoints); without one, globally.
      sts.region = [this] {
        try {
          return Region();
        } catch (const AwsError&) {
          return std::string();
        }
      };
      credentials_ = std::make_unique<CachedCredentials>(MakeCredentialChain(options_, Config(), std::move(sts)));
    }
    return *credentials_;
  }

  // Sends `call` with the current credentials; credentials that AWS says expired early are
  // dropped and the call made once more with fresh ones.
  std::string Send(const AwsCall& call) {
    for (int attempt = 0;; ++attempt) {
      const AwsCredentials credentials = Credentials().Get();
      try {
        return SendAwsCall(http_, call, &credentials);
      } catch (const AwsError& e) {
        if (attempt > 0 || !IsExpired(e) || !credentials.expiration) throw;
        Credentials().Invalidate();
      }
    }
  }

  AwsOptions options_;
  HttpClient http_;

 private:
  std::string ProfileName() const {
    if (!options_.profile.empty()) return options_.profile;
    const std::string env = GetEnv("AWS_PROFILE");
    return env.empty() ? "default" : env;
  }

  const AwsSharedConfig& Config() {
    std::call_once(config_once_, [this] { config_ = AwsSharedConfig::Load(); });
    return config_;
  }

  std::string RegionFromInstanceMetadata() {
    const std::string endpoint = ImdsEndpoint();
    if (endpoint.empty()) return "";
    try {
      const HttpClient http(MetadataHttpOptions(options_.http));
      const std::string token = ImdsToken(http, endpoint);
      HttpRequest request;
      request.url = endpoint + "/latest/dynamic/instance-identity/document";
      request.headers.push_back("X-aws-ec2-metadata-token: " + token);
      const HttpResponse response = http.Send(request);
      if (response.status != 200) return "";
      const nlohmann::json document = nlohmann::json::parse(response.body, nullptr, false);
      if (document.is_object() && document.contains("region") && document["region"].is_string()) {
        return document["region"];
      }
    } catch (const std::exception&) {
      // not on EC2: the caller asks for a region
    }
    return "";
  }

  std::once_flag config_once_;
  AwsSharedConfig config_;
  std::mutex region_mutex_;
  std::optional<std::string> region_;
  std::mutex credentials_mutex_;
  std::unique_ptr<CachedCredentials> credentials_;
};

AwsSession::AwsSession(AwsOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

AwsSession::~AwsSession() = default;

std::string AwsSession::Region() { return impl_->Region(); }

AwsCredentials AwsSession::Credentials() { return impl_->Credentials().Get(); }

void AwsSession::InvalidateCredentials() { impl_->Credentials().Invalidate(); }

uint64_t AwsSession::credential_fetches() const { return impl_->Credentials().fetches(); }

const AwsOptions& AwsSession::options() const { return impl_->options_; }

std::string AwsSession::CallJson(const std::string& service, const std::string& region, const std::string& target,
                                 const std::string& body, bool fips) {
  AwsCall call;
  call.endpoint = Endpoint(service, region, fips);
  call.service = service;
  call.region = region;
  call.protocol = AwsProtocol::kJson;
  call.target = target;
  call.body = body;
  call.action = service + ":" + target.substr(target.find('.') + 1);
  return impl_->Send(call);
}

AwsIdentity AwsSession::GetCallerIdentity() {
  AwsCall call;
  std::string region;
  try {
    region = Region();
  } catch (const AwsError&) {
    // the global endpoint answers too
  }
  call.endpoint = Endpoint("sts", region);
  call.service = "sts";
  call.region = region.empty() ? "us-east-1" : region;
  call.protocol = AwsProtocol::kQuery;
  call.body = "Action=GetCallerIdentity&Version=2011-06-15";
  call.action = "sts:GetCallerIdentity";
  const std::string xml = impl_->Send(call);
  AwsIdentity identity;
  identity.account = XmlElementText(xml, "GetCallerIdentityResult", "Account");
  identity.arn = XmlElementText(xml, "GetCallerIdentityResult", "Arn");
  identity.user_id = XmlElementText(xml, "GetCallerIdentityResult", "UserId");
  if (identity.arn.empty()) throw AwsError("sts:GetCallerIdentity: the answer has no Arn");
  return identity;
}

std::string AwsSession::Endpoint(const std::string& service, const std::string& region, bool fips) {
  std::string url = EndpointOverride(service);
  if (!url.empty()) return url;
  const std::string suffix = region.rfind("cn-", 0) == 0 ? "amazonaws.com.cn" : "amazonaws.com";
  if (service == "sts") return region.empty() ? "https://sts.amazonaws.com" : "https://sts." + region + "." + suffix;
  if (service == "ecr") {
    return fips ? "https://ecr-fips." + region + "." + suffix : "https://api.ecr." + region + "." + suffix;
  }
  if (service == "ecr-public") return "https://api.ecr-public." + region + "." + suffix;
  return "https://" + service + "." + region + "." + suffix;
}

}  // namespace layersift
