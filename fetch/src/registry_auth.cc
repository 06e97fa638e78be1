#include "registry_auth.h"

#include <nlohmann/json.hpp>

#include "layersift/fetch/http_parse.h"
#include "layersift/fetch/image_reference.h"
#include "layersift/fetch/registry_client.h"

namespace layersift {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// Tokens are used until this long before they expire, so that none expires on the way.
constexpr double kTokenMarginSeconds = 5;
constexpr double kDefaultTokenSeconds = 60;  // when the token service gives no expires_in
constexpr auto kForever = std::chrono::hours(24 * 365);

std::string BasicValue(const Credential& credential) {
  return "Basic " + Base64Encode(credential.username + ":" + credential.password);
}

std::string CredentialHint(const std::string& registry) {
  return "give credentials with --username and --password-stdin, or log in with `docker login " +
         registry + "`";
}

}  // namespace

std::string RepositoryPullScope(const std::string& repository) { return "repository:" + repository + ":pull"; }

std::string RegistryErrorText(const HttpResponse& response) {
  std::string text = StatusText(response.status);
  const json parsed = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object() && parsed.contains("errors") && parsed["errors"].is_array()) {
    for (const json& error : parsed["errors"]) {
      if (!error.is_object()) continue;
      text += ": " + error.value("code", std::string("?"));
      const std::string message = error.value("message", "");
      if (!message.empty()) text += " (" + message + ")";
    }
  }
  if (response.retries > 0) text += " (after " + std::to_string(response.retries) + " retries)";
  return text;
}

RegistryAuth::RegistryAuth(const HttpClient& http, CredentialStore& credentials, bool plain_http, EcrLogins* ecr)
    : http_(http), credentials_(credentials), plain_http_(plain_http), ecr_(ecr) {}

std::string RegistryAuth::BaseUrl(const std::string& registry) const {
  if (ecr_ != nullptr && EcrLogins::IsPrivate(registry)) {
    try {
      return ecr_->Get(registry).endpoint;
    } catch (const AwsError& e) {
      throw RegistryError(e.what());
    }
  }
  return (plain_http_ ? "http://" : "https://") + RegistryApiHost(registry);
}

std::optional<Credential> RegistryAuth::CredentialFor(const std::string& registry, bool renew) {
  if (ecr_ == nullptr || !ecr_->Handles(registry)) return credentials_.For(registry);
  try {
    const EcrAuthorization login = ecr_->Get(registry, renew);
    return Credential{login.username, login.password, ""};
  } catch (const AwsError& e) {
    throw RegistryError(e.what());
  }
}

uint64_t RegistryAuth::tokens_fetched() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return tokens_fetched_;
}

RegistryAuth::Scheme RegistryAuth::Discover(const std::string& registry) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = schemes_.find(registry);
    if (it != schemes_.end()) return it->second;
  }
  if (ecr_ != nullptr && EcrLogins::IsPrivate(registry)) {
    // ECR always asks for Basic with its own password: no need to ask the registry.
    std::lock_guard<std::mutex> lock(mutex_);
    return schemes_[registry] = Scheme{"ecr", "", ""};
  }
  const std::string url = BaseUrl(registry) + "/v2/";
  HttpResponse response;
  try {
    response = http_.Send(HttpRequest{.url = url});
  } catch (const HttpError& e) {
    std::string hint;
    if (!plain_http_) hint = " (for a registry that serves plain HTTP, use --plain-http)";
    throw RegistryError("cannot reach registry " + registry + ": " + e.what() + hint);
  }
  if (response.status == 401) {
    Learn(registry, response.headers.Get("www-authenticate").value_or(""));
  } else if (response.status >= 200 && response.status <= 299) {
    std::lock_guard<std::mutex> lock(mutex_);
    schemes_[registry] = Scheme{"none", "", ""};
  } else {
    throw RegistryError("registry " + registry + " answered " + url + " with " +
                        RegistryErrorText(response) +
                        " (is it an OCI distribution registry?)");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  return schemes_[registry];
}

void RegistryAuth::Learn(const std::string& registry, const std::string& challenge) {
  Scheme scheme{"", "", ""};
  for (const AuthChallenge& c : ParseWwwAuthenticate(challenge)) {
    if (c.scheme == "bearer" && c.params.count("realm")) {
      scheme = Scheme{"bearer", c.params.at("realm"), c.params.count("service") ? c.params.at("service") : ""};
      break;  // preferred over Basic when both are offered
    }
    if (c.scheme == "basic" && scheme.kind.empty()) scheme = Scheme{"basic", "", ""};
  }
  if (scheme.kind.empty()) {
    throw RegistryError("registry " + registry + " asks for authentication in a way layersift does not speak: " +
                        (challenge.empty() ? "no WWW-Authenticate header" : "WWW-Authenticate: " + challenge));
  }
  std::lock_guard<std::mutex> lock(mutex_);
  schemes_[registry] = scheme;
}

RegistryAuth::Entry RegistryAuth::FetchToken(const std::string& registry, const Scheme& scheme,
                                             const std::string& scope) {
  const std::optional<Credential> credential = CredentialFor(registry, /*renew=*/false);
  HttpRequest request;
  std::string query = scheme.service.empty() ? "" : "service=" + UrlEncode(scheme.service);
  if (!scope.empty()) query += (query.empty() ? "" : "&") + std::string("scope=") + UrlEncode(scope);
  if (credential && !credential->identity_token.empty()) {
    // docker's OAuth2 flow for identity tokens: a refresh_token grant by POST.
    request.method = "POST";
    request.url = scheme.realm;
    request.content_type = "application/x-www-form-urlencoded";
    request.body = "grant_type=refresh_token&client_id=layersift&refresh_token=" +
                   UrlEncode(credential->identity_token) + (query.empty() ? "" : "&" + query);
  } else {
    request.url = scheme.realm + (query.empty() ? "" : (scheme.realm.find('?') == std::string::npos ? "?" : "&") + query);
    if (credential) request.authorization = BasicValue(*credential);
  }
  HttpResponse response;
  try {
    response = http_.Send(request);
  } catch (const HttpError& e) {
    throw RegistryError("cannot get a token for " + registry + " from its token service: " + e.what());
  }
  if (response.status == 401 || response.status == 403) {
    throw RegistryError("the token service of " + registry + " refused " +
                        (credential ? std::string("the credentials") : std::string("an anonymous request")) +
                        " for " + scope + " (" + StatusText(response.status) + ")" +
                        (credential ? "" : "; " + CredentialHint(registry)));
  }
  if (response.status < 200 || response.status > 299) {
    throw RegistryError("the token service of " + registry + " answered " +
                        RegistryErrorText(response));
  }
  const json answer = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  std::string token;
  if (answer.is_object()) {
    // "token" is the registry protocol's name; OAuth2 services answer "access_token".
    if (answer.contains("token") && answer["token"].is_string()) token = answer["token"];
    if (token.empty() && answer.contains("access_token") && answer["access_token"].is_string()) {
      token = answer["access_token"];
    }
  }
  if (token.empty()) throw RegistryError("the token service of " + registry + " answered without a token");
  double seconds = kDefaultTokenSeconds;
  if (answer.contains("expires_in") && answer["expires_in"].is_number() && answer["expires_in"].get<double>() > 0) {
    seconds = answer["expires_in"].get<double>();
  }
  const double usable = std::max(1.0, seconds - std::min(kTokenMarginSeconds, seconds / 10));
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++tokens_fetched_;
  }
  return Entry{"Bearer " + token,
               Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(usable))};
}

RegistryAuth::Entry RegistryAuth::MakeEntry(const std::string& registry, const Scheme& scheme,
                                            const std::string& scope, bool renew) {
  if (scheme.kind == "bearer") return FetchToken(registry, scheme, scope);
  if (scheme.kind == "ecr") {
    const Credential credential = *CredentialFor(registry, renew);
    const auto refresh_at = ecr_->RefreshAt(registry).value_or(AwsClock::now());
    return Entry{BasicValue(credential),
                 Clock::now() + std::chrono::duration_cast<Clock::duration>(refresh_at - AwsClock::now())};
  }
  if (scheme.kind == "basic") {
    const std::optional<Credential> credential = credentials_.For(registry);
    if (!credential || (credential->username.empty() && credential->password.empty())) {
      throw RegistryError("registry " + registry + " asks for a user name and password; " + CredentialHint(registry));
    }
    return Entry{BasicValue(*credential), Clock::now() + kForever};
  }
  return Entry{"", Clock::now() + kForever};
}

std::string RegistryAuth::Authorize(const std::string& registry, const std::string& scope) {
  const Scheme scheme = Discover(registry);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto it = entries_.find({registry, scope});
    if (it != entries_.end() && Clock::now() < it->second.expires) return it->second.value;
  }
  Entry entry = MakeEntry(registry, scheme, scope);
  std::lock_guard<std::mutex> lock(mutex_);
  entries_[{registry, scope}] = entry;
  return entry.value;
}

std::string RegistryAuth::Cached(const std::string& registry, const std::string& scope) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = entries_.find({registry, scope});
  return it == entries_.end() ? "" : it->second.value;
}

void RegistryAuth::Renew(const std::string& registry, const std::string& scope, const std::string& challenge) {
  // ECR's 401 asks for Basic: keep the "ecr" scheme, whose password comes from AWS.
  if (!challenge.empty() && !(ecr_ != nullptr && EcrLogins::IsPrivate(registry))) Learn(registry, challenge);
  const Scheme scheme = Discover(registry);
  if (scheme.kind == "basic") {
    throw RegistryError("registry " + registry + " refused the user name and password (HTTP 401)");
  }
  if (scheme.kind == "none") {
    throw RegistryError("registry " + registry + " answered 401 without asking for credentials");
  }
  // An ECR password the registry refused (it expired early, or was revoked): log in again.
  Entry entry = MakeEntry(registry, scheme, scope, /*renew=*/scheme.kind == "ecr");
  std::lock_guard<std::mutex> lock(mutex_);
  entries_[{registry, scope}] = entry;
}

}  // namespace layersift
