#include "proxy/tls/session.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "proxy/net/stream.h"
#include "tests/unit/tls/test_certs.h"

namespace outrigger::tls {
namespace {

using testing::MakeCertifiedKeyFor;

struct Observed {
  static void OnHandshake(void* self, bool ok_, std::string_view version_, HandshakeFailure why_) {
    auto* o = static_cast<Observed*>(self);
    ++o->calls;
    o->ok = ok_;
    o->version = version_;
    o->why = why_;
  }
  HandshakeObserver observer() { return {&Observed::OnHandshake, this}; }
  int calls = 0;
  bool ok = false;
  std::string version;
  HandshakeFailure why = HandshakeFailure::kNone;
};

// A client SSL over memory BIOs, pumped against a ServerSession in the same thread.
class Client {
 public:
  explicit Client(const std::string& sni = "", int max_version = 0)
      : ctx_(SSL_CTX_new(TLS_client_method())) {
    if (max_version != 0) SSL_CTX_set_max_proto_version(ctx_.get(), max_version);
    SSL_CTX_set_min_proto_version(ctx_.get(), TLS1_VERSION);
    SSL_CTX_set_security_level(ctx_.get(), 0);
    SSL_CTX_set_session_cache_mode(ctx_.get(), SSL_SESS_CACHE_CLIENT);
    ssl_.reset(SSL_new(ctx_.get()));
    in_ = BIO_new(BIO_s_mem());
    out_ = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(in_, -1);  // empty means "not yet", not EOF
    SSL_set_bio(ssl_.get(), in_, out_);
    SSL_set_connect_state(ssl_.get());
    if (!sni.empty()) SSL_set_tlsext_host_name(ssl_.get(), sni.c_str());
  }
  SSL* ssl() { return ssl_.get(); }

  // Runs the handshake against `server`; true when both sides completed it.
  bool Handshake(ServerSession& server, evbuffer* plain_in) {
    for (int i = 0; i < 20; ++i) {
      int r = SSL_do_handshake(ssl_.get());
      int err = SSL_get_error(ssl_.get(), r);  // before Pump touches the BIOs
      Pump(server, plain_in);
      if (result_ != net::StreamFilter::Result::kOk) return false;
      if (r == 1 && server.handshake_done()) return true;
      if (r != 1 && err != SSL_ERROR_WANT_READ) return false;
    }
    return false;
  }
  // Client → server bytes, then server → client.
  void Pump(ServerSession& server, evbuffer* plain_in) {
    char buf[16384];
    int n;
    while ((n = BIO_read(out_, buf, sizeof(buf))) > 0) evbuffer_add(server.wire_in(), buf, n);
    result_ = server.Decode(plain_in);
    while (size_t len = evbuffer_get_length(server.wire_out())) {
      std::string s(len, '\0');
      evbuffer_remove(server.wire_out(), s.data(), len);
      BIO_write(in_, s.data(), static_cast<int>(len));
    }
  }
  std::string Read() {
    std::string out;
    char buf[4096];
    int n;
    while ((n = SSL_read(ssl_.get(), buf, sizeof(buf))) > 0) out.append(buf, n);
    ERR_clear_error();
    return out;
  }
  net::StreamFilter::Result result() const { return result_; }

 private:
  SslCtxPtr ctx_;
  SslPtr ssl_;
  BIO* in_;
  BIO* out_;
  net::StreamFilter::Result result_ = net::StreamFilter::Result::kOk;
};

std::string Serial(SSL* client) {
  X509Ptr peer(SSL_get1_peer_certificate(client));
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(peer.get()), nullptr);
  char* hex = BN_bn2hex(bn);
  std::string s = hex;
  OPENSSL_free(hex);
  BN_free(bn);
  return s;
}

class SessionTest : public ::testing::Test {
 protected:
  std::shared_ptr<const ServerContext> Build(ServerOptions options) {
    auto ctx = ServerContext::Build(options, keys_);
    EXPECT_TRUE(ctx.ok()) << ctx.status();
    return *ctx;
  }
  std::unique_ptr<ServerSession> Session(const std::shared_ptr<const ServerContext>& ctx) {
    return std::make_unique<ServerSession>(ctx, observed_.observer());
  }
  std::shared_ptr<const TicketKeys> keys_ = std::make_shared<TicketKeys>();
  Observed observed_;
  net::EvBufferPtr plain_{evbuffer_new()};
};

TEST_F(SessionTest, SniPicksEachNamesCertificateWildcardAndDefault) {
  ServerOptions o;
  o.certificates = {MakeCertifiedKeyFor(true, {"default.test"}, 1),
                    MakeCertifiedKeyFor(true, {"a.test"}, 2),
                    MakeCertifiedKeyFor(true, {"*.wild.test"}, 3)};
  auto ctx = Build(o);
  for (auto [sni, serial] :
       std::vector<std::pair<std::string, std::string>>{{"a.test", "02"},
                                                        {"A.Test", "02"},
                                                        {"x.wild.test", "03"},
                                                        {"wild.test", "01"},
                                                        {"y.x.wild.test", "01"},
                                                        {"", "01"},
                                                        {"other.test", "01"}}) {
    Client c(sni);
    auto s = Session(ctx);
    ASSERT_TRUE(c.Handshake(*s, plain_.get())) << sni;
    EXPECT_EQ(Serial(c.ssl()), serial) << sni;
  }
  EXPECT_TRUE(observed_.ok);
  EXPECT_EQ(observed_.version, "TLSv1.3");
}

TEST_F(SessionTest, EcdsaAndRsaForTheSameNamesGoByClientSupport) {
  ServerOptions o;
  o.certificates = {MakeCertifiedKeyFor(true, {"both.test"}, 0x10),
                    MakeCertifiedKeyFor(false, {"both.test"}, 0x20)};
  auto ctx = Build(o);
  Client any("both.test");
  auto s1 = Session(ctx);
  ASSERT_TRUE(any.Handshake(*s1, plain_.get()));
  EXPECT_EQ(Serial(any.ssl()), "10");  // ECDSA first
  Client rsa("both.test");
  SSL_set1_sigalgs_list(rsa.ssl(), "rsa_pss_rsae_sha256:RSA+SHA256");
  auto s2 = Session(ctx);
  ASSERT_TRUE(rsa.Handshake(*s2, plain_.get()));
  EXPECT_EQ(Serial(rsa.ssl()), "20");
}

TEST_F(SessionTest, TwoCertificatesOfOneKindForTheSameNamesAreRefused) {
  ServerOptions o;
  o.certificates = {MakeCertifiedKeyFor(true, {"a.test"}, 1),
                    MakeCertifiedKeyFor(true, {"a.test"}, 2)};
  auto ctx = ServerContext::Build(o, keys_);
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(ctx.status().message().find("certificates[1]"), std::string::npos);
}

TEST_F(SessionTest, OldProtocolsAreRefusedAndMinVersionHolds) {
  ServerOptions o;
  o.certificates = {MakeCertifiedKeyFor(true, {"a.test"}, 1)};
  auto ctx = Build(o);
  Client old("a.test", TLS1_1_VERSION);
  auto s = Session(ctx);
  EXPECT_FALSE(old.Handshake(*s, plain_.get()));
  EXPECT_EQ(old.result(), net::StreamFilter::Result::kError);
  EXPECT_FALSE(observed_.ok);
  EXPECT_EQ(observed_.why, HandshakeFailure::kVersion);

  o.min_version = 13;
  auto ctx13 = Build(o);
  Client tls12("a.test", TLS1_2_VERSION);
  auto s12 = Session(ctx13);
  EXPECT_FALSE(tls12.Handshake(*s12, plain_.get()));
  Client tls13("a.test");
  auto s13 = Session(ctx13);
  EXPECT_TRUE(tls13.Handshake(*s13, plain_.get()));
}

TEST_F(SessionTest, AlpnAnswersHttp11AndIgnoresUnknown) {
  ServerOptions o;
  o.certificates = {MakeCertifiedKeyFor(true, {"a.test"}, 1)};
  auto ctx = Build(o);
  Client c("a.test");
  static const unsigned char protos[] = "\x02h2\x08http/1.1";
  SSL_set_alpn_protos(c.ssl(), protos, sizeof(protos) - 1);
  auto s = Session(ctx);
  ASSERT_TRUE(c.Handshake(*s, plain_.get()));
  const unsigned char* got = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(c.ssl(), &got, &len);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(got), len), "http/1.1");

  Client h2only("a.test");
  static const unsigned char h2[] = "\x02h2";
  SSL_set_alpn_protos(h2only.ssl(), h2, sizeof(h2) - 1);
  auto s2 = Session(ctx);
  ASSERT_TRUE(h2only.Handshake(*s2, plain_.get()));
  SSL_get0_alpn_selected(h2only.ssl(), &got, &len);
  EXPECT_EQ(len, 0u);
}

TEST_F(SessionTest, DataBothWaysAndCloseNotifyIsEof) {
  ServerOptions o;
  o.certificates = {MakeCertifiedKeyFor(false, {"a.test"}, 1)};
  auto ctx = Build(o);
  Client c("a.test");
  auto s = Session(ctx);
  ASSERT_TRUE(c.Handshake(*s, plain_.get()));
  std::string request = "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n";
  ASSERT_GT(SSL_write(c.ssl(), request.data(), static_cast<int>(request.size())), 0);
  c.Pump(*s, plain_.get());
  ASSERT_EQ(c.result(), net::StreamFilter::Result::kOk);
  std::string got(evbuffer_get_length(plain_.get()), '\0');
  evbuffer_remove(plain_.get(), got.data(), got.size());
  EXPECT_EQ(got, request);

  net::EvBufferPtr out(evbuffer_new());
  std::string big(40000, 'x');
  evbuffer_add(out.get(), "HTTP/1.1 200 OK\r\n\r\n", 19);
  evbuffer_add(out.get(), big.data(), big.size());
  ASSERT_EQ(s->Encode(out.get()), net::StreamFilter::Result::kOk);
  EXPECT_EQ(evbuffer_get_length(out.get()), 0u);
  c.Pump(*s, plain_.get());
  EXPECT_EQ(c.Read(), "HTTP/1.1 200 OK\r\n\r\n" + big);

  SSL_shutdown(c.ssl());
  c.Pump(*s, plain_.get());
  EXPECT_EQ(c.result(), net::StreamFilter::Result::kEof);
}

TEST_F(SessionTest, PlaintextBeforeTheHandshakeIsDiscarded) {
  ServerOptions o;
  o.certificates = {MakeCertifiedKeyFor(true, {"a.test"}, 1)};
  auto s = Session(Build(o));
  net::EvBufferPtr out(evbuffer_new());
  evbuffer_add(out.get(), "HTTP/1.1 408\r\n\r\n", 16);
  EXPECT_EQ(s->Encode(out.get()), net::StreamFilter::Result::kOk);
  EXPECT_EQ(evbuffer_get_length(out.get()), 0u);
  EXPECT_EQ(evbuffer_get_length(s->wire_out()), 0u);
}

TEST_F(SessionTest, GarbageIsAHandshakeFailure) {
  ServerOptions o;
  o.certificates = {MakeCertifiedKeyFor(true, {"a.test"}, 1)};
  auto s = Session(Build(o));
  evbuffer_add(s->wire_in(), "GET / HTTP/1.1\r\n\r\n", 18);
  EXPECT_EQ(s->Decode(plain_.get()), net::StreamFilter::Result::kError);
  EXPECT_EQ(observed_.calls, 1);
  EXPECT_FALSE(observed_.ok);
  EXPECT_EQ(observed_.why, HandshakeFailure::kPlainHttp);
  EXPECT_EQ(observed_.version, "");
  s->Abandon();  // reported once only
  EXPECT_EQ(observed_.calls, 1);

  auto t = Session(Build(o));
  evbuffer_add(t->wire_in(), "\x16\x03\x01\x00\x05hello", 10);
  EXPECT_EQ(t->Decode(plain_.get()), net::StreamFilter::Result::kError);
  EXPECT_EQ(observed_.why, HandshakeFailure::kProtocol);
}

TEST_F(SessionTest, AnAbandonedHandshakeIsReportedOnce) {
  ServerOptions o;
  o.certificates = {MakeCertifiedKeyFor(true, {"a.test"}, 1)};
  auto s = Session(Build(o));
  evbuffer_add(s->wire_in(), "\x16\x03\x01", 3);  // a record's first bytes
  EXPECT_EQ(s->Decode(plain_.get()), net::StreamFilter::Result::kOk);
  EXPECT_EQ(observed_.calls, 0);
  s->Abandon();
  s->Abandon();
  EXPECT_EQ(observed_.calls, 1);
  EXPECT_EQ(observed_.why, HandshakeFailure::kAborted);
  EXPECT_FALSE(observed_.ok);
}

TEST_F(SessionTest, TicketsResumeWithoutAServerCache) {
  ServerOptions o;
  o.certificates = {MakeCertifiedKeyFor(true, {"a.test"}, 1)};
  auto ctx = Build(o);
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    Client first("a.test", version);
    auto s1 = Session(ctx);
    ASSERT_TRUE(first.Handshake(*s1, plain_.get()));
    first.Pump(*s1, plain_.get());
    first.Read();  // takes the TLS 1.3 NewSessionTicket
    SSL_SESSION* session = SSL_get1_session(first.ssl());
    ASSERT_NE(session, nullptr);
    EXPECT_TRUE(SSL_SESSION_is_resumable(session)) << version;
    Client second("a.test", version);
    SSL_set_session(second.ssl(), session);
    SSL_SESSION_free(session);
    auto s2 = Session(ctx);
    ASSERT_TRUE(second.Handshake(*s2, plain_.get()));
    EXPECT_TRUE(SSL_session_reused(second.ssl())) << version;
  }
}

// The session as a real Stream's filter on a socketpair, the client a blocking SSL on a
// thread: handshake, request in, response out, through the Stream's own reads and writev.
TEST_F(SessionTest, WorksUnderAStreamOnASocket) {
  ServerOptions o;
  o.certificates = {MakeCertifiedKeyFor(true, {"a.test"}, 7)};
  auto ctx = Build(o);
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
  int flags = 0;
  ASSERT_EQ(ioctl(fds[1], FIONBIO, &flags), 0);  // the client's side blocks
  net::EventBasePtr base = net::NewEventBase(net::BaseThreads::kOwnerOnly);
  net::Stream stream(base.get(), fds[0]);
  stream.SetFilter(ctx->NewSession(observed_.observer()));
  struct State {
    net::Stream* stream;
    event_base* base;
    int reads = 0;
  } state{&stream, base.get()};
  stream.SetCallbacks(
      [](void* arg) {
        auto* st = static_cast<State*>(arg);
        ++st->reads;
        evbuffer* in = st->stream->input();
        if (evbuffer_get_length(in) < 4) return;
        evbuffer_drain(in, evbuffer_get_length(in));
        evbuffer_add_printf(st->stream->output(), "pong");
        st->stream->Flush();
      },
      nullptr, [](short, void* arg) { event_base_loopbreak(static_cast<State*>(arg)->base); },
      &state);
  stream.EnableRead();
  std::string answer;
  std::thread client([&] {
    SslCtxPtr cctx(SSL_CTX_new(TLS_client_method()));
    SslPtr ssl(SSL_new(cctx.get()));
    SSL_set_fd(ssl.get(), fds[1]);
    SSL_set_tlsext_host_name(ssl.get(), "a.test");
    if (SSL_connect(ssl.get()) == 1 && SSL_write(ssl.get(), "ping", 4) == 4) {
      char buf[16];
      int n = SSL_read(ssl.get(), buf, sizeof(buf));
      if (n > 0) answer.assign(buf, n);
    }
    SSL_shutdown(ssl.get());
    close(fds[1]);
  });
  timeval limit{10, 0};
  event_base_loopexit(base.get(), &limit);
  event_base_dispatch(base.get());
  client.join();
  EXPECT_EQ(answer, "pong");
  EXPECT_TRUE(observed_.ok);
  EXPECT_GE(state.reads, 2);  // handshake records reach the owner too
  EXPECT_EQ(stream.unsent(), 0u);
}

}  // namespace
}  // namespace outrigger::tls
