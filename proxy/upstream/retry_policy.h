// Whether a failed attempt may be sent again, judged only by what was already sent: the
// retry budget (retry_budget.h) and the attempts limit decide whether it will be.
//
// Pure function: usable from any thread.
#pragma once

#include "proxy/http/message.h"

namespace outrigger::upstream {

// request_bytes_sent: any byte of the request (head or body) reached the upstream socket.
// body_fully_buffered: every request byte is still held, so the request can be replayed
// from its start; false once body bytes were streamed upstream and released.
//
// Never when the request cannot be replayed. Any method when nothing was sent: the backend
// cannot have acted on it (a refused connect, a dead keep-alive connection caught before
// writing). Otherwise only idempotent methods (RFC 9110 §9.2.2): the backend may have acted
// on the request, and repeating a POST could do so twice.
bool IsRetryable(http::Method method, bool request_bytes_sent, bool body_fully_buffered);

}  // namespace outrigger::upstream
