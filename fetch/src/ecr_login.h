// Registry passwords that come from AWS instead of the user: private ECR registries (from
// ecr:GetAuthorizationToken of the registry's region and account) and, when asked for,
// public.ecr.aws (ecr-public:GetAuthorizationToken). Each login is cached until half its life
// (12 hours for ECR), so a long scan renews it before the registry starts refusing it.
#ifndef LAYERSIFT_FETCH_ECR_LOGIN_H_
#define LAYERSIFT_FETCH_ECR_LOGIN_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "layersift/fetch/aws.h"
#include "layersift/fetch/ecr.h"

namespace layersift {

class EcrLogins {
 public:
  // `session` is made on first use by `make_session` (so that scans of other registries never
  // look for AWS credentials). `public_auth`: log in to public.ecr.aws instead of pulling
  // anonymously.
  EcrLogins(std::function<std::shared_ptr<AwsSession>()> make_session, bool public_auth);

  // Whether `registry` is a private ECR registry (its password, and its endpoint, come from here).
  static bool IsPrivate(const std::string& registry);
  // Whether `registry` gets credentials from here: a private ECR registry, or public.ecr.aws when
  // public_auth.
  bool Handles(const std::string& registry) const;

  // The login for `registry`, cached until half its life; `renew` fetches a new one (after the
  // registry refused the cached one). Throws AwsError.
  EcrAuthorization Get(const std::string& registry, bool renew = false);
  // When the cached login of `registry` is to be replaced (for the registry's token cache).
  std::optional<AwsClock::time_point> RefreshAt(const std::string& registry);

  uint64_t logins() const;

 private:
  struct Cached {
    EcrAuthorization authorization;
    AwsClock::time_point refresh_at;
    AwsClock::time_point fetched_at;
  };
  std::shared_ptr<AwsSession> Session();

  std::function<std::shared_ptr<AwsSession>()> make_session_;
  const bool public_auth_;
  mutable std::mutex mutex_;  // held across a login: concurrent layers of one registry wait for one login
  std::shared_ptr<AwsSession> session_;
  std::map<std::string, Cached> cache_;
  uint64_t logins_ = 0;
};

}  // namespace layersift

#endif  // LAYERSIFT_FETCH_ECR_LOGIN_H_
