// The kinds of pipeline stage vigil knows, explicitly, as sensors/registry.h lists sensor
// types: each with the options of its [[pipeline]] table (name, type, default, range,
// help) and how it is built from them. Config validation, docs/pipeline.md's check and
// the coordinator all read this list, so a stage's options are declared once, here.
//
// Thread safety: immutable after first use.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/options.h"
#include "core/status.h"
#include "pipeline/pipeline.h"

namespace vigil::pipeline {

struct StageDescriptor {
  std::string stage;  // "filter", the [[pipeline]] table's `stage`
  std::string description;
  std::vector<config::OptionSpec> options;
  // Builds the stage named `name` from its validated options; InvalidArgument with
  // "key: reason" lines (config::OptionProblems) when they do not fit together.
  std::function<Result<std::unique_ptr<Stage>>(const std::string& name,
                                               const config::OptionValues& options)>
      create;
};

const std::vector<StageDescriptor>& StageTypes();
// nullptr for an unknown stage.
const StageDescriptor* FindStageType(std::string_view stage);

}  // namespace vigil::pipeline
