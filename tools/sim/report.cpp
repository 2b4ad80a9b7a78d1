#include "tools/sim/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <stdexcept>

#include "tools/sim/heap_tuning.hpp"

namespace mhr {

// ---------------------------------------------------------------- helpers

namespace {

// Rounds to `decimals` places so that printed numbers stay short and stable.
double stable(double v, int decimals = 3) {
  if (!std::isfinite(v)) return 0;
  const double f = std::pow(10.0, decimals);
  return std::round(v * f) / f;
}

double us_to_ms(TimeUs us) {
  return static_cast<double>(us) / 1000.0;
}

// Histogram bucket k has the upper bound 10^(k/kBucketsPerDecade) ms, k in [kFirst, kLast];
// everything above the last bound lands in the last bucket.
constexpr int kBucketsPerDecade = 20;
constexpr int kFirstBucket = -2 * kBucketsPerDecade;  // 0.01 ms
constexpr int kLastBucket = 6 * kBucketsPerDecade;    // 1e6 ms
double bucket_upper_ms(int k) {
  const double v = std::pow(10.0, static_cast<double>(k) / kBucketsPerDecade);
  // Four significant digits: the bound prints the same everywhere.
  const double mag = std::pow(10.0, std::floor(std::log10(v)) - 3);
  return std::round(v / mag) * mag;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// 1234567 -> "1,234,567"
std::string grouped(std::uint64_t v) {
  std::string digits = std::to_string(v);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB", "PB"};
  int u = 0;
  while (std::fabs(b) >= 1000 && u < 5) {
    b /= 1000;
    ++u;
  }
  return fixed(b, u == 0 ? 0 : (std::fabs(b) < 10 ? 2 : 1)) + " " + units[u];
}

// Axis labels for bytes: "0 B", "500 KB", "1.5 MB".
std::string axis_bytes(double b) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB", "PB"};
  int u = 0;
  while (std::fabs(b) >= 1000 && u < 5) {
    b /= 1000;
    ++u;
  }
  std::string s = fixed(b, 2);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s + " " + units[u];
}

// Compact axis labels: 950, 1.2k, 3.4M.
std::string compact(double v) {
  const double a = std::fabs(v);
  auto trim = [](std::string s) {
    if (s.find('.') != std::string::npos) {
      while (s.back() == '0') s.pop_back();
      if (s.back() == '.') s.pop_back();
    }
    return s;
  };
  if (a >= 1e9) return trim(fixed(v / 1e9, 2)) + "G";
  if (a >= 1e6) return trim(fixed(v / 1e6, 2)) + "M";
  if (a >= 1e3) return trim(fixed(v / 1e3, 2)) + "k";
  if (a >= 1 || a == 0) return trim(fixed(v, 2));
  return trim(fixed(v, 4));
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string mode_color(const std::string& mode, std::size_t index) {
  if (mode == "broadcast") return "#1f77b4";
  if (mode == "table") return "#ff7f0e";
  if (mode == "full") return "#2ca02c";
  static const char* palette[] = {"#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
  return palette[index % 5];
}

}  // namespace

// ---------------------------------------------------------------- collecting

void LatencyRecorder::add(TimeUs latency_us) {
  samples_.push_back(std::max<TimeUs>(0, latency_us));
}

void LatencyRecorder::add_all(const LatencyRecorder& other) {
  samples_.insert(samples_.end(), other.samples_.begin(), other.samples_.end());
}

LatencySummary LatencyRecorder::summary() const {
  LatencySummary out;
  if (samples_.empty()) return out;
  std::vector<TimeUs> sorted = samples_;
  std::sort(sorted.begin(), sorted.end());
  auto rank = [&](double p) {
    auto idx = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
    return sorted[std::clamp<std::size_t>(idx, 1, sorted.size()) - 1];
  };
  out.p50 = stable(us_to_ms(rank(0.50)));
  out.p99 = stable(us_to_ms(rank(0.99)));
  out.max = stable(us_to_ms(sorted.back()));
  return out;
}

LatencyHistogram LatencyRecorder::histogram() const {
  LatencyHistogram out;
  if (samples_.empty()) return out;
  constexpr int kBuckets = kLastBucket - kFirstBucket + 1;
  std::vector<double> bounds(kBuckets);
  for (int k = 0; k < kBuckets; ++k) bounds[k] = bucket_upper_ms(kFirstBucket + k);
  std::vector<std::uint64_t> counts(kBuckets, 0);
  for (TimeUs s : samples_) {
    const double ms = us_to_ms(s);
    auto it = std::lower_bound(bounds.begin(), bounds.end(), ms);
    std::size_t k =
        it == bounds.end() ? kBuckets - 1 : static_cast<std::size_t>(it - bounds.begin());
    ++counts[k];
  }
  std::size_t first = 0;
  while (counts[first] == 0) ++first;
  std::size_t last = kBuckets - 1;
  while (counts[last] == 0) --last;
  out.upper_ms.assign(bounds.begin() + static_cast<std::ptrdiff_t>(first),
                      bounds.begin() + static_cast<std::ptrdiff_t>(last) + 1);
  out.counts.assign(counts.begin() + static_cast<std::ptrdiff_t>(first),
                    counts.begin() + static_cast<std::ptrdiff_t>(last) + 1);
  return out;
}

StorageStats summarize_storage(const std::vector<NodeStorage>& nodes) {
  StorageStats out;
  if (nodes.empty()) return out;
  out.min = nodes.front().bytes;
  for (const auto& n : nodes) {
    out.min = std::min(out.min, n.bytes);
    out.max = std::max(out.max, n.bytes);
    out.total += n.bytes;
  }
  out.mean = stable(static_cast<double>(out.total) / static_cast<double>(nodes.size()), 1);
  return out;
}

SecondSample& sample_at(std::vector<SecondSample>& series, TimeUs at_us) {
  const auto second = static_cast<std::size_t>(std::max<TimeUs>(0, at_us) / kUsPerSecond);
  if (series.size() <= second) series.resize(second + 1);
  return series[second];
}

void add_violation(RunSummary& run, std::string text) {
  ++run.violations;
  if (run.violation_list.size() < kMaxViolationList) run.violation_list.push_back(std::move(text));
}

// ---------------------------------------------------------------- JSON

nlohmann::json run_json(const RunSummary& r) {
  using nlohmann::json;
  json j;  // std::map-backed: keys come out sorted
  j["scenario"] = r.scenario;
  j["seed"] = r.seed;
  j["mode"] = r.mode;
  j["records_submitted"] = r.records_submitted;
  j["records_committed"] = r.records_committed;
  j["records_failed"] = r.records_failed;
  j["throughput_rps"] = stable(r.throughput_rps);
  j["latency_ms"] = {{"p50", stable(r.latency_ms.p50)},
                     {"p99", stable(r.latency_ms.p99)},
                     {"max", stable(r.latency_ms.max)}};
  json by_type = json::object();
  for (const auto& [name, count] : r.messages.by_type) by_type[name] = count;
  j["messages"] = {{"total", r.messages.total},
                   {"intra_network", r.messages.intra_network},
                   {"inter_network", r.messages.inter_network},
                   {"by_type", by_type}};
  j["bytes_sent"] = r.bytes_sent;
  j["storage_bytes"] = {{"min", r.storage_bytes.min},
                        {"mean", stable(r.storage_bytes.mean, 1)},
                        {"max", r.storage_bytes.max},
                        {"total", r.storage_bytes.total}};
  j["migrations"] = {{"completed", r.migrations_completed}, {"records_moved", r.records_moved}};
  j["violations"] = r.violations;
  json vlist = json::array();
  for (std::size_t i = 0; i < r.violation_list.size() && i < kMaxViolationList; ++i)
    vlist.push_back(r.violation_list[i]);
  j["violation_list"] = vlist;
  j["events"] = r.events;
  j["overrides"] = r.overrides;
  j["faults"] = r.faults;
  json counters = json::object();
  for (const auto& [name, value] : r.counters) counters[name] = value;
  j["counters"] = counters;
  json sub = json::array(), com = json::array(), msg = json::array(), byt = json::array();
  for (const auto& s : r.per_second) {
    sub.push_back(s.submitted);
    com.push_back(s.committed);
    msg.push_back(s.messages);
    byt.push_back(s.bytes);
  }
  j["series"] = {{"submitted", sub}, {"committed", com}, {"messages", msg}, {"bytes", byt}};
  json upper = json::array();
  for (double u : r.latency_histogram.upper_ms) upper.push_back(stable(u, 4));
  j["latency_histogram"] = {{"upper_ms", upper}, {"counts", r.latency_histogram.counts}};
  json nodes = json::array();
  for (const auto& n : r.node_storage)
    nodes.push_back({{"node", n.node}, {"bytes", n.bytes}, {"records", n.records}});
  j["storage_per_node"] = nodes;
  return j;
}

nlohmann::json summary_json(const std::vector<RunSummary>& runs) {
  if (runs.size() == 1) return run_json(runs.front());
  nlohmann::json j;
  j["scenario"] = runs.empty() ? std::string() : runs.front().scenario;
  j["seed"] = runs.empty() ? std::uint64_t{0} : runs.front().seed;
  nlohmann::json list = nlohmann::json::array();
  for (const auto& r : runs) list.push_back(run_json(r));
  j["runs"] = list;
  return j;
}

nlohmann::json run_info_json(const std::vector<RunSummary>& runs) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& r : runs) {
    const double eps = r.wall_seconds > 0 ? static_cast<double>(r.events) / r.wall_seconds : 0;
    list.push_back({{"mode", r.mode},
                    {"wall_seconds", stable(r.wall_seconds)},
                    {"events", r.events},
                    {"events_per_second", stable(eps, 0)},
                    {"lanes", r.lanes},
                    {"threads", r.threads}});
  }
  return {{"runs", list}, {"heap_huge_pages", heap_on_huge_pages()}};
}

// ---------------------------------------------------------------- CSV

std::string timeseries_csv(const std::vector<RunSummary>& runs) {
  const bool several = runs.size() > 1;
  std::string out = several ? "mode,second,submitted,committed,messages,bytes\n"
                            : "second,submitted,committed,messages,bytes\n";
  for (const auto& r : runs) {
    for (std::size_t i = 0; i < r.per_second.size(); ++i) {
      const auto& s = r.per_second[i];
      if (several) out += r.mode + ",";
      out += std::to_string(i) + "," + std::to_string(s.submitted) + "," +
             std::to_string(s.committed) + "," + std::to_string(s.messages) + "," +
             std::to_string(s.bytes) + "\n";
    }
  }
  return out;
}

// ---------------------------------------------------------------- SVG

namespace {

constexpr double kWidth = 760;
constexpr double kHeight = 340;
constexpr double kLeft = 84;
constexpr double kRight = 20;
constexpr double kTop = 56;
constexpr double kBottom = 70;
constexpr double kPlotW = kWidth - kLeft - kRight;
constexpr double kPlotH = kHeight - kTop - kBottom;

std::string num(double v) {
  return fixed(v, 1);
}

// A "nice" step (1, 2 or 5 times a power of ten) giving about five ticks.
double nice_step(double max) {
  if (!(max > 0)) return 1;
  const double raw = max / 5;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

struct Series {
  std::string label;
  std::string color;
};

class Svg {
 public:
  explicit Svg(const std::string& title) {
    out_ += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(kWidth) + "\" height=\"" +
            num(kHeight) + "\" viewBox=\"0 0 " + num(kWidth) + " " + num(kHeight) +
            "\" role=\"img\">\n";
    out_ += "<title>" + html_escape(title) + "</title>\n";
    text(kWidth / 2, 20, title, "middle", "title");
  }
  void text(double x, double y, const std::string& t, const char* anchor, const char* cls = "lbl",
            double rotate = 0) {
    out_ += "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" text-anchor=\"" + anchor +
            "\" class=\"" + cls + "\"";
    if (rotate != 0)
      out_ += " transform=\"rotate(" + num(rotate) + " " + num(x) + " " + num(y) + ")\"";
    out_ += ">" + html_escape(t) + "</text>\n";
  }
  void line(double x1, double y1, double x2, double y2, const char* cls) {
    out_ += "<line x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" + num(x2) + "\" y2=\"" +
            num(y2) + "\" class=\"" + cls + "\"/>\n";
  }
  void rect(double x, double y, double w, double h, const std::string& color,
            const std::string& tip) {
    out_ += "<rect x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + fixed(w, 2) +
            "\" height=\"" + num(h) + "\" fill=\"" + color + "\"><title>" + html_escape(tip) +
            "</title></rect>\n";
  }
  void polyline(const std::vector<std::pair<double, double>>& pts, const std::string& color) {
    if (pts.empty()) return;
    out_ += "<polyline fill=\"none\" stroke=\"" + color + "\" stroke-width=\"1.6\" points=\"";
    for (const auto& [x, y] : pts) out_ += num(x) + "," + num(y) + " ";
    out_ += "\"/>\n";
  }
  // Y axis from 0 to a nice maximum >= max_value; returns that maximum.
  double y_axis(double max_value, const std::string& label, bool bytes = false) {
    const double step = nice_step(max_value);
    const double top = std::max(step, std::ceil(max_value / step) * step);
    for (double v = 0; v <= top + step / 2; v += step) {
      const double y = kTop + kPlotH - v / top * kPlotH;
      line(kLeft, y, kLeft + kPlotW, y, "grid");
      text(kLeft - 6, y + 4, bytes ? axis_bytes(v) : compact(v), "end");
    }
    text(16, kTop + kPlotH / 2, label, "middle", "lbl", -90);
    frame();
    return top;
  }
  void frame() {
    line(kLeft, kTop + kPlotH, kLeft + kPlotW, kTop + kPlotH, "axis");
    line(kLeft, kTop, kLeft, kTop + kPlotH, "axis");
  }
  void x_label(const std::string& label) { text(kLeft + kPlotW / 2, kHeight - 8, label, "middle"); }
  void legend(const std::vector<Series>& series) {
    double x = kLeft + 10;
    for (const auto& s : series) {
      out_ += "<rect x=\"" + num(x) + "\" y=\"" + num(kTop - 24) +
              "\" width=\"12\" height=\"12\" fill=\"" + s.color + "\"/>\n";
      text(x + 16, kTop - 14, s.label, "start");
      x += 30 + 8 * static_cast<double>(s.label.size());
    }
  }
  void empty_note() { text(kLeft + kPlotW / 2, kTop + kPlotH / 2, "no data", "middle"); }
  std::string finish() { return out_ + "</svg>\n"; }

 private:
  std::string out_;
};

std::vector<Series> series_of(const std::vector<RunSummary>& runs) {
  std::vector<Series> out;
  for (std::size_t i = 0; i < runs.size(); ++i)
    out.push_back({runs[i].mode, mode_color(runs[i].mode, i)});
  return out;
}

std::string throughput_plot(const std::vector<RunSummary>& runs) {
  Svg svg("Throughput: records committed per second");
  std::size_t seconds = 0;
  double max = 0;
  for (const auto& r : runs) {
    seconds = std::max(seconds, r.per_second.size());
    for (const auto& s : r.per_second) max = std::max(max, static_cast<double>(s.committed));
  }
  const double top = svg.y_axis(max, "records / s");
  const double span = static_cast<double>(std::max<std::size_t>(seconds, 2) - 1);
  const double xstep = nice_step(span);
  for (double v = 0; v <= span + xstep / 2; v += xstep) {
    const double x = kLeft + v / span * kPlotW;
    svg.line(x, kTop + kPlotH, x, kTop + kPlotH + 4, "axis");
    svg.text(x, kTop + kPlotH + 18, compact(v), "middle");
  }
  svg.x_label("simulated time (s)");
  const auto series = series_of(runs);
  for (std::size_t i = 0; i < runs.size(); ++i) {
    std::vector<std::pair<double, double>> pts;
    for (std::size_t t = 0; t < runs[i].per_second.size(); ++t)
      pts.emplace_back(
          kLeft + static_cast<double>(t) / span * kPlotW,
          kTop + kPlotH - static_cast<double>(runs[i].per_second[t].committed) / top * kPlotH);
    svg.polyline(pts, series[i].color);
  }
  if (seconds == 0) svg.empty_note();
  svg.legend(series);
  return svg.finish();
}

// Cumulative distribution of commit latency, x on a log scale.
std::string latency_plot(const std::vector<RunSummary>& runs) {
  Svg svg("Commit latency: cumulative distribution");
  double lo = 0, hi = 0;
  bool any = false;
  for (const auto& r : runs) {
    const auto& h = r.latency_histogram;
    if (h.upper_ms.empty()) continue;
    const double first = h.upper_ms.front() / std::pow(10.0, 1.0 / kBucketsPerDecade);
    lo = any ? std::min(lo, first) : first;
    hi = any ? std::max(hi, h.upper_ms.back()) : h.upper_ms.back();
    any = true;
  }
  for (int i = 0; i <= 4; ++i) {
    const double y = kTop + kPlotH - i / 4.0 * kPlotH;
    svg.line(kLeft, y, kLeft + kPlotW, y, "grid");
    svg.text(kLeft - 6, y + 4, std::to_string(i * 25) + "%", "end");
  }
  svg.text(16, kTop + kPlotH / 2, "records committed within", "middle", "lbl", -90);
  svg.frame();
  svg.x_label("latency (ms, log scale)");
  const auto series = series_of(runs);
  if (!any) {
    svg.empty_note();
    svg.legend(series);
    return svg.finish();
  }
  const double llo = std::floor(std::log10(lo));
  const double lhi = std::max(llo + 1, std::ceil(std::log10(hi)));
  auto xpos = [&](double ms) {
    return kLeft + (std::log10(std::max(ms, 1e-9)) - llo) / (lhi - llo) * kPlotW;
  };
  for (double d = llo; d <= lhi; d += 1) {
    const double x = kLeft + (d - llo) / (lhi - llo) * kPlotW;
    svg.line(x, kTop, x, kTop + kPlotH, "grid");
    svg.text(x, kTop + kPlotH + 18, compact(std::pow(10.0, d)), "middle");
  }
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const auto& h = runs[i].latency_histogram;
    if (h.upper_ms.empty()) continue;
    std::uint64_t total = 0;
    for (auto c : h.counts) total += c;
    if (total == 0) continue;
    std::vector<std::pair<double, double>> pts;
    double prev_x = xpos(h.upper_ms.front() / std::pow(10.0, 1.0 / kBucketsPerDecade));
    double prev_y = kTop + kPlotH;
    pts.emplace_back(prev_x, prev_y);
    std::uint64_t cum = 0;
    for (std::size_t k = 0; k < h.counts.size(); ++k) {
      cum += h.counts[k];
      const double x = xpos(h.upper_ms[k]);
      const double y =
          kTop + kPlotH - static_cast<double>(cum) / static_cast<double>(total) * kPlotH;
      pts.emplace_back(x, prev_y);  // steps: flat until the bucket's bound
      pts.emplace_back(x, y);
      prev_y = y;
    }
    svg.polyline(pts, series[i].color);
  }
  svg.legend(series);
  return svg.finish();
}

// Grouped bars: categories on x, one bar per run in each group.
std::string grouped_bars(const std::string& title, const std::string& ylabel,
                         const std::vector<std::string>& categories,
                         const std::vector<std::vector<double>>& values,  // [run][category]
                         const std::vector<RunSummary>& runs, bool bytes) {
  Svg svg(title);
  double max = 0;
  for (const auto& row : values)
    for (double v : row) max = std::max(max, v);
  const double top = svg.y_axis(max, ylabel, bytes);
  const auto series = series_of(runs);
  const std::size_t n = categories.size();
  if (n == 0) {
    svg.empty_note();
    svg.legend(series);
    return svg.finish();
  }
  const double group_w = kPlotW / static_cast<double>(n);
  const double bar_w = group_w * 0.8 / static_cast<double>(std::max<std::size_t>(runs.size(), 1));
  const std::size_t label_every = std::max<std::size_t>(1, n / 40);
  for (std::size_t c = 0; c < n; ++c) {
    const double gx = kLeft + static_cast<double>(c) * group_w + group_w * 0.1;
    for (std::size_t r = 0; r < runs.size(); ++r) {
      const double v = c < values[r].size() ? values[r][c] : 0;
      const double h = v / top * kPlotH;
      svg.rect(gx + static_cast<double>(r) * bar_w, kTop + kPlotH - h, bar_w, h, series[r].color,
               runs[r].mode + " " + categories[c] + ": " + (bytes ? human_bytes(v) : compact(v)));
    }
    if (c % label_every == 0) {
      const double x = kLeft + (static_cast<double>(c) + 0.5) * group_w;
      svg.text(x, kTop + kPlotH + 12, categories[c], "end", "lbl small", -35);
    }
  }
  svg.legend(series);
  return svg.finish();
}

std::string storage_plot(const std::vector<RunSummary>& runs) {
  // Node names come from the run with the most nodes; with many nodes,
  // neighbours are averaged into at most kMaxBars bars.
  constexpr std::size_t kMaxBars = 60;
  std::size_t n = 0;
  const RunSummary* ref = nullptr;
  for (const auto& r : runs)
    if (r.node_storage.size() >= n) {
      n = r.node_storage.size();
      ref = &r;
    }
  const std::size_t per_bar = n <= kMaxBars ? 1 : (n + kMaxBars - 1) / kMaxBars;
  std::vector<std::string> categories;
  for (std::size_t i = 0; i < n; i += per_bar) {
    const std::size_t end = std::min(n, i + per_bar);
    categories.push_back(per_bar == 1
                             ? ref->node_storage[i].node
                             : ref->node_storage[i].node + ".." + ref->node_storage[end - 1].node);
  }
  std::vector<std::vector<double>> values;
  for (const auto& r : runs) {
    std::vector<double> row;
    for (std::size_t i = 0; i < n; i += per_bar) {
      const std::size_t end = std::min(n, i + per_bar);
      double sum = 0;
      std::size_t count = 0;
      for (std::size_t k = i; k < end && k < r.node_storage.size(); ++k, ++count)
        sum += static_cast<double>(r.node_storage[k].bytes);
      row.push_back(count ? sum / static_cast<double>(count) : 0);
    }
    values.push_back(std::move(row));
  }
  const std::string title = per_bar == 1 ? "Storage per record node"
                                         : "Storage per record node (mean of " +
                                               std::to_string(per_bar) + " nodes per bar)";
  return grouped_bars(title, "bytes stored", categories, values, runs, true);
}

std::string messages_plot(const std::vector<RunSummary>& runs) {
  std::set<std::string> names;
  for (const auto& r : runs)
    for (const auto& [name, count] : r.messages.by_type) names.insert(name);
  std::vector<std::string> categories(names.begin(), names.end());
  std::vector<std::vector<double>> values;
  for (const auto& r : runs) {
    std::vector<double> row;
    for (const auto& name : categories) {
      auto it = r.messages.by_type.find(name);
      row.push_back(it == r.messages.by_type.end() ? 0 : static_cast<double>(it->second));
    }
    values.push_back(std::move(row));
  }
  return grouped_bars("Messages by type", "messages", categories, values, runs, false);
}

constexpr const char* kStyle = R"(<style>
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px; color: #222; }
h1 { margin-bottom: 4px; }
.meta { color: #555; margin-bottom: 12px; }
.ok { color: #1a7f37; font-weight: bold; }
.bad { color: #cf222e; font-weight: bold; }
table { border-collapse: collapse; margin: 12px 0 24px 0; font-size: 14px; }
th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f3f3f3; }
.plots { display: flex; flex-wrap: wrap; gap: 16px; }
svg { background: #fff; border: 1px solid #ddd; }
svg .title { font-size: 15px; font-weight: bold; }
svg .lbl { font-size: 11px; fill: #333; }
svg .small { font-size: 9px; }
svg .grid { stroke: #e5e5e5; stroke-width: 1; }
svg .axis { stroke: #333; stroke-width: 1; }
pre { background: #f8f8f8; padding: 8px; overflow-x: auto; }
</style>
)";

}  // namespace

std::string report_html(const std::vector<RunSummary>& runs) {
  const std::string scenario = runs.empty() ? std::string() : runs.front().scenario;
  std::string modes;
  std::uint64_t violations = 0;
  for (const auto& r : runs) {
    modes += (modes.empty() ? "" : ", ") + r.mode;
    violations += r.violations;
  }
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  h += "<title>MHR chain simulation: " + html_escape(scenario) + "</title>\n";
  h += kStyle;
  h += "</head>\n<body>\n";
  h += "<h1>Scenario " + html_escape(scenario) + "</h1>\n";
  h += "<div class=\"meta\">seed " + std::to_string(runs.empty() ? 0 : runs.front().seed) +
       " &middot; mode" + (runs.size() == 1 ? " " : "s ") + html_escape(modes);
  if (!runs.empty() && !runs.front().overrides.empty()) {
    std::string o;
    for (const auto& s : runs.front().overrides) o += (o.empty() ? "" : " ") + ("--set " + s);
    h += " &middot; overrides: <code>" + html_escape(o) + "</code>";
  }
  h += "</div>\n";
  if (violations == 0)
    h += "<p class=\"ok\">No invariant violations.</p>\n";
  else
    h += "<p class=\"bad\">" + grouped(violations) + " invariant violation" +
         (violations == 1 ? "" : "s") + "!</p>\n";

  // Key numbers, one row per mode.
  h += "<table>\n<tr><th>mode</th><th>submitted</th><th>committed</th><th>throughput "
       "(rec/s)</th><th>p50 (ms)</th><th>p99 (ms)</th><th>max (ms)</th><th>messages</th>"
       "<th>intra</th><th>inter</th><th>bytes sent</th><th>storage mean</th><th>storage "
       "max</th><th>storage total</th><th>migrations</th><th>records moved</th>"
       "<th>violations</th><th>events</th></tr>\n";
  for (const auto& r : runs) {
    auto td = [](const std::string& v) { return "<td>" + v + "</td>"; };
    h += "<tr>" + td(html_escape(r.mode)) + td(grouped(r.records_submitted)) +
         td(grouped(r.records_committed)) + td(fixed(r.throughput_rps, 1)) +
         td(fixed(r.latency_ms.p50, 2)) + td(fixed(r.latency_ms.p99, 2)) +
         td(fixed(r.latency_ms.max, 2)) + td(grouped(r.messages.total)) +
         td(grouped(r.messages.intra_network)) + td(grouped(r.messages.inter_network)) +
         td(human_bytes(static_cast<double>(r.bytes_sent))) +
         td(human_bytes(r.storage_bytes.mean)) +
         td(human_bytes(static_cast<double>(r.storage_bytes.max))) +
         td(human_bytes(static_cast<double>(r.storage_bytes.total))) +
         td(grouped(r.migrations_completed)) + td(grouped(r.records_moved)) + "<td class=\"" +
         (r.violations ? "bad" : "ok") + "\">" + grouped(r.violations) + "</td>" +
         td(grouped(r.events)) + "</tr>\n";
  }
  h += "</table>\n";

  h += "<div class=\"plots\">\n";
  h += throughput_plot(runs);
  h += latency_plot(runs);
  h += storage_plot(runs);
  h += messages_plot(runs);
  h += "</div>\n";

  // Protocol counters, one column per mode.
  std::set<std::string> counter_names;
  for (const auto& r : runs)
    for (const auto& [name, value] : r.counters) counter_names.insert(name);
  if (!counter_names.empty()) {
    h += "<h2>Counters</h2>\n<table>\n<tr><th>counter</th>";
    for (const auto& r : runs) h += "<th>" + html_escape(r.mode) + "</th>";
    h += "</tr>\n";
    for (const auto& name : counter_names) {
      h += "<tr><td>" + html_escape(name) + "</td>";
      for (const auto& r : runs) {
        auto it = r.counters.find(name);
        h += "<td>" + (it == r.counters.end() ? std::string("") : std::to_string(it->second)) +
             "</td>";
      }
      h += "</tr>\n";
    }
    h += "</table>\n";
  }
  for (const auto& r : runs) {
    if (r.violation_list.empty()) continue;
    h += "<details open><summary class=\"bad\">Violations (" + html_escape(r.mode) + ", first " +
         std::to_string(r.violation_list.size()) + " of " + grouped(r.violations) +
         ")</summary>\n<pre>";
    for (const auto& v : r.violation_list) h += html_escape(v) + "\n";
    h += "</pre></details>\n";
  }
  h += "</body>\n</html>\n";
  return h;
}

// ---------------------------------------------------------------- text

namespace {
// Real processes (mhr launch) have no simulated events, only the wall time.
std::string run_time_text(const RunSummary& r) {
  const std::string secs = fixed(r.wall_seconds, 2) + " s";
  return r.events > 0 ? grouped(r.events) + " events in " + secs : "took " + secs;
}
}  // namespace

std::string format_text_summary(const std::vector<RunSummary>& runs) {
  std::string out;
  if (runs.empty()) return "no runs\n";
  out += "scenario " + runs.front().scenario + ", seed " + std::to_string(runs.front().seed) + "\n";
  for (const auto& r : runs) {
    const std::string pad(r.mode.size() + 3, ' ');
    out += "[" + r.mode + "] " + grouped(r.records_committed) + "/" + grouped(r.records_submitted) +
           " records committed, " + fixed(r.throughput_rps, 1) + " rec/s; latency p50 " +
           fixed(r.latency_ms.p50, 2) + " ms, p99 " + fixed(r.latency_ms.p99, 2) + " ms, max " +
           fixed(r.latency_ms.max, 2) + " ms\n";
    out += pad + "messages " + grouped(r.messages.total) + " (intra " +
           grouped(r.messages.intra_network) + ", inter " + grouped(r.messages.inter_network) +
           "), " + human_bytes(static_cast<double>(r.bytes_sent)) +
           " sent; storage per record node min " +
           human_bytes(static_cast<double>(r.storage_bytes.min)) + ", mean " +
           human_bytes(r.storage_bytes.mean) + ", max " +
           human_bytes(static_cast<double>(r.storage_bytes.max)) + "\n";
    out += pad + "migrations " + grouped(r.migrations_completed) + " (" + grouped(r.records_moved) +
           " records moved); " +
           (r.violations == 0 ? std::string("violations: none")
                              : "VIOLATIONS: " + grouped(r.violations)) +
           "; " + run_time_text(r) + "\n";
    for (std::size_t i = 0; i < r.violation_list.size() && i < 5; ++i)
      out += pad + "  ! " + r.violation_list[i] + "\n";
    if (r.violation_list.size() > 5 || r.violations > r.violation_list.size())
      out += pad + "  ! ... (" + grouped(r.violations) + " in all, see summary.json)\n";
  }
  return out;
}

// ---------------------------------------------------------------- files

namespace {

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw std::runtime_error("cannot write " + path.string());
  f.write(text.data(), static_cast<std::streamsize>(text.size()));
  f.close();
  if (!f) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace

std::vector<std::string> write_outputs(const std::string& dir, const std::vector<RunSummary>& runs,
                                       const ReportOptions& options) {
  const std::filesystem::path d(dir);
  std::error_code ec;
  std::filesystem::create_directories(d, ec);
  if (ec) throw std::runtime_error("cannot create directory " + dir + ": " + ec.message());
  std::vector<std::string> written;
  auto put = [&](const char* name, const std::string& text) {
    write_file(d / name, text);
    written.push_back((d / name).string());
  };
  put("summary.json", summary_json(runs).dump(2) + "\n");
  put("run_info.json", run_info_json(runs).dump(2) + "\n");
  if (options.timeseries) put("timeseries.csv", timeseries_csv(runs));
  if (options.html) put("report.html", report_html(runs));
  return written;
}

}  // namespace mhr
