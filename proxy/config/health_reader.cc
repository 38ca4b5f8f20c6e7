#include "proxy/config/health_reader.h"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <span>

namespace outrigger::config {
namespace {

constexpr uint32_t kMaxThreshold = 100;
constexpr uint32_t kMaxAttempts = 10;

std::optional<int> ParseStatus(std::string_view text) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.size() != 3 || ec != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  if (value < 100 || value > 599) return std::nullopt;
  return value;
}

void ReadExpectStatus(const Field& f, std::vector<StatusRange>* out, Diagnostics* diag) {
  std::vector<Field> items;
  if (f.value.IsSequence()) {
    items = ListItems(f);
    if (items.empty()) {
      diag->Add(LocateValue(f, *diag), fmt::format("{}needs at least one status", f.Prefix()));
      return;
    }
  } else {
    items.push_back(f);
  }
  std::vector<StatusRange> ranges;
  for (const Field& item : items) {
    std::optional<std::string> text = ReadString(item, diag);
    if (!text) return;
    std::optional<StatusRange> range = ParseStatusRange(*text);
    if (!range) {
      diag->Add(LocateValue(item, *diag),
                fmt::format("{}expected a status such as 200, 2xx or 200-399, got \"{}\"",
                            item.Prefix(), *text));
      return;
    }
    ranges.push_back(*range);
  }
  *out = std::move(ranges);
}

// `type`: http or grpc; a grpc probe needs HTTP/2 to the backend (`protocol: h2`).
void ReadProbeType(const Field& f, PoolProtocol protocol, ProbeConfig* probe, Diagnostics* diag) {
  static constexpr std::array<std::string_view, 2> kNames{"http", "grpc"};
  std::optional<std::string> s = ReadString(f, diag);
  if (!s) return;
  size_t i = 0;
  while (i < kNames.size() && *s != kNames[i]) ++i;
  if (i == kNames.size()) {
    std::string message =
        fmt::format("{}expected one of: {}, got \"{}\"", f.Prefix(), JoinNames(kNames), *s);
    if (auto suggestion = Suggest(*s, kNames)) {
      message += fmt::format("; did you mean `{}`?", *suggestion);
    }
    diag->Add(LocateValue(f, *diag), std::move(message));
    return;
  }
  probe->type = static_cast<ProbeType>(i);
  if (probe->type == ProbeType::kGrpc && protocol != PoolProtocol::kH2) {
    diag->Add(LocateValue(f, *diag),
              fmt::format("{}`grpc` needs HTTP/2 to the backends: set the pool's `protocol: h2`",
                          f.Prefix()));
  }
}

void ReadProbe(const Field& f, PoolProtocol protocol, ProbeConfig* probe, Diagnostics* diag) {
  probe->mark = LocateKey(f, *diag);
  if (f.value.IsNull()) return;  // `live:` alone: every default
  if (!ExpectMap(f, diag)) return;
  MapReader keys(
      f,
      {"type", "service", "path", "host", "interval", "timeout", "fall", "rise", "expect_status"},
      diag);
  if (auto type = keys.Get("type")) ReadProbeType(*type, protocol, probe, diag);
  // A key of the other kind would be silently ignored: say so instead.
  const bool grpc = probe->type == ProbeType::kGrpc;
  static constexpr std::array<std::string_view, 3> kHttpOnly{"path", "host", "expect_status"};
  static constexpr std::array<std::string_view, 1> kGrpcOnly{"service"};
  for (std::string_view key : grpc ? std::span<const std::string_view>(kHttpOnly)
                                   : std::span<const std::string_view>(kGrpcOnly)) {
    if (auto k = keys.Get(key)) {
      diag->Add(LocateKey(*k, *diag), fmt::format("{}not used by a `type: {}` probe", k->Prefix(),
                                                  grpc ? "grpc" : "http"));
    }
  }
  if (grpc) {
    if (auto service = keys.Get("service")) {
      if (auto s = ReadString(*service, diag)) probe->service = *s;
    }
  } else {
    if (auto path = keys.Get("path")) {
      if (auto s = ReadString(*path, diag)) {
        if (s->front() != '/') {
          diag->Add(LocateValue(*path, *diag),
                    fmt::format("{}must start with '/', got \"{}\"", path->Prefix(), *s));
        } else if (s->find_first_of(" \t\r\n") != std::string::npos) {
          diag->Add(LocateValue(*path, *diag),
                    fmt::format("{}must not contain whitespace", path->Prefix()));
        } else {
          probe->path = *s;
        }
      }
    }
    if (auto host = keys.Get("host")) {
      if (auto s = ReadString(*host, diag)) {
        if (s->find_first_of(" \t\r\n") != std::string::npos) {
          diag->Add(LocateValue(*host, *diag),
                    fmt::format("{}must not contain whitespace", host->Prefix()));
        } else {
          probe->host = *s;
        }
      }
    }
    if (auto e = keys.Get("expect_status")) ReadExpectStatus(*e, &probe->expect_status, diag);
  }
  if (auto t = keys.Get("interval")) {
    if (auto d = ReadDuration(*t, /*allow_zero=*/false, diag)) probe->interval = *d;
  }
  if (auto t = keys.Get("timeout")) {
    if (auto d = ReadDuration(*t, /*allow_zero=*/false, diag)) probe->timeout = *d;
  }
  if (auto n = keys.Get("fall")) {
    if (auto v = ReadInteger(*n, 1, kMaxThreshold, diag)) probe->fall = *v;
  }
  if (auto n = keys.Get("rise")) {
    if (auto v = ReadInteger(*n, 1, kMaxThreshold, diag)) probe->rise = *v;
  }
}

}  // namespace

std::optional<StatusRange> ParseStatusRange(std::string_view text) {
  if (text.size() == 3 && (text[1] == 'x' || text[1] == 'X') &&
      (text[2] == 'x' || text[2] == 'X')) {
    int klass = text[0] - '0';
    if (klass < 1 || klass > 5) return std::nullopt;
    return StatusRange{klass * 100, klass * 100 + 99};
  }
  size_t dash = text.find('-');
  if (dash == std::string_view::npos) {
    std::optional<int> s = ParseStatus(text);
    if (!s) return std::nullopt;
    return StatusRange{*s, *s};
  }
  std::optional<int> low = ParseStatus(text.substr(0, dash));
  std::optional<int> high = ParseStatus(text.substr(dash + 1));
  if (!low || !high || *low > *high) return std::nullopt;
  return StatusRange{*low, *high};
}

void ReadHealth(const Field& f, PoolProtocol protocol, HealthConfig* health, Diagnostics* diag) {
  if (!ExpectMap(f, diag)) return;
  MapReader keys(f, {"live", "ready"}, diag);
  if (auto live = keys.Get("live")) {
    ProbeConfig& p = health->live.emplace();
    p.path = "/health/live";
    ReadProbe(*live, protocol, &p, diag);
  }
  if (auto ready = keys.Get("ready")) {
    ProbeConfig& p = health->ready.emplace();
    p.path = "/health/ready";
    p.interval = Duration(5000);
    p.fall = 1;
    ReadProbe(*ready, protocol, &p, diag);
  }
}

void ReadRetries(const Field& f, RetryConfig* retries, Diagnostics* diag) {
  if (!ExpectMap(f, diag)) return;
  MapReader keys(f, {"attempts", "budget_percent"}, diag);
  if (auto n = keys.Get("attempts")) {
    if (auto v = ReadInteger(*n, 0, kMaxAttempts, diag)) retries->attempts = *v;
  }
  if (auto n = keys.Get("budget_percent")) {
    if (auto v = ReadInteger(*n, 0, 100, diag)) retries->budget_percent = *v;
  }
}

}  // namespace outrigger::config
