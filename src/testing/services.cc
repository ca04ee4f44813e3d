#include "testing/services.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>

#include "testing/shell.h"

namespace vigil::testing {
namespace {

Result<std::string> UrlOf(const std::string& service, const std::string& file) {
  if (std::getenv("VIGIL_TEST_SERVICES") == nullptr)
    return FailedPreconditionError(
        "VIGIL_TEST_SERVICES is not set: run through ctest, which starts " + service +
        " with scripts/test-services (fixture services." + service + ".start)");
  std::ifstream in(ServiceDir(service) + "/" + file);
  std::string url;
  if (!std::getline(in, url) || url.empty())
    return FailedPreconditionError("no " + ServiceDir(service) + "/" + file + ": did services." +
                                   service + ".start fail?");
  return url;
}

}  // namespace

std::string ServiceDir(const std::string& service) {
  const char* root = std::getenv("VIGIL_TEST_SERVICES");
  return std::string(root != nullptr ? root : "") + "/" + service;
}

Result<std::string> RabbitMqUrl() { return UrlOf("rabbitmq", "amqp_url"); }

Result<std::string> RabbitMqTlsUrl() { return UrlOf("rabbitmq", "amqps_url"); }

Result<std::string> RabbitMqClusterUrls() { return UrlOf("rabbitmq_cluster", "amqp_url"); }

Result<std::string> PostgresUrl() { return UrlOf("postgres", "postgres_url"); }

Result<std::string> NewPostgresDatabase() {
  VIGIL_ASSIGN_OR_RETURN(std::string url, PostgresUrl());
  static std::atomic<int> counter{0};
  const std::string name =
      "vigil_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
  ShellResult created = RunShell("psql '" + url + "' -qAtc 'CREATE DATABASE " + name + "' 2>&1");
  if (created.exit_code != 0)
    return InternalError("create database " + name + ": " + created.output);
  return url.substr(0, url.rfind('/') + 1) + name;
}

}  // namespace vigil::testing
