#include "net/curl_multi.h"

#include <deque>
#include <memory>
#include <mutex>
#include <regex>
#include <string>

#include "core/options.h"
#include "core/url.h"

namespace vigil::net {

void CurlInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

Result<HttpReply> Fetch(const std::string& method, const std::string& url, const std::string& body,
                        const std::vector<std::string>& headers, long timeout_ms) {
  CurlInitOnce();
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> easy(curl_easy_init(), curl_easy_cleanup);
  if (!easy) return UnavailableError("curl_easy_init failed");
  curl_slist* list = nullptr;
  for (const auto& header : headers) list = curl_slist_append(list, header.c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(list,
                                                                          curl_slist_free_all);
  HttpReply reply;
  CURL* e = easy.get();
  curl_easy_setopt(e, CURLOPT_URL, url.c_str());
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, header_list.get());
  if (method == "POST") {
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(
      e, CURLOPT_WRITEFUNCTION, +[](char* data, size_t size, size_t count, void* out) {
        static_cast<std::string*>(out)->append(data, size * count);
        return size * count;
      });
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &reply.body);
  CURLcode result = curl_easy_perform(e);
  if (result != CURLE_OK) {
    return UnavailableError(RedactUrl(url) + ": " + curl_easy_strerror(result));
  }
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &reply.status);
  return reply;
}

Status CheckRequestOptions(const std::vector<std::string>& targets,
                           const std::vector<std::string>& headers, int64_t interval_ms,
                           int64_t timeout_ms) {
  config::OptionProblems problems;
  if (targets.empty()) problems.Add("targets", "at least one URL");
  for (size_t i = 0; i < targets.size(); ++i) {
    const std::string& url = targets[i];
    if (!url.starts_with("http://") && !url.starts_with("https://")) {
      problems.Add("targets[" + std::to_string(i) + "]",
                   "\"" + UrlWithoutUserinfo(url) + "\" is not an http:// or https:// URL");
    }
  }
  for (size_t i = 0; i < headers.size(); ++i) {
    const std::string& header = headers[i];
    if (header.find(':') == std::string::npos || header.front() == ':') {
      problems.Add("headers[" + std::to_string(i) + "]",
                   "\"" + header + "\" is not \"Name: value\"");
    }
  }
  if (interval_ms <= 0) problems.Add("interval", "must be positive");
  if (timeout_ms <= 0) problems.Add("timeout", "must be positive");
  if (interval_ms > 0 && timeout_ms > interval_ms)
    problems.Add("timeout", "must not be longer than the interval");
  return problems.ToStatus();
}

void ApplyCredentials(CURL* easy, const Credentials& credentials) {
  if (!credentials.username.empty()) {
    curl_easy_setopt(easy, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(easy, CURLOPT_USERNAME, credentials.username.c_str());
    curl_easy_setopt(easy, CURLOPT_PASSWORD, credentials.password.c_str());
  }
  if (!credentials.bearer_token.empty()) {
    curl_easy_setopt(easy, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
    curl_easy_setopt(easy, CURLOPT_XOAUTH2_BEARER, credentials.bearer_token.c_str());
  }
}

Status RunTransfers(CURLM* multi, const std::vector<CURL*>& easy, size_t max_in_flight,
                    const std::function<void(size_t index, CURLcode result)>& on_done) {
  std::deque<size_t> waiting;
  for (size_t i = 0; i < easy.size(); ++i) {
    curl_easy_setopt(easy[i], CURLOPT_PRIVATE, reinterpret_cast<char*>(i));
    waiting.push_back(i);
  }
  size_t running = 0;
  auto start_more = [&] {
    while (!waiting.empty() && running < max_in_flight) {
      curl_multi_add_handle(multi, easy[waiting.front()]);
      waiting.pop_front();
      ++running;
    }
  };
  start_more();
  while (running > 0) {
    int still_running = 0;
    CURLMcode mc = curl_multi_perform(multi, &still_running);
    if (mc != CURLM_OK) {
      for (CURL* e : easy) curl_multi_remove_handle(multi, e);
      return UnavailableError(std::string("curl: ") + curl_multi_strerror(mc));
    }
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      char* index = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &index);
      CURLcode result = msg->data.result;
      curl_multi_remove_handle(multi, msg->easy_handle);
      --running;
      on_done(reinterpret_cast<size_t>(index), result);
    }
    start_more();
    if (running > 0) curl_multi_poll(multi, nullptr, 0, 100, nullptr);
  }
  return OkStatus();
}

std::string TransferError(const char* error_buffer, CURLcode code) {
  std::string text =
      error_buffer != nullptr && error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
  static const std::regex kElapsed(R"( after \d+ (ms|milliseconds))");
  return std::regex_replace(text, kElapsed, "");
}

}  // namespace vigil::net
