// Feeds arbitrary bytes to the decoders of vigil's own messages (binary and JSON): each
// must return a message or an error, never crash.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "model/messages.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vigil::model;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  if (auto m = DecodeAnnouncement(input); m.ok()) {
    if (*DecodeAnnouncement(EncodeAnnouncement(*m)) != *m) std::abort();
  }
  (void)DecodeDiscoveryRequest(input);
  (void)DecodeAlert(input);
  (void)DecodeAnnouncementJson(input);
  (void)DecodeDiscoveryRequestJson(input);
  (void)DecodeAlertJson(input);
  return 0;
}
