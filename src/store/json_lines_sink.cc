#include "store/json_lines_sink.h"

#include <fmt/format.h>
#include <zlib.h>

#include <cmath>

namespace vigil::store {

namespace {

void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<int>(c));
        } else {
          out += c;  // labels are valid UTF-8 (model::Labels)
        }
    }
  }
  out += '"';
}

}  // namespace

std::string SampleEventJson(const model::Labels& labels, const model::Sample& sample) {
  std::string line = R"({"kind":"sample","labels":{)";
  bool first = true;
  for (const auto& label : labels) {
    if (!first) line += ',';
    first = false;
    AppendJsonString(line, label.name);
    line += ':';
    AppendJsonString(line, label.value);
  }
  line += R"(},"timestamp_ms":)";
  line += std::to_string(sample.timestamp_ms);
  line += R"(,"value":)";
  if (std::isnan(sample.value)) {
    line += R"("NaN")";
  } else if (std::isinf(sample.value)) {
    line += sample.value > 0 ? R"("+Inf")" : R"("-Inf")";
  } else {
    line += fmt::format("{}", sample.value);
  }
  line += '}';
  return line;
}

Result<std::unique_ptr<JsonLinesSink>> JsonLinesSink::Open(Env& env, Options options) {
  if (options.max_bytes == 0) return InvalidArgumentError("sink: max_bytes must be above 0");
  if (options.keep < 0) return InvalidArgumentError("sink: keep must not be negative");
  VIGIL_RETURN_IF_ERROR(env.CreateDirs(options.dir).Annotate("open sink"));
  std::string path = options.dir + "/" + options.file_name;
  VIGIL_ASSIGN_OR_RETURN(auto file, env.NewAppendableFile(path));
  uint64_t size = 0;
  if (auto existing = env.FileSize(path); existing.ok()) size = *existing;
  return std::unique_ptr<JsonLinesSink>(
      new JsonLinesSink(env, std::move(options), std::move(file), size));
}

JsonLinesSink::JsonLinesSink(Env& env, Options options, std::unique_ptr<WritableFile> file,
                             uint64_t size)
    : env_(env), options_(std::move(options)), file_(std::move(file)), size_(size) {
  path_ = options_.dir + "/" + options_.file_name;
}

Status JsonLinesSink::Append(const model::Batch& batch) {
  std::string chunk;
  for (const auto& series : batch.series) {
    for (const auto& sample : series.samples) {
      if (model::IsStaleMarker(sample.value)) continue;  // the end of a series, no reading
      chunk += SampleEventJson(series.labels, sample);
      chunk += '\n';
    }
  }
  VIGIL_RETURN_IF_ERROR(file_->Append(chunk).Annotate("sink " + path_));
  size_ += chunk.size();
  if (size_ >= options_.max_bytes) VIGIL_RETURN_IF_ERROR(Rotate());
  return OkStatus();
}

Status JsonLinesSink::Flush() {
  Status status = options_.sync ? file_->Sync() : file_->Flush();
  return status.Annotate("sink " + path_);
}

std::string JsonLinesSink::Rotated(int n) const {
  return path_ + "." + std::to_string(n) + (options_.compress ? ".gz" : "");
}

Status JsonLinesSink::Rotate() {
  VIGIL_RETURN_IF_ERROR(file_->Close().Annotate("rotate " + path_));
  if (options_.keep == 0) {
    VIGIL_RETURN_IF_ERROR(env_.DeleteFile(path_).Annotate("rotate"));
  } else {
    if (env_.FileExists(Rotated(options_.keep)))
      VIGIL_RETURN_IF_ERROR(env_.DeleteFile(Rotated(options_.keep)).Annotate("rotate"));
    for (int n = options_.keep - 1; n >= 1; --n) {
      if (env_.FileExists(Rotated(n)))
        VIGIL_RETURN_IF_ERROR(env_.RenameFile(Rotated(n), Rotated(n + 1)).Annotate("rotate"));
    }
    if (options_.compress) {
      // Written beside, then renamed: a crash leaves the plain file, never half a .gz.
      VIGIL_ASSIGN_OR_RETURN(std::string text, env_.ReadFile(path_));
      VIGIL_ASSIGN_OR_RETURN(std::string gz, Gzip(text));
      const std::string partial = Rotated(1) + ".partial";
      if (env_.FileExists(partial)) VIGIL_RETURN_IF_ERROR(env_.DeleteFile(partial));
      VIGIL_ASSIGN_OR_RETURN(auto out, env_.NewAppendableFile(partial));
      VIGIL_RETURN_IF_ERROR(out->Append(gz));
      VIGIL_RETURN_IF_ERROR(out->Sync());
      VIGIL_RETURN_IF_ERROR(out->Close());
      VIGIL_RETURN_IF_ERROR(env_.RenameFile(partial, Rotated(1)).Annotate("rotate"));
      VIGIL_RETURN_IF_ERROR(env_.DeleteFile(path_).Annotate("rotate"));
    } else {
      VIGIL_RETURN_IF_ERROR(env_.RenameFile(path_, Rotated(1)).Annotate("rotate"));
    }
  }
  VIGIL_ASSIGN_OR_RETURN(file_, env_.NewAppendableFile(path_));
  size_ = 0;
  return OkStatus();
}

Result<std::string> Gzip(std::string_view data) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    return InternalError("gzip: deflateInit2 failed");
  std::string out(deflateBound(&zs, data.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int result = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (result != Z_STREAM_END) return InternalError("gzip: deflate failed");
  return out;
}

}  // namespace vigil::store
