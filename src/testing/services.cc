#include "testing/services.h"

#include <cstdlib>
#include <fstream>

namespace vigil::testing {

std::string ServiceDir(const std::string& service) {
  const char* root = std::getenv("VIGIL_TEST_SERVICES");
  return std::string(root != nullptr ? root : "") + "/" + service;
}

Result<std::string> RabbitMqUrl() {
  if (std::getenv("VIGIL_TEST_SERVICES") == nullptr)
    return FailedPreconditionError(
        "VIGIL_TEST_SERVICES is not set: run through ctest, which starts RabbitMQ with "
        "scripts/test-services (fixture services.rabbitmq.start)");
  std::ifstream in(ServiceDir("rabbitmq") + "/amqp_url");
  std::string url;
  if (!std::getline(in, url) || url.empty())
    return FailedPreconditionError("no " + ServiceDir("rabbitmq") +
                                   "/amqp_url: did "
                                   "services.rabbitmq.start fail?");
  return url;
}

}  // namespace vigil::testing
