#include "proxy/tls/tls_filter.h"

#include <openssl/err.h>

#include <algorithm>

namespace outrigger::tls {
namespace {

// Plaintext is encrypted in records of at most kRecord (TLS's maximum), each taken from one
// contiguous run; pieces smaller than kCoalesce are joined first (see WriteRecords).
constexpr size_t kRecord = 16 * 1024;
constexpr size_t kCoalesce = 4 * 1024;

}  // namespace

absl::StatusOr<BioMethodPtr> TlsFilter::NewBioMethod() {
  BioMethodPtr method(
      BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "outrigger evbuffer"));
  if (!method || BIO_meth_set_write(method.get(), &TlsFilter::BioWrite) != 1 ||
      BIO_meth_set_read(method.get(), &TlsFilter::BioRead) != 1 ||
      BIO_meth_set_ctrl(method.get(), &TlsFilter::BioCtrl) != 1 ||
      BIO_meth_set_create(method.get(), [](BIO* b) {
        BIO_set_init(b, 1);
        return 1;
      }) != 1) {
    return absl::ResourceExhaustedError("cannot make a BIO method");
  }
  return method;
}

TlsFilter::TlsFilter(SSL* ssl, const BIO_METHOD* method)
    : wire_in_(evbuffer_new()), wire_out_(evbuffer_new()), ssl_(ssl) {
  if (!ssl_ || !wire_in_ || !wire_out_) {
    ssl_.reset();  // Decode reports the failure
    return;
  }
  BIO* bio = BIO_new(const_cast<BIO_METHOD*>(method));
  if (bio == nullptr) {
    ssl_.reset();
    return;
  }
  BIO_set_data(bio, this);
  SSL_set_bio(ssl_.get(), bio, bio);  // one BIO both ways; the SSL owns it
}

int TlsFilter::BioWrite(BIO* bio, const char* data, int len) {
  auto* self = static_cast<TlsFilter*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (evbuffer_add(self->wire_out_.get(), data, static_cast<size_t>(len)) != 0) return -1;
  return len;
}

int TlsFilter::BioRead(BIO* bio, char* out, int len) {
  auto* self = static_cast<TlsFilter*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  int n = evbuffer_remove(self->wire_in_.get(), out, static_cast<size_t>(len));
  if (n <= 0) {
    BIO_set_retry_read(bio);
    return -1;
  }
  return n;
}

long TlsFilter::BioCtrl(BIO*, int cmd, long, void*) {
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;  // writes are never buffered here
}

net::StreamFilter::Result TlsFilter::ReadRecords(evbuffer* plain_in) {
  for (;;) {
    evbuffer_iovec vec;
    if (evbuffer_reserve_space(plain_in, kRecord, &vec, 1) != 1) return Result::kError;
    int n = SSL_read(ssl_.get(), vec.iov_base, static_cast<int>(std::min(vec.iov_len, kRecord)));
    if (n > 0) {
      vec.iov_len = static_cast<size_t>(n);
      evbuffer_commit_space(plain_in, &vec, 1);
      continue;
    }
    evbuffer_commit_space(plain_in, &vec, 0);
    int err = SSL_get_error(ssl_.get(), n);
    ERR_clear_error();
    if (err == SSL_ERROR_WANT_READ) return Result::kOk;
    // close_notify, or (SSL_OP_IGNORE_UNEXPECTED_EOF) the transport's end.
    if (err == SSL_ERROR_ZERO_RETURN) return Result::kEof;
    return Result::kError;
  }
}

net::StreamFilter::Result TlsFilter::WriteRecords(evbuffer* plain_out) {
  while (size_t len = evbuffer_get_length(plain_out)) {
    // A segment of kCoalesce bytes or more (a body read from a peer) is encrypted where it
    // lies; smaller leading pieces (a head before its body) are joined, up to kCoalesce, so
    // that they leave as one record rather than one each. The copy is thus bounded per
    // message, never per body byte.
    evbuffer_iovec first;
    if (evbuffer_peek(plain_out, -1, nullptr, &first, 1) < 1) return Result::kError;
    size_t chunk;
    const unsigned char* data;
    if (first.iov_len >= std::min(len, kCoalesce)) {
      chunk = std::min(first.iov_len, kRecord);
      data = static_cast<const unsigned char*>(first.iov_base);
    } else {
      chunk = std::min(len, kCoalesce);
      data = evbuffer_pullup(plain_out, static_cast<ssize_t>(chunk));
      if (data == nullptr) return Result::kError;
    }
    int n = SSL_write(ssl_.get(), data, static_cast<int>(chunk));
    if (n <= 0) {
      ERR_clear_error();
      return Result::kError;
    }
    evbuffer_drain(plain_out, static_cast<size_t>(n));
  }
  return Result::kOk;
}

}  // namespace outrigger::tls
