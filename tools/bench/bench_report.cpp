#include "tools/bench/bench_report.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace mhr {

namespace {

std::string run_command(const std::string& cmd, int& rc) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("cannot run " + cmd);
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  rc = ::pclose(p);
  return out;
}

std::string fixed(double v, int digits = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else
      out += c;
  }
  return out;
}

std::string latency_row(const std::string& what, const nlohmann::json& phase) {
  const auto& l = phase["latency_ms"];
  return "<tr><td>" + what + "</td><td>" + fixed(phase["committed_rps"].get<double>(), 0) +
         "</td><td>" + fixed(l["p50"].get<double>()) + "</td><td>" + fixed(l["p90"].get<double>()) +
         "</td><td>" + fixed(l["p99"].get<double>()) + "</td><td>" + fixed(l["max"].get<double>()) +
         "</td></tr>\n";
}

// The closed loops of the window ramp; the peak is the best of them.
std::string ramp_rows(const nlohmann::json& m) {
  if (!m.contains("ramp")) return latency_row("closed loop (peak)", m["peak"]);
  std::string rows;
  const auto best = m["peak"]["window"].get<std::uint32_t>();
  for (const auto& step : m["ramp"]) {
    const auto w = step["window"].get<std::uint32_t>();
    rows += latency_row("closed loop, " + std::to_string(w) + " in flight per connection" +
                            (w == best ? " (peak)" : ""),
                        step);
  }
  return rows;
}

std::string mode_html(const nlohmann::json& m) {
  std::ostringstream o;
  o << "<h2>mode " << html_escape(m["mode"].get<std::string>()) << "</h2>\n"
    << "<table><tr><th>phase</th><th>committed records/s</th><th>p50 ms</th><th>p90 ms</th>"
       "<th>p99 ms</th><th>max ms</th></tr>\n"
    << ramp_rows(m)
    << latency_row(
           "open loop at " + fixed(m["half_load"]["offered_rps"].get<double>(), 0) + " records/s",
           m["half_load"])
    << "</table>\n<p>signature checks per committed record: "
    << fixed(m["verifications_per_record"].get<double>(), 2)
    << "; crypto bound: " << fixed(m["crypto_bound_rps"].get<double>(), 0)
    << " records/s; crypto efficiency: " << fixed(m["crypto_efficiency"].get<double>(), 3)
    << "</p>\n<table><tr><th>node</th><th>role</th><th>CPU s (load phase)</th>"
       "<th>CPU share</th><th>peak RSS MB</th><th>disk bytes</th></tr>\n";
  for (const auto& [name, n] : m["nodes"].items())
    o << "<tr><td>" << html_escape(name) << "</td><td>" << n["role"].get<std::string>()
      << "</td><td>" << fixed(n["cpu_seconds"].get<double>(), 2) << "</td><td>"
      << fixed(n["cpu_share"].get<double>(), 2) << "</td><td>"
      << fixed(n["peak_rss_mb"].get<double>()) << "</td><td>"
      << n["disk_bytes"].get<std::uint64_t>() << "</td></tr>\n";
  o << "</table>\n";
  return o.str();
}

}  // namespace

nlohmann::json run_pg_baseline(const BenchOptions& options, double ours_rps) {
  const std::string cmd = options.baseline_script + " --clients 8 --seconds " +
                          std::to_string(options.measure_us / kUsPerSecond) + " --bytes " +
                          std::to_string(options.record_bytes) + " 2>&1";
  int rc = 0;
  const std::string out = run_command(cmd, rc);
  const auto at = out.find("records_per_s: ");
  if (rc != 0 || at == std::string::npos)
    throw std::runtime_error("the PostgreSQL baseline failed:\n" + out);
  const double pg = std::stod(out.substr(at + 15));
  return {{"records_per_s", pg},
          {"ratio", pg > 0 ? ours_rps / pg : 0.0},
          {"command", cmd},
          {"output", out}};
}

void write_bench_files(const std::string& dir, const nlohmann::json& bench) {
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/bench.json") << bench.dump(2) << "\n";
  std::ostringstream html;
  html << "<!doctype html><html><head><meta charset=\"utf-8\"><title>mhr bench "
       << html_escape(bench["scenario"].get<std::string>())
       << "</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
          "margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
          "td:first-child,th:first-child{text-align:left}</style></head><body>\n"
       << "<h1>mhr bench: " << html_escape(bench["scenario"].get<std::string>()) << "</h1>\n"
       << "<p>" << bench["machine"]["cores"].get<unsigned>() << " cores; Ed25519 "
       << fixed(bench["machine"]["ed25519_verify_per_s_per_core"].get<double>(), 0)
       << " verifications/s per core; settings " << html_escape(bench["settings"].dump())
       << "</p>\n";
  if (bench.contains("baseline"))
    html << "<p><b>PostgreSQL baseline</b> (hash-chained inserts, synchronous commit): "
         << fixed(bench["baseline"]["records_per_s"].get<double>(), 0)
         << " records/s; ours / baseline = " << fixed(bench["baseline"]["ratio"].get<double>(), 2)
         << "</p>\n";
  if (bench.contains("modes")) {
    for (const auto& m : bench["modes"]) html << mode_html(m);
  } else {
    html << mode_html(bench);
  }
  html << "</body></html>\n";
  std::ofstream(dir + "/report.html") << html.str();
}

std::string format_bench(const nlohmann::json& bench) {
  std::ostringstream o;
  auto mode_text = [&](const nlohmann::json& m) {
    const auto& l = m["half_load"]["latency_ms"];
    o << "  " << m["mode"].get<std::string>() << ": " << fixed(m["committed_rps"].get<double>(), 0)
      << " committed records/s (closed loop, "
      << (m["peak"].contains("window") ? std::to_string(m["peak"]["window"].get<std::uint32_t>())
                                       : std::string("?"))
      << " in flight per connection); at " << fixed(m["half_load"]["offered_rps"].get<double>(), 0)
      << " records/s: p50 " << fixed(l["p50"].get<double>()) << " ms, p90 "
      << fixed(l["p90"].get<double>()) << " ms, p99 " << fixed(l["p99"].get<double>())
      << " ms, max " << fixed(l["max"].get<double>()) << " ms; crypto efficiency "
      << fixed(m["crypto_efficiency"].get<double>(), 3) << " ("
      << fixed(m["verifications_per_record"].get<double>(), 2) << " checks per record)\n";
  };
  o << "mhr bench " << bench["scenario"].get<std::string>() << ": "
    << bench["machine"]["cores"].get<unsigned>() << " cores, Ed25519 "
    << fixed(bench["machine"]["ed25519_verify_per_s_per_core"].get<double>(), 0)
    << " verifications/s per core\n";
  if (bench.contains("modes")) {
    for (const auto& m : bench["modes"]) mode_text(m);
  } else {
    mode_text(bench);
  }
  if (bench.contains("baseline"))
    o << "  PostgreSQL baseline: " << fixed(bench["baseline"]["records_per_s"].get<double>(), 0)
      << " records/s; ours / baseline = " << fixed(bench["baseline"]["ratio"].get<double>(), 2)
      << "\n";
  return o.str();
}

}  // namespace mhr
