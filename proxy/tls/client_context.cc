#include "proxy/tls/client_context.h"

#include <arpa/inet.h>
#include <openssl/x509v3.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "proxy/tls/client_session.h"
#include "proxy/tls/tls_filter.h"

namespace outrigger::tls {

std::shared_ptr<SessionSlot> ClientSessionCache::Slot(const std::string& key) {
  auto it = slots_.find(key);
  if (it != slots_.end()) return it->second;
  if (slots_.size() >= kMaxSlots) slots_.clear();  // sessions hold their slots still
  return slots_.emplace(key, std::make_shared<SessionSlot>()).first->second;
}

absl::StatusOr<std::shared_ptr<const ClientContext>> ClientContext::Build(
    const ClientOptions& options) {
  auto self = std::make_shared<ClientContext>();
  self->verify_ = options.verify;
  self->label_ = options.label;
  self->require_h2_ = options.require_h2;
  absl::StatusOr<BioMethodPtr> method = TlsFilter::NewBioMethod();
  if (!method.ok()) return method.status();
  self->bio_method_ = *std::move(method);
  self->ctx_.reset(SSL_CTX_new(TLS_client_method()));
  SSL_CTX* ctx = self->ctx_.get();
  if (ctx == nullptr) return absl::ResourceExhaustedError("cannot make an SSL_CTX");
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_read_ahead(ctx, 1);
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1) {
    return absl::InternalError(absl::StrCat("TLS settings refused: ", LastError()));
  }
  // Sessions live in the workers' slots, not in OpenSSL's cache (shared, locked).
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx, &ClientSession::OnNewSession);
  if (options.verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
    if (options.cas && !options.cas->empty()) {
      X509_STORE* store = SSL_CTX_get_cert_store(ctx);
      for (const X509Ptr& ca : *options.cas) {
        if (X509_STORE_add_cert(store, ca.get()) != 1) {
          return absl::InvalidArgumentError(absl::StrCat("CA refused: ", LastError()));
        }
      }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      return absl::InternalError(absl::StrCat("no system trust store: ", LastError()));
    }
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  if (const CertifiedKey* ck = options.certificate.get()) {
    if (SSL_CTX_use_certificate(ctx, ck->leaf.get()) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, ck->key.get()) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("client certificate refused: ", LastError()));
    }
    for (const X509Ptr& c : ck->chain) {
      if (SSL_CTX_add1_chain_cert(ctx, c.get()) != 1) {
        return absl::InvalidArgumentError(absl::StrCat("client chain refused: ", LastError()));
      }
    }
  }
  return std::shared_ptr<const ClientContext>(std::move(self));
}

SSL* ClientContext::NewSsl(std::string_view server_name) const {
  SSL* ssl = SSL_new(ctx_.get());
  if (ssl == nullptr || server_name.empty()) return ssl;
  const std::string name(server_name);
  unsigned char addr[sizeof(in6_addr)];
  const bool ip =
      inet_pton(AF_INET, name.c_str(), addr) == 1 || inet_pton(AF_INET6, name.c_str(), addr) == 1;
  if (!ip) SSL_set_tlsext_host_name(ssl, name.c_str());
  if (verify_) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (ip) {
      X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str());
    } else {
      X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      SSL_set1_host(ssl, name.c_str());
    }
  }
  return ssl;
}

std::unique_ptr<ClientSession> ClientContext::NewSession(std::string_view server_name,
                                                         std::shared_ptr<SessionSlot> slot,
                                                         const std::string* peer) const {
  SSL* ssl = NewSsl(server_name);
  if (ssl != nullptr && slot && slot->session) SSL_set_session(ssl, slot->session.get());
  static constexpr unsigned char kH2[] = {2, 'h', '2'};
  if (ssl != nullptr && require_h2_ && SSL_set_alpn_protos(ssl, kH2, sizeof(kH2)) != 0) {
    SSL_free(ssl);  // h2 cannot be offered: a connection without it would fail anyway
    ssl = nullptr;
  }
  return std::make_unique<ClientSession>(shared_from_this(), ssl, std::move(slot), peer);
}

}  // namespace outrigger::tls
