#include "proxy/upstream/upstream_connection.h"

#include <sys/socket.h>

#include <cerrno>

namespace outrigger::upstream {

bool UpstreamConnection::PeerOpen() const {
  char byte;
  ssize_t n = recv(stream_->fd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace outrigger::upstream
