#include "testing/services.h"

#include <cstdlib>
#include <fstream>

namespace vigil::testing {
namespace {

Result<std::string> AmqpUrlOf(const std::string& service) {
  if (std::getenv("VIGIL_TEST_SERVICES") == nullptr)
    return FailedPreconditionError(
        "VIGIL_TEST_SERVICES is not set: run through ctest, which starts " + service +
        " with scripts/test-services (fixture services." + service + ".start)");
  std::ifstream in(ServiceDir(service) + "/amqp_url");
  std::string url;
  if (!std::getline(in, url) || url.empty())
    return FailedPreconditionError("no " + ServiceDir(service) + "/amqp_url: did services." +
                                   service + ".start fail?");
  return url;
}

}  // namespace

std::string ServiceDir(const std::string& service) {
  const char* root = std::getenv("VIGIL_TEST_SERVICES");
  return std::string(root != nullptr ? root : "") + "/" + service;
}

Result<std::string> RabbitMqUrl() { return AmqpUrlOf("rabbitmq"); }

}  // namespace vigil::testing
