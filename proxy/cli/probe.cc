// A deliberately small blocking client: one connection, one request, the status line read
// and the rest ignored. Every step after name resolution shares one deadline, so a backend
// that accepts and never answers cannot hang a HEALTHCHECK.
#include "proxy/cli/probe.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>

#include "proxy/config/loader.h"

namespace outrigger::cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr char kUsage[] =
    "usage: outrigger probe [--timeout DURATION] URL\n"
    "\n"
    "  GET URL (http:// only) and exit 0 if the answer's status is 2xx, else 1.\n"
    "  --timeout DURATION   the whole probe, e.g. 500ms, 2s (default 2s)\n";

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

struct AddrInfoFree {
  void operator()(addrinfo* ai) const { freeaddrinfo(ai); }
};

// Waits for `events` on fd until the deadline; false on timeout.
bool WaitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

absl::StatusOr<std::unique_ptr<Fd>> ConnectOne(const addrinfo& ai, Clock::time_point deadline) {
  auto fd = std::make_unique<Fd>(
      ::socket(ai.ai_family, ai.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai.ai_protocol));
  if (fd->get() < 0) return absl::InternalError(fmt::format("socket: {}", std::strerror(errno)));
  if (::connect(fd->get(), ai.ai_addr, ai.ai_addrlen) != 0) {
    if (errno != EINPROGRESS) {
      return absl::UnavailableError(fmt::format("connect: {}", std::strerror(errno)));
    }
    if (!WaitFor(fd->get(), POLLOUT, deadline)) {
      return absl::DeadlineExceededError("connect timed out");
    }
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd->get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return absl::UnavailableError(fmt::format("connect: {}", std::strerror(err)));
  }
  return fd;
}

}  // namespace

absl::StatusOr<ProbeTarget> ParseProbeUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) {
    return absl::InvalidArgumentError(fmt::format("\"{}\": only http:// URLs can be probed", url));
  }
  std::string_view rest = url.substr(kScheme.size());
  size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  ProbeTarget t;
  t.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (t.path[0] == '?') t.path = "/" + t.path;
  if (authority.empty() || authority.find('@') != std::string_view::npos) {
    return absl::InvalidArgumentError(fmt::format("\"{}\": expected http://HOST[:PORT]/PATH", url));
  }
  t.host_header = std::string(authority);
  std::string_view host = authority, port = "80";
  if (authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return absl::InvalidArgumentError(fmt::format("\"{}\": unclosed [ in the host", url));
    }
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        return absl::InvalidArgumentError(fmt::format("\"{}\": junk after ]", url));
      }
      port = after.substr(1);
    }
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  int port_number = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), port_number);
  if (host.empty() || port.empty() || ec != std::errc() || end != port.data() + port.size() ||
      port_number < 1 || port_number > 65535) {
    return absl::InvalidArgumentError(fmt::format("\"{}\": bad host or port", url));
  }
  t.host = std::string(host);
  t.port = std::string(port);
  return t;
}

absl::StatusOr<int> ProbeOnce(const ProbeTarget& target, std::chrono::milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* raw = nullptr;
  if (int rc = ::getaddrinfo(target.host.c_str(), target.port.c_str(), &hints, &raw); rc != 0) {
    return absl::UnavailableError(fmt::format("resolve {}: {}", target.host, gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, AddrInfoFree> addrs(raw);
  std::unique_ptr<Fd> fd;
  absl::Status last = absl::UnavailableError("no address");
  for (const addrinfo* ai = addrs.get(); ai != nullptr && fd == nullptr; ai = ai->ai_next) {
    absl::StatusOr<std::unique_ptr<Fd>> r = ConnectOne(*ai, deadline);
    if (r.ok()) {
      fd = std::move(*r);
    } else {
      last = r.status();
      if (absl::IsDeadlineExceeded(last)) break;
    }
  }
  if (fd == nullptr) return last;

  const std::string request = fmt::format(
      "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: outrigger-probe\r\n"
      "Connection: close\r\n\r\n",
      target.path, target.host_header);
  for (size_t sent = 0; sent < request.size();) {
    if (!WaitFor(fd->get(), POLLOUT, deadline))
      return absl::DeadlineExceededError("send timed out");
    ssize_t n = ::send(fd->get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) {
      return absl::UnavailableError(fmt::format("send: {}", std::strerror(errno)));
    }
    if (n > 0) sent += static_cast<size_t>(n);
  }
  // Only the status line matters; it must fit in a small buffer.
  std::string head;
  while (head.find("\r\n") == std::string::npos) {
    if (head.size() > 1024) return absl::DataLossError("status line longer than 1 KiB");
    if (!WaitFor(fd->get(), POLLIN, deadline)) {
      return absl::DeadlineExceededError("timed out waiting for the answer");
    }
    char buf[512];
    ssize_t n = ::recv(fd->get(), buf, sizeof(buf), 0);
    if (n == 0) return absl::DataLossError("connection closed before a status line");
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      return absl::UnavailableError(fmt::format("recv: {}", std::strerror(errno)));
    }
    head.append(buf, static_cast<size_t>(n));
  }
  std::string_view line(head.data(), head.find("\r\n"));
  int status = 0;
  if (!line.starts_with("HTTP/1.") || line.size() < 12 || line[8] != ' ' ||
      std::from_chars(line.data() + 9, line.data() + 12, status).ptr != line.data() + 12 ||
      status < 100 || (line.size() > 12 && line[12] != ' ')) {
    return absl::DataLossError(fmt::format("not an HTTP/1 status line: \"{}\"", line));
  }
  return status;
}

int ProbeMain(int argc, char** argv) {
  std::chrono::milliseconds timeout{2000};
  std::string url;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (arg == "--timeout" && i + 1 < argc) {
      absl::StatusOr<config::Duration> d = config::ParseDuration(argv[++i]);
      if (!d.ok() || d->count() <= 0) {
        std::fprintf(stderr, "outrigger probe: --timeout: %s\n",
                     d.ok() ? "must be above 0" : std::string(d.status().message()).c_str());
        return 2;
      }
      timeout = *d;
    } else if (url.empty() && !arg.starts_with("-")) {
      url = std::string(arg);
    } else {
      std::fprintf(stderr, "outrigger probe: unexpected argument \"%s\"\n%s", argv[i], kUsage);
      return 2;
    }
  }
  if (url.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  absl::StatusOr<ProbeTarget> target = ParseProbeUrl(url);
  if (!target.ok()) {
    std::fprintf(stderr, "outrigger probe: %s\n", std::string(target.status().message()).c_str());
    return 2;
  }
  absl::StatusOr<int> status = ProbeOnce(*target, timeout);
  if (!status.ok()) {
    std::fprintf(stderr, "outrigger probe: %s: %s\n", url.c_str(),
                 std::string(status.status().message()).c_str());
    return 1;
  }
  if (*status < 200 || *status > 299) {
    std::fprintf(stderr, "outrigger probe: %s: status %d\n", url.c_str(), *status);
    return 1;
  }
  return 0;
}

}  // namespace outrigger::cli
