#include "proxy/tls/server_context.h"

#include <openssl/err.h>

#include <algorithm>
#include <ctime>
#include <tuple>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proxy/tls/session.h"

namespace outrigger::tls {
namespace {

// Mozilla's "intermediate" TLS 1.2 suites: forward-secret and AEAD only (no DHE: it needs
// parameters and brings nothing ECDHE lacks for today's clients). TLS 1.3's are OpenSSL's.
constexpr char kCiphers12[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr char kGroups[] = "X25519:P-256:P-384";
constexpr long kSessionLifetime = 300;  // seconds a ticket resumes (nginx's default)
constexpr unsigned char kSessionIdContext[] = "outrigger";

const ServerContext* Owner(SSL* ssl) {
  return static_cast<const ServerContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
}

int OnServerName(SSL* ssl, int*, void*) {
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr) return SSL_TLSEXT_ERR_NOACK;
  SSL_CTX* ctx = Owner(ssl)->Select(absl::AsciiStrToLower(name));
  if (ctx != SSL_get_SSL_CTX(ssl)) SSL_set_SSL_CTX(ssl, ctx);
  return SSL_TLSEXT_ERR_OK;
}

int OnAlpn(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
           unsigned int inlen, void* arg) {
  const auto* wire = static_cast<const std::string*>(arg);
  unsigned char* chosen = nullptr;
  int r =
      SSL_select_next_proto(&chosen, outlen, reinterpret_cast<const unsigned char*>(wire->data()),
                            static_cast<unsigned int>(wire->size()), in, inlen);
  (void)ssl;
  if (r != OPENSSL_NPN_NEGOTIATED) return SSL_TLSEXT_ERR_NOACK;  // no overlap: no ALPN at all
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

int OnTicketKey(SSL* ssl, unsigned char name[16], unsigned char iv[EVP_MAX_IV_LENGTH],
                EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int enc) {
  return Owner(ssl)->ticket_keys().Setup(name, iv, cipher, mac, enc,
                                         static_cast<int64_t>(std::time(nullptr)));
}

}  // namespace

absl::Status ServerContext::Configure(SSL_CTX* ctx) const {
  SSL_CTX_set_app_data(ctx, const_cast<ServerContext*>(this));
  // The server's suite order (AES-GCM first: AES-NI) unless the client puts ChaCha20 first
  // (a phone without AES instructions): what testssl.sh asks for, at no cost to such clients.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
                               SSL_OP_NO_COMPRESSION | SSL_OP_SINGLE_ECDH_USE |
                               SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_PRIORITIZE_CHACHA);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  // Records are read from a buffer the Stream filled: ask for all of it at once.
  SSL_CTX_set_read_ahead(ctx, 1);
  if (SSL_CTX_set_min_proto_version(ctx, min_version_) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(ctx, kCiphers12) != 1 ||
      SSL_CTX_set1_groups_list(ctx, kGroups) != 1) {
    return absl::InternalError(absl::StrCat("TLS settings refused: ", LastError()));
  }
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_timeout(ctx, kSessionLifetime);
  SSL_CTX_set_num_tickets(ctx, 1);
  SSL_CTX_set_session_id_context(ctx, kSessionIdContext, sizeof(kSessionIdContext) - 1);
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, &OnTicketKey);
  SSL_CTX_set_tlsext_servername_callback(ctx, &OnServerName);
  SSL_CTX_set_alpn_select_cb(ctx, &OnAlpn, const_cast<std::string*>(&alpn_wire_));
  return client_auth_ == ClientAuthMode::kOff ? absl::OkStatus() : ConfigureClientAuth(ctx);
}

absl::Status ServerContext::ConfigureClientAuth(SSL_CTX* ctx) const {
  if (!client_cas_ || client_cas_->empty()) {
    return absl::InvalidArgumentError("client_auth needs at least one CA certificate");
  }
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  // A ticket carries the client's verified certificate: one issued under other CAs or another
  // mode must not resume here, so the session id context is a digest of both (OpenSSL refuses
  // resumption across contexts and does a full handshake).
  EvpMdCtxPtr md(EVP_MD_CTX_new());
  bool ok = md && EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr) == 1;
  const unsigned char mode = static_cast<unsigned char>(client_auth_);
  ok = ok && EVP_DigestUpdate(md.get(), &mode, 1) == 1;
  for (const X509Ptr& ca : *client_cas_) {
    if (X509_STORE_add_cert(store, ca.get()) != 1 || SSL_CTX_add_client_CA(ctx, ca.get()) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("client CA refused: ", LastError()));
    }
    unsigned char* der = nullptr;  // OpenSSL's allocation, freed at once
    const int len = i2d_X509(ca.get(), &der);
    ok = ok && len > 0 && EVP_DigestUpdate(md.get(), der, static_cast<size_t>(len)) == 1;
    OPENSSL_free(der);
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  ok = ok && EVP_DigestFinal_ex(md.get(), digest, &digest_len) == 1;
  if (!ok) return absl::InternalError(absl::StrCat("digest of client CAs: ", LastError()));
  SSL_CTX_set_session_id_context(ctx, digest,
                                 std::min<unsigned int>(digest_len, SSL_MAX_SID_CTX_LENGTH));
  SSL_CTX_set_verify(
      ctx,
      SSL_VERIFY_PEER |
          (client_auth_ == ClientAuthMode::kRequired ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
      nullptr);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const ServerContext>> ServerContext::Build(
    const ServerOptions& options, std::shared_ptr<const TicketKeys> ticket_keys) {
  if (options.certificates.empty()) return absl::InvalidArgumentError("no certificate");
  auto self = std::make_shared<ServerContext>();
  self->certificates_ = options.certificates;
  self->ticket_keys_ = std::move(ticket_keys);
  self->min_version_ = options.min_version == 13 ? TLS1_3_VERSION : TLS1_2_VERSION;
  self->client_auth_ = options.client_auth;
  self->client_cas_ = options.client_cas;
  for (const std::string& p : options.alpn) {
    self->alpn_wire_.push_back(static_cast<char>(p.size()));
    self->alpn_wire_ += p;
  }
  absl::StatusOr<BioMethodPtr> method = TlsFilter::NewBioMethod();
  if (!method.ok()) return method.status();
  self->bio_method_ = *std::move(method);

  // Certificates with the same names (in any order) share a context.
  std::vector<std::string> keys;             // the sorted names of each context, as one string
  std::vector<std::pair<bool, bool>> kinds;  // per context: has ECDSA, has another kind
  for (size_t i = 0; i < options.certificates.size(); ++i) {
    const CertifiedKey& ck = *options.certificates[i];
    std::vector<std::string> sorted = ck.names;
    std::sort(sorted.begin(), sorted.end());
    std::string key = absl::StrJoin(sorted, ",");
    size_t at = std::find(keys.begin(), keys.end(), key) - keys.begin();
    if (at == keys.size()) {
      keys.push_back(key);
      kinds.emplace_back(false, false);
      SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
      if (!ctx) return absl::ResourceExhaustedError("cannot make an SSL_CTX");
      if (absl::Status s = self->Configure(ctx.get()); !s.ok()) return s;
      self->contexts_.push_back(std::move(ctx));
      for (const std::string& name : ck.names) {
        if (name.starts_with("*.")) {
          self->wildcard_.try_emplace(name.substr(2), at);
        } else {
          self->exact_.try_emplace(name, at);
        }
      }
    }
    bool& has = ck.ecdsa ? kinds[at].first : kinds[at].second;
    if (has) {
      return absl::InvalidArgumentError(absl::StrCat(
          "certificates[", i, "]: a second ", ck.ecdsa ? "ECDSA" : "non-ECDSA",
          " certificate for the same names (", key, "); one of each kind per name set"));
    }
    has = true;
    SSL_CTX* ctx = self->contexts_[at].get();
    if (SSL_CTX_use_certificate(ctx, ck.leaf.get()) != 1 ||
        SSL_CTX_use_PrivateKey(ctx, ck.key.get()) != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("certificates[", i, "]: refused by OpenSSL: ", LastError()));
    }
    // The chain goes with the certificate just set (OpenSSL keeps one per key type).
    for (const X509Ptr& c : ck.chain) {
      if (SSL_CTX_add1_chain_cert(ctx, c.get()) != 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("certificates[", i, "]: chain refused by OpenSSL: ", LastError()));
      }
    }
  }
  return std::shared_ptr<const ServerContext>(std::move(self));
}

std::optional<size_t> ServerContext::FindDuplicate(
    const std::vector<std::shared_ptr<const CertifiedKey>>& certificates) {
  std::vector<std::tuple<std::vector<std::string>, bool>> seen;
  for (size_t i = 0; i < certificates.size(); ++i) {
    std::vector<std::string> names = certificates[i]->names;
    std::sort(names.begin(), names.end());
    auto entry = std::make_tuple(std::move(names), certificates[i]->ecdsa);
    if (std::find(seen.begin(), seen.end(), entry) != seen.end()) return i;
    seen.push_back(std::move(entry));
  }
  return std::nullopt;
}

SSL_CTX* ServerContext::Select(std::string_view server_name) const {
  // std::string keys: this abseil's string_view is not std::string_view. Once a handshake.
  if (auto it = exact_.find(std::string(server_name)); it != exact_.end()) {
    return contexts_[it->second].get();
  }
  size_t dot = server_name.find('.');
  if (dot != std::string_view::npos) {
    if (auto it = wildcard_.find(std::string(server_name.substr(dot + 1))); it != wildcard_.end()) {
      return contexts_[it->second].get();
    }
  }
  return contexts_[0].get();
}

std::unique_ptr<ServerSession> ServerContext::NewSession(HandshakeObserver observer) const {
  return std::make_unique<ServerSession>(shared_from_this(), observer);
}

}  // namespace outrigger::tls
