// Typed messages: one codec per kind of message, declared here, and Topic<T> to publish and
// read them. Topic<T>::Make puts the object itself in the message (a Payload): the
// in-process bus hands it to every consumer as it is — no encoding, no decoding, labels
// not checked again — and a bus that crosses processes encodes it with the codec named by
// the message's content_type. Topic<T>::Read gives the object back: the one published, in
// process, or decoded from the bytes (protobuf or JSON, whichever content_type names).
// docs/protocol/amqp.md lists the content types.
//
// Thread safety: the object is shared by every consumer and never changed; a consumer that
// changes it works on a copy.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "bus/bus.h"
#include "model/batch.h"
#include "model/batch_codec.h"

namespace vigil::bus {

// How a kind of message is written and read on the wire.
template <typename T>
struct Codec;

// Batches of samples: the data queues and samples.<id> on vigil.events.
template <>
struct Codec<model::Batch> {
  static constexpr std::string_view kContentType = model::kProtobufContentType;
  static std::string Encode(const model::Batch& batch, std::string_view content_type) {
    return content_type == model::kJsonContentType ? model::EncodeBatchJson(batch)
                                                   : model::EncodeBatch(batch);
  }
  static Result<model::Batch> Decode(std::string_view content_type, std::string_view body) {
    return model::DecodeBatchAs(content_type, body);
  }
};

template <typename T>
class Topic {
 public:
  // A message holding `value`, to be encoded as `content_type` if it leaves the process.
  static Message Make(std::shared_ptr<const T> value,
                      std::string_view content_type = Codec<T>::kContentType) {
    Message message;
    message.content_type = std::string(content_type);
    message.payload = std::make_shared<const Held>(std::move(value));
    return message;
  }
  static Message Make(T value, std::string_view content_type = Codec<T>::kContentType) {
    return Make(std::make_shared<const T>(std::move(value)), content_type);
  }

  // The message's object; the codec's error for bytes that do not decode.
  static Result<std::shared_ptr<const T>> Read(const Message& message) {
    if (const auto* held = dynamic_cast<const Held*>(message.payload.get())) return held->value;
    auto decoded = Codec<T>::Decode(message.content_type, message.body);
    if (!decoded.ok()) return decoded.status();
    return std::make_shared<const T>(std::move(decoded).value());
  }

 private:
  struct Held final : Payload {
    explicit Held(std::shared_ptr<const T> v) : value(std::move(v)) {}
    std::string Encode(std::string_view content_type) const override {
      return Codec<T>::Encode(*value, content_type);
    }
    std::shared_ptr<const T> value;
  };
};

using Batches = Topic<model::Batch>;

}  // namespace vigil::bus
