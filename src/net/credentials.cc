#include "net/credentials.h"

#include <algorithm>
#include <fstream>
#include <iterator>

namespace vigil::net {

std::vector<config::OptionSpec> CredentialOptions() {
  using config::OptionSpec;
  using config::OptionType;
  return {
      OptionSpec{"basic_auth_username", OptionType::kString,
                 "HTTP basic auth user (with basic_auth_password_file). A user and password "
                 "in a target URL work too; either way they stay out of labels and logs.",
                 std::string("")},
      OptionSpec{"basic_auth_password_file", OptionType::kString,
                 "File holding the basic auth password.", std::string("")},
      OptionSpec{"bearer_token_file", OptionType::kString,
                 "File holding a token sent as \"Authorization: Bearer <token>\".",
                 std::string("")},
  };
}

namespace {

Result<std::string> ReadSecretFile(const std::string& option, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidArgumentError(option + ": cannot read " + path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

}  // namespace

Result<Credentials> CredentialsFrom(const config::OptionValues& options) {
  Credentials c;
  c.username = options.String("basic_auth_username");
  const std::string& password_file = options.String("basic_auth_password_file");
  const std::string& token_file = options.String("bearer_token_file");
  if (!password_file.empty()) {
    if (c.username.empty()) {
      return InvalidArgumentError("basic_auth_password_file: needs basic_auth_username");
    }
    VIGIL_ASSIGN_OR_RETURN(c.password, ReadSecretFile("basic_auth_password_file", password_file));
  }
  if (!token_file.empty()) {
    if (!c.username.empty()) {
      return InvalidArgumentError("bearer_token_file: not together with basic_auth_username");
    }
    VIGIL_ASSIGN_OR_RETURN(c.bearer_token, ReadSecretFile("bearer_token_file", token_file));
  }
  return c;
}

}  // namespace vigil::net
