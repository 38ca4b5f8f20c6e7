// Usable(): a backend at its connection caps takes an h2 request that can go as a stream on a
// connection held already (PickContext::streams), but never past max_requests.
#include "proxy/balance/eligible.h"

#include "gtest/gtest.h"
#include "pool_fixture.h"

namespace outrigger::balance {
namespace {

class FixedRoom final : public upstream::StreamRoom {
 public:
  explicit FixedRoom(bool room) : room_(room) {}
  bool CanOpenStream(const upstream::Backend*) const override { return room_; }

 private:
  bool room_;
};

class UsableTest : public ::testing::Test {
 protected:
  UsableTest() {
    backend_ = &pool_.Add("a");
    caps_.max_connections = 1;
    caps_.max_pending = 0;
    caps_.max_requests = 2;
    ctx_.caps = &caps_;
    backend_->AddConnectionsInUse(1);  // the one connection the cap allows is held
  }

  Pool pool_;
  upstream::Backend* backend_;
  upstream::BackendCaps caps_;
  PickContext ctx_;
};

TEST_F(UsableTest, AtTheConnectionCapWithNoQueueIsNotUsableForANewConnection) {
  EXPECT_FALSE(Usable(backend_, ctx_));
  FixedRoom full(false);
  ctx_.streams = &full;
  EXPECT_FALSE(Usable(backend_, ctx_));
}

TEST_F(UsableTest, AHeldConnectionWithRoomForAStreamMakesItUsable) {
  FixedRoom room(true);
  ctx_.streams = &room;
  EXPECT_TRUE(Usable(backend_, ctx_));
}

TEST_F(UsableTest, AStreamStillRespectsMaxRequests) {
  FixedRoom room(true);
  ctx_.streams = &room;
  backend_->AddActive(2);
  EXPECT_FALSE(Usable(backend_, ctx_));
  backend_->AddActive(-2);
}

}  // namespace
}  // namespace outrigger::balance
