// RedactUrl: the one way a URL that may carry credentials is shown in logs, errors,
// labels and API answers. The password is replaced by "***" and the user stays, so an
// operator sees which account was used and never its secret: "amqp://guest:***@host/".
//
// Thread safety: pure function.
#pragma once

#include <string>
#include <string_view>

namespace vigil {

// `url`, or each URL of a comma-separated list (a broker's node list), with the password
// of its authority replaced by "***". The authority ends at the first '/', '?' or '#';
// within it the last '@' ends the user information, so a password may hold an '@'.
std::string RedactUrl(std::string_view url);

}  // namespace vigil
