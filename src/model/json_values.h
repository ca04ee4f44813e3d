// JSON helpers shared by the model's codecs (nlohmann::json): doubles with non-finite
// values as "NaN"/"+Inf"/"-Inf", labels as an object. Internal to src/model.
//
// Thread safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "model/labels.h"

namespace vigil::model {

nlohmann::json JsonFromDouble(double value);
// Accepts a number or one of "NaN", "+Inf", "-Inf", "Inf".
Result<double> DoubleFromJson(const nlohmann::json& value);
// Accepts an integer that fits int64.
Result<int64_t> Int64FromJson(const nlohmann::json& value);

nlohmann::json JsonFromLabels(const Labels& labels);
// Accepts an object of string values, validated as Labels::FromPairs does.
Result<Labels> LabelsFromJson(const nlohmann::json& object);

// The same as text, the one way labels are written as JSON ({"__name__":"up","job":"x"},
// in label order; bytes that are not UTF-8 become U+FFFD): API answers, the embedded
// store's series rows, PostgreSQL's series table.
std::string LabelsJsonText(const Labels& labels);
// InvalidArgument for text that is not a JSON object of string values or not valid labels.
Result<Labels> LabelsFromJsonText(std::string_view text);

}  // namespace vigil::model
