// Credentials of the http probe and the scrape sensor, kept out of what vigil publishes:
// the options (basic auth, a bearer token from a file, as blackbox_exporter and
// Prometheus take them), read once at start. Logs, labels and errors show a URL through
// core/url.h's RedactUrl while the request keeps its credentials. No libcurl here
// (net/curl_multi.h applies them).
//
// Thread safety: plain values and pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/options.h"
#include "core/status.h"

namespace vigil::net {

// What a request authenticates with, read once at start.
struct Credentials {
  std::string username;  // with password: HTTP basic auth
  std::string password;
  std::string bearer_token;  // "Authorization: Bearer <token>"
};

// basic_auth_username, basic_auth_password_file, bearer_token_file.
std::vector<config::OptionSpec> CredentialOptions();
// Reads the files (a trailing newline dropped); InvalidArgument naming the option when a
// file cannot be read or both kinds are given.
Result<Credentials> CredentialsFrom(const config::OptionValues& options);

}  // namespace vigil::net
