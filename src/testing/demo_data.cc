#include "testing/demo_data.h"

#include <cmath>
#include <deque>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <sstream>

namespace vigil::testing {

using model::Labels;
using model::Sample;

namespace {
constexpr int64_t kDemoScrapeMs = 5'000;
constexpr int64_t kFleetScrapeMs = 15'000;
}  // namespace

std::vector<model::Series> DemoServiceData(int64_t start_ms, int64_t span_ms) {
  std::mt19937_64 random(42);
  std::uniform_real_distribution<double> unit(0, 1);
  std::map<std::string, model::Series> series;
  auto add = [&](const Labels& labels, int64_t t, double v) {
    auto& s = series[labels.ToString()];
    s.labels = labels;
    s.samples.push_back({t, v});
  };
  const std::vector<std::string> instances = {"demo.promlabs.com:10000", "demo.promlabs.com:10001",
                                              "demo.promlabs.com:10002"};
  const std::vector<double> buckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, INFINITY};
  struct Route {
    const char* method;
    const char* path;
    const char* status;
  };
  const std::vector<Route> routes = {
      {"GET", "/api/foo", "200"}, {"POST", "/api/foo", "500"}, {"GET", "/api/bar", "200"}};
  for (size_t k = 0; k < instances.size(); ++k) {
    const std::string& instance = instances[k];
    // Scrape times: 0.087–0.387 s past the second, never on a whole or half second.
    const int64_t phase = 137 + static_cast<int64_t>(k) * 1'100;
    double cpu[3] = {0, 0, 0};
    std::vector<double> counts(routes.size() * buckets.size(), 0), sums(routes.size(), 0);
    double disk = 1e9 * (k + 1);
    double last_success = static_cast<double>(start_ms) / 1000;
    const int64_t reset_at = start_ms + (40 + 15 * static_cast<int64_t>(k)) * 60'000;
    bool reset_done = false;
    for (int64_t i = 0; i * kDemoScrapeMs < span_ms; ++i) {
      const int64_t t =
          start_ms + i * kDemoScrapeMs + phase + static_cast<int64_t>(unit(random) * 100) - 50;
      const double minutes = static_cast<double>(t - start_ms) / 60'000;
      if (!reset_done && t >= reset_at) {  // the process restarts: counters from zero
        reset_done = true;
        std::fill(std::begin(cpu), std::end(cpu), 0);
        std::fill(counts.begin(), counts.end(), 0);
        std::fill(sums.begin(), sums.end(), 0);
      }
      const char* types[] = {"buffers", "cached", "free", "used"};
      for (int j = 0; j < 4; ++j) {
        add(Labels::Of({{"__name__", "demo_memory_usage_bytes"},
                        {"instance", instance},
                        {"job", "demo"},
                        {"type", types[j]}}),
            t,
            std::round(1e8 * (j + 1) * (1.5 + std::sin(minutes / 7 + j + k)) + 1e6 * unit(random)));
      }
      add(Labels::Of({{"__name__", "demo_num_cpus"}, {"instance", instance}, {"job", "demo"}}), t,
          4.0 + 2 * k);
      const char* modes[] = {"idle", "system", "user"};
      for (int j = 0; j < 3; ++j) {
        cpu[j] += (j == 0 ? 3.5 : 0.7 + 0.5 * j) * unit(random) * 5;
        add(Labels::Of({{"__name__", "demo_cpu_usage_seconds_total"},
                        {"instance", instance},
                        {"job", "demo"},
                        {"mode", modes[j]}}),
            t, cpu[j]);
      }
      disk += 1e5 * (unit(random) - 0.3);
      add(Labels::Of(
              {{"__name__", "demo_disk_usage_bytes"}, {"instance", instance}, {"job", "demo"}}),
          t, std::round(disk));
      if (unit(random) < 0.01) last_success = static_cast<double>(t / 1000);
      add(Labels::Of({{"__name__", "demo_batch_last_success_timestamp_seconds"},
                      {"instance", instance},
                      {"job", "demo"}}),
          t, last_success);
      for (size_t r = 0; r < routes.size(); ++r) {
        const int requests = static_cast<int>(unit(random) * 20);
        for (int q = 0; q < requests; ++q) {
          const double latency = std::exp(std::log(0.002) + unit(random) * 5.5) * (r + 1) / 2;
          sums[r] += latency;
          for (size_t b = 0; b < buckets.size(); ++b) {
            if (latency <= buckets[b]) counts[r * buckets.size() + b] += 1;
          }
        }
        for (size_t b = 0; b < buckets.size(); ++b) {
          char le[32];
          std::snprintf(le, sizeof le, "%g", buckets[b]);
          add(Labels::Of({{"__name__", "demo_api_request_duration_seconds_bucket"},
                          {"instance", instance},
                          {"job", "demo"},
                          {"le", std::isinf(buckets[b]) ? "+Inf" : le},
                          {"method", routes[r].method},
                          {"path", routes[r].path},
                          {"status", routes[r].status}}),
              t, counts[r * buckets.size() + b]);
        }
        const Labels route = Labels::Of({{"instance", instance},
                                         {"job", "demo"},
                                         {"method", routes[r].method},
                                         {"path", routes[r].path},
                                         {"status", routes[r].status}});
        add(route.With("__name__", "demo_api_request_duration_seconds_count"), t,
            counts[r * buckets.size() + buckets.size() - 1]);
        add(route.With("__name__", "demo_api_request_duration_seconds_sum"), t, sums[r]);
      }
      // Present for two minutes out of every five.
      if (static_cast<int64_t>(minutes) % 5 < 2) {
        add(Labels::Of({{"__name__", "demo_intermittent_metric"},
                        {"instance", instance},
                        {"job", "demo"}}),
            t, minutes);
      }
    }
  }
  std::vector<model::Series> out;
  for (auto& [name, s] : series) out.push_back(std::move(s));
  return out;
}

std::vector<model::Series> HostFleetData(int64_t start_ms, int64_t span_ms, int hosts) {
  std::mt19937_64 random(7);
  std::uniform_real_distribution<double> unit(0, 1);
  std::deque<model::Series> out;  // the pointers below stay valid as it grows
  const char* modes[] = {"idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"};
  const double mode_share[] = {0.7, 0.02, 0.005, 0.01, 0.01, 0.005, 0.08, 0.17};
  const char* mounts[] = {"/", "/var", "/home"};
  const double buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, INFINITY};
  for (int h = 0; h < hosts; ++h) {
    char instance[32];
    std::snprintf(instance, sizeof instance, "host-%03d:9100", h);
    const int64_t phase = 100 + (h * 137) % 14'000;  // hosts are scraped at different times
    std::vector<int64_t> times;
    for (int64_t t = start_ms + phase; t < start_ms + span_ms; t += kFleetScrapeMs)
      times.push_back(t);
    auto series = [&](Labels labels) {
      out.push_back({std::move(labels), {}});
      out.back().samples.reserve(times.size());
      return &out.back();
    };
    for (int cpu = 0; cpu < 8; ++cpu) {
      for (int m = 0; m < 8; ++m) {
        model::Series* s = series(Labels::Of({{"__name__", "node_cpu_seconds_total"},
                                              {"cpu", std::to_string(cpu)},
                                              {"instance", instance},
                                              {"job", "node"},
                                              {"mode", modes[m]}}));
        double v = 1e5 * unit(random);
        for (int64_t t : times) {
          v += 15 * mode_share[m] * (0.5 + unit(random));
          s->samples.push_back({t, std::round(v * 100) / 100});
        }
      }
    }
    const double total = 8e9 * (1 + h % 4);
    model::Series* mem_total = series(Labels::Of(
        {{"__name__", "node_memory_MemTotal_bytes"}, {"instance", instance}, {"job", "node"}}));
    model::Series* mem_available = series(Labels::Of(
        {{"__name__", "node_memory_MemAvailable_bytes"}, {"instance", instance}, {"job", "node"}}));
    for (size_t i = 0; i < times.size(); ++i) {
      mem_total->samples.push_back({times[i], total});
      mem_available->samples.push_back(
          {times[i], std::round(total * (0.4 + 0.2 * std::sin(static_cast<double>(i) / 40 + h)))});
    }
    for (const char* mount : mounts) {
      const double size = 1e11 * (1 + h % 3);
      model::Series* fs_size = series(Labels::Of({{"__name__", "node_filesystem_size_bytes"},
                                                  {"fstype", "ext4"},
                                                  {"instance", instance},
                                                  {"job", "node"},
                                                  {"mountpoint", mount}}));
      model::Series* fs_avail = series(Labels::Of({{"__name__", "node_filesystem_avail_bytes"},
                                                   {"fstype", "ext4"},
                                                   {"instance", instance},
                                                   {"job", "node"},
                                                   {"mountpoint", mount}}));
      double avail = size * unit(random);
      for (int64_t t : times) {
        avail = std::max(0.0, avail - 1e5 * unit(random));
        fs_size->samples.push_back({t, size});
        fs_avail->samples.push_back({t, std::round(avail)});
      }
    }
    for (int handler = 0; handler < 10; ++handler) {
      const std::string path = "/api/v1/h" + std::to_string(handler);
      model::Series* ok = series(Labels::Of({{"__name__", "http_requests_total"},
                                             {"code", "200"},
                                             {"handler", path},
                                             {"instance", instance},
                                             {"job", "api"}}));
      model::Series* failed = series(Labels::Of({{"__name__", "http_requests_total"},
                                                 {"code", "500"},
                                                 {"handler", path},
                                                 {"instance", instance},
                                                 {"job", "api"}}));
      std::vector<model::Series*> bucket_series;
      for (double le : buckets) {
        char text[16];
        std::snprintf(text, sizeof text, "%g", le);
        bucket_series.push_back(
            series(Labels::Of({{"__name__", "http_request_duration_seconds_bucket"},
                               {"handler", path},
                               {"instance", instance},
                               {"job", "api"},
                               {"le", std::isinf(le) ? "+Inf" : text}})));
      }
      double requests = 0, errors = 0;
      std::vector<double> counts(std::size(buckets), 0);
      for (int64_t t : times) {
        const int n = static_cast<int>(unit(random) * 30);
        requests += n;
        if (unit(random) < 0.1) errors += 1;
        for (int q = 0; q < n; ++q) {
          const double latency = std::exp(std::log(0.003) + unit(random) * 6) * (1 + handler % 3);
          for (size_t b = 0; b < std::size(buckets); ++b) {
            if (latency <= buckets[b]) counts[b] += 1;
          }
        }
        ok->samples.push_back({t, requests});
        failed->samples.push_back({t, errors});
        for (size_t b = 0; b < std::size(buckets); ++b)
          bucket_series[b]->samples.push_back({t, counts[b]});
      }
    }
  }
  return {std::make_move_iterator(out.begin()), std::make_move_iterator(out.end())};
}

bool WriteOpenMetrics(const std::vector<model::Series>& data, const std::string& path) {
  std::ofstream out(path);
  if (!out) return false;
  std::map<std::string, std::vector<const model::Series*>> by_name;
  for (const auto& s : data) by_name[std::string(s.labels.MetricName())].push_back(&s);
  for (const auto& [name, list] : by_name) {
    for (const model::Series* s : list) {
      std::string labels;
      for (const model::LabelRef& l : s->labels) {
        if (l.name == model::kMetricNameLabel) continue;
        labels +=
            (labels.empty() ? "" : ",") + std::string(l.name) + "=\"" + std::string(l.value) + "\"";
      }
      for (const Sample& p : s->samples) {
        char line[64];
        std::snprintf(line, sizeof line, " %.17g %lld.%03lld\n", p.value,
                      static_cast<long long>(p.timestamp_ms / 1000),
                      static_cast<long long>(p.timestamp_ms % 1000));
        out << name << "{" << labels << "}" << line;
      }
    }
  }
  out << "# EOF\n";
  return static_cast<bool>(out);
}

std::vector<QueryCase> ReadQueryFile(const std::string& path) {
  std::ifstream in(path);
  std::map<std::string, std::vector<std::string>> variants;
  std::vector<QueryCase> out;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == '@') {
      std::stringstream words(line.substr(1));
      std::string name, value;
      words >> name;
      while (words >> value) variants[name].push_back(value);
      continue;
    }
    QueryCase q;
    if (line.rfind("fail:", 0) == 0) {
      q.fail = true;
      line = line.substr(5);
    } else if (line.rfind("differs:", 0) == 0) {
      q.differs = true;
      line = line.substr(8);
    }
    std::vector<std::string> expanded = {line};
    static const std::regex kVariant(R"(\{\{(\w+)\}\})");
    for (bool changed = true; changed;) {
      changed = false;
      std::vector<std::string> next;
      for (const std::string& text : expanded) {
        std::smatch m;
        if (!std::regex_search(text, m, kVariant)) {
          next.push_back(text);
          continue;
        }
        changed = true;
        const std::string name = m[1];
        for (const std::string& value : variants.at(name)) {
          std::string replaced = text;
          size_t at;
          while ((at = replaced.find("{{" + name + "}}")) != std::string::npos) {
            replaced.replace(at, name.size() + 4, value);
          }
          next.push_back(replaced);
        }
      }
      expanded = std::move(next);
    }
    for (const std::string& text : expanded) out.push_back({text, q.fail, q.differs});
  }
  return out;
}

}  // namespace vigil::testing
