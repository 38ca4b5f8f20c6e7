#include "proxy/app/ctl.h"

#include <fmt/format.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace outrigger::app {
namespace {

constexpr char kUsage[] =
    "usage: outrigger ctl [--admin HOST:PORT] [--token-file FILE] COMMAND\n"
    "\n"
    "  status                      one line per backend: pool, backend, state, weight,\n"
    "                              in-flight, requests/s, p95, circuit\n"
    "  drain POOL BACKEND          no new requests; in-flight ones and tunnels finish\n"
    "  maint POOL BACKEND          drain, close its idle connections, stop its probes\n"
    "  ready POOL BACKEND          back in rotation (through slow start)\n"
    "  weight POOL BACKEND N       its weight from now on (0: no new requests)\n"
    "  reload                      what SIGHUP does; prints the errors when refused\n"
    "\n"
    "BACKEND is the backend's name as in the metrics (ip:port, or the configured name).\n"
    "  --admin HOST:PORT    the admin listener (default 127.0.0.1:9901)\n"
    "  --token-file FILE    send the bearer token in FILE (admin.token_file)\n";

constexpr int kTimeoutSeconds = 10;

struct HttpAnswer {
  int code = 0;
  std::string body;
};

// Closes the descriptor it holds.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string PercentEncode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == ':') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

// One request with Connection: close; the answer read to EOF.
absl::StatusOr<HttpAnswer> Call(const std::string& admin, std::string_view method,
                                const std::string& path, const std::string& body,
                                const std::optional<std::string>& token) {
  const size_t colon = admin.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(fmt::format("--admin \"{}\": want HOST:PORT", admin));
  }
  std::string host = admin.substr(0, colon);
  const std::string port = admin.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return absl::UnavailableError(fmt::format("{}: {}", admin, gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> list(found, &freeaddrinfo);
  std::optional<Fd> fd;
  for (addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
    fd.emplace(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol));
    if (fd->get() < 0) continue;
    timeval tv{kTimeoutSeconds, 0};
    setsockopt(fd->get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd->get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd->get(), ai->ai_addr, ai->ai_addrlen) == 0) break;
    fd.reset();
  }
  if (!fd) return absl::UnavailableError(fmt::format("cannot connect to {}", admin));

  std::string req =
      fmt::format("{} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", method, path, admin);
  if (token) req += fmt::format("Authorization: Bearer {}\r\n", *token);
  if (!body.empty() || method != "GET") {
    req += fmt::format("Content-Type: application/json\r\nContent-Length: {}\r\n", body.size());
  }
  req += "\r\n" + body;
  for (size_t sent = 0; sent < req.size();) {
    const ssize_t n = ::send(fd->get(), req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return absl::UnavailableError(fmt::format("{}: cannot send the request", admin));
    sent += static_cast<size_t>(n);
  }
  std::string raw;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::recv(fd->get(), buf, sizeof buf, 0);
    if (n < 0) return absl::UnavailableError(fmt::format("{}: no answer", admin));
    if (n == 0) break;
    raw.append(buf, static_cast<size_t>(n));
  }
  const size_t head_end = raw.find("\r\n\r\n");
  HttpAnswer answer;
  if (head_end == std::string::npos || !raw.starts_with("HTTP/1.") || raw.size() < 12 ||
      std::from_chars(raw.data() + 9, raw.data() + 12, answer.code).ec != std::errc()) {
    return absl::UnavailableError(fmt::format("{}: not an HTTP answer", admin));
  }
  answer.body = raw.substr(head_end + 4);
  return answer;
}

// The server's reason for a refusal: its JSON "error" or "errors", else the body.
std::string ServerMessage(const HttpAnswer& a) {
  const nlohmann::json j = nlohmann::json::parse(a.body, nullptr, false);
  std::string text;
  if (j.is_object() && j.contains("error") && j["error"].is_string()) {
    text = j["error"].get<std::string>();
  } else if (j.is_object() && j.contains("errors") && j["errors"].is_array()) {
    for (const auto& e : j["errors"]) text += (text.empty() ? "" : "\n") + e.get<std::string>();
  } else {
    text = a.body;
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  }
  return fmt::format("HTTP {}: {}", a.code, text);
}

std::string Cell(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number()) return fmt::format("{:.1f}", v.get<double>());
  return "-";
}

// A backend's state as an operator sees it: their drain or maint first.
std::string StateCell(const nlohmann::json& b) {
  const std::string admin = b.value("admin_state", std::string("ready"));
  return admin != "ready" ? admin : Cell(b["state"]);
}

int PrintStatus(const std::string& body) {
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("pools")) {
    std::fprintf(stderr, "outrigger ctl: /status is not the JSON expected\n");
    return 1;
  }
  std::vector<std::vector<std::string>> rows = {
      {"POOL", "BACKEND", "STATE", "WEIGHT", "INFLIGHT", "RPS", "P95", "CIRCUIT"}};
  for (const auto& [pool, p] : j["pools"].items()) {
    for (const auto& b : p["backends"]) {
      std::string p95 = "-";
      const nlohmann::json& q = b["latency_seconds"]["p95"];
      if (q.is_number()) p95 = fmt::format("{:.1f}ms", q.get<double>() * 1000);
      rows.push_back({pool, Cell(b["backend"]), StateCell(b), Cell(b["weight"]),
                      Cell(b["inflight"]), Cell(b["rps"]), p95, Cell(b["circuit"])});
    }
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  }
  return 0;
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  if (!in || !(text << in.rdbuf())) {
    return absl::InvalidArgumentError(fmt::format("cannot read the token file \"{}\"", path));
  }
  std::string token = text.str();
  while (!token.empty() && std::isspace(static_cast<unsigned char>(token.back()))) token.pop_back();
  return token;
}

int Usage(const char* why) {
  std::fprintf(stderr, "outrigger ctl: %s\n%s", why, kUsage);
  return 2;
}

}  // namespace

int RunCtl(int argc, char** argv) {
  std::string admin = "127.0.0.1:9901";
  std::optional<std::string> token;
  std::vector<std::string> words;
  for (int i = 0; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if ((arg == "--admin" || arg == "--token-file") && i + 1 < argc) {
      if (arg == "--admin") {
        admin = argv[++i];
        continue;
      }
      absl::StatusOr<std::string> t = ReadTokenFile(argv[++i]);
      if (!t.ok()) {
        std::fprintf(stderr, "outrigger ctl: %s\n", std::string(t.status().message()).c_str());
        return 2;
      }
      token = *t;
    } else if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (arg.starts_with("-")) {
      return Usage(fmt::format("unknown option \"{}\"", arg).c_str());
    } else {
      words.emplace_back(arg);
    }
  }
  if (words.empty()) return Usage("a command is needed");
  const std::string& cmd = words[0];
  std::string method = "GET";
  std::string path;
  std::string body;
  if (cmd == "status" && words.size() == 1) {
    path = "/status";
  } else if (cmd == "reload" && words.size() == 1) {
    method = "POST";
    path = "/reload";
  } else if ((cmd == "drain" || cmd == "maint" || cmd == "ready") && words.size() == 3) {
    method = "PATCH";
    path = fmt::format("/pools/{}/backends/{}", PercentEncode(words[1]), PercentEncode(words[2]));
    body = nlohmann::json({{"state", cmd}}).dump();
  } else if (cmd == "weight" && words.size() == 4) {
    int64_t n = -1;
    const std::string& w = words[3];
    if (std::from_chars(w.data(), w.data() + w.size(), n).ptr != w.data() + w.size() || n < 0) {
      return Usage(fmt::format("weight \"{}\": want an integer >= 0", w).c_str());
    }
    method = "PATCH";
    path = fmt::format("/pools/{}/backends/{}", PercentEncode(words[1]), PercentEncode(words[2]));
    body = nlohmann::json({{"weight", n}}).dump();
  } else {
    return Usage(fmt::format("bad command or arguments: \"{}\"", cmd).c_str());
  }

  absl::StatusOr<HttpAnswer> answer = Call(admin, method, path, body, token);
  if (!answer.ok()) {
    std::fprintf(stderr, "outrigger ctl: %s\n", std::string(answer.status().message()).c_str());
    return 1;
  }
  if (answer->code != 200) {
    std::fprintf(stderr, "outrigger ctl: %s\n", ServerMessage(*answer).c_str());
    return 1;
  }
  if (cmd == "status") return PrintStatus(answer->body);
  if (cmd == "reload") {
    std::printf("reloaded\n");
    return 0;
  }
  const nlohmann::json b = nlohmann::json::parse(answer->body, nullptr, false);
  if (b.is_object()) {
    std::printf("%s %s: state %s, weight %s\n", words[1].c_str(), Cell(b["backend"]).c_str(),
                StateCell(b).c_str(), Cell(b["weight"]).c_str());
  }
  return 0;
}

}  // namespace outrigger::app
