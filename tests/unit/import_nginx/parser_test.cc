#include "proxy/import_nginx/parser.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace outrigger::import_nginx {
namespace {

TEST(Tokenize, WordsQuotesCommentsAndLines) {
  auto t = Tokenize("a b;\n# c d;\n\"x y\" 'q\\'s' {\n}\n\"{\";", "f.conf");
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->size(), 9u);
  EXPECT_EQ((*t)[0].text, "a");
  EXPECT_EQ((*t)[2].text, ";");
  EXPECT_EQ((*t)[3].text, "x y");
  EXPECT_EQ((*t)[3].line, 3);
  EXPECT_TRUE((*t)[3].quoted);
  EXPECT_EQ((*t)[4].text, "q's");
  EXPECT_EQ((*t)[5].text, "{");
  EXPECT_FALSE((*t)[5].quoted);
  EXPECT_EQ((*t)[6].line, 4);
  EXPECT_EQ((*t)[7].text, "{");
  EXPECT_TRUE((*t)[7].quoted);
}

TEST(Tokenize, VariablesInBracesStayInTheWord) {
  auto t = Tokenize("return 301 https://${host}$request_uri;", "f");
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->size(), 4u);
  EXPECT_EQ((*t)[2].text, "https://${host}$request_uri");
}

TEST(Tokenize, UnterminatedQuoteNamesItsLine) {
  auto t = Tokenize("a;\nb \"oops;\n", "site.conf");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().message(), "site.conf:2: unterminated \"-quoted string");
}

TEST(Parse, BlocksAndDirectivesKeepTheirLines) {
  auto d = ParseString("http {\n  upstream api {\n    server 127.0.0.1:1 weight=2;\n  }\n}\n",
                       "n.conf", ".");
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_EQ(d->size(), 1u);
  const Directive& http = (*d)[0];
  EXPECT_EQ(http.name, "http");
  EXPECT_TRUE(http.has_block);
  ASSERT_EQ(http.children.size(), 1u);
  const Directive& up = http.children[0];
  EXPECT_EQ(up.args, std::vector<std::string>{"api"});
  EXPECT_EQ(up.line, 2);
  ASSERT_EQ(up.children.size(), 1u);
  EXPECT_EQ(up.children[0].args, (std::vector<std::string>{"127.0.0.1:1", "weight=2"}));
  EXPECT_EQ(up.children[0].line, 3);
  EXPECT_EQ(up.children[0].file, "n.conf");
}

TEST(Parse, SyntaxErrorsNameFileAndLine) {
  auto missing_semicolon = ParseString("events {}\nworker_processes 2\n", "a.conf", ".");
  ASSERT_FALSE(missing_semicolon.ok());
  EXPECT_EQ(missing_semicolon.status().message(),
            "a.conf:2: \"worker_processes\" has no closing \";\" or \"{\"");
  auto unclosed = ParseString("http {\n server {\n}\n", "b.conf", ".");
  ASSERT_FALSE(unclosed.ok());
  EXPECT_EQ(unclosed.status().message(), "b.conf:1: \"{\" is never closed");
  auto stray = ParseString("a;\n}\n", "c.conf", ".");
  ASSERT_FALSE(stray.ok());
  EXPECT_EQ(stray.status().message(), "c.conf:2: unexpected \"}\"");
}

class IncludeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("import-nginx-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_ / "conf.d");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& rel, const std::string& text) { std::ofstream(dir_ / rel) << text; }
  std::filesystem::path dir_;
};

TEST_F(IncludeTest, GlobsExpandInOrderRelativeToTheMainFile) {
  Write("nginx.conf", "http {\n  include conf.d/*.conf;\n  include missing.d/*.conf;\n}\n");
  Write("conf.d/b.conf", "\nupstream b { server 127.0.0.1:2; }\n");
  Write("conf.d/a.conf", "upstream a {\n  server 127.0.0.1:1;\n}\n");
  auto d = ParseFile((dir_ / "nginx.conf").string());
  ASSERT_TRUE(d.ok()) << d.status();
  const auto& children = (*d)[0].children;
  ASSERT_EQ(children.size(), 2u);
  EXPECT_EQ(children[0].args[0], "a");
  EXPECT_EQ(children[0].file, (dir_ / "conf.d/a.conf").string());
  EXPECT_EQ(children[0].children[0].line, 2);
  EXPECT_EQ(children[1].args[0], "b");
  EXPECT_EQ(children[1].line, 2);
}

TEST_F(IncludeTest, AMissingPlainFileAndALoopAreErrors) {
  Write("nginx.conf", "events {}\ninclude nope.conf;\n");
  auto d = ParseFile((dir_ / "nginx.conf").string());
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("nginx.conf:2: include"), std::string::npos) << d.status();
  Write("loop.conf", "include loop.conf;\n");
  auto loop = ParseFile((dir_ / "loop.conf").string());
  ASSERT_FALSE(loop.ok());
  EXPECT_NE(loop.status().message().find("nested too deep"), std::string::npos) << loop.status();
}

TEST_F(IncludeTest, ASyntaxErrorInAnIncludedFileNamesThatFile) {
  Write("nginx.conf", "http {\n  include conf.d/x.conf;\n}\n");
  Write("conf.d/x.conf", "upstream x {\n  server 127.0.0.1:1\n}\n");
  auto d = ParseFile((dir_ / "nginx.conf").string());
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("conf.d/x.conf:3: unexpected \"}\""), std::string::npos)
      << d.status();
}

TEST(Parser, BlocksNestedTooDeepAreAnErrorNotAStackOverflow) {
  // Found by helper-26: 1,000 nested locations overflowed the ASan build's stack.
  std::string nested;
  for (int i = 0; i < 5000; ++i) nested += "location / {\n";
  for (int i = 0; i < 5000; ++i) nested += "}\n";
  auto d = ParseString(nested, "t.conf", ".");
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(), "t.conf:65: blocks nested more than 64 deep");
  std::string fine;
  for (int i = 0; i < 64; ++i) fine += "location / {\n";
  for (int i = 0; i < 64; ++i) fine += "}\n";
  EXPECT_TRUE(ParseString(fine, "t.conf", ".").ok());
}

}  // namespace
}  // namespace outrigger::import_nginx
