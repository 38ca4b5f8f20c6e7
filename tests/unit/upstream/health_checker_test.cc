// HealthChecker on a real loop against a real loopback server: verdicts become Backend bits
// with fall/rise, a new backend is unready until its first ready probe passes, and Track()
// keeps, changes or stops probes as the backend set changes.
#include "proxy/upstream/health_checker.h"

#include <gtest/gtest.h>

#include "probe_server.h"

namespace outrigger::upstream {
namespace {

config::ProbeConfig Probe(uint32_t fall, uint32_t rise) {
  config::ProbeConfig c;
  c.path = "/health";
  c.interval = config::Duration(20);
  c.timeout = config::Duration(200);
  c.fall = fall;
  c.rise = rise;
  return c;
}

class HealthCheckerTest : public ::testing::Test {
 protected:
  bool Has(uint32_t bit) const { return (backend_->unavailable() & bit) != 0; }
  bool RunUntil(const std::function<bool()>& done) {
    return upstream::RunUntil(base_.get(), done, 3000);
  }
  void Track(const config::HealthConfig& health, bool fresh = true) {
    HealthChecker::Target t{backend_, &health, fresh, nullptr, {}};
    checker_.Track({&t, 1});
  }

  net::EventBasePtr base_{event_base_new()};
  ProbeServer server_{base_.get()};
  std::shared_ptr<Backend> backend_ =
      std::make_shared<Backend>("api", server_.address(), server_.address().ToString());
  HealthChecker checker_{base_.get(), 42};
};

TEST_F(HealthCheckerTest, ANewBackendIsUnreadyUntilItsFirstReadyProbePasses) {
  config::HealthConfig health;
  health.ready = Probe(1, 2);
  Track(health);
  EXPECT_TRUE(Has(Backend::kUnready)) << "marked before any worker could pick it";
  ASSERT_TRUE(RunUntil([&] { return !Has(Backend::kUnready); }));
  EXPECT_EQ(server_.requests, 1) << "one passing probe is enough for a new backend";
}

// issue 20.6: a reload that adds a ready probe to a pool must not take its serving backends
// out until their first probe passes; only `fall` failures do.
TEST_F(HealthCheckerTest, AKeptBackendThatGainsAReadyProbeStaysReadyUntilItFails) {
  config::HealthConfig health;
  Track(health);  // serving, no probe
  health.ready = Probe(2, 1);
  server_.status = 503;
  Track(health, /*fresh=*/false);
  EXPECT_FALSE(Has(Backend::kUnready)) << "a kept backend has been serving";
  ASSERT_TRUE(RunUntil([&] { return Has(Backend::kUnready); }));
  EXPECT_EQ(server_.requests, 2) << "unready after `fall` failures, not before";
}

TEST_F(HealthCheckerTest, ReadyFallsAfterFallFailuresAndRisesAfterRisePasses) {
  config::HealthConfig health;
  health.ready = Probe(2, 3);
  Track(health);
  ASSERT_TRUE(RunUntil([&] { return !Has(Backend::kUnready); }));
  server_.status = 503;
  int before = server_.requests;
  ASSERT_TRUE(RunUntil([&] { return Has(Backend::kUnready); }));
  EXPECT_EQ(server_.requests - before, 2);
  server_.status = 200;
  before = server_.requests;
  ASSERT_TRUE(RunUntil([&] { return !Has(Backend::kUnready); }));
  EXPECT_EQ(server_.requests - before, 3);
  EXPECT_FALSE(Has(Backend::kDead));
}

TEST_F(HealthCheckerTest, ALiveProbeStartsHealthyAndMarksTheBackendDead) {
  config::HealthConfig health;
  health.live = Probe(1, 1);
  server_.status = 500;
  Track(health);
  EXPECT_FALSE(Has(Backend::kDead)) << "live starts healthy: no outage at start-up";
  ASSERT_TRUE(RunUntil([&] { return Has(Backend::kDead); }));
  EXPECT_FALSE(Has(Backend::kUnready));
}

TEST_F(HealthCheckerTest, RemovingAProbeKindClearsItsVerdict) {
  config::HealthConfig health;
  health.ready = Probe(1, 1);
  server_.status = 503;
  Track(health);
  ASSERT_TRUE(RunUntil([&] { return server_.requests >= 2; }));
  EXPECT_TRUE(Has(Backend::kUnready));
  health.ready.reset();
  Track(health);
  EXPECT_FALSE(Has(Backend::kUnready));
  EXPECT_EQ(checker_.probe_count(), 0u);
}

TEST_F(HealthCheckerTest, AnUnchangedProbeKeepsItsVerdictAcrossTrack) {
  config::HealthConfig health;
  health.ready = Probe(1, 5);
  Track(health);
  ASSERT_TRUE(RunUntil([&] { return !Has(Backend::kUnready); }));
  Track(health);  // a reload that changes nothing about this backend
  EXPECT_FALSE(Has(Backend::kUnready)) << "a kept backend does not start over as unready";
  EXPECT_EQ(checker_.probe_count(), 1u);
}

TEST_F(HealthCheckerTest, ABackendNoLongerListedStopsBeingProbed) {
  config::HealthConfig health;
  health.live = Probe(1, 1);
  health.ready = Probe(1, 1);
  Track(health);
  EXPECT_EQ(checker_.probe_count(), 2u);
  checker_.Track({});
  EXPECT_EQ(checker_.probe_count(), 0u);
  int before = server_.requests;
  RunUntil([] { return false; });  // let time pass
  EXPECT_LE(server_.requests - before, 2) << "at most the probes already in flight";
}

}  // namespace
}  // namespace outrigger::upstream
