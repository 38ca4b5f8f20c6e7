#include "proxy/config/tls_reader.h"

#include <spdlog/spdlog.h>

#include <string>

#include "proxy/http/fields.h"
#include "proxy/tls/certified_key.h"
#include "proxy/tls/server_context.h"

namespace outrigger::config {
namespace {

// The certificate chain at `cert` and the key at `key` (both fields hold paths), checked.
std::optional<CertificateConfig> LoadCertificate(const Field& cert, const Field& key, int64_t now,
                                                 Diagnostics* diag) {
  std::optional<std::string> cert_path = ReadString(cert, diag);
  std::optional<std::string> key_path = ReadString(key, diag);
  if (!cert_path || !key_path) return std::nullopt;
  CertificateConfig out{
      ResolvePath(*cert_path, diag->file()), ResolvePath(*key_path, diag->file()), {}};
  absl::StatusOr<std::vector<tls::X509Ptr>> certs = tls::ReadCertificates(out.cert_path);
  if (!certs.ok()) {
    diag->Add(LocateKey(cert, *diag),
              fmt::format("{}{}", cert.Prefix(), std::string(certs.status().message())));
  }
  absl::StatusOr<tls::EvpPkeyPtr> pkey = tls::ReadPrivateKey(out.key_path);
  if (!pkey.ok()) {
    diag->Add(LocateKey(key, *diag),
              fmt::format("{}{}", key.Prefix(), std::string(pkey.status().message())));
  }
  if (!certs.ok() || !pkey.ok()) return std::nullopt;
  absl::StatusOr<std::shared_ptr<const tls::CertifiedKey>> loaded =
      tls::MakeCertifiedKey(*std::move(certs), *std::move(pkey), now);
  if (!loaded.ok()) {
    const Field& at = loaded.status().code() == absl::StatusCode::kFailedPrecondition ? key : cert;
    diag->Add(LocateKey(at, *diag),
              fmt::format("{}{} ({})", at.Prefix(), std::string(loaded.status().message()),
                          out.cert_path));
    return std::nullopt;
  }
  if ((*loaded)->not_after - now < kCertificateWarnSeconds) {
    SourceMark m = LocateKey(cert, *diag);
    spdlog::warn("{}:{}:{}: {}{} expires in {} day(s)", m.file, m.line, m.column, cert.Prefix(),
                 out.cert_path, ((*loaded)->not_after - now) / 86400);
  }
  out.loaded = *std::move(loaded);
  return out;
}

std::optional<CertificateConfig> ReadCertificate(const Field& f, int64_t now, Diagnostics* diag) {
  if (!ExpectMap(f, diag)) return std::nullopt;
  MapReader keys(f, {"cert", "key"}, diag);
  std::optional<Field> cert = keys.Require("cert");
  std::optional<Field> key = keys.Require("key");
  if (!cert || !key) return std::nullopt;
  return LoadCertificate(*cert, *key, now, diag);
}

// The PEM certificates at the path `ca` holds (trust anchors), or nullptr with the error.
std::shared_ptr<const std::vector<tls::X509Ptr>> ReadCaFile(const Field& ca, std::string* path,
                                                            Diagnostics* diag) {
  std::optional<std::string> text = ReadString(ca, diag);
  if (!text) return nullptr;
  *path = ResolvePath(*text, diag->file());
  absl::StatusOr<std::vector<tls::X509Ptr>> cas = tls::ReadCertificates(*path);
  if (!cas.ok()) {
    diag->Add(LocateKey(ca, *diag),
              fmt::format("{}{}", ca.Prefix(), std::string(cas.status().message())));
    return nullptr;
  }
  return std::make_shared<const std::vector<tls::X509Ptr>>(*std::move(cas));
}

bool ReadClientAuth(const Field& f, ListenerTlsConfig* tls, Diagnostics* diag) {
  if (!ExpectMap(f, diag)) return false;
  MapReader keys(f, {"ca", "mode"}, diag);
  std::optional<Field> mode = keys.Require("mode");
  if (!mode) return false;
  std::optional<std::string> text = ReadString(*mode, diag);
  if (!text) return false;
  if (*text == "off") {
    tls->client_auth = tls::ClientAuthMode::kOff;
  } else if (*text == "optional") {
    tls->client_auth = tls::ClientAuthMode::kOptional;
  } else if (*text == "required") {
    tls->client_auth = tls::ClientAuthMode::kRequired;
  } else {
    diag->Add(
        LocateValue(*mode, *diag),
        fmt::format("{}expected off, optional or required, got \"{}\"", mode->Prefix(), *text));
    return false;
  }
  std::optional<Field> ca =
      tls->client_auth == tls::ClientAuthMode::kOff ? keys.Get("ca") : keys.Require("ca");
  if (!ca) return tls->client_auth == tls::ClientAuthMode::kOff;
  tls->client_cas = ReadCaFile(*ca, &tls->client_ca_path, diag);
  return tls->client_cas != nullptr;
}

}  // namespace

std::vector<std::shared_ptr<const tls::CertifiedKey>> Loaded(const ListenerTlsConfig& tls) {
  std::vector<std::shared_ptr<const tls::CertifiedKey>> out;
  for (const CertificateConfig& c : tls.certificates) out.push_back(c.loaded);
  return out;
}

std::optional<ListenerTlsConfig> ReadListenerTls(const Field& f, int64_t now, Diagnostics* diag) {
  if (!ExpectMap(f, diag)) return std::nullopt;
  MapReader keys(f, {"certificates", "min_version", "alpn", "client_auth"}, diag);
  ListenerTlsConfig tls;
  bool ok = true;
  if (auto list = keys.Require("certificates"); list && ExpectList(*list, diag)) {
    std::vector<Field> items = ListItems(*list);
    if (items.empty()) {
      diag->Add(LocateKey(*list, *diag),
                fmt::format("{}at least one certificate is required", list->Prefix()));
      ok = false;
    }
    for (const Field& item : items) {
      std::optional<CertificateConfig> c = ReadCertificate(item, now, diag);
      if (c) {
        tls.certificates.push_back(*std::move(c));
      } else {
        ok = false;
      }
    }
    if (auto dup = tls::ServerContext::FindDuplicate(Loaded(tls)); ok && dup) {
      diag->Add(LocateValue(items[*dup], *diag),
                fmt::format("{}a second {} certificate for the same names as an earlier one: "
                            "a name set holds one ECDSA and one RSA certificate at most",
                            items[*dup].Prefix(),
                            tls.certificates[*dup].loaded->ecdsa ? "ECDSA" : "non-ECDSA"));
      ok = false;
    }
  } else {
    ok = false;
  }
  if (auto v = keys.Get("min_version")) {
    std::optional<std::string> text = ReadString(*v, diag);
    if (text == "1.2") {
      tls.min_version = 12;
    } else if (text == "1.3") {
      tls.min_version = 13;
    } else {
      if (text) {
        diag->Add(LocateValue(*v, *diag),
                  fmt::format("{}expected \"1.2\" or \"1.3\", got \"{}\" (older versions are "
                              "not offered)",
                              v->Prefix(), *text));
      }
      ok = false;
    }
  }
  if (auto a = keys.Get("alpn"); a && ExpectList(*a, diag)) {
    tls.alpn.clear();
    for (const Field& item : ListItems(*a)) {
      std::optional<std::string> p = ReadString(item, diag);
      if (p && *p != "http/1.1" && *p != "h2") {
        diag->Add(LocateValue(item, *diag),
                  fmt::format("{}only \"h2\" and \"http/1.1\" are served", item.Prefix()));
        ok = false;
      } else if (p) {
        tls.alpn.push_back(*p);
      }
    }
  }
  if (auto auth = keys.Get("client_auth")) ok = ReadClientAuth(*auth, &tls, diag) && ok;
  if (!ok) return std::nullopt;
  return tls;
}

std::optional<PoolTlsConfig> ReadPoolTls(const Field& f, int64_t now, Diagnostics* diag) {
  if (!ExpectMap(f, diag)) return std::nullopt;
  MapReader keys(f, {"verify", "ca", "server_name", "cert", "key"}, diag);
  PoolTlsConfig tls;
  bool ok = true;
  if (auto v = keys.Get("verify")) {
    std::optional<std::string> text = ReadString(*v, diag);
    if (text == "true" || text == "false") {
      tls.verify = *text == "true";
    } else {
      if (text) {
        diag->Add(LocateValue(*v, *diag),
                  fmt::format("{}expected true or false, got \"{}\"", v->Prefix(), *text));
      }
      ok = false;
    }
  }
  if (auto ca = keys.Get("ca")) {
    if (ca->value.IsScalar() && ca->value.Scalar() == "system") {
      tls.ca_path = "system";
    } else {
      tls.cas = ReadCaFile(*ca, &tls.ca_path, diag);
      ok = ok && tls.cas != nullptr;
    }
  }
  if (auto name = keys.Get("server_name")) {
    std::optional<std::string> text = ReadString(*name, diag);
    if (text && !http::fields::IsValidHost(*text)) {
      diag->Add(LocateValue(*name, *diag),
                fmt::format("{}\"{}\" is not a host name or IP address", name->Prefix(), *text));
      text.reset();
    }
    ok = ok && text.has_value();
    if (text) tls.server_name = *text;
  }
  std::optional<Field> cert = keys.Get("cert");
  std::optional<Field> key = keys.Get("key");
  if (cert.has_value() != key.has_value()) {
    const Field& given = cert ? *cert : *key;
    diag->Add(LocateKey(given, *diag),
              fmt::format("{}a client certificate needs both `cert` and `key`", given.Prefix()));
    ok = false;
  } else if (cert) {
    tls.certificate = LoadCertificate(*cert, *key, now, diag);
    ok = ok && tls.certificate.has_value();
  }
  if (!ok) return std::nullopt;
  return tls;
}

}  // namespace outrigger::config
