#include "proxy/tls/certified_key.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>

#include "tests/unit/tls/test_certs.h"

namespace outrigger::tls {
namespace {

using testing::MakeCert;
using testing::MakeKey;
using testing::WritePem;

class CertifiedKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/outrigger-tls-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string dir_;
};

TEST_F(CertifiedKeyTest, ReadsChainKeyNamesAndExpiry) {
  EvpPkeyPtr key = MakeKey(/*ecdsa=*/true);
  X509Ptr cert = MakeCert(key.get(), {"Example.COM", "*.example.com"}, 0x1234);
  WritePem(dir_ + "/c.pem", cert.get(), nullptr);
  WritePem(dir_ + "/k.pem", nullptr, key.get());
  auto certs = ReadCertificates(dir_ + "/c.pem");
  ASSERT_TRUE(certs.ok()) << certs.status();
  auto k = ReadPrivateKey(dir_ + "/k.pem");
  ASSERT_TRUE(k.ok()) << k.status();
  auto ck = MakeCertifiedKey(*std::move(certs), *std::move(k), std::time(nullptr));
  ASSERT_TRUE(ck.ok()) << ck.status();
  EXPECT_EQ((*ck)->names, (std::vector<std::string>{"example.com", "*.example.com"}));
  EXPECT_EQ((*ck)->subject_cn, "Example.COM");
  EXPECT_EQ((*ck)->serial, "1234");
  EXPECT_TRUE((*ck)->ecdsa);
  EXPECT_NEAR(static_cast<double>((*ck)->not_after), std::time(nullptr) + 86400.0, 5);
}

TEST_F(CertifiedKeyTest, MissingFileAndNoCertificateAreErrors) {
  auto missing = ReadCertificates(dir_ + "/nope.pem");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("No such file"), std::string::npos);
  WritePem(dir_ + "/empty.pem", nullptr, nullptr);
  EXPECT_FALSE(ReadCertificates(dir_ + "/empty.pem").ok());
  EXPECT_FALSE(ReadPrivateKey(dir_ + "/empty.pem").ok());
}

TEST_F(CertifiedKeyTest, KeyMismatchAndExpiryAreErrors) {
  EvpPkeyPtr key = MakeKey(true);
  std::vector<X509Ptr> certs;
  certs.push_back(MakeCert(key.get(), {"a.test"}, 1));
  auto mismatch = MakeCertifiedKey(std::move(certs), MakeKey(true), 0);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.status().message().find("does not match"), std::string::npos);

  std::vector<X509Ptr> old;
  old.push_back(MakeCert(key.get(), {"a.test"}, 2, /*seconds=*/-3600));
  auto expired = MakeCertifiedKey(std::move(old), std::move(key), std::time(nullptr));
  ASSERT_FALSE(expired.ok());
  EXPECT_NE(expired.status().message().find("expired on"), std::string::npos);
}

}  // namespace
}  // namespace outrigger::tls
