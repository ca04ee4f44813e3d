// How a URL that may carry credentials is shown. RedactUrl, for logs and errors about a
// connection vigil makes (broker, PostgreSQL): the password is replaced by "***" and the
// user stays, so an operator sees which account was used and never its secret:
// "amqp://guest:***@host/". UrlWithoutUserinfo, for targets that name series (probes,
// scrapes): no user information at all.
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

// `url` without any user information ("https://u:p@host/x" -> "https://host/x"): what a
// scrape or probe target is called in labels, target lists and logs, so that neither the
// secret nor the account name becomes part of a series' identity.
std::string UrlWithoutUserinfo(std::string_view url);

}  // namespace vigil
