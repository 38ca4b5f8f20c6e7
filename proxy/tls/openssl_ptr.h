// RAII over OpenSSL handles: every OpenSSL object lives in a unique_ptr with its deleter
// (net/event.h does the same for libevent).
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "proxy/net/event.h"

namespace outrigger::tls {

using SslCtxPtr = std::unique_ptr<SSL_CTX, net::Deleter<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, net::Deleter<SSL_free>>;
using X509Ptr = std::unique_ptr<X509, net::Deleter<X509_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, net::Deleter<EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, net::Deleter<BIO_free_all>>;
using BioMethodPtr = std::unique_ptr<BIO_METHOD, net::Deleter<BIO_meth_free>>;
using EvpCipherPtr = std::unique_ptr<EVP_CIPHER, net::Deleter<EVP_CIPHER_free>>;
using EvpMdPtr = std::unique_ptr<EVP_MD, net::Deleter<EVP_MD_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, net::Deleter<EVP_MD_CTX_free>>;

// The reason of OpenSSL's most recent error on this thread ("no start line"), and clears
// the thread's error queue; `fallback` when the queue is empty.
std::string LastError(const char* fallback = "unknown error");

}  // namespace outrigger::tls
