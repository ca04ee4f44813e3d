#include "roles/datamanager.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <thread>

#include "bus/replies.h"
#include "bus/topic.h"
#include "model/batch_codec.h"

namespace vigil::roles {

DataManager::DataManager(bus::Bus& bus, Options options, std::vector<store::BatchWriter*> writers)
    : bus_(bus),
      options_(std::move(options)),
      writers_(std::move(writers)),
      messages_(options_.registry->AddCounter(
          "vigil_datamanager_messages_total",
          "Messages the datamanager handled: stored, invalid (dead-lettered), failed "
          "(requeued), rejected (a writer refused it for good: dead-lettered), refused (a "
          "waiting HTTP write was refused, nothing stored), ignored.",
          {"outcome"})),
      samples_(
          options_.registry
              ->AddCounter("vigil_datamanager_samples_total", "Samples the datamanager stored.")
              .WithLabels({})),
      refused_(options_.registry->AddCounter(
          "vigil_datamanager_samples_refused_total",
          "Samples not stored because their series broke a label limit, by reason.", {"reason"})) {}

DataManager::~DataManager() { Stop(); }

Status DataManager::Start() {
  VIGIL_RETURN_IF_ERROR(bus::DeclareTopology(bus_, options_.topology));
  VIGIL_ASSIGN_OR_RETURN(
      subscription_, bus_.Consume(std::string(bus::kStoreQueue), {.prefetch = options_.prefetch},
                                  [this](const bus::Delivery& d) { OnMessage(d); }));
  spdlog::info("datamanager: consuming {} into {} writers", bus::kStoreQueue, writers_.size());
  return OkStatus();
}

void DataManager::Stop() {
  if (subscription_) subscription_->Cancel();
}

void DataManager::OnMessage(const bus::Delivery& delivery) {
  const bus::Message& message = delivery.message();
  if (message.routing_key.rfind(bus::kSamplesTopicPrefix, 0) != 0) {
    // Alert changes are for the dashboards and receivers; the store gets alerts as the
    // ALERTS series the coordinators publish with the samples.
    messages_.WithLabels({"ignored"}).Inc();
    delivery.Ack();
    return;
  }
  auto read = bus::Batches::Read(message);
  if (!read.ok()) {
    messages_.WithLabels({"invalid"}).Inc();
    spdlog::warn("datamanager: dead-lettering a message ({}): {}", message.routing_key,
                 read.status().ToString());
    bus::DeadLetter(bus_, delivery, bus::kStoreQueue, read.status().message());
    return;
  }
  // Series over the label limits are dropped and counted; the batch is shared with other
  // consumers, so that happens on a copy, and only when there are any.
  std::shared_ptr<const model::Batch> batch = *read;
  auto over_limits = [&](const model::Series& series, bool count) {
    std::string why;
    const model::LabelViolation violation =
        model::CheckLabelLimits(series.labels, options_.label_limits, &why);
    if (violation == model::LabelViolation::kNone) return false;
    if (!count) return true;
    auto& refused = refused_.WithLabels({std::string(model::LabelViolationName(violation))});
    if (refused.Value() == 0) spdlog::warn("datamanager: {} (counted from now on)", why);
    refused.Inc(static_cast<double>(series.samples.size()));
    return true;
  };
  if (std::any_of(batch->series.begin(), batch->series.end(),
                  [&](const model::Series& s) { return over_limits(s, false); })) {
    auto kept = std::make_shared<model::Batch>(*batch);
    std::erase_if(kept->series, [&](const model::Series& s) { return over_limits(s, true); });
    batch = std::move(kept);
  }
  // A writer that waits for the answer (an HTTP write, bus/replies.h) is told what was
  // refused, and then nothing of its batch is stored, as the store itself would answer.
  const bool waited = bus::WantsReply(message);
  for (store::BatchWriter* writer : writers_) {
    Status status = waited ? writer->AppendAll(*batch) : writer->Append(*batch);
    if (status.ok()) status = writer->Flush();
    if (waited && status.code() == StatusCode::kInvalidArgument) {
      messages_.WithLabels({"refused"}).Inc();
      bus::Reply(bus_, message, status);
      delivery.Ack();
      return;
    }
    if (!status.ok() && !IsTransient(status)) {
      // The same batch would fail the same way on every redelivery and hold up the queue.
      messages_.WithLabels({"rejected"}).Inc();
      spdlog::error("datamanager: dead-lettering a batch a writer refused: {}", status.ToString());
      bus::Reply(bus_, message, status);
      bus::DeadLetter(bus_, delivery, bus::kStoreQueue, status.ToString());
      return;
    }
    if (!status.ok()) {
      messages_.WithLabels({"failed"}).Inc();
      ++failures_;
      // Log the 1st, 2nd, 4th, 8th … failure in a row, not every redelivery.
      if ((failures_ & (failures_ - 1)) == 0) {
        spdlog::error("datamanager: requeued a batch ({} failures in a row): {}", failures_,
                      status.ToString());
      }
      // Back off so a broken disk or database does not turn into a hot loop of redeliveries.
      const int doublings = std::min(failures_ - 1, 16);
      std::this_thread::sleep_for(
          std::min(options_.retry_backoff * (1 << doublings), options_.max_retry_backoff));
      delivery.Nack(/*requeue=*/true);
      return;
    }
  }
  if (failures_ > 0) {
    spdlog::info("datamanager: storing again after {} failures", failures_);
    failures_ = 0;
  }
  messages_.WithLabels({"stored"}).Inc();
  samples_.Inc(static_cast<double>(batch->SampleCount()));
  delivery.Ack();
  bus::Reply(bus_, message, OkStatus());
}

}  // namespace vigil::roles
