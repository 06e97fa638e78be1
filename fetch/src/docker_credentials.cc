#include "docker_credentials.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "layersift/fetch/http_parse.h"
#include "layersift/fetch/image_reference.h"
#include "layersift/fetch/registry_client.h"

extern char** environ;

namespace layersift {
namespace {

using nlohmann::json;

constexpr const char* kDockerHubServerUrl = "https://index.docker.io/v1/";
constexpr int kHelperTimeoutMs = 30000;
constexpr size_t kHelperOutputLimit = 1 << 20;

// The host a config.json key names: keys may carry a scheme and a path ("https://host/v1/").
std::string HostOfKey(std::string key) {
  const size_t scheme = key.find("://");
  if (scheme != std::string::npos) key = key.substr(scheme + 3);
  const size_t slash = key.find('/');
  if (slash != std::string::npos) key = key.substr(0, slash);
  for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return key;
}

bool KeyMatches(const std::string& key, const std::string& registry) {
  const std::string host = HostOfKey(key);
  if (registry == kDockerHub) {
    return host == "index.docker.io" || host == "docker.io" || host == "registry-1.docker.io";
  }
  return host == registry;
}

// A string member of a config object: config.json is user-edited, so a wrong type is an error
// that names the file, never a JSON library exception.
std::string StringField(const json& object, const char* key, const std::string& config_path) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return "";
  if (!it->is_string()) {
    throw RegistryError(config_path + ": \"" + key + "\" must be a string");
  }
  return it->get<std::string>();
}

// What a helper is asked for: docker.io's historical server URL, or the registry host.
std::string ServerUrl(const std::string& registry) {
  return registry == kDockerHub ? kDockerHubServerUrl : registry;
}

// Waits for a child; returns its exit status, -1 if a signal ended it.
int Reap(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

std::optional<Credential> RunCredentialHelper(const std::string& helper, const std::string& server_url) {
  const std::string program = "docker-credential-" + helper;
  // stdin, stdout (the answer) and stderr (diagnostics only: docker ignores them too)
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0) throw RegistryError("cannot run " + program + ": pipe failed");
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
    for (int fd : {in[0], in[1], out[0], out[1]}) close(fd);
    throw RegistryError("cannot run " + program + ": pipe failed");
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  std::string arg0 = program, arg1 = "get";
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  if (spawned != 0) {
    close(in[1]);
    close(out[0]);
    close(err[0]);
    throw RegistryError("cannot run credential helper " + program + " (named in docker's config.json): " +
                        std::strerror(spawned));
  }
  // The input is one short line: it fits the pipe buffer, so writing cannot block.
  const std::string input = server_url + "\n";
  {
    // A helper that exits without reading must not kill us with SIGPIPE: block it for this
    // write and discard it if it came.
    sigset_t pipe_signal, previous;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_signal, &previous);
    (void)!write(in[1], input.data(), input.size());
    const timespec no_wait{};
    sigtimedwait(&pipe_signal, nullptr, &no_wait);
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  }
  close(in[1]);
  std::string output, diagnostics;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kHelperTimeoutMs);
  bool timed_out = false;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&output, &diagnostics};
  while (fds[0].fd >= 0 || fds[1].fd >= 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    if (poll(fds, 2, static_cast<int>(left.count())) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buffer[4096];
      const ssize_t n = read(fds[i].fd, buffer, sizeof(buffer));
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;  // poll ignores negative descriptors
      } else if (sinks[i]->size() < kHelperOutputLimit) {
        sinks[i]->append(buffer, static_cast<size_t>(n));
      }
    }
  }
  for (const pollfd& fd : fds) {
    if (fd.fd >= 0) close(fd.fd);
  }
  if (timed_out) kill(pid, SIGKILL);
  const int status = Reap(pid);
  if (timed_out) throw RegistryError("credential helper " + program + " did not answer within 30 s");
  if (status != 0) {
    // Helpers say "credentials not found in native keychain" (on stdout, by the protocol).
    std::string message = output + diagnostics;
    if (message.find("credentials not found") != std::string::npos) return std::nullopt;
    while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) message.pop_back();
    throw RegistryError("credential helper " + program + " failed for " + server_url + ": " +
                        message.substr(0, 300));
  }
  const json answer = json::parse(output, nullptr, /*allow_exceptions=*/false);
  if (!answer.is_object() || !answer.value("Secret", json()).is_string()) {
    throw RegistryError("credential helper " + program + " gave an answer that is not the helper protocol's JSON");
  }
  Credential credential;
  credential.username = answer.value("Username", "");
  const std::string secret = answer.value("Secret", "");
  if (credential.username == "<token>") {
    credential.username.clear();
    credential.identity_token = secret;
  } else {
    credential.password = secret;
  }
  return credential;
}

CredentialStore::CredentialStore(std::string username, std::string password, std::string config_dir) {
  if (!username.empty() || !password.empty()) explicit_ = Credential{std::move(username), std::move(password), ""};
  if (config_dir.empty()) {
    if (const char* env = std::getenv("DOCKER_CONFIG"); env != nullptr && *env != '\0') {
      config_dir = env;
    } else if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
      config_dir = std::string(home) + "/.docker";
    }
  }
  if (!config_dir.empty()) config_path_ = config_dir + "/config.json";
}

std::optional<Credential> CredentialStore::For(const std::string& registry) {
  if (explicit_) return explicit_;
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = cache_.find(registry);
  if (it != cache_.end()) return it->second;
  std::optional<Credential> credential = Lookup(registry);
  cache_[registry] = credential;
  return credential;
}

std::optional<Credential> CredentialStore::Lookup(const std::string& registry) {
  if (config_path_.empty()) return std::nullopt;
  std::ifstream in(config_path_, std::ios::binary);
  if (!in) return std::nullopt;  // no docker config: anonymous
  std::stringstream text;
  text << in.rdbuf();
  json config = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (config.is_discarded() || !config.is_object()) {
    throw RegistryError(config_path_ + " is not valid JSON");
  }
  // docker's order: a registry's own helper, else the default store, else the file's auths.
  const auto helpers = config.find("credHelpers");
  if (helpers != config.end() && helpers->is_object()) {
    for (const auto& [key, helper] : helpers->items()) {
      if (!KeyMatches(key, registry)) continue;
      if (!helper.is_string()) throw RegistryError(config_path_ + ": credHelpers[\"" + key + "\"] must be a string");
      return RunCredentialHelper(helper.get<std::string>(), ServerUrl(registry));
    }
  }
  const std::string store = StringField(config, "credsStore", config_path_);
  if (!store.empty()) {
    if (std::optional<Credential> credential = RunCredentialHelper(store, ServerUrl(registry))) return credential;
  }
  const auto auths = config.find("auths");
  if (auths != config.end() && auths->is_object()) {
    for (const auto& [key, entry] : auths->items()) {
      if (!KeyMatches(key, registry) || !entry.is_object()) continue;
      Credential credential;
      credential.identity_token = StringField(entry, "identitytoken", config_path_);
      const std::string encoded = StringField(entry, "auth", config_path_);
      if (!encoded.empty()) {
        const auto decoded = Base64Decode(encoded);
        const size_t colon = decoded ? decoded->find(':') : std::string::npos;
        if (colon == std::string::npos) {
          throw RegistryError(config_path_ + ": the \"auth\" entry for " + key + " is not base64 of user:password");
        }
        credential.username = decoded->substr(0, colon);
        credential.password = decoded->substr(colon + 1);
      } else {
        credential.username = StringField(entry, "username", config_path_);
        credential.password = StringField(entry, "password", config_path_);
      }
      if (!credential.username.empty() || !credential.password.empty() || !credential.identity_token.empty()) {
        return credential;
      }
    }
  }
  return std::nullopt;
}

}  // namespace layersift
