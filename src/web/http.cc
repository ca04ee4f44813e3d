#include "web/http.h"

#include <snappy.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

namespace vigil::web {

namespace {

Result<std::string> Gunzip(std::string_view in, size_t max_bytes) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 32) != Z_OK) return InternalError("zlib: cannot start inflating");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  std::string out;
  char chunk[64 * 1024];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    z.next_out = reinterpret_cast<Bytef*>(chunk);
    z.avail_out = sizeof chunk;
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&z);
      return InvalidArgumentError("body is not valid gzip");
    }
    out.append(chunk, sizeof chunk - z.avail_out);
    if (out.size() > max_bytes) {
      inflateEnd(&z);
      return InvalidArgumentError("gzip body larger than " + std::to_string(max_bytes) +
                                  " bytes once decompressed");
    }
    if (rc == Z_OK && z.avail_in == 0 && z.avail_out != 0) {
      inflateEnd(&z);
      return InvalidArgumentError("gzip body is cut short");
    }
  }
  inflateEnd(&z);
  return out;
}

}  // namespace

std::string Gzip(std::string_view in) {
  z_stream z{};
  // 15 + 16: a gzip header and trailer around the deflate stream.
  deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, static_cast<uLong>(in.size())), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

Result<std::string> DecodeBody(std::string_view encoding, std::string body, size_t max_bytes) {
  std::string name(encoding);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (name.empty() || name == "identity") return body;
  if (name == "gzip" || name == "x-gzip") return Gunzip(body, max_bytes);
  if (name == "snappy") {
    size_t length = 0;
    if (!snappy::GetUncompressedLength(body.data(), body.size(), &length)) {
      return InvalidArgumentError("body is not snappy-compressed");
    }
    if (length > max_bytes) {
      return InvalidArgumentError("snappy body larger than " + std::to_string(max_bytes) +
                                  " bytes once decompressed");
    }
    std::string out(length, '\0');
    if (!snappy::RawUncompress(body.data(), body.size(), out.data())) {
      return InvalidArgumentError("body is not valid snappy");
    }
    return out;
  }
  return UnimplementedError("Content-Encoding " + std::string(encoding) +
                            " is not supported; send gzip, snappy or identity");
}

std::string HttpRequest::Param(const std::string& name, bool* found) const {
  auto it = params.find(name);
  if (found) *found = it != params.end();
  return it == params.end() ? std::string() : it->second;
}

std::vector<std::string> HttpRequest::Params(const std::string& name) const {
  std::vector<std::string> out;
  auto [begin, end] = params.equal_range(name);
  for (auto it = begin; it != end; ++it) out.push_back(it->second);
  return out;
}

std::string HttpRequest::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

HttpResponse JsonError(int status, std::string_view message, std::string_view type_override) {
  const char* type = "internal";
  switch (status) {
    case 400:
      type = "bad_data";
      break;
    case 401:
      type = "unauthorized";
      break;
    case 403:
      type = "forbidden";
      break;
    case 404:
      type = "not_found";
      break;
    case 405:
      type = "method_not_allowed";
      break;
    case 413:
      type = "too_large";
      break;
    case 415:
      type = "unsupported_media_type";
      break;
    case 426:
      type = "bad_data";
      break;
    case 501:
      type = "not_implemented";
      break;
    case 422:
      type = "execution";
      break;
    case 503:
      type = "unavailable";
      break;
    default:
      break;
  }
  nlohmann::json body = {
      {"status", "error"},
      {"errorType", type_override.empty() ? std::string_view(type) : type_override},
      {"error", message}};
  HttpResponse response;
  response.status = status;
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

bool OriginAllowed(std::string_view origin, std::string_view host,
                   const std::vector<std::string>& allowed) {
  if (origin.empty()) return true;
  for (const std::string& a : allowed) {
    if (a == "*" || a == origin) return true;
  }
  const size_t scheme = origin.find("://");
  if (scheme == std::string_view::npos || origin == "null") return false;
  return !host.empty() && origin.substr(scheme + 3) == host;
}

bool UrlDecode(std::string_view in, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+') {
      out->push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size() || !std::isxdigit(static_cast<unsigned char>(in[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
        return false;
      }
      out->push_back(static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out->push_back(c);
    }
  }
  return true;
}

bool ParseQueryString(std::string_view query, std::multimap<std::string, std::string>* out) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    std::string name, value;
    if (!UrlDecode(pair.substr(0, eq), &name)) return false;
    if (eq != std::string_view::npos && !UrlDecode(pair.substr(eq + 1), &value)) return false;
    out->emplace(std::move(name), std::move(value));
  }
  return true;
}

}  // namespace vigil::web
