// Registry credentials where docker keeps them: config.json's credHelpers, credsStore and auths
// (in $DOCKER_CONFIG or ~/.docker), with credential helpers run per docker's helper protocol.
#ifndef LAYERSIFT_FETCH_DOCKER_CREDENTIALS_H_
#define LAYERSIFT_FETCH_DOCKER_CREDENTIALS_H_

#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace layersift {

struct Credential {
  std::string username;
  std::string password;
  std::string identity_token;  // an OAuth2 refresh token (docker login with a token server)
};

class CredentialStore {
 public:
  // `username`/`password`, when given, serve every registry. `config_dir` "" means
  // $DOCKER_CONFIG, else $HOME/.docker.
  CredentialStore(std::string username, std::string password, std::string config_dir);

  // The credential for `registry` ("docker.io", "localhost:5000"), nullopt for none (anonymous).
  // Cached per registry. Throws RegistryError for a malformed config.json or a helper that fails
  // other than with "credentials not found". Thread-safe.
  std::optional<Credential> For(const std::string& registry);

 private:
  std::optional<Credential> Lookup(const std::string& registry);

  std::optional<Credential> explicit_;
  std::string config_path_;
  std::mutex mutex_;
  std::map<std::string, std::optional<Credential>> cache_;
};

// Runs `docker-credential-<helper> get` with `server_url` on its stdin. Returns nullopt when the
// helper has no credentials for it. Exposed for tests.
std::optional<Credential> RunCredentialHelper(const std::string& helper, const std::string& server_url);

}  // namespace layersift

#endif  // LAYERSIFT_FETCH_DOCKER_CREDENTIALS_H_
