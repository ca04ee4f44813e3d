// Where the real services of a ctest run are: scripts/test-services starts them once per
// run as ctest fixtures (tests/CMakeLists.txt) and leaves their addresses in
// $VIGIL_TEST_SERVICES/<service>/, e.g. rabbitmq/amqp_url.
//
// Thread safety: functions.
#pragma once

#include <string>

#include "core/status.h"

namespace vigil::testing {

// The broker's amqp:// URL; FailedPrecondition (naming the fixture) when the test runs
// without it, e.g. started by hand outside ctest.
Result<std::string> RabbitMqUrl();
// The same broker's amqps:// URL (host localhost); its certificate is signed by the CA in
// ServiceDir("rabbitmq") + "/tls/ca.pem".
Result<std::string> RabbitMqTlsUrl();
// The three nodes' URLs of the RabbitMQ cluster fixture (rabbitmq_cluster), comma-separated.
Result<std::string> RabbitMqClusterUrls();
// The PostgreSQL server's postgres:// URL (its `postgres` database); FailedPrecondition as
// above.
Result<std::string> PostgresUrl();
// A new, empty database on that server (named after the process and a counter), so that
// tests do not see each other's tables; its URL.
Result<std::string> NewPostgresDatabase();
// The folder of a service's fixture (its node name, pids, logs).
std::string ServiceDir(const std::string& service);

}  // namespace vigil::testing
