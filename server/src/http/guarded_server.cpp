// GuardedServer and GuardedTlsServer (see guarded_server.h).
#include "http/guarded_server.h"

namespace satchel::relay {

bool GuardedServer::process_and_close_socket(socket_t sock) {
  auto transport = plain_transport(sock);
  serve_connection(*transport, limits_, svr_sock_,
                   [this](httplib::Stream& strm, bool close_connection, bool& connection_closed) {
                     return process_request(strm, close_connection, connection_closed, nullptr);
                   });
  return true;
}

bool GuardedTlsServer::process_and_close_socket(socket_t sock) {
  auto transport =
      tls_transport(sock, ssl_context(), std::chrono::steady_clock::now() + limits_.head_deadline);
  if (!transport) return false;
  serve_connection(*transport, limits_, svr_sock_,
                   [this](httplib::Stream& strm, bool close_connection, bool& connection_closed) {
                     return process_request(strm, close_connection, connection_closed, nullptr);
                   });
  return true;
}

}  // namespace satchel::relay
