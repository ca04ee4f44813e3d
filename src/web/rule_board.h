// RuleBoard: the rule groups as the ruler last published them on vigil.events
// (`rules.state`, bus/topology.h; one message per group after each of its evaluations), so that
// every web server answers GET /api/v1/rules, and the rule alerts of GET /api/v1/alerts, alike — a
// web server that starts after an alert fired included, within one evaluation interval. A group not
// heard of for three of its intervals (its ruler stopped, or a reload removed it) is dropped.
//
// Thread safety: any thread.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/mutex.h"
#include "core/status.h"

namespace vigil::web {

// The body of a rules.state message: {"key","interval_ms","group"} (JSON).
std::string EncodeRuleState(const std::string& key, int64_t interval_ms,
                            const std::string& group_json);

class RuleBoard {
 public:
  explicit RuleBoard(Clock& clock) : clock_(clock) {}

  // InvalidArgument for a body that is not a rules.state message.
  Status Apply(std::string_view body);
  // /api/v1/rules' data: {"groups":[…]} in file, then name order; `type` "alert" or
  // "record" keeps one kind of rule.
  std::string RulesJson(std::string_view type) const;
  // AlertBoard::ToJson's {"alerts":[…]} with the pending and firing alerts of the rule
  // groups added (one per label set), firing first, then oldest first.
  std::string MergeAlerts(const std::string& board_json) const;

 private:
  struct Group {
    std::string json;
    int64_t interval_ms = 0;
    int64_t received_ms = 0;
  };
  void Expire() const VIGIL_REQUIRES(mu_);

  Clock& clock_;
  mutable Mutex mu_;
  mutable std::map<std::string, Group> groups_ VIGIL_GUARDED_BY(mu_);  // by file;name
};

}  // namespace vigil::web
