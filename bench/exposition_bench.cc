// The exposition parser's speed (issue #3 target: >= 3 M samples/s on one core on
// node_exporter-like text), on a page captured from Debian's node_exporter 1.5
// (src/sensors/scrape/testdata/node_exporter.prom, 507 samples), building the Labels of
// every sample as the scrape sensor needs them.
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>

#include "sensors/scrape/exposition.h"

namespace {

std::string Page() {
  std::ifstream in(std::string(VIGIL_SOURCE_DIR) +
                   "/src/sensors/scrape/testdata/node_exporter.prom");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void BM_ParseNodeExporterPage(benchmark::State& state) {
  const std::string page = Page();
  size_t samples = 0;
  for (auto _ : state) {
    size_t n = 0;
    vigil::Status status = vigil::sensors::scrape::ParseExposition(
        page, vigil::sensors::scrape::Format::kPrometheusText, {},
        [&](vigil::sensors::scrape::ScrapedSample&& s) {
          benchmark::DoNotOptimize(s);
          ++n;
        });
    if (!status.ok()) state.SkipWithError(status.ToString().c_str());
    samples = n;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * samples));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * page.size()));
}
BENCHMARK(BM_ParseNodeExporterPage)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
