#include "ecr_login.h"

namespace layersift {
namespace {

constexpr auto kMinRenewInterval = std::chrono::seconds(1);

}  // namespace

EcrLogins::EcrLogins(std::function<std::shared_ptr<AwsSession>()> make_session, bool public_auth)
    : make_session_(std::move(make_session)), public_auth_(public_auth) {}

bool EcrLogins::IsPrivate(const std::string& registry) { return ParseEcrRegistryHost(registry).has_value(); }

bool EcrLogins::Handles(const std::string& registry) const {
  return IsPrivate(registry) || (public_auth_ && registry == kEcrPublicHost);
}

std::shared_ptr<AwsSession> EcrLogins::Session() {
  if (!session_) session_ = make_session_();
  return session_;
}

EcrAuthorization EcrLogins::Get(const std::string& registry, bool renew) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto now = AwsClock::now();
  const auto it = cache_.find(registry);
  if (it != cache_.end() && now < it->second.refresh_at &&
      (!renew || now - it->second.fetched_at < kMinRenewInterval)) {
    // A renewal right after another one: the refused login was the previous one, and the
    // layers in flight that saw it refused all share this new one.
    return it->second.authorization;
  }
  EcrAuthorization authorization;
  try {
    if (registry == kEcrPublicHost) {
      authorization = EcrClient::GetPublicAuthorizationToken(*Session());
    } else {
      const EcrRegistryHost host = *ParseEcrRegistryHost(registry);
      authorization = EcrClient(Session(), host.region, host.account, host.fips).GetAuthorizationToken();
    }
  } catch (const AwsError& e) {
    throw AwsError("cannot log in to " + registry + ": " + e.what(), e.code(), e.aws_message(), e.status());
  }
  if (authorization.endpoint.empty()) authorization.endpoint = "https://" + registry;
  ++logins_;
  cache_[registry] = Cached{authorization, now + (authorization.expires - now) / 2, now};
  return authorization;
}

std::optional<AwsClock::time_point> EcrLogins::RefreshAt(const std::string& registry) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = cache_.find(registry);
  if (it == cache_.end()) return std::nullopt;
  return it->second.refresh_at;
}

uint64_t EcrLogins::logins() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return logins_;
}

}  // namespace layersift
