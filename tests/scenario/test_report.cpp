#include <doctest/doctest.h>

#include <filesystem>

#include "tests/scenario/helpers.hpp"
#include "tools/sim/report.hpp"

using namespace mhr;
using namespace scenario_test;

namespace {

RunSummary sample_run(const std::string& mode, double wall_seconds = 1.25) {
  RunSummary r;
  r.scenario = "demo";
  r.seed = 7;
  r.mode = mode;
  r.records_submitted = 3000;
  r.records_committed = 2990;
  r.throughput_rps = 2990.0 / 25.0;
  LatencyRecorder lat;
  for (int i = 1; i <= 1000; ++i) lat.add(i * 100);  // 0.1 .. 100 ms
  r.latency_ms = lat.summary();
  r.latency_histogram = lat.histogram();
  r.messages.total = 12345;
  r.messages.intra_network = 10000;
  r.messages.inter_network = 2345;
  r.messages.by_type = {{"StoreRequest", 3000}, {"PresenceQuery", 6000}, {"BlockDelivery", 3345}};
  r.bytes_sent = 9'876'543;
  for (int n = 0; n < 4; ++n)
    r.node_storage.push_back({"net0.r" + std::to_string(n),
                              static_cast<std::uint64_t>(100'000 * (n + 1)),
                              static_cast<std::uint64_t>(100 * (n + 1))});
  r.storage_bytes = summarize_storage(r.node_storage);
  r.migrations_completed = 12;
  r.records_moved = 340;
  r.events = 456'789;
  r.wall_seconds = wall_seconds;
  r.overrides = {"workload.users=300"};
  r.counters = {{"records_stored", 5000}, {"retries", 3}};
  for (int t = 0; t < 30; ++t) {
    auto& s = sample_at(r.per_second, t * kUsPerSecond + 5);
    s.submitted = t < 3 ? 0 : 120;
    s.committed = t < 3 ? 0 : 119;
    s.messages = 400;
    s.bytes = 300'000;
  }
  return r;
}

}  // namespace

TEST_CASE("report: latency percentiles and histogram") {
  LatencyRecorder lat;
  CHECK(lat.summary() == LatencySummary{});
  CHECK(lat.histogram().counts.empty());
  for (int i = 1; i <= 100; ++i) lat.add(i * 1000);  // 1 .. 100 ms
  auto s = lat.summary();
  CHECK(s.p50 == 50);
  CHECK(s.p99 == 99);
  CHECK(s.max == 100);
  auto h = lat.histogram();
  REQUIRE(h.counts.size() == h.upper_ms.size());
  std::uint64_t total = 0;
  for (auto c : h.counts) total += c;
  CHECK(total == 100);
  CHECK(h.upper_ms.front() >= 1.0);
  CHECK(h.upper_ms.back() >= 100.0);
  CHECK(std::is_sorted(h.upper_ms.begin(), h.upper_ms.end()));
}

TEST_CASE("report: storage summary, series and violations") {
  auto st = summarize_storage({{"a", 10, 1}, {"b", 30, 2}, {"c", 20, 3}});
  CHECK(st.min == 10);
  CHECK(st.max == 30);
  CHECK(st.total == 60);
  CHECK(st.mean == 20);
  std::vector<SecondSample> series;
  sample_at(series, 2'500'000).committed += 3;
  CHECK(series.size() == 3);
  CHECK(series[2].committed == 3);
  RunSummary r;
  for (int i = 0; i < 150; ++i) add_violation(r, "v" + std::to_string(i));
  CHECK(r.violations == 150);
  CHECK(r.violation_list.size() == kMaxViolationList);
}

TEST_CASE("report: summary JSON is deterministic and has the documented shape") {
  auto a = sample_run("broadcast", 1.0);
  auto b = sample_run("broadcast", 2.0);  // only the wall clock differs
  CHECK(summary_json({a}).dump(2) == summary_json({b}).dump(2));
  auto j = summary_json({a});
  CHECK(j["mode"] == "broadcast");
  CHECK(j["scenario"] == "demo");
  CHECK(j["seed"] == 7);
  CHECK(j["records_committed"] == 2990);
  CHECK(j["throughput_rps"] == 119.6);
  CHECK(j["latency_ms"]["p50"] == 50.0);
  CHECK(j["latency_ms"]["p99"] == 99.0);
  CHECK(j["latency_ms"]["max"] == 100.0);
  CHECK(j["messages"]["by_type"]["PresenceQuery"] == 6000);
  CHECK(j["messages"]["intra_network"] == 10000);
  CHECK(j["storage_bytes"]["mean"] == 250000.0);
  CHECK(j["migrations"]["completed"] == 12);
  CHECK(j["migrations"]["records_moved"] == 340);
  CHECK(j["violations"] == 0);
  CHECK(j["violation_list"].empty());
  CHECK(j["series"]["committed"].size() == 30);
  CHECK(j["storage_per_node"].size() == 4);
  CHECK(j["overrides"][0] == "workload.users=300");
  CHECK(j["counters"]["retries"] == 3);
  CHECK_FALSE(j.contains("wall_seconds"));

  auto multi = summary_json({sample_run("broadcast"), sample_run("table")});
  CHECK(multi["scenario"] == "demo");
  CHECK(multi["seed"] == 7);
  REQUIRE(multi["runs"].size() == 2);
  CHECK(multi["runs"][1]["mode"] == "table");

  auto info = run_info_json({a});
  CHECK(info["runs"][0]["wall_seconds"] == 1.0);
  CHECK(info["runs"][0]["mode"] == "broadcast");
}

TEST_CASE("report: output files") {
  TempDir d1, d2;
  std::vector<RunSummary> runs = {sample_run("broadcast", 1.0), sample_run("table", 1.5),
                                  sample_run("full", 3.0)};
  runs[2].node_storage[0].bytes = 999'999;
  add_violation(runs[1], "record <x> & friends lost");
  auto written = write_outputs(d1.path().string(), runs);
  CHECK(written.size() == 4);
  runs[0].wall_seconds = 9.0;  // wall time goes only to run_info.json
  write_outputs(d2.path().string(), runs);
  CHECK(read_file(d1.path() / "summary.json") == read_file(d2.path() / "summary.json"));
  CHECK(read_file(d1.path() / "run_info.json") != read_file(d2.path() / "run_info.json"));

  const std::string csv = read_file(d1.path() / "timeseries.csv");
  CHECK(csv.rfind("mode,second,submitted,committed,messages,bytes\n", 0) == 0);
  CHECK(contains(csv, "\ntable,5,120,119,400,300000\n"));

  const std::string html = read_file(d1.path() / "report.html");
  CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
  std::size_t svgs = 0;
  for (auto p = html.find("<svg"); p != std::string::npos; p = html.find("<svg", p + 1)) ++svgs;
  CHECK(svgs == 4);
  for (const char* s : {"broadcast", "table", "full", "Throughput", "latency", "Storage per record",
                        "Messages by type", "PresenceQuery", "net0.r3", "<polyline", "<rect"})
    CHECK(contains(html, s));
  CHECK(contains(html, "class=\"bad\""));
  CHECK(contains(html, "record &lt;x&gt; &amp; friends lost"));
  CHECK_FALSE(contains(html, "<x>"));
  // Self-contained: no scripts, stylesheets or images from elsewhere.
  CHECK_FALSE(contains(html, "<script"));
  CHECK_FALSE(contains(html, "<link"));
  CHECK_FALSE(contains(html, "src="));

  // One mode: no mode column; report options skip files.
  TempDir d3;
  auto one = write_outputs(d3.path().string(), {sample_run("table")}, {false, true});
  CHECK(one.size() == 3);
  CHECK_FALSE(std::filesystem::exists(d3.path() / "timeseries.csv"));
  CHECK(timeseries_csv({sample_run("table")})
            .rfind("second,submitted,committed,messages,bytes\n", 0) == 0);
  const std::string html1 = read_file(d3.path() / "report.html");
  CHECK(contains(html1, "class=\"ok\""));
  CHECK(contains(html1, "No invariant violations"));
}

TEST_CASE("report: many record nodes are grouped into bars") {
  auto r = sample_run("table");
  r.node_storage.clear();
  for (int n = 0; n < 1000; ++n)
    r.node_storage.push_back({"net" + std::to_string(n / 10) + ".r" + std::to_string(n % 10),
                              static_cast<std::uint64_t>(n), 1});
  const std::string html = report_html({r});
  CHECK(contains(html, "mean of 17 nodes per bar"));
  CHECK(html.size() < 400'000);
}

TEST_CASE("report: text summary") {
  auto r = sample_run("broadcast");
  const std::string text = format_text_summary({r, sample_run("full")});
  CHECK(contains(text, "scenario demo, seed 7"));
  CHECK(contains(text, "[broadcast] 2,990/3,000 records committed"));
  CHECK(contains(text, "[full]"));
  CHECK(contains(text, "p99 99.00 ms"));
  CHECK(contains(text, "violations: none"));
  CHECK(contains(text, " events in "));
  r.events = 0;  // real processes: no simulated events
  CHECK(contains(format_text_summary({r}), "; took "));
  CHECK_FALSE(contains(format_text_summary({r}), "0 events"));
  add_violation(r, "lost record");
  CHECK(contains(format_text_summary({r}), "VIOLATIONS: 1"));
  CHECK(contains(format_text_summary({r}), "lost record"));
}
