// Http1Session's side of a route's plugins (plugins/plugin.h): the wait for a store's answer
// (reading off, the client watched) and the bytes of a plugin's answer. The phases
// themselves run in the Exchange (exchange_plugins.cc, exchange_response.cc); their field
// edits apply where the heads are written (http1_codec.cc).
#include <sys/socket.h>

#include <cerrno>

#include "proxy/forward/http1_session.h"
#include "proxy/forward/worker.h"

namespace outrigger::forward {

bool Http1Session::RunRequestPlugins(std::string_view client_ip) {
  return AfterPluginVerdict(ex().RunRequestPlugins(client_ip, &Http1Session::OnPluginResume, this));
}

bool Http1Session::AfterPluginVerdict(plugins::Plugin::Verdict verdict) {
  switch (verdict) {
    case plugins::Plugin::Verdict::kContinue:
      return false;
    case plugins::Plugin::Verdict::kAnswered:
      SendPluginAnswer();
      return true;
    case plugins::Plugin::Verdict::kPending:
      // The head stays in the client's input, where the request's views point: nothing may
      // be read into it meanwhile. The store's timeout bounds the wait. A client that resets
      // meanwhile must still be noticed, or its request would go to a backend for no one.
      state_ = State::kPlugin;
      client_.DisableRead();
      WatchClientWhileWaiting(EV_READ | EV_CLOSED, nullptr);
      return true;
  }
  return true;
}

void Http1Session::WatchClientWhileWaiting(short what, const timeval* every) {
  if (!closed_watch_) closed_watch_.reset(event_new(worker_.base(), -1, 0, nullptr, nullptr));
  event_del(closed_watch_.get());
  event_assign(closed_watch_.get(), worker_.base(), client_.fd(), what,
               &Http1Session::OnClientWhileWaiting, this);
  event_add(closed_watch_.get(), every);
}

void Http1Session::OnClientWhileWaiting(evutil_socket_t fd, short what, void* arg) {
  auto* self = static_cast<Http1Session*>(arg);
  FlushOnReturn flush(self);
  if (self->state_ != State::kPlugin) return;
  // epoll reports a reset as an error (a read event), a FIN as EV_CLOSED.
  int error = 0;
  socklen_t len = sizeof(error);
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len);
  char byte;
  const ssize_t n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (error != 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
    self->Close();  // reset: the request is abandoned (the store's answer is dropped)
    return;
  }
  // A half-close: the client may still read its answer; its EOF is read after the wait.
  if ((what & EV_CLOSED) || n == 0) return;
  // More bytes wait (a body, a pipelined request), so a read event would fire again at
  // once: a FIN is still told by EV_CLOSED, a reset by a look every 100 ms.
  static constexpr timeval kEvery{0, 100'000};
  self->WatchClientWhileWaiting(EV_CLOSED, &kEvery);
}

void Http1Session::OnPluginResume(void* arg) {
  auto* self = static_cast<Http1Session*>(arg);
  FlushOnReturn flush(self);
  if (self->state_ != State::kPlugin) return;
  event_del(self->closed_watch_.get());  // made when the wait began
  self->state_ = State::kHead;
  self->ReadClientWhileRoom();  // as for a request that needed no wait
  if (!self->AfterPluginVerdict(self->ex().chain->Resume(self->ex().plugins))) {
    self->ForwardRequest(self->ex().plugins.client_ip());
  }
  // Requests pipelined behind an answer made here are taken now, as after an answer made at
  // once: left to AfterLocalAnswer's timer, an EOF read first would close the connection on
  // them (nothing up this stack touches the connection: the store's callback is done).
  if (self->state_ == State::kHead && evbuffer_get_length(self->client_.input()) > 0) {
    self->StopTimer();
    self->ProcessClientInput();
  }
}

void Http1Session::SendPluginAnswer() {
  const plugins::LocalAnswer& answer = ex().plugins.answer();
  const int status = answer.status;
  // Everything the answer holds was expanded into the context or is the config's: the head
  // it came from can go. The body (if any) is not read: the connection closes after the
  // answer, as after a 404.
  evbuffer_drain(client_.input(), ex().request.head_size);
  ex().EndBeforeLocalAnswer(status);
  const bool close = ex().has_body || worker_.draining() || !client_keep_alive_;

  const bool bodiless = ex().BuildPluginAnswerHead(close);
  const http::ResponseHead& resp = ex().response;
  ex().scratch.clear();
  http::WriteClientResponseHead(resp, ex().client_minor, !close, &ex().scratch,
                                ex().RequestIdField(), &ex().plugins.response_edits());
  if (ex().method != http::Method::kHead && !bodiless) ex().scratch.append(answer.body);
  evbuffer_add(client_.output(), ex().scratch.data(), ex().scratch.size());
  ex().LogLocalAnswer(status);
  AfterLocalAnswer(close);
}

}  // namespace outrigger::forward
