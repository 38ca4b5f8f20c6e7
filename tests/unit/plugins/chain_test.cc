// Chain: top-down until one answers, later plugins untouched; edits and actions of those that
// ran; headers expanded per request.
#include "plugins/chain.h"

#include <gtest/gtest.h>

#include "plugin_fixture.h"

namespace outrigger::plugins {
namespace {

TEST(ChainTest, StopsAtTheFirstAnswer) {
  PluginFixture f(
      "          - headers: { response: { set: { X-Before: '1' } } }\n"
      "          - ip_filter: { deny: [192.0.2.0/24] }\n"
      "          - headers: { response: { set: { X-After: '1' } }, request: { add: { X-R: r } } "
      "}\n");
  ASSERT_TRUE(f.Request("/", "192.0.2.7"));
  EXPECT_EQ(f.ctx().answer().status, 403);
  EXPECT_EQ(f.ctx().ran, 2u);
  EXPECT_EQ(PluginFixture::Find(f.ctx().response_edits().set, "X-Before"), "1");
  EXPECT_EQ(PluginFixture::Find(f.ctx().response_edits().set, "X-After"), "");
  ASSERT_FALSE(f.Request("/", "198.51.100.1"));
  EXPECT_EQ(f.ctx().ran, 3u);
  EXPECT_EQ(PluginFixture::Find(f.ctx().request_edits().add, "X-R"), "r");
}

// Records that it ran; the one in the middle waits for a store, then goes on or answers.
class Step final : public Plugin {
 public:
  Step(std::vector<int>* log, int id, bool waits = false, int answer_on_resume = 0)
      : log_(log), id_(id), waits_(waits), answer_on_resume_(answer_on_resume) {}
  Verdict OnRequest(Context&) const override {
    log_->push_back(id_);
    return waits_ ? Verdict::kPending : Verdict::kContinue;
  }
  Verdict OnResume(Context& ctx) const override {
    log_->push_back(-id_);
    if (answer_on_resume_ == 0) return Verdict::kContinue;
    ctx.Answer(answer_on_resume_);
    return Verdict::kAnswered;
  }

 private:
  std::vector<int>* log_;
  int id_;
  bool waits_;
  int answer_on_resume_;
};

Chain ThreeSteps(std::vector<int>* log, int answer_on_resume) {
  std::vector<std::unique_ptr<const Plugin>> steps;
  steps.push_back(std::make_unique<Step>(log, 1));
  steps.push_back(std::make_unique<Step>(log, 2, /*waits=*/true, answer_on_resume));
  steps.push_back(std::make_unique<Step>(log, 3));
  return Chain(std::move(steps));
}

TEST(ChainTest, APluginThatWaitsResumesWhereItStopped) {
  std::vector<int> log;
  const Chain chain = ThreeSteps(&log, 0);
  Context ctx;
  http::RequestHead req;
  ctx.Begin(&req, {}, nullptr, nullptr);
  EXPECT_EQ(chain.OnRequest(ctx), Plugin::Verdict::kPending);
  EXPECT_EQ(log, (std::vector<int>{1, 2}));
  EXPECT_EQ(ctx.ran, 2u);
  EXPECT_EQ(chain.Resume(ctx), Plugin::Verdict::kContinue);
  EXPECT_EQ(log, (std::vector<int>{1, 2, -2, 3}));
  EXPECT_EQ(ctx.ran, 3u);  // the response phase runs all three
}

TEST(ChainTest, APluginThatWaitsMayAnswerOnResume) {
  std::vector<int> log;
  const Chain chain = ThreeSteps(&log, 429);
  Context ctx;
  http::RequestHead req;
  ctx.Begin(&req, {}, nullptr, nullptr);
  ASSERT_EQ(chain.OnRequest(ctx), Plugin::Verdict::kPending);
  EXPECT_EQ(chain.Resume(ctx), Plugin::Verdict::kAnswered);
  EXPECT_EQ(ctx.answer().status, 429);
  EXPECT_EQ(log, (std::vector<int>{1, 2, -2}));
  EXPECT_EQ(ctx.ran, 2u);  // the third never saw the request: its response phase does not run
}

// Notes what it saw in the request phase and reads it back in the later ones.
class Noter final : public Plugin {
 public:
  Noter(std::vector<int>* log, int id) : log_(log), id_(id) {}
  Verdict OnRequest(Context& ctx) const override {
    ctx.note() = static_cast<uint64_t>(id_ * 10);
    return Verdict::kContinue;
  }
  void OnResponse(Context& ctx, const http::ResponseHead&) const override {
    log_->push_back(static_cast<int>(ctx.note()));
  }
  void OnLog(Context& ctx, const ExchangeEnd& end) const override {
    log_->push_back(static_cast<int>(ctx.note()) + end.status);
  }

 private:
  std::vector<int>* log_;
  int id_;
};

TEST(ChainTest, LaterPhasesRunBottomUpAndFindTheirOwnNotes) {
  std::vector<int> log;
  std::vector<std::unique_ptr<const Plugin>> plugins;
  plugins.push_back(std::make_unique<Noter>(&log, 1));
  plugins.push_back(std::make_unique<Noter>(&log, 2));
  const Chain chain(std::move(plugins));
  Context ctx;
  http::RequestHead req;
  ctx.Begin(&req, {}, nullptr, nullptr);
  ASSERT_EQ(chain.OnRequest(ctx), Plugin::Verdict::kContinue);
  chain.OnResponse(ctx, http::ResponseHead());
  ExchangeEnd end;
  end.status = 200;
  chain.OnLog(ctx, end);
  EXPECT_EQ(log, (std::vector<int>{20, 10, 220, 210}));
  ctx.Begin(&req, {}, nullptr, nullptr);  // the next request starts with blank notes
  EXPECT_EQ(ctx.note(), 0u);
}

// A Noter that says it takes part in only some of the later phases.
class PartialNoter final : public Plugin {
 public:
  PartialNoter(std::vector<int>* log, int id, uint8_t phases) : noter_(log, id), phases_(phases) {}
  uint8_t later_phases() const override { return phases_; }
  Verdict OnRequest(Context& ctx) const override { return noter_.OnRequest(ctx); }
  void OnResponse(Context& ctx, const http::ResponseHead& r) const override {
    noter_.OnResponse(ctx, r);
  }
  void OnLog(Context& ctx, const ExchangeEnd& end) const override { noter_.OnLog(ctx, end); }

 private:
  Noter noter_;
  uint8_t phases_;
};

TEST(ChainTest, LaterPhasesCallOnlyThePluginsThatTakePartInThem) {
  std::vector<int> log;
  std::vector<std::unique_ptr<const Plugin>> plugins;
  plugins.push_back(std::make_unique<PartialNoter>(&log, 1, Plugin::kLogPhase));
  plugins.push_back(std::make_unique<PartialNoter>(&log, 2, Plugin::kResponsePhase));
  plugins.push_back(std::make_unique<PartialNoter>(&log, 3, 0));
  plugins.push_back(std::make_unique<Noter>(&log, 4));  // every phase: the default
  const Chain chain(std::move(plugins));
  EXPECT_TRUE(chain.has_log_phase());
  Context ctx;
  http::RequestHead req;
  ctx.Begin(&req, {}, nullptr, nullptr);
  ASSERT_EQ(chain.OnRequest(ctx), Plugin::Verdict::kContinue);
  chain.OnResponse(ctx, http::ResponseHead());
  ExchangeEnd end;
  end.status = 200;
  chain.OnLog(ctx, end);
  EXPECT_EQ(log, (std::vector<int>{40, 20, 240, 210}));
}

TEST(ChainTest, RequestPhasePluginsLeaveNoLogPhase) {
  PluginFixture f(
      "          - headers: { response: { set: { X-A: '1' } } }\n"
      "          - rate_limit: { rate: 1/s }\n");
  EXPECT_FALSE(f.chain().has_log_phase());
}

// $host, $path and $query cost two searches a request: only a chain that reads them has them
// found. Plugins that do not say otherwise may read them.
TEST(ChainTest, FindsTheTargetsVariablesOnlyForAChainThatReadsThem) {
  EXPECT_FALSE(PluginFixture("          - rewrite: { strip_prefix: /api }\n"
                             "          - headers: { request: { set: { X-A: '1' } } }\n"
                             "          - rate_limit: { rate: 1/s }\n")
                   .chain()
                   .reads_target_vars());
  EXPECT_FALSE(PluginFixture("          - headers: { response: { add: { X-Ip: $remote_addr } } }\n")
                   .chain()
                   .reads_target_vars());
  EXPECT_TRUE(PluginFixture("          - headers: { response: { add: { X-P: 'p=$path' } } }\n")
                  .chain()
                  .reads_target_vars());
  EXPECT_TRUE(PluginFixture("          - rate_limit: { rate: 1/s }\n"
                            "          - respond: { body: ok }\n")
                  .chain()
                  .reads_target_vars());
}

// A plugin's clock: the instant the exchange gave, until a wait makes it stale.
TEST(ChainTest, TheRequestsInstantHoldsUntilAWait) {
  std::vector<int> log;
  const Chain chain = ThreeSteps(&log, 0);
  Context ctx;
  http::RequestHead req;
  ctx.Begin(&req, {}, nullptr, nullptr);
  ctx.SetNow(5);
  EXPECT_EQ(ctx.NowNanos(), 5);
  ASSERT_EQ(chain.OnRequest(ctx), Plugin::Verdict::kPending);
  EXPECT_EQ(ctx.NowNanos(), 5);
  ASSERT_EQ(chain.Resume(ctx), Plugin::Verdict::kContinue);
  EXPECT_GT(ctx.NowNanos(), 5);
  ctx.Begin(&req, {}, nullptr, nullptr);  // the next request reads the clock afresh
  EXPECT_GT(ctx.NowNanos(), 5);
}

TEST(ChainTest, IpFilterDenyWinsOverAllowAndJudgesIpv6) {
  PluginFixture f(
      "          - ip_filter: { allow: [10.0.0.0/8, '::1/128'], deny: [10.9.0.0/16] }\n");
  EXPECT_FALSE(f.Request("/", "10.1.2.3"));
  EXPECT_TRUE(f.Request("/", "10.9.2.3"));
  EXPECT_TRUE(f.Request("/", "192.0.2.1"));
  EXPECT_FALSE(f.Request("/", "::1"));
  EXPECT_FALSE(f.Request("/", "::ffff:10.1.2.3"));
  EXPECT_TRUE(f.Request("/", "not an address"));
}

TEST(ChainTest, ExpandsValuesPerRequestAndAnswersWithThem) {
  PluginFixture f(
      "          - headers: { request: { set: { X-Who: '$remote_addr via $scheme', X-C: c } } }\n"
      "          - redirect: { to: 'https://$host$request_uri', status: 307 }\n");
  ASSERT_TRUE(f.Request("/a?b=1", "10.0.0.5"));
  EXPECT_EQ(PluginFixture::Find(f.ctx().request_edits().set, "X-Who"), "10.0.0.5 via http");
  EXPECT_EQ(f.ctx().answer().status, 307);
  EXPECT_EQ(PluginFixture::Find(f.ctx().answer().headers, "Location"), "https://example.com/a?b=1");
  ASSERT_TRUE(f.Request("/c", "10.0.0.6"));  // the same context, reused
  EXPECT_EQ(PluginFixture::Find(f.ctx().request_edits().set, "X-Who"), "10.0.0.6 via http");
  EXPECT_EQ(f.ctx().request_edits().set.size(), 2u);
  EXPECT_EQ(PluginFixture::Find(f.ctx().answer().headers, "Location"), "https://example.com/c");
  EXPECT_EQ(f.ctx().answer().headers.size(), 1u);
}

TEST(ChainTest, HeadersPluginsEditInChainOrder) {
  PluginFixture f(
      "          - headers: { request: { set: { X-A: '1', Host: a }, add: { X-B: '1' } } }\n"
      "          - headers: { request: { set: { X-A: '2', Host: b }, remove: [X-B] } }\n"
      "          - headers: { request: { add: { X-B: '3' } } }\n");
  ASSERT_FALSE(f.Request("/"));
  const http::FieldEdits& e = f.ctx().request_edits();
  ASSERT_EQ(e.set.size(), 2u);
  EXPECT_EQ(PluginFixture::Find(e.set, "X-A"), "2");
  EXPECT_EQ(PluginFixture::Find(e.set, "Host"), "b");
  ASSERT_EQ(e.add.size(), 1u);
  EXPECT_EQ(e.add[0].value, "3");
  EXPECT_EQ(e.remove, std::vector<std::string_view>{"X-B"});
}

TEST(ChainTest, RegistersOneSeriesPerPoolPluginAndAction) {
  PluginFixture f(
      "          - headers: { request: { set: { A: b } } }\n"
      "          - headers: { request: { set: { C: d } } }\n"
      "          - rate_limit: { rate: 1/s }\n"
      "          - respond: { status: 204 }\n");
  const std::vector<metrics::MetricLayout::PluginAction>& a = f.layout().plugin_actions;
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[0].pool, "api");
  EXPECT_EQ(a[0].plugin, "headers");
  EXPECT_EQ(a[0].action, "edited");
  EXPECT_EQ(a[1].action, "limited");
  EXPECT_EQ(a[2].action, "answered");
}

}  // namespace
}  // namespace outrigger::plugins
