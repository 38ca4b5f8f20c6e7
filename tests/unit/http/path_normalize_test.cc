#include "proxy/http/path_normalize.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace outrigger::http {
namespace {

constexpr char kInvalid[] = "<400>";

// The target as the backend would see it: unchanged, rewritten, or kInvalid.
std::string Normalized(std::string_view target, PathNormalizeOptions options = {}) {
  std::string out = "left over";
  const PathNormalizeResult r = NormalizePath(target, options, &out);
  switch (r.verdict) {
    case PathVerdict::kNormal:
      EXPECT_EQ(out, "left over") << target << ": a normal target must not touch the buffer";
      return std::string(target);
    case PathVerdict::kRewritten:
      EXPECT_NE(out, target) << target << ": rewritten to itself; the check missed it";
      return out;
    case PathVerdict::kInvalid:
      EXPECT_FALSE(r.reason.empty());
      return kInvalid;
  }
  return "?";
}

PathNormalizeOptions Slashes(EscapedSlashes mode, bool merge = true) {
  return {.merge_slashes = merge, .escaped_slashes = mode};
}

// The issue's table of hostile and odd targets, with routes /admin/ and /.
TEST(PathNormalizeTest, IssueTable) {
  EXPECT_EQ(Normalized("/admin/x"), "/admin/x");
  EXPECT_EQ(Normalized("/x/../admin/x"), "/admin/x");
  EXPECT_EQ(Normalized("/%61dmin/x"), "/admin/x");
  EXPECT_EQ(Normalized("//admin/x"), "/admin/x");
  EXPECT_EQ(Normalized("/admin/./x"), "/admin/x");
  EXPECT_EQ(Normalized("/admin/x/.."), "/admin/");
  EXPECT_EQ(Normalized("/./admin/x"), "/admin/x");
  EXPECT_EQ(Normalized("/admin%2Fx"), "/admin%2Fx");
  EXPECT_EQ(Normalized("/.."), kInvalid);
  EXPECT_EQ(Normalized("/%2e%2e/"), kInvalid);
  EXPECT_EQ(Normalized("/admin/%00"), kInvalid);
  EXPECT_EQ(Normalized("/a\\b"), kInvalid);
}

TEST(PathNormalizeTest, LeavesNormalTargetsAlone) {
  for (std::string_view t : {"/", "/index.html", "/a/b/", "/a.b/..c/c..", "/%20x", "/%C3%A9",
                             "/a?x=/../%61//", "/...", "/a/.b", "*", "example.com:443", ""}) {
    EXPECT_EQ(Normalized(t), t);
  }
}

TEST(PathNormalizeTest, DecodesUnreservedAndUppercasesTheRest) {
  EXPECT_EQ(Normalized("/%7e%2D%5f%2E%41%7A%30"), "/~-_.Az0");
  EXPECT_EQ(Normalized("/%c3%a9"), "/%C3%A9");
  EXPECT_EQ(Normalized("/a%3fb"), "/a%3Fb");        // an escaped '?' stays in the path
  EXPECT_EQ(Normalized("/%25%2561"), "/%25%2561");  // decoded once, never twice
}

TEST(PathNormalizeTest, RemovesDotSegments) {
  EXPECT_EQ(Normalized("/."), "/");
  EXPECT_EQ(Normalized("/a/."), "/a/");
  EXPECT_EQ(Normalized("/a/b/../.."), "/");
  EXPECT_EQ(Normalized("/a/b/../c/./d"), "/a/c/d");
  EXPECT_EQ(Normalized("/%2e"), "/");
  EXPECT_EQ(Normalized("/a/%2E%2e/b"), "/b");
  EXPECT_EQ(Normalized("/a/b/../../.."), kInvalid);
  EXPECT_EQ(Normalized("/.%2e/x"), kInvalid);
  EXPECT_EQ(Normalized("/a/..?q=1"), "/?q=1");
}

TEST(PathNormalizeTest, MergesSlashesUnlessTurnedOff) {
  EXPECT_EQ(Normalized("///a//b///"), "/a/b/");
  EXPECT_EQ(Normalized("//"), "/");
  EXPECT_EQ(Normalized("//a", Slashes(EscapedSlashes::kKeep, false)), "//a");
  EXPECT_EQ(Normalized("/a//../b", Slashes(EscapedSlashes::kKeep, false)), "/a/b");
  EXPECT_EQ(Normalized("/a//./b", Slashes(EscapedSlashes::kKeep, false)), "/a//b");
}

TEST(PathNormalizeTest, EscapedSlashesFollowTheOption) {
  EXPECT_EQ(Normalized("/admin%2fx"), "/admin%2Fx");
  EXPECT_EQ(Normalized("/a%5cb"), "/a%5Cb");
  EXPECT_EQ(Normalized("/a%2F..%2Fadmin"), "/a%2F..%2Fadmin");  // one segment, not a dot one
  EXPECT_EQ(Normalized("/admin%2Fx", Slashes(EscapedSlashes::kReject)), kInvalid);
  EXPECT_EQ(Normalized("/a%5C", Slashes(EscapedSlashes::kReject)), kInvalid);
  EXPECT_EQ(Normalized("/admin%2fx", Slashes(EscapedSlashes::kDecode)), "/admin/x");
  EXPECT_EQ(Normalized("/a%2F..%2Fadmin", Slashes(EscapedSlashes::kDecode)), "/admin");
  EXPECT_EQ(Normalized("/a%2F%2Fb%2F", Slashes(EscapedSlashes::kDecode)), "/a/b/");
  EXPECT_EQ(Normalized("/a%5Cb", Slashes(EscapedSlashes::kDecode)), kInvalid);
}

TEST(PathNormalizeTest, RefusesBadBytesAndEscapes) {
  for (std::string_view t :
       {"/a%", "/a%4", "/a%zz", "/a%4g?x", "/%1f", "/%7F", "/a\x01", "/a\\", "/\\..", "/%0a"}) {
    EXPECT_EQ(Normalized(t), kInvalid) << t;
  }
  EXPECT_EQ(Normalized("/a?%00\\"), "/a?%00\\");  // the query is not ours to judge
}

TEST(PathNormalizeTest, IsIdempotent) {
  for (std::string_view t :
       {"/x/../admin/x", "//a//b/..", "/%61/%2e/%c3", "/a/b/../c/?q", "/a%2F..%2Fb/./"}) {
    for (EscapedSlashes mode : {EscapedSlashes::kKeep, EscapedSlashes::kDecode}) {
      const std::string once = Normalized(t, Slashes(mode));
      EXPECT_EQ(Normalized(once, Slashes(mode)), once) << t;
    }
  }
}

}  // namespace
}  // namespace outrigger::http
