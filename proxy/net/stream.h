// Stream: one non-blocking TCP socket with an input and an output evbuffer, on one loop.
//
// It does what the request path needs of a bufferevent, with the syscalls a proxy should
// make and no others (bufferevent pays an epoll_ctl pair for every write, an
// ioctl(FIONREAD) before every read, and reads at most 4 KiB at a time):
//   - Reads are one readv of up to kReadSize into the input buffer's own space (no copy),
//     on a level-triggered read event that stays registered while reading is enabled.
//   - Writes go out when the owner calls Flush(): everything queued, in one writev. The
//     write event is registered only when the kernel refuses bytes (EAGAIN), and removed
//     once the output buffer is empty again.
//   - Timeouts ride on those events: the read timeout runs while reading is enabled and
//     restarts at each read; the write timeout runs while bytes wait for the socket.
//
// Callbacks (all optional) are the owner's; a Stream calls at most one per loop callback,
// as its last act, so the owner may destroy the Stream from inside any of them.
//   read     bytes were appended to input(); with a filter, bytes came from the socket
//            (a handshake record may add nothing to input(): the owner's deadlines still run)
//   drained  a write the loop made (after EAGAIN) left no more than the low-water mark in
//            output() (never called for writes Flush() made itself, the one a completing
//            connect makes before kConnected included: the caller can see)
//   event    kConnected, or kEof / kError / kTimeout with kReading or kWriting saying which
//            side; after kEof or kError that side is no longer watched
//
// A filter (TLS: net/stream_filter.h) may sit between the socket and the owner: input() and
// output() then hold plaintext, the socket's bytes are the filter's, and unsent() counts
// both. Without one, the request path pays one predictable branch per read and flush.
//
// Loop affinity: the loop it was created on. Owns its socket.
#pragma once

#include <event2/event_struct.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "proxy/base/spares.h"
#include "proxy/net/address.h"
#include "proxy/net/event.h"
#include "proxy/net/stream_filter.h"

namespace outrigger::net {

// Empty evbuffers kept by a loop for its streams (Stream::UseSpares).
using BufferSpares = base::Spares<EvBufferPtr>;

class Stream {
 public:
  enum Event : short {
    kReading = 0x01,
    kWriting = 0x02,
    kEof = 0x10,
    kError = 0x20,
    kTimeout = 0x40,
    kConnected = 0x80,
  };
  using DataCallback = void (*)(void* ctx);
  using EventCallback = void (*)(short what, void* ctx);

  // Bytes one read asks for: a typical request or response in one syscall, and the size a
  // 16 KiB evbuffer chain holds with its header (so no allocation rounds up to 32 KiB).
  static constexpr size_t kReadSize = 16 * 1024 - 128;

  // Takes ownership of `fd`, a connected socket. REQUIRES: it is non-blocking (accept4 with
  // SOCK_NONBLOCK, as the listener does; a blocking one would stall the loop in Flush). It is
  // not made so here: that would be an fcntl per connection for sockets that already are.
  // The process must ignore SIGPIPE: writes to a peer that has gone report EPIPE instead.
  Stream(event_base* base, evutil_socket_t fd);
  // Starts a non-blocking connect to `address`; kConnected (or kError|kWriting) reports how it
  // ended, and a connect that takes longer than `timeout` is a kTimeout|kWriting. Output
  // queued meanwhile goes out once connected. An error here means no connect was started.
  static absl::StatusOr<std::unique_ptr<Stream>> Connect(event_base* base,
                                                         const SocketAddress& address,
                                                         std::chrono::milliseconds timeout);
  // For Connect only (a key only this class can make).
  class ConnectingTag {
    friend class Stream;
    ConnectingTag() = default;
  };
  Stream(ConnectingTag, event_base* base, evutil_socket_t fd);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  void SetCallbacks(DataCallback read, DataCallback drained, EventCallback event, void* ctx) {
    read_cb_ = read;
    drained_cb_ = drained;
    event_cb_ = event;
    ctx_ = ctx;
  }
  // Zero: no timeout. Applies at once to a side being watched, and restarts its clock there
  // even when the value is the same: a reused pooled connection's read timeout runs from its
  // new request, not from its last read before it went idle.
  void SetReadTimeout(std::chrono::milliseconds timeout);
  void SetWriteTimeout(std::chrono::milliseconds timeout);
  void SetLowWater(size_t bytes) { low_water_ = bytes; }
  // Bytes one plain read asks for (kReadSize unless set): a consumer that does work per read
  // (an encoder, which flushes each) asks for more while its body streams, so that a fast
  // peer costs fewer syscalls and flushes.
  void SetReadSize(size_t bytes) { read_size_ = bytes; }
  // Installs a filter before any byte was read or written (right after construction).
  void SetFilter(std::unique_ptr<StreamFilter> filter) { filter_ = std::move(filter); }
  StreamFilter* filter() const { return filter_.get(); }

  void EnableRead();
  void DisableRead();
  bool reading() const { return reading_; }
  bool connecting() const { return connecting_ || handshaking_; }  // TCP, then a TLS handshake

  // Made on first use, so a Stream that has given its buffers back costs nothing until it
  // reads or is written to again.
  evbuffer* input() {
    if (!input_) input_ = NewBuffer();
    return input_.get();
  }
  evbuffer* output() {
    if (!output_) output_ = NewBuffer();
    return output_.get();
  }
  // Buffers come from and go back to `spares` (null: allocated and freed each time).
  // REQUIRES: `spares` outlives this Stream's last ReleaseBuffers call.
  void UseSpares(BufferSpares* spares) { spares_ = spares; }
  // Gives back the input and output buffers if they hold nothing (an idle connection's
  // memory).
  void ReleaseBuffers();
  evutil_socket_t fd() const { return fd_; }
  // Bytes queued to send and not yet taken by the kernel: output(), and with a filter what
  // it has encoded and not yet sent. What backpressure and "all sent" checks must read.
  size_t unsent() {
    size_t n = evbuffer_get_length(output());
    if (filter_ != nullptr) [[unlikely]]
      n += evbuffer_get_length(filter_->wire_out());
    return n;
  }

  // Writes what output() holds, as far as the socket takes it now; what remains goes out
  // when the socket is writable. An error is reported through the event callback from the
  // loop, never from inside Flush.
  void Flush();

 private:
  Stream(event_base* base, evutil_socket_t fd, bool connecting);
  static void OnReadable(evutil_socket_t, short what, void* self);
  static void OnWritable(evutil_socket_t, short what, void* self);
  // Registers the read or write event with its current timeout (a no-op syscall-wise when it
  // is already registered: libevent only moves its timer).
  void AddRead();
  void AddWrite(std::chrono::milliseconds timeout);
  void StopWriting();
  // One writev of what goes to the socket (Outgoing()); false on an error other than EAGAIN.
  bool WriteOnce();
  // What the socket is to be sent: output(), or the filter's wire_out().
  evbuffer* Outgoing() { return filter_ != nullptr ? filter_->wire_out() : output(); }
  // OnReadable with a filter: reads wire bytes, decodes them, sends what decoding queued.
  void ReadFiltered();
  // Reports a write error from the loop (never from inside the owner's call).
  void FailWrite();
  EvBufferPtr NewBuffer() {
    if (EvBufferPtr spare = spares_ ? spares_->Take() : nullptr) return spare;
    return EvBufferPtr(evbuffer_new());
  }
  void ReleaseBuffer(EvBufferPtr& buffer);

  evutil_socket_t fd_;
  EvBufferPtr input_;
  EvBufferPtr output_;
  BufferSpares* spares_ = nullptr;
  // Embedded rather than allocated: every Stream has one for its whole life, and an idle
  // keep-alive connection is mostly this event (its separate allocation was a fifth of one).
  // Assigned in the constructor and deleted in the destructor; a Stream never moves.
  event read_ev_;
  EventPtr write_ev_;  // made on first need: most streams never fill their socket buffer
  std::unique_ptr<StreamFilter> filter_;
  std::chrono::milliseconds read_timeout_{0};
  std::chrono::milliseconds write_timeout_{0};
  std::chrono::milliseconds connect_timeout_{0};
  size_t low_water_ = 0;
  size_t read_size_ = kReadSize;
  bool reading_ = false;
  bool writing_ = false;  // the write event is registered
  bool connecting_ = false;
  bool handshaking_ = false;   // connected; the filter's client handshake is under way
  bool write_failed_ = false;  // a Flush hit an error; the write event reports it
  DataCallback read_cb_ = nullptr;
  DataCallback drained_cb_ = nullptr;
  EventCallback event_cb_ = nullptr;
  void* ctx_ = nullptr;
};

}  // namespace outrigger::net
