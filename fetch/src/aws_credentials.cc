#include "aws_credentials.h"

#include <cstdio>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <vector>

#include "aws_call.h"
#include "layersift/fetch/http_parse.h"

namespace layersift {
namespace {

using nlohmann::json;

constexpr auto kMaxRefreshMargin = std::chrono::minutes(5);
constexpr int kDefaultRoleSeconds = 3600;
constexpr const char* kEcsHost = "http://169.254.170.2";
constexpr const char* kStsVersion = "2011-06-15";

std::string ReadTokenFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw AwsError(std::string("cannot read ") + what + " " + path);
  std::stringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty()) throw AwsError(std::string(what) + " " + path + " is empty");
  return token;
}

bool IsTrue(const std::string& value) {
  std::string lower;
  for (const char c : value) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return lower == "true" || lower == "1";
}

// Credentials of a metadata service's JSON answer (container endpoints and IMDS share the shape).
AwsCredentials CredentialsFromJson(const std::string& body, const std::string& source) {
  const json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) throw AwsError(source + ": the answer is not a JSON object");
  if (parsed.contains("Code") && parsed["Code"].is_string() && parsed["Code"] != "Success") {
    throw AwsError(source + ": " + parsed["Code"].get<std::string>() +
                   (parsed.contains("Message") && parsed["Message"].is_string()
                        ? ": " + parsed["Message"].get<std::string>()
                        : std::string()));
  }
  AwsCredentials credentials;
  credentials.source = source;
  for (const auto& [key, field] : {std::pair{"AccessKeyId", &credentials.access_key_id},
                                   std::pair{"SecretAccessKey", &credentials.secret_access_key},
                                   std::pair{"Token", &credentials.session_token}}) {
    if (parsed.contains(key) && parsed[key].is_string()) *field = parsed[key].get<std::string>();
  }
  if (credentials.access_key_id.empty() || credentials.secret_access_key.empty()) {
    throw AwsError(source + ": the answer has no AccessKeyId and SecretAccessKey");
  }
  if (parsed.contains("Expiration") && parsed["Expiration"].is_string()) {
    credentials.expiration = ParseIso8601(parsed["Expiration"].get<std::string>());
    if (!credentials.expiration) throw AwsError(source + ": unreadable Expiration");
  }
  return credentials;
}

// The <Credentials> of an AssumeRole / AssumeRoleWithWebIdentity answer.
AwsCredentials CredentialsFromStsXml(const std::string& xml, const std::string& source) {
  AwsCredentials credentials;
  credentials.source = source;
  credentials.access_key_id = XmlElementText(xml, "Credentials", "AccessKeyId");
  credentials.secret_access_key = XmlElementText(xml, "Credentials", "SecretAccessKey");
  credentials.session_token = XmlElementText(xml, "Credentials", "SessionToken");
  credentials.expiration = ParseIso8601(XmlElementText(xml, "Credentials", "Expiration"));
  if (credentials.access_key_id.empty() || credentials.secret_access_key.empty() ||
      credentials.session_token.empty() || !credentials.expiration) {
    throw AwsError(source + ": the STS answer has no complete Credentials element");
  }
  return credentials;
}

AwsCall StsCall(const StsContext& sts, const std::string& action, const std::string& parameters) {
  AwsCall call;
  call.region = sts.region ? sts.region() : "";
  call.endpoint = AwsSession::Endpoint("sts", call.region);
  if (call.region.empty()) call.region = "us-east-1";  // the global endpoint signs as us-east-1
  call.service = "sts";
  call.protocol = AwsProtocol::kQuery;
  call.body = "Action=" + action + "&Version=" + kStsVersion + parameters;
  call.action = "sts:" + action;
  return call;
}

class EnvironmentSource final : public AwsCredentialSource {
 public:
  AwsCredentials Fetch() override {
    AwsCredentials credentials;
    credentials.access_key_id = GetEnv("AWS_ACCESS_KEY_ID");
    credentials.secret_access_key = GetEnv("AWS_SECRET_ACCESS_KEY");
    credentials.session_token = GetEnv("AWS_SESSION_TOKEN");
    credentials.source = "environment";
    if (credentials.access_key_id.empty() || credentials.secret_access_key.empty()) {
      throw AwsError("AWS credentials from the environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be set");
    }
    if (const std::string expiry = GetEnv("AWS_CREDENTIAL_EXPIRATION"); !expiry.empty()) {
      credentials.expiration = ParseIso8601(expiry);
    }
    return credentials;
  }
  static bool Configured() { return !GetEnv("AWS_ACCESS_KEY_ID").empty() || !GetEnv("AWS_SECRET_ACCESS_KEY").empty(); }
};

class StaticSource final : public AwsCredentialSource {
 public:
  StaticSource(const AwsProfile& profile, std::string source) {
    credentials_.access_key_id = Value(profile, "aws_access_key_id");
    credentials_.secret_access_key = Value(profile, "aws_secret_access_key");
    credentials_.session_token = Value(profile, "aws_session_token");
    credentials_.source = std::move(source);
    if (credentials_.secret_access_key.empty()) {
      throw AwsError(credentials_.source + ": aws_access_key_id without aws_secret_access_key");
    }
  }
  AwsCredentials Fetch() override { return credentials_; }
  static std::string Value(const AwsProfile& profile, const char* key) {
    const auto it = profile.find(key);
    return it == profile.end() ? "" : it->second;
  }

 private:
  AwsCredentials credentials_;
};

class AssumeRoleSource final : public AwsCredentialSource {
 public:
  AssumeRoleSource(std::unique_ptr<AwsCredentialSource> base, StsContext sts, std::string role_arn,
                   std::string external_id, std::string session_name, int duration_seconds, std::string source)
      : base_(std::move(base)),
        sts_(std::move(sts)),
        role_arn_(std::move(role_arn)),
        external_id_(std::move(external_id)),
        session_name_(session_name.empty() ? DefaultRoleSessionName() : std::move(session_name)),
        duration_seconds_(duration_seconds),
        source_(std::move(source)) {}
  AwsCredentials Fetch() override {
    AwsCredentials credentials =
        AssumeRole(sts_, base_.Get(), role_arn_, session_name_, external_id_, duration_seconds_);
    credentials.source = source_;
    return credentials;
  }

 private:
  CachedCredentials base_;
  StsContext sts_;
  std::string role_arn_, external_id_, session_name_;
  int duration_seconds_;
  std::string source_;
};

class WebIdentitySource final : public AwsCredentialSource {
 public:
  WebIdentitySource(StsContext sts, std::string token_file, std::string role_arn, std::string session_name,
                    std::string source)
      : sts_(std::move(sts)),
        token_file_(std::move(token_file)),
        role_arn_(std::move(role_arn)),
        session_name_(session_name.empty() ? DefaultRoleSessionName() : std::move(session_name)),
        source_(std::move(source)) {}
  AwsCredentials Fetch() override {
    // The token file is read on every refresh: EKS rotates it.
    const std::string token = ReadTokenFile(token_file_, "web identity token file");
    const AwsCall call =
        StsCall(sts_, "AssumeRoleWithWebIdentity",
                "&RoleArn=" + UrlEncode(role_arn_) + "&RoleSessionName=" + UrlEncode(session_name_) +
                    "&WebIdentityToken=" + UrlEncode(token));
    try {
      return CredentialsFromStsXml(SendAwsCall(*sts_.http, call, /*credentials=*/nullptr), source_);
    } catch (const AwsError& e) {
      throw AwsError(source_ + ": " + e.what(), e.code(), e.aws_message(), e.status());
    }
  }

 private:
  StsContext sts_;
  std::string token_file_, role_arn_, session_name_, source_;
};

bool IsAllowedContainerHost(const std::string& url) {
  if (url.rfind("https://", 0) == 0) return true;
  if (url.rfind("http://", 0) != 0) return false;
  std::string rest = url.substr(7);
  rest = rest.substr(0, rest.find('/'));
  std::string host;
  if (!rest.empty() && rest[0] == '[') {
    host = rest.substr(0, rest.find(']') + 1);
  } else {
    host = rest.substr(0, rest.find(':'));
  }
  // Plain HTTP only to this machine or to the ECS and EKS agents' link-local addresses: the
  // answer is a credential, and any other host could be an attacker on the path.
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "[::1]" || host == "169.254.170.2" ||
         host == "169.254.170.23" || host == "[fd00:ec2::23]";
}

class ContainerSource final : public AwsCredentialSource {
 public:
  explicit ContainerSource(const HttpOptions& http_options) : http_(MetadataHttpOptions(http_options)) {
    const std::string relative = GetEnv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    url_ = relative.empty() ? GetEnv("AWS_CONTAINER_CREDENTIALS_FULL_URI") : kEcsHost + relative;
    if (relative.empty() && !IsAllowedContainerHost(url_)) {
      throw AwsError("AWS_CONTAINER_CREDENTIALS_FULL_URI " + url_ +
                     ": plain HTTP is allowed only to a loopback address or the ECS/EKS agent "
                     "(169.254.170.2, 169.254.170.23)");
    }
  }
  AwsCredentials Fetch() override {
    HttpRequest request;
    request.url = url_;
    const std::string token_file = GetEnv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    // EKS Pod Identity rotates the token file: read it on every refresh.
    request.authorization = !token_file.empty() ? ReadTokenFile(token_file, "container authorization token file")
                                                : GetEnv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    const std::string source = "container credentials (" + url_ + ")";
    HttpResponse response;
    try {
      response = http_.Send(request);
    } catch (const HttpError& e) {
      throw AwsError(source + ": " + e.what());
    }
    if (response.status != 200) {
      throw AwsError(source + ": " + StatusText(response.status) +
                     (response.status == 401 || response.status == 403
                          ? " (check AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE)"
                          : ""));
    }
    return CredentialsFromJson(response.body, source);
  }
  static bool Configured() {
    return !GetEnv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").empty() ||
           !GetEnv("AWS_CONTAINER_CREDENTIALS_FULL_URI").empty();
  }

 private:
  HttpClient http_;
  std::string url_;
};

class ImdsSource final : public AwsCredentialSource {
 public:
  ImdsSource(const HttpOptions& http_options, std::string endpoint)
      : http_(MetadataHttpOptions(http_options)), endpoint_(std::move(endpoint)) {}
  AwsCredentials Fetch() override {
    const std::string source = "EC2 instance metadata (" + endpoint_ + ")";
    const std::string token = ImdsToken(http_, endpoint_);
    const std::string base = endpoint_ + "/latest/meta-data/iam/security-credentials/";
    std::string role = Get(base, token, source);
    role = role.substr(0, role.find('\n'));
    if (role.empty()) throw AwsError(source + ": the instance has no IAM role attached");
    AwsCredentials credentials = CredentialsFromJson(Get(base + role, token, source), source);
    credentials.source = "EC2 instance role " + role;
    return credentials;
  }

 private:
  std::string Get(const std::string& url, const std::string& token, const std::string& source) {
    HttpRequest request;
    request.url = url;
    request.headers.push_back("X-aws-ec2-metadata-token: " + token);
    HttpResponse response;
    try {
      response = http_.Send(request);
    } catch (const HttpError& e) {
      throw AwsError(source + ": " + e.what());
    }
    if (response.status == 404) throw AwsError(source + ": the instance has no IAM role attached (" + url + ": 404)");
    if (response.status != 200) throw AwsError(source + ": " + url + ": " + StatusText(response.status));
    return response.body;
  }

  HttpClient http_;
  std::string endpoint_;
};

// Tries each configured source in order and keeps the first that yields credentials. Only the
// metadata service is probed without being configured; every other source that is configured and
// fails is an error (as in the SDKs: a broken profile must not silently fall back to the
// instance role).
class ChainSource final : public AwsCredentialSource {
 public:
  // `probe`: a source tried without being configured (the metadata service): its failure means
  // "not here", and the chain goes on.
  void Add(std::unique_ptr<AwsCredentialSource> source, bool probe = false) {
    sources_.push_back({std::move(source), probe});
  }
  void NotConfigured(std::string why) { not_configured_.push_back(std::move(why)); }
  AwsCredentials Fetch() override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (chosen_ != nullptr) return chosen_->Fetch();
    std::string tried;
    for (const std::string& why : not_configured_) tried += "\n  " + why;
    for (const auto& [source, probe] : sources_) {
      try {
        AwsCredentials credentials = source->Fetch();
        chosen_ = source.get();
        return credentials;
      } catch (const AwsError& e) {
        if (!probe) throw;  // a configured source's error is final
        tried += std::string("\n  ") + e.what();
      }
    }
    throw AwsError("no AWS credentials found; tried, in order:" + tried +
                   "\n(set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE / --aws-profile, "
                   "or run where a role is attached)");
  }

 private:
  std::mutex mutex_;
  std::vector<std::pair<std::unique_ptr<AwsCredentialSource>, bool>> sources_;
  std::vector<std::string> not_configured_;
  AwsCredentialSource* chosen_ = nullptr;
};

int DurationOf(const AwsProfile& profile) {
  const std::string value = StaticSource::Value(profile, "duration_seconds");
  if (value.empty()) return kDefaultRoleSeconds;
  try {
    return std::stoi(value);
  } catch (const std::exception&) {
    throw AwsError("duration_seconds = " + value + " is not a number");
  }
}

// The credential source of a profile; nullptr when the profile holds no credential settings.
std::unique_ptr<AwsCredentialSource> ProfileSource(const std::string& name, const AwsSharedConfig& config,
                                                   const AwsOptions& options, const StsContext& sts,
                                                   std::set<std::string>& visited) {
  const std::string label = "profile " + name;
  const std::optional<AwsProfile> profile = config.Profile(name);
  if (!profile) {
    throw AwsError("AWS profile " + name + " not found in " + config.config_path() + " or " +
                   config.credentials_path());
  }
  if (!visited.insert(name).second) throw AwsError("AWS profile " + name + ": source_profile makes a cycle");
  const std::string role_arn = StaticSource::Value(*profile, "role_arn");
  if (!role_arn.empty()) {
    const std::string source_profile = StaticSource::Value(*profile, "source_profile");
    const std::string credential_source = StaticSource::Value(*profile, "credential_source");
    const std::string token_file = StaticSource::Value(*profile, "web_identity_token_file");
    const std::string session_name = StaticSource::Value(*profile, "role_session_name");
    std::unique_ptr<AwsCredentialSource> base;
    if (!source_profile.empty()) {
      if (source_profile == name) {
        base = std::make_unique<StaticSource>(*profile, label);  // a profile naming itself: its own keys
      } else {
        base = ProfileSource(source_profile, config, options, sts, visited);
        if (!base) throw AwsError(label + ": source_profile " + source_profile + " has no credentials");
      }
    } else if (credential_source == "Environment") {
      base = std::make_unique<EnvironmentSource>();
    } else if (credential_source == "EcsContainer") {
      base = std::make_unique<ContainerSource>(options.http);
    } else if (credential_source == "Ec2InstanceMetadata") {
      base = std::make_unique<ImdsSource>(options.http, ImdsEndpoint());
    } else if (!token_file.empty()) {
      return std::make_unique<WebIdentitySource>(sts, token_file, role_arn, session_name,
                                                 label + " (web identity, " + role_arn + ")");
    } else {
      throw AwsError(label + ": role_arn needs source_profile, credential_source (Environment, EcsContainer, "
                     "Ec2InstanceMetadata) or web_identity_token_file");
    }
    return std::make_unique<AssumeRoleSource>(std::move(base), sts, role_arn,
                                              StaticSource::Value(*profile, "external_id"), session_name,
                                              DurationOf(*profile), label + " (role " + role_arn + ")");
  }
  if (!StaticSource::Value(*profile, "aws_access_key_id").empty()) {
    return std::make_unique<StaticSource>(*profile, label);
  }
  for (const char* key : {"credential_process", "sso_session", "sso_start_url"}) {
    if (!StaticSource::Value(*profile, key).empty()) {
      throw AwsError(label + " uses " + key + ", which layersift does not support; export credentials with "
                     "`aws configure export-credentials --profile " + name + " --format env` and run with them "
                     "in the environment");
    }
  }
  return nullptr;
}

}  // namespace

CachedCredentials::CachedCredentials(std::unique_ptr<AwsCredentialSource> source) : source_(std::move(source)) {}

AwsCredentials CachedCredentials::Get() {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto now = AwsClock::now();
  if (current_ && (!current_->expiration || now < refresh_at_)) return *current_;
  try {
    AwsCredentials fresh = source_->Fetch();
    ++fetches_;
    if (fresh.expiration) {
      const auto lifetime = *fresh.expiration - now;
      const auto margin = std::min<AwsClock::duration>(kMaxRefreshMargin, lifetime / 2);
      refresh_at_ = *fresh.expiration - margin;
    }
    current_ = std::move(fresh);
  } catch (const AwsError&) {
    if (!current_ || !current_->expiration || now >= *current_->expiration) throw;
    // still valid: used while the source is down, and the refresh is tried again next call
  }
  return *current_;
}

void CachedCredentials::Invalidate() {
  std::lock_guard<std::mutex> lock(mutex_);
  current_.reset();
}

uint64_t CachedCredentials::fetches() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return fetches_;
}

std::string DefaultRoleSessionName() { return "layersift-" + std::to_string(std::time(nullptr)); }

HttpOptions MetadataHttpOptions(const HttpOptions& base) {
  HttpOptions options = base;
  options.connect_timeout_seconds = 1;
  options.stall_timeout_seconds = 2;
  options.max_retries = 1;
  options.retry_base_seconds = 0.2;
  return options;
}

std::string ImdsEndpoint() {
  if (IsTrue(GetEnv("AWS_EC2_METADATA_DISABLED"))) return "";
  std::string endpoint = GetEnv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
  if (endpoint.empty()) endpoint = "http://169.254.169.254";
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  return endpoint;
}

std::string ImdsToken(const HttpClient& http, const std::string& endpoint) {
  HttpRequest request;
  request.method = "PUT";
  request.url = endpoint + "/latest/api/token";
  request.headers.push_back("X-aws-ec2-metadata-token-ttl-seconds: 21600");
  const std::string source = "EC2 instance metadata (" + endpoint + ")";
  HttpResponse response;
  try {
    response = http.Send(request);
  } catch (const HttpError& e) {
    throw AwsError(source + ": " + e.what());
  }
  if (response.status != 200 || response.body.empty()) {
    throw AwsError(source + ": no IMDSv2 session token (" + StatusText(response.status) + ")");
  }
  return response.body;
}

AwsCredentials AssumeRole(const StsContext& sts, const AwsCredentials& source, const std::string& role_arn,
                          const std::string& session_name, const std::string& external_id, int duration_seconds) {
  std::string parameters = "&RoleArn=" + UrlEncode(role_arn) + "&RoleSessionName=" + UrlEncode(session_name) +
                           "&DurationSeconds=" + std::to_string(duration_seconds);
  if (!external_id.empty()) parameters += "&ExternalId=" + UrlEncode(external_id);
  const AwsCall call = StsCall(sts, "AssumeRole", parameters);
  try {
    return CredentialsFromStsXml(SendAwsCall(*sts.http, call, &source), "role " + role_arn);
  } catch (const AwsError& e) {
    std::string hint;
    if (e.IsAccessDenied()) {
      hint = external_id.empty() ? " (if the role's trust policy requires an external ID, give --aws-external-id)"
                                 : " (check the role's trust policy and the external ID)";
    }
    throw AwsError("cannot assume role " + role_arn + " with " + source.source + ": " + e.what() + hint, e.code(),
                   e.aws_message(), e.status());
  }
}

std::unique_ptr<AwsCredentialSource> MakeCredentialChain(const AwsOptions& options, const AwsSharedConfig& config,
                                                         StsContext sts) {
  auto chain = std::make_unique<ChainSource>();
  const std::string env_profile = GetEnv("AWS_PROFILE");
  const std::string profile = !options.profile.empty() ? options.profile
                              : !env_profile.empty()   ? env_profile
                                                       : "default";
  // An explicit --aws-profile wins over keys in the environment, as with the AWS CLI's --profile.
  if (options.profile.empty() && EnvironmentSource::Configured()) {
    chain->Add(std::make_unique<EnvironmentSource>());
  } else {
    chain->NotConfigured(options.profile.empty() ? "environment: AWS_ACCESS_KEY_ID not set"
                                                 : "environment: skipped for --aws-profile");
  }
  std::set<std::string> visited;
  const bool profile_named = !options.profile.empty() || !env_profile.empty();
  if (profile_named || config.Profile(profile)) {
    if (auto source = ProfileSource(profile, config, options, sts, visited)) {
      chain->Add(std::move(source));
    } else {
      chain->NotConfigured("profile " + profile + ": no credentials in it");
    }
  } else {
    chain->NotConfigured("profile default: not in " + config.config_path() + " or " + config.credentials_path());
  }
  const std::string token_file = GetEnv("AWS_WEB_IDENTITY_TOKEN_FILE");
  const std::string web_role = GetEnv("AWS_ROLE_ARN");
  if (!token_file.empty() && !web_role.empty()) {
    chain->Add(std::make_unique<WebIdentitySource>(sts, token_file, web_role, GetEnv("AWS_ROLE_SESSION_NAME"),
                                                   "web identity (" + web_role + ")"));
  } else {
    chain->NotConfigured("web identity: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN not both set");
  }
  if (ContainerSource::Configured()) {
    chain->Add(std::make_unique<ContainerSource>(options.http));
  } else {
    chain->NotConfigured("container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / FULL_URI not set");
  }
  const std::string imds = ImdsEndpoint();
  if (!imds.empty()) {
    chain->Add(std::make_unique<ImdsSource>(options.http, imds), /*probe=*/true);
  } else {
    chain->NotConfigured("EC2 instance metadata: AWS_EC2_METADATA_DISABLED is set");
  }
  if (options.role_arn.empty()) return chain;
  return std::make_unique<AssumeRoleSource>(std::move(chain), std::move(sts), options.role_arn, options.external_id,
                                            options.role_session_name, kDefaultRoleSeconds,
                                            "role " + options.role_arn + " (--aws-role-arn)");
}

}  // namespace layersift
