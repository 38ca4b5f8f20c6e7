#include "proxy/net/listener.h"

#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "proxy/base/clock.h"
#include "proxy/base/log.h"

namespace outrigger::net {
namespace {

constexpr int kBacklog = 4096;

}  // namespace

absl::StatusOr<ListenSocket> ListenSocket::Bind(const SocketAddress& address) {
  auto fail = [&](const char* what) {
    return absl::UnavailableError(
        fmt::format("cannot listen on {}: {}: {}", address.ToString(), what, std::strerror(errno)));
  };
  evutil_socket_t fd =
      ::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return fail("socket");
  ListenSocket socket(address, fd);
  int one = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    return fail("setsockopt");
  }
  if (::bind(fd, address.sockaddr_ptr(), address.length()) != 0) return fail("bind");
  if (::listen(fd, kBacklog) != 0) return fail("listen");
  return socket;
}

ListenSocket& ListenSocket::operator=(ListenSocket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) evutil_closesocket(fd_);
    address_ = other.address_;
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

ListenSocket::~ListenSocket() {
  if (fd_ >= 0) evutil_closesocket(fd_);
}

absl::StatusOr<std::unique_ptr<Listener>> Listener::Bind(event_base* base,
                                                         const SocketAddress& address,
                                                         AcceptFn on_accept, BackoffFn on_backoff) {
  absl::StatusOr<ListenSocket> socket = ListenSocket::Bind(address);
  if (!socket.ok()) return socket.status();
  return Adopt(base, *std::move(socket), std::move(on_accept), std::move(on_backoff));
}

absl::StatusOr<std::unique_ptr<Listener>> Listener::Adopt(event_base* base, ListenSocket socket,
                                                          AcceptFn on_accept,
                                                          BackoffFn on_backoff) {
  std::unique_ptr<Listener> self(new Listener(std::move(on_accept), std::move(on_backoff)));
  // Backlog 0: the socket already listens (ListenSocket::Bind).
  evutil_socket_t fd = socket.Release();
  self->listener_.reset(evconnlistener_new(base, &Listener::OnAccept, self.get(),
                                           LEV_OPT_CLOSE_ON_FREE, /*backlog=*/0, fd));
  if (!self->listener_) {
    evutil_closesocket(fd);
    return absl::UnavailableError(
        fmt::format("cannot serve {}: {}", socket.address().ToString(), std::strerror(errno)));
  }
  evconnlistener_set_error_cb(self->listener_.get(), &Listener::OnError);
  self->backoff_timer_.reset(evtimer_new(base, &Listener::OnBackoffOver, self.get()));
  return self;
}

void Listener::Pause() {
  paused_ = true;
  Apply();
}

void Listener::Resume() {
  paused_ = false;
  Apply();
}

void Listener::Close() {
  listener_.reset();
  backoff_timer_.reset();
}

void Listener::Apply() {
  if (!listener_) return;
  if (paused_ || backing_off_) {
    evconnlistener_disable(listener_.get());
  } else {
    evconnlistener_enable(listener_.get());
  }
}

void Listener::OnAccept(evconnlistener*, evutil_socket_t fd, sockaddr* sa, int len, void* arg) {
  auto* self = static_cast<Listener*>(arg);
  // May Pause (or even Close) this listener; libevent stops its accept loop when disabled.
  self->on_accept_(fd, SocketAddress(sa, static_cast<socklen_t>(len)));
}

void Listener::OnError(evconnlistener*, void* arg) {
  auto* self = static_cast<Listener*>(arg);
  int err = errno;
  // libevent has already ignored the retriable errors (EAGAIN, EINTR, ECONNABORTED); what
  // is left is a lack of descriptors or memory, which accepting again at once cannot cure.
  int64_t now = MonoNanos();
  bool new_burst = self->last_failure_ns_ == 0 ||
                   now - self->last_failure_ns_ > std::chrono::nanoseconds(kBurstQuiet).count();
  self->last_failure_ns_ = now;
  if (new_burst) {
    spdlog::warn("accept failed: {}; pausing accepts for {}ms at a time while it lasts{}",
                 std::strerror(err), kAcceptBackoff.count(),
                 self->burst_failures_ == 0
                     ? ""
                     : fmt::format(" (the previous burst had {} failures)", self->burst_failures_));
    self->burst_failures_ = 0;
  }
  ++self->burst_failures_;
  self->backing_off_ = true;
  self->Apply();
  timeval tv{0, static_cast<suseconds_t>(std::chrono::microseconds(kAcceptBackoff).count())};
  evtimer_add(self->backoff_timer_.get(), &tv);
  if (self->on_backoff_) self->on_backoff_();
}

void Listener::OnBackoffOver(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Listener*>(arg);
  self->backing_off_ = false;
  self->Apply();
}

}  // namespace outrigger::net
