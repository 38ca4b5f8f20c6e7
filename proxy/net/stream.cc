#include "proxy/net/stream.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "proxy/base/log.h"

namespace outrigger::net {
namespace {

using std::chrono::milliseconds;

bool WouldBlock(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == EINTR; }

// Registers a persistent event with `timeout`, zero meaning none. event_add(ev, NULL) does not
// mean none: it keeps a timer the event already has, and libevent re-arms a persistent event
// with the last timeout it was given each time the event fires, even after an event_del. A
// timer added and removed at once clears both (and, like event_add, makes no syscall when the
// event is already registered).
//
// An event whose timer has fired but whose callback has not run yet is off the descriptor's
// watch list (libevent takes it off until the callback re-adds it). event_add then only
// re-arms the timer and drops the pending callback, which would leave the descriptor
// unwatched until that timer fires: a keep-alive client's next request or EOF went unread
// for the whole idle timeout when its stale header timer fell due in the loop pass that
// ended the exchange. Such an event is watched again.
void Watch(event* ev, milliseconds timeout) {
  timeval tv = ToTimeval(timeout.count() > 0 ? timeout : milliseconds(1000));
  event_add(ev, &tv);
  if (event_pending(ev, EV_READ | EV_WRITE, nullptr) == 0) {
    event_del(ev);
    event_add(ev, &tv);
  }
  if (timeout.count() <= 0) event_remove_timer(ev);
}

// Commits the `n` bytes a readv put into the space `vec` reserved in `buffer`.
void CommitRead(evbuffer* buffer, evbuffer_iovec* vec, int nvec, size_t n) {
  int used = 0;
  for (; used < nvec && n > 0; ++used) {
    vec[used].iov_len = std::min(vec[used].iov_len, n);
    n -= vec[used].iov_len;
  }
  evbuffer_commit_space(buffer, vec, used);
}

}  // namespace

Stream::Stream(event_base* base, evutil_socket_t fd) : Stream(base, fd, /*connecting=*/false) {}

Stream::Stream(ConnectingTag, event_base* base, evutil_socket_t fd)
    : Stream(base, fd, /*connecting=*/true) {}

Stream::Stream(event_base* base, evutil_socket_t fd, bool connecting)
    : fd_(fd), connecting_(connecting) {
  event_assign(&read_ev_, base, fd, EV_READ | EV_PERSIST, &Stream::OnReadable, this);
}

absl::StatusOr<std::unique_ptr<Stream>> Stream::Connect(event_base* base,
                                                        const SocketAddress& address,
                                                        milliseconds timeout) {
  evutil_socket_t fd =
      ::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return absl::UnavailableError(fmt::format("socket: {}", std::strerror(errno)));
  // Owned from here, so every return below closes it.
  auto stream = std::make_unique<Stream>(ConnectingTag{}, base, fd);
  if (::connect(fd, address.sockaddr_ptr(), address.length()) != 0 && errno != EINPROGRESS) {
    return absl::UnavailableError(fmt::format("connect: {}", std::strerror(errno)));
  }
  // Even a connect that completed at once is reported from the loop, like any other.
  stream->connect_timeout_ = timeout;
  stream->AddWrite(timeout);
  return stream;
}

Stream::~Stream() {
  // The events go first: an event must not outlive the descriptor it watches.
  event_del(&read_ev_);
  write_ev_.reset();
  if (fd_ >= 0) ::close(fd_);
}

void Stream::ReleaseBuffers() {
  ReleaseBuffer(input_);
  ReleaseBuffer(output_);
}

void Stream::ReleaseBuffer(EvBufferPtr& buffer) {
  if (!buffer || evbuffer_get_length(buffer.get()) > 0) return;
  if (spares_ != nullptr) {
    spares_->Give(std::move(buffer));
  } else {
    buffer.reset();
  }
}

void Stream::SetReadTimeout(milliseconds timeout) {
  read_timeout_ = timeout;
  if (!reading_ || connecting_ || handshaking_) return;
  if (timeout.count() <= 0) {
    event_remove_timer(&read_ev_);  // registered already: only its timer goes
  } else {
    AddRead();  // restarts it, even at the same value
  }
}

void Stream::SetWriteTimeout(milliseconds timeout) {
  write_timeout_ = timeout;
  if (writing_ && !connecting_) AddWrite(timeout);
}

void Stream::AddRead() { Watch(&read_ev_, read_timeout_); }

void Stream::AddWrite(milliseconds timeout) {
  if (!write_ev_) {
    write_ev_.reset(event_new(event_get_base(&read_ev_), fd_, EV_WRITE | EV_PERSIST,
                              &Stream::OnWritable, this));
  }
  Watch(write_ev_.get(), timeout);
  writing_ = true;
}

void Stream::StopWriting() {
  if (!writing_) return;
  event_del(write_ev_.get());
  writing_ = false;
}

void Stream::EnableRead() {
  if (reading_) return;
  reading_ = true;
  if (!connecting_ && !handshaking_) AddRead();  // else once connected: its timeout from then
}

void Stream::DisableRead() {
  if (!reading_) return;
  reading_ = false;
  if (!connecting_ && !handshaking_) event_del(&read_ev_);
}

bool Stream::WriteOnce() {
  // evbuffer_write gathers the chains into one writev (up to 128 of them) with no FIONREAD.
  int n = evbuffer_write(Outgoing(), fd_);
  return n >= 0 || WouldBlock(errno);
}

void Stream::FailWrite() {
  // Reported from the loop, where the owner expects callbacks, not from its own call.
  write_failed_ = true;
  AddWrite(milliseconds(0));
  event_active(write_ev_.get(), EV_WRITE, 0);
}

void Stream::Flush() {
  evbuffer* out = output_.get();
  if (filter_ != nullptr) [[unlikely]] {
    // Encoded now, whole: unsent() keeps what the filter holds within the owner's limits.
    if (out != nullptr && evbuffer_get_length(out) > 0 && !write_failed_ &&
        filter_->Encode(out) != StreamFilter::Result::kOk) {
      FailWrite();
      return;
    }
    out = filter_->wire_out();
  }
  if (connecting_ || write_failed_ || !out || evbuffer_get_length(out) == 0) return;
  if (writing_) return;  // the socket is full: the write event sends it when there is room
  if (!WriteOnce()) {
    FailWrite();
    return;
  }
  if (evbuffer_get_length(out) > 0) AddWrite(write_timeout_);
}

void Stream::ReadFiltered() {
  evbuffer* wire = filter_->wire_in();
  evbuffer_iovec vec[2];
  int nvec = evbuffer_reserve_space(wire, kReadSize, vec, 2);
  if (nvec <= 0) {
    DisableRead();
    if (event_cb_) event_cb_(kReading | kError, ctx_);
    return;
  }
  iovec iov[2];
  for (int i = 0; i < nvec; ++i) iov[i] = iovec{vec[i].iov_base, vec[i].iov_len};
  ssize_t n = ::readv(fd_, iov, nvec);
  if (n <= 0) {
    evbuffer_commit_space(wire, vec, 0);
    if (n < 0 && WouldBlock(errno)) return;
    DisableRead();
    if (handshaking_) {
      handshaking_ = false;
      filter_->HandshakeCut();
    }
    if (event_cb_) event_cb_(kReading | (n == 0 ? kEof : kError), ctx_);
    return;
  }
  CommitRead(wire, vec, nvec, static_cast<size_t>(n));
  StreamFilter::Result r = filter_->Decode(input());
  // Handshake messages, alerts, tickets, and the owner's plaintext a client handshake held
  // back: out in this callback's one writev.
  Flush();
  if (r != StreamFilter::Result::kOk) {
    DisableRead();
    handshaking_ = false;
    if (event_cb_) event_cb_(kReading | (r == StreamFilter::Result::kEof ? kEof : kError), ctx_);
    return;
  }
  if (handshaking_ && filter_->Ready()) {
    handshaking_ = false;
    if (reading_) {
      AddRead();  // the owner's read timeout, from now
    } else {
      event_del(&read_ev_);
    }
    if (event_cb_) event_cb_(kConnected, ctx_);
    return;
  }
  if (read_cb_) read_cb_(ctx_);
}

void Stream::OnReadable(evutil_socket_t, short what, void* arg) {
  auto* self = static_cast<Stream*>(arg);
  if (what & EV_TIMEOUT) {
    if (self->event_cb_) self->event_cb_(kReading | kTimeout, self->ctx_);
    return;
  }
  if (self->filter_ != nullptr) [[unlikely]] {
    self->ReadFiltered();
    return;
  }
  // An idle stream gave its buffers back: the one this read takes goes again if nothing
  // comes, with the space reserved in it, instead of staying until the stream is destroyed
  // (a storm of idle connections closing would hold one each).
  const bool fresh = self->input_ == nullptr;
  evbuffer_iovec vec[2];
  int nvec = evbuffer_reserve_space(self->input(), self->read_size_, vec, 2);
  if (nvec <= 0) {  // out of memory: as fatal for this stream as a socket error
    self->DisableRead();
    if (self->event_cb_) self->event_cb_(kReading | kError, self->ctx_);
    return;
  }
  iovec iov[2];
  for (int i = 0; i < nvec; ++i) iov[i] = iovec{vec[i].iov_base, vec[i].iov_len};
  ssize_t n = ::readv(self->fd_, iov, nvec);
  const bool would_block = n < 0 && WouldBlock(errno);
  if (n <= 0) {
    evbuffer_commit_space(self->input(), vec, 0);
    if (fresh) self->input_.reset();
  }
  if (would_block) return;
  if (n <= 0) {
    self->DisableRead();
    if (self->event_cb_) self->event_cb_(kReading | (n == 0 ? kEof : kError), self->ctx_);
    return;
  }
  CommitRead(self->input(), vec, nvec, static_cast<size_t>(n));
  if (self->read_cb_) self->read_cb_(self->ctx_);
}

void Stream::OnWritable(evutil_socket_t, short what, void* arg) {
  auto* self = static_cast<Stream*>(arg);
  if (what & EV_TIMEOUT) {
    if (self->event_cb_) self->event_cb_(kWriting | kTimeout, self->ctx_);
    return;
  }
  if (self->connecting_) {
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(self->fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err == EINPROGRESS) return;  // woken early; the connect is still under way
    self->connecting_ = false;
    if (err != 0) {
      self->StopWriting();
      errno = err;
      if (self->event_cb_) self->event_cb_(kWriting | kError, self->ctx_);
      return;
    }
    self->StopWriting();
    if (self->filter_ != nullptr && !self->filter_->Ready()) [[unlikely]] {
      // TCP is up; the filter's handshake comes next, within what is left of the connect
      // timeout's budget (a fresh one: a slow handshake is as dead as a slow connect).
      self->handshaking_ = true;
      self->filter_->Start();
      Watch(&self->read_ev_, self->connect_timeout_);
      self->Flush();
      return;
    }
    // Connected: send what was queued meanwhile, start reading, then tell the owner.
    if (self->reading_) self->AddRead();
    self->Flush();
    if (self->event_cb_) self->event_cb_(kConnected, self->ctx_);
    return;
  }
  if (self->write_failed_ || !self->WriteOnce()) {
    self->StopWriting();
    if (self->event_cb_) self->event_cb_(kWriting | kError, self->ctx_);
    return;
  }
  size_t left = evbuffer_get_length(self->Outgoing());
  if (left == 0) self->StopWriting();
  if (left <= self->low_water_ && self->drained_cb_) self->drained_cb_(self->ctx_);
}

}  // namespace outrigger::net
