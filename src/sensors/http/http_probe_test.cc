#include "sensors/http/http_probe.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>

#include "net/curl_multi.h"
#include "testing/child_process.h"
#include "testing/http_stub.h"
#include "testing/shell.h"
#include "testing/temp_dir.h"

namespace vigil::sensors::http {
namespace {

using testing::HttpStub;
using testing::StubRequest;
using testing::StubResponse;

// A loopback server with a few routes.
std::unique_ptr<HttpStub> Server(StubRequest* last_request = nullptr, std::mutex* mu = nullptr) {
  return *HttpStub::Start([=](const StubRequest& request) {
    if (last_request != nullptr) {
      std::lock_guard lock(*mu);
      *last_request = request;
    }
    StubResponse response;
    if (request.target == "/ok") {
      response.body = "plant is ok";
    } else if (request.target == "/old") {
      response.status = 302;
      response.headers = {{"Location", "/ok"}};
    } else if (request.target == "/broken") {
      response.status = 500;
      response.body = "boom";
    } else if (request.target == "/slow") {
      response.delay_ms = 2000;
    } else if (request.target == "/big") {
      response.body = std::string(1000, 'x');
    } else if (request.target == "/hang-up") {
      response.hang_up = true;
    } else {
      response.status = 404;
    }
    return response;
  });
}

ProbeResult ProbeOne(HttpProbe::Options options) {
  auto probe = HttpProbe::Create({}, std::move(options));
  EXPECT_TRUE(probe.ok()) << probe.status().ToString();
  auto results = (*probe)->ProbeAll();
  EXPECT_TRUE(results.ok());
  EXPECT_EQ(results->size(), 1u);
  return (*results)[0];
}

HttpProbe::Options Target(const std::string& url) {
  HttpProbe::Options options;
  options.targets = {url};
  options.timeout_ms = 3000;
  return options;
}

TEST(HttpProbe, SuccessfulProbeHasBlackboxFigures) {
  auto server = Server();
  ProbeResult r = ProbeOne(Target(server->Url("/ok")));
  EXPECT_TRUE(r.success) << r.error;
  EXPECT_EQ(r.reason, FailureReason::kNone);
  EXPECT_EQ(r.status_code, 200);
  EXPECT_EQ(r.content_length, 11);
  EXPECT_EQ(r.redirects, 0);
  EXPECT_EQ(r.http_version, 11);
  EXPECT_FALSE(r.ssl);
  EXPECT_FALSE(r.earliest_cert_expiry.has_value());
  EXPECT_GT(r.duration, 0);
  EXPECT_GT(r.processing, 0);
  EXPECT_EQ(r.tls, 0);
  for (double phase : {r.resolve, r.connect, r.processing, r.transfer}) EXPECT_GE(phase, 0);
  EXPECT_LE(r.resolve + r.connect + r.processing + r.transfer, r.duration + 1e-6);
}

TEST(HttpProbe, CollectYieldsSeriesLabelledWithTheTarget) {
  auto server = Server();
  HttpProbe::Options options = Target(server->Url("/ok"));
  options.targets.push_back(server->Url("/broken"));
  auto probe = *HttpProbe::Create({{"agent", "a"}}, options);
  model::BatchBuilder out;
  ASSERT_TRUE(probe->Collect(1000, out).ok());
  std::map<std::string, double> values;
  for (const auto& s : out.Take().series) values[s.labels.ToString()] = s.samples[0].value;
  std::string ok = server->Url("/ok"), broken = server->Url("/broken");
  EXPECT_EQ(values["probe_success{agent=\"a\",target=\"" + ok + "\"}"], 1);
  EXPECT_EQ(values["probe_success{agent=\"a\",target=\"" + broken + "\"}"], 0);
  EXPECT_EQ(values["probe_http_status_code{agent=\"a\",target=\"" + broken + "\"}"], 500);
  EXPECT_EQ(values["probe_failure_reason{agent=\"a\",reason=\"status\",target=\"" + broken + "\"}"],
            1);
  EXPECT_EQ(values.count("probe_http_duration_seconds{agent=\"a\",phase=\"processing\",target=\"" +
                         ok + "\"}"),
            1u);
  EXPECT_EQ(
      values.count("probe_failure_reason{agent=\"a\",reason=\"status\",target=\"" + ok + "\"}"),
      0u);
}

TEST(HttpProbe, RedirectsAreFollowedAndCounted) {
  auto server = Server();
  ProbeResult r = ProbeOne(Target(server->Url("/old")));
  EXPECT_TRUE(r.success) << r.error;
  EXPECT_EQ(r.redirects, 1);
  EXPECT_EQ(r.status_code, 200);
  HttpProbe::Options no_follow = Target(server->Url("/old"));
  no_follow.follow_redirects = false;
  r = ProbeOne(no_follow);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.status_code, 302);
  EXPECT_EQ(r.reason, FailureReason::kStatus);
}

TEST(HttpProbe, StatusCodesDecideSuccess) {
  auto server = Server();
  ProbeResult r = ProbeOne(Target(server->Url("/broken")));
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, FailureReason::kStatus);
  HttpProbe::Options options = Target(server->Url("/broken"));
  options.valid_status_codes = {"200", "5xx"};
  EXPECT_TRUE(ProbeOne(options).success);
}

TEST(HttpProbe, RefusedConnectionIsConnectFailure) {
  uint16_t port = testing::FreeLoopbackPort();
  ProbeResult r = ProbeOne(Target("http://127.0.0.1:" + std::to_string(port) + "/"));
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, FailureReason::kConnect) << r.error;
  EXPECT_EQ(r.status_code, 0);
  // The same failure reads the same each time: libcurl's elapsed time is left out, or a
  // busy host's "after 1 ms" would be news to announce.
  EXPECT_EQ(r.error.find(" after "), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("Couldn't connect to server"), std::string::npos) << r.error;
  EXPECT_EQ(net::TransferError("Failed to connect to h port 1 after 1001 ms: Couldn't connect",
                               CURLE_COULDNT_CONNECT),
            "Failed to connect to h port 1: Couldn't connect");
  EXPECT_EQ(net::TransferError("Operation timed out after 1001 milliseconds with 0 bytes received",
                               CURLE_OPERATION_TIMEDOUT),
            "Operation timed out with 0 bytes received");
  EXPECT_EQ(net::TransferError("", CURLE_COULDNT_RESOLVE_HOST), "Couldn't resolve host name");
}

TEST(HttpProbe, UnknownHostIsDnsFailure) {
  ProbeResult r = ProbeOne(Target("http://no-such-host.invalid/"));
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, FailureReason::kDns) << r.error;
}

TEST(HttpProbe, SlowServerIsTimeout) {
  auto server = Server();
  HttpProbe::Options options = Target(server->Url("/slow"));
  options.timeout_ms = 200;
  ProbeResult r = ProbeOne(options);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, FailureReason::kTimeout) << r.error;
  EXPECT_LT(r.duration, 1.5);
}

TEST(HttpProbe, ConnectionClosedWithoutAnswerIsHttpFailure) {
  auto server = Server();
  ProbeResult r = ProbeOne(Target(server->Url("/hang-up")));
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, FailureReason::kHttp) << r.error;
}

TEST(HttpProbe, TlsToAPlainServerIsTlsFailure) {
  auto server = Server();
  ProbeResult r = ProbeOne(Target("https://127.0.0.1:" + std::to_string(server->port()) + "/ok"));
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, FailureReason::kTls) << r.error;
}

TEST(HttpProbe, BodyMustAndMustNotMatch) {
  auto server = Server();
  HttpProbe::Options options = Target(server->Url("/ok"));
  options.body_must_match = "is ok$";
  EXPECT_TRUE(ProbeOne(options).success);
  options.body_must_match = "^alarm";
  ProbeResult r = ProbeOne(options);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, FailureReason::kRegex);
  EXPECT_TRUE(r.failed_due_to_regex);
  options.body_must_match = "";
  options.body_must_not_match = "ok";
  EXPECT_TRUE(ProbeOne(options).failed_due_to_regex);
}

TEST(HttpProbe, BodyLargerThanTheLimitFails) {
  auto server = Server();
  HttpProbe::Options options = Target(server->Url("/big"));
  options.max_body_bytes = 100;
  ProbeResult r = ProbeOne(options);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, FailureReason::kBodyTooLarge);
  options.max_body_bytes = 1000;
  EXPECT_TRUE(ProbeOne(options).success);
}

TEST(HttpProbe, MethodHeadersAndBodyAreSent) {
  StubRequest seen;
  std::mutex mu;
  auto server = Server(&seen, &mu);
  HttpProbe::Options options = Target(server->Url("/ok"));
  options.method = "POST";
  options.headers = {"X-Plant: boiler-1", "Content-Type: application/json"};
  options.body = R"({"check":true})";
  EXPECT_TRUE(ProbeOne(options).success);
  std::lock_guard lock(mu);
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.headers["x-plant"], "boiler-1");
  EXPECT_EQ(seen.headers["content-type"], "application/json");
  EXPECT_EQ(seen.body, R"({"check":true})");
}

TEST(HttpProbe, FailureReasonIsAStateSet) {
  std::atomic<int> status{500};
  auto server = *HttpStub::Start([&](const StubRequest&) {
    StubResponse response;
    response.status = status.load();
    return response;
  });
  auto probe = *HttpProbe::Create({}, Target(server->Url("/")));
  auto reason_values = [&] {
    model::BatchBuilder out;
    EXPECT_TRUE(probe->Collect(1000, out).ok());
    std::map<std::string, double> reasons;
    for (const auto& s : out.Take().series) {
      if (s.labels.MetricName() == "probe_failure_reason")
        reasons[std::string(s.labels.Get("reason"))] = s.samples[0].value;
    }
    return reasons;
  };
  EXPECT_EQ(reason_values(), (std::map<std::string, double>{{"status", 1}}));
  EXPECT_TRUE(probe->ProbeAll().ok());
  // Recovered: the reason seen before now reads 0, so `probe_failure_reason == 1` ends.
  status = 200;
  EXPECT_EQ(reason_values(), (std::map<std::string, double>{{"status", 0}}));
}

TEST(HttpProbe, TlsServerGivesCertificateExpiry) {
  testing::TempDir folder;
  const std::string dir = folder.path();
  auto made = testing::RunShell("cd " + dir +
                                " && openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem "
                                "-out cert.pem -days 30 -subj /CN=localhost 2>&1 && "
                                "openssl x509 -enddate -noout -in cert.pem");
  ASSERT_EQ(made.exit_code, 0) << made.output;
  // notAfter=Dec 22 08:00:00 2026 GMT
  std::string end = made.output.substr(made.output.find("notAfter=") + 9);
  std::tm tm{};
  ASSERT_NE(strptime(end.c_str(), "%b %d %H:%M:%S %Y", &tm), nullptr);
  double expected = static_cast<double>(timegm(&tm));

  uint16_t port = testing::FreeLoopbackPort();
  auto server = testing::ChildProcess::Start(
      {"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
       dir + "/cert.pem", "-key", dir + "/key.pem", "-www", "-quiet"},
      dir + "/s_server.log");
  ASSERT_TRUE(server.ok());
  ASSERT_TRUE(testing::WaitForPort(port));
  std::string url = "https://127.0.0.1:" + std::to_string(port) + "/";

  ProbeResult verified = ProbeOne(Target(url));  // self-signed: verification fails
  EXPECT_FALSE(verified.success);
  EXPECT_EQ(verified.reason, FailureReason::kTls) << verified.error;

  HttpProbe::Options options = Target(url);
  options.tls_verify = false;
  ProbeResult r = ProbeOne(options);
  EXPECT_TRUE(r.success) << r.error;
  EXPECT_TRUE(r.ssl);
  EXPECT_GT(r.tls, 0);
  ASSERT_TRUE(r.earliest_cert_expiry.has_value());
  EXPECT_EQ(*r.earliest_cert_expiry, expected);
}

TEST(HttpProbe, BadOptionsAreRejected) {
  auto error = [](HttpProbe::Options options) {
    return HttpProbe::Create({}, std::move(options)).status().message();
  };
  EXPECT_NE(error(Target("ftp://x/")).find("not an http"), std::string::npos);
  HttpProbe::Options o = Target("http://x/");
  o.headers = {"NoColon"};
  EXPECT_NE(error(o).find("Name: value"), std::string::npos);
  o = Target("http://x/");
  o.valid_status_codes = {"2x"};
  EXPECT_NE(error(o).find("neither NNN nor Nxx"), std::string::npos);
  o = Target("http://x/");
  o.timeout_ms = 20'000;
  EXPECT_NE(error(o).find("timeout"), std::string::npos);
  o = Target("http://x/");
  o.body_must_match = "(";
  EXPECT_NE(error(o).find("regular expression"), std::string::npos);
  EXPECT_NE(error(HttpProbe::Options{}).find("at least one"), std::string::npos);
}

}  // namespace
}  // namespace vigil::sensors::http
