// Authorization for registry requests: what a registry's /v2/ challenge asks for (nothing,
// Basic, or a Bearer token from its token service), tokens cached per registry and scope.
#ifndef LAYERSIFT_FETCH_REGISTRY_AUTH_H_
#define LAYERSIFT_FETCH_REGISTRY_AUTH_H_

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "docker_credentials.h"
#include "ecr_login.h"
#include "http_client.h"

namespace layersift {

// Scopes as token services name them.
std::string RepositoryPullScope(const std::string& repository);  // "repository:REPO:pull"
inline constexpr const char* kCatalogScope = "registry:catalog:*";

class RegistryAuth {
 public:
  // `ecr` (may be null) logs in to ECR registries; it must outlive this object.
  RegistryAuth(const HttpClient& http, CredentialStore& credentials, bool plain_http, EcrLogins* ecr = nullptr);

  // The Authorization value for a request to `registry` within `scope` ("" when the registry
  // needs none), fetching a token when there is none or it expired. The first call for a
  // registry asks its /v2/ endpoint which scheme it wants. Blocking; thread-safe. Throws
  // RegistryError naming the registry when it is unreachable or refuses the credentials.
  std::string Authorize(const std::string& registry, const std::string& scope);

  // What Authorize() would return without any request: the cached value, even if expired.
  std::string Cached(const std::string& registry, const std::string& scope);

  // After a 401 that carried `challenge` (its WWW-Authenticate): adopts the challenge and fetches
  // a new token (or rebuilds the Basic value). Throws RegistryError when that fails.
  void Renew(const std::string& registry, const std::string& scope, const std::string& challenge);

  // "https://host" or "http://host" for a registry; for a private ECR registry, the endpoint its
  // login names (logging in first when needed).
  std::string BaseUrl(const std::string& registry) const;

  uint64_t tokens_fetched() const;

 private:
  using TimePoint = std::chrono::steady_clock::time_point;
  struct Scheme {
    std::string kind;  // "none", "basic", "bearer" or "ecr" (Basic with a password from AWS)
    std::string realm, service;
  };
  struct Entry {
    std::string value;
    TimePoint expires;
  };

  Scheme Discover(const std::string& registry);
  void Learn(const std::string& registry, const std::string& challenge);
  Entry FetchToken(const std::string& registry, const Scheme& scheme, const std::string& scope);
  Entry MakeEntry(const std::string& registry, const Scheme& scheme, const std::string& scope, bool renew = false);
  std::optional<Credential> CredentialFor(const std::string& registry, bool renew);

  const HttpClient& http_;
  CredentialStore& credentials_;
  const bool plain_http_;
  EcrLogins* const ecr_;
  mutable std::mutex mutex_;  // guards the maps; requests are made without it
  std::map<std::string, Scheme> schemes_;
  std::map<std::pair<std::string, std::string>, Entry> entries_;
  uint64_t tokens_fetched_ = 0;
};

// The message of a registry's error answer: "HTTP 404 Not Found: MANIFEST_UNKNOWN (manifest
// unknown)", from the distribution spec's {"errors":[{code,message}]} body when there is one,
// and how often it was retried ("HTTP 503 Service Unavailable (after 5 retries)").
std::string RegistryErrorText(const HttpResponse& response);

}  // namespace layersift

#endif  // LAYERSIFT_FETCH_REGISTRY_AUTH_H_
