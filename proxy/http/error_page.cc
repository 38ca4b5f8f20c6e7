#include "proxy/http/error_page.h"

#include <charconv>

#include "proxy/http/head_writer.h"

namespace outrigger::http {

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 103:
      return "Early Hints";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 203:
      return "Non-Authoritative Information";
    case 204:
      return "No Content";
    case 205:
      return "Reset Content";
    case 206:
      return "Partial Content";
    case 300:
      return "Multiple Choices";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 406:
      return "Not Acceptable";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Range Not Satisfiable";
    case 417:
      return "Expectation Failed";
    case 421:
      return "Misdirected Request";
    case 422:
      return "Unprocessable Content";
    case 426:
      return "Upgrade Required";
    case 428:
      return "Precondition Required";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "";
  }
}

void WriteErrorResponse(int status, std::string_view detail, bool close,
                        std::string_view extra_headers, bool head_request, std::string* out,
                        std::string_view request_id_header, std::string_view request_id) {
  constexpr std::string_view kIdLine = "request id: ";
  const bool with_id = !request_id_header.empty() && !request_id.empty();
  char status_buf[12];
  const auto status_end = std::to_chars(status_buf, status_buf + sizeof(status_buf), status).ptr;
  const std::string_view status_text(status_buf, static_cast<size_t>(status_end - status_buf));
  const std::string_view reason = ReasonPhrase(status);

  // "<status> <reason>: <detail>\n", dropping the separators of empty parts.
  const size_t body_length = status_text.size() + (reason.empty() ? 0 : 1 + reason.size()) +
                             (detail.empty() ? 0 : 2 + detail.size()) + 1 +
                             (with_id ? kIdLine.size() + request_id.size() + 1 : 0);

  out->append("HTTP/1.1 ");
  out->append(status_text);
  out->push_back(' ');
  out->append(reason);
  out->append("\r\nContent-Type: text/plain\r\nContent-Length: ");
  AppendDecimal(body_length, out);
  out->append("\r\n");
  if (close) out->append("Connection: close\r\n");
  out->append(extra_headers);
  if (with_id) {
    out->append(request_id_header);
    out->append(": ");
    out->append(request_id);
    out->append("\r\n");
  }
  out->append("\r\n");
  if (head_request) return;

  out->append(status_text);
  if (!reason.empty()) {
    out->push_back(' ');
    out->append(reason);
  }
  if (!detail.empty()) {
    out->append(": ");
    out->append(detail);
  }
  out->push_back('\n');
  if (with_id) {
    out->append(kIdLine);
    out->append(request_id);
    out->push_back('\n');
  }
}

}  // namespace outrigger::http
