// TlsFilter: what both ends of a TLS connection share as a Stream's filter
// (net/stream_filter.h): an SSL over a BIO on the filter's own two wire buffers, never the
// socket. A write always succeeds (SSL_write never wants to write), the Stream sends every
// record queued in one writev, and a handshake is testable in memory. ServerSession and
// ClientSession add their side's handshake.
#pragma once

#include "absl/status/statusor.h"
#include "proxy/net/event.h"
#include "proxy/net/stream_filter.h"
#include "proxy/tls/openssl_ptr.h"

namespace outrigger::tls {

class TlsFilter : public net::StreamFilter {
 public:
  evbuffer* wire_in() override { return wire_in_.get(); }
  evbuffer* wire_out() override { return wire_out_.get(); }
  SSL* ssl() const { return ssl_.get(); }

  // The BIO_METHOD every TlsFilter's BIO uses; one per context, which outlives its filters.
  static absl::StatusOr<BioMethodPtr> NewBioMethod();

 protected:
  // Takes `ssl` (null: Decode and Encode fail) and gives it a BIO of `method` over the wire
  // buffers.
  TlsFilter(SSL* ssl, const BIO_METHOD* method);
  // After the handshake: decrypts every whole record in wire_in() into `plain_in`.
  Result ReadRecords(evbuffer* plain_in);
  // After the handshake: encrypts all of `plain_out` into wire_out().
  Result WriteRecords(evbuffer* plain_out);

  net::EvBufferPtr wire_in_;
  net::EvBufferPtr wire_out_;
  SslPtr ssl_;

 private:
  static int BioWrite(BIO* bio, const char* data, int len);
  static int BioRead(BIO* bio, char* out, int len);
  static long BioCtrl(BIO* bio, int cmd, long num, void* ptr);
};

}  // namespace outrigger::tls
