#include "store/store.h"

#include <string>

namespace vigil::store {

Status TooManyPointsError(int64_t limit) {
  return ResourceExhaustedError("query would return more than " + std::to_string(limit) +
                                " points; narrow the time range or the matchers, or raise "
                                "storage.max_points_per_query");
}

}  // namespace vigil::store
