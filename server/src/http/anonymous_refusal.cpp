// Anonymous failures draw on the anonymous allowance (see anonymous_refusal.h).
#include "http/anonymous_refusal.h"

#include "http/http_answers.h"

namespace satchel::relay {

void refuse_unproven(Relay& relay, const httplib::Request& req, httplib::Response& res, int status,
                     std::string_view code) {
  // One address first, so that in direct mode it spends its own allowance, not everyone's.
  if (const int64_t wait = relay.address_failures.acquire(req.remote_addr); wait > 0)
    return refuse_retry_after(req, res, 429, "rate-limited", wait);
  if (const int64_t wait = relay.anonymous_rate.acquire(Hash32{}); wait > 0)
    return refuse_retry_after(req, res, 429, "rate-limited", wait);
  refuse(req, res, status, code, false);
}

}  // namespace satchel::relay
