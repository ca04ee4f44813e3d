# The layers of vigil, in one table: each module and the modules it builds on, lowest first.
# vigil_add_module links a module to exactly these; a module may include the headers of
# these and of what they build on in turn, and nothing else. Third-party libraries that only
# one module may include are listed at the end. `make test` checks every source file in
# src/ against this table (cmake/check_layers.cmake); docs/architecture.md draws it.
#
# Test files (*_test.cc) are not checked: a test may use what its vigil_add_test DEPS link.

set(VIGIL_MODULES core model net bus bus_amqp sensors pipeline store store_postgres tsdb query
                  rules web roles cmd testing)

set(VIGIL_USES_core "")
set(VIGIL_USES_model core)                       # Labels, Batch, matchers, codecs: no I/O
set(VIGIL_USES_net core)                         # the HTTP client (libcurl)
set(VIGIL_USES_bus model)                        # the Bus interface, typed topics, in-process bus
set(VIGIL_USES_bus_amqp bus)                     # the RabbitMQ bus
set(VIGIL_USES_sensors model net)                # readings from the world
set(VIGIL_USES_pipeline model)                   # the coordinator's stages over batches
set(VIGIL_USES_store model)                      # the Store interface, memory store, sinks
set(VIGIL_USES_store_postgres store)             # the PostgreSQL store
set(VIGIL_USES_tsdb store)                       # the embedded store
set(VIGIL_USES_query store)                      # PromQL over any Store
set(VIGIL_USES_rules query)                      # Prometheus rule files and their evaluation
set(VIGIL_USES_web query)                        # HTTP, WebSocket, API and dashboard
set(VIGIL_USES_roles bus sensors pipeline store_postgres tsdb rules web net)  # the wiring
set(VIGIL_USES_cmd roles bus_amqp)               # main and the subcommands
set(VIGIL_USES_testing model)                    # test helpers, linked by tests only

# Where each module's headers live, when not src/<module>/.
set(VIGIL_FOLDER_bus_amqp bus/amqp)
set(VIGIL_FOLDER_store_postgres store/postgres)

# Third-party headers only their owners include (ADR 0001).
set(VIGIL_OWNED_HEADERS "sqlite3.h=tsdb" "libpq-fe.h=store_postgres" "amqp=bus_amqp"
                        "curl/=net" "boost/=web" "yaml-cpp/=rules")

# The modules `module` may use: what it names and, in turn, what those build on.
function(vigil_layer_closure module out)
  set(result "")
  set(pending ${VIGIL_USES_${module}})
  while(pending)
    list(POP_FRONT pending next)
    if(NOT next IN_LIST result)
      list(APPEND result ${next})
      list(APPEND pending ${VIGIL_USES_${next}})
    endif()
  endwhile()
  set(${out} ${result} PARENT_SCOPE)
endfunction()
