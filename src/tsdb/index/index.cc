#include "tsdb/index/index.h"

#include <algorithm>
#include <set>

#include "core/check.h"

namespace vigil::tsdb::index {
namespace {

std::vector<uint64_t> Intersect(const std::vector<uint64_t>& a, const std::vector<uint64_t>& b) {
  std::vector<uint64_t> out;
  std::set_intersection(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

}  // namespace

void Index::ById::Add(Entry* entry) {
  const uint64_t page = entry->id / kPageIds;
  if (pages_.empty()) first_page_ = page;
  if (page < first_page_) {  // an id below every other: rare (ids come in order)
    const auto more = static_cast<std::ptrdiff_t>(first_page_ - page);
    pages_.resize(pages_.size() + static_cast<size_t>(more));
    std::rotate(pages_.begin(), pages_.end() - more, pages_.end());
    first_page_ = page;
  }
  if (page - first_page_ >= pages_.size()) pages_.resize(page - first_page_ + 1);
  std::unique_ptr<Page>& at = pages_[page - first_page_];
  if (at == nullptr) at = std::make_unique<Page>();
  Entry*& slot = at->slots[entry->id % kPageIds];
  VIGIL_CHECK(slot == nullptr, "series id reused");
  slot = entry;
  ++at->live;
  ++size_;
}

void Index::ById::Remove(uint64_t id) {
  const uint64_t at = id / kPageIds - first_page_;
  if (at >= pages_.size() || pages_[at] == nullptr) return;
  Entry*& slot = pages_[at]->slots[id % kPageIds];
  if (slot == nullptr) return;
  slot = nullptr;
  --size_;
  if (--pages_[at]->live > 0) return;
  pages_[at].reset();
  while (!pages_.empty() && pages_.back() == nullptr) pages_.pop_back();
  // The empty front, given back once it is a good part of the directory (each erase
  // moves the rest).
  size_t empty = 0;
  while (empty < pages_.size() && pages_[empty] == nullptr) ++empty;
  if (empty > 0 && empty * 4 >= pages_.size()) {
    pages_.erase(pages_.begin(), pages_.begin() + static_cast<std::ptrdiff_t>(empty));
    first_page_ += empty;
  }
  if (pages_.capacity() > 4 * pages_.size() + 64) pages_.shrink_to_fit();
}

Entry* Index::Find(model::LabelsView labels, uint64_t hash) const {
  return EntryAt(
      by_hash_.Find(hash, [&](uint64_t entry) { return EntryAt(entry)->labels() == labels; }));
}

void Index::Add(Entry* entry) {
  VIGIL_CHECK(entry->id != 0 && Get(entry->id) == nullptr, "series id reused");
  by_hash_.Insert(entry->labels().Hash(), SlotValue(entry),
                  [](uint64_t value) { return EntryAt(value)->labels().Hash(); });
  by_id_.Add(entry);
  for (const model::LabelRef& l : entry->labels()) {
    auto name = postings_.find(l.name);
    if (name == postings_.end()) name = postings_.emplace(l.name, ValuePostings{}).first;
    auto value = name->second.find(l.value);
    if (value == name->second.end()) value = name->second.emplace(l.value, PostingList{}).first;
    value->second.Add(entry->id);
  }
}

void Index::Remove(const Entry* entry) {
  if (Get(entry->id) != entry) return;
  by_hash_.Erase(entry->labels().Hash(), SlotValue(entry));
  by_id_.Remove(entry->id);
  for (const model::LabelRef& l : entry->labels()) {
    auto name = postings_.find(l.name);
    auto value = name->second.find(l.value);
    value->second.Remove(entry->id);
    if (value->second.empty()) name->second.erase(value);
    if (name->second.empty()) postings_.erase(name);
  }
}

Index::Postings Index::PostingsFor(const model::Matcher& matcher) const {
  auto name = postings_.find(matcher.name());
  if (name == postings_.end()) return {};
  if (matcher.type() == model::MatchType::kEqual) {
    auto value = name->second.find(matcher.value());
    return value == name->second.end() ? Postings{} : value->second.Ids();
  }
  Postings out;
  for (const auto& [value, ids] : name->second) {
    if (matcher.Matches(value)) ids.AppendTo(&out);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<uint64_t> Index::Select(const std::vector<model::Matcher>& matchers) const {
  // Matchers that cannot match an absent label narrow through postings; the others
  // (`x!="a"`, `x=~".*"` …) are checked against each candidate's labels.
  std::vector<const model::Matcher*> filters;
  bool narrowed = false;
  Postings ids;
  for (const model::Matcher& m : matchers) {
    if (m.Matches(std::string_view())) {
      filters.push_back(&m);
      continue;
    }
    Postings p = PostingsFor(m);
    ids = narrowed ? Intersect(ids, p) : std::move(p);
    narrowed = true;
    if (ids.empty()) return ids;
  }
  if (!narrowed) {  // rare (PromQL asks for a matcher that needs a label): no postings kept
    ids.reserve(size());
    for (const Entry& entry : entries()) ids.push_back(entry.id);
    std::sort(ids.begin(), ids.end());
  }
  if (filters.empty()) return ids;
  std::vector<uint64_t> out;
  for (uint64_t id : ids) {
    const model::LabelsView labels = Get(id)->labels();
    if (std::all_of(filters.begin(), filters.end(),
                    [&](const model::Matcher* m) { return m->Matches(labels.Get(m->name())); })) {
      out.push_back(id);
    }
  }
  return out;
}

std::vector<std::string> Index::LabelNames(const std::vector<model::Matcher>& matchers) const {
  std::vector<std::string> out;
  if (matchers.empty()) {
    for (const auto& [name, values] : postings_) out.push_back(name);
    return out;
  }
  std::set<std::string> names;
  for (uint64_t id : Select(matchers)) {
    for (const model::LabelRef& l : Get(id)->labels()) names.emplace(l.name);
  }
  return {names.begin(), names.end()};
}

std::vector<std::string> Index::LabelValues(const std::string& name,
                                            const std::vector<model::Matcher>& matchers) const {
  std::vector<std::string> out;
  if (matchers.empty()) {
    auto it = postings_.find(name);
    if (it == postings_.end()) return out;
    for (const auto& [value, ids] : it->second) out.push_back(value);
    return out;
  }
  std::set<std::string> values;
  for (uint64_t id : Select(matchers)) {
    std::string_view v = Get(id)->labels().Get(name);
    if (!v.empty()) values.emplace(v);
  }
  return {values.begin(), values.end()};
}

}  // namespace vigil::tsdb::index
