// The store's batch acknowledgements: acknowledgements_required (k of n lowered by "not mine"
// declines, never below 1), held and not_mine in one acknowledge_batch call, declines that lower
// the count without ever delivering on their own, held after declined replacing the decline,
// declined after held ignored, and declines that go with their upload.
#include <catch2/catch_test_macros.hpp>
#include <initializer_list>
#include <optional>
#include <utility>

#include "store/embedded/metadata_db.h"
#include "store_fixture.h"

using namespace satchel;
using namespace satchel::relay;
using namespace satchel::relay::testing;

namespace {

constexpr Day kToday = 20'400;
constexpr Day kUntil = kToday + 30;

std::unique_ptr<EmbeddedRelayStore> open_store(const std::string& dir) {
  EmbeddedStoreOptions options;
  options.log = [](std::string_view) {};
  auto s = EmbeddedRelayStore::open(dir, kToday, std::move(options));
  if (!s) throw std::runtime_error(s.error().message);
  return std::move(s.value());
}

// A store with one mailbox of `n` registered coordinators.
struct Mailbox {
  TempDir dir{"declines"};
  TestOrganisation org;
  std::string mailbox = org.mailbox_id();
  std::vector<Key32> keys = org.keys();
  std::unique_ptr<EmbeddedRelayStore> store = open_store(dir.path);

  explicit Mailbox(size_t n) : org(n) { REQUIRE(store->put_mailbox(org.record(), org.keys())); }

  // A stored upload of `size` test bytes; returns its id.
  Hash32 stored(uint32_t seed, size_t size = 5000) {
    const Bytes data = test_bytes(size, seed);
    const Hash32 id = sha256_of(data);
    REQUIRE(store->create_upload(mailbox, id, data.size(), 0, kToday));
    auto w = store->open_writer(mailbox, id, 0, kToday);
    REQUIRE(w);
    REQUIRE((*w)->write(data));
    auto c = (*w)->commit();
    REQUIRE(c);
    REQUIRE(upload_state(id) == UploadState::kStored);
    return id;
  }

  std::optional<UploadState> upload_state(const Hash32& id) {
    auto l = store->find_upload(mailbox, id);
    REQUIRE(l);
    if (!l->upload) return std::nullopt;
    return l->upload->state;
  }

  bool is_stored(const Hash32& id) { return upload_state(id) == UploadState::kStored; }

  bool has_tombstone(const Hash32& id) {
    auto l = store->find_upload(mailbox, id);
    REQUIRE(l);
    return !l->upload && l->tombstone.has_value();
  }

  // What coordinator `who` says about `items`, with the registration's `required` (0: all).
  std::vector<AckResult> say(size_t who, std::initializer_list<AckItem> items,
                             size_t required = 0) {
    const std::vector<AckItem> v(items);
    auto r = store->acknowledge_batch(mailbox, v, keys.at(who), keys, required, kToday, kUntil);
    REQUIRE(r);
    REQUIRE(r->size() == v.size());
    return *r;
  }
  AckResult held(size_t who, const Hash32& id, size_t required = 0) {
    return say(who, {{id, AckKind::kHeld}}, required).at(0);
  }
  AckResult not_mine(size_t who, const Hash32& id, size_t required = 0) {
    return say(who, {{id, AckKind::kNotMine}}, required).at(0);
  }

  // The listing's entry for `id` (as coordinator 0 sees it), or nullopt if not listed.
  std::optional<ListedUpload> listed(const Hash32& id) {
    auto rows = store->list_stored(mailbox, std::nullopt, 1000, keys[0], false);
    REQUIRE(rows);
    for (const ListedUpload& u : *rows)
      if (u.id == id) return u;
    return std::nullopt;
  }

  // Ids the pending listing of coordinator `who` shows.
  std::vector<Hash32> pending(size_t who) {
    auto rows = store->list_stored(mailbox, std::nullopt, 1000, keys.at(who), true);
    REQUIRE(rows);
    std::vector<Hash32> ids;
    for (const ListedUpload& u : *rows) ids.push_back(u.id);
    return ids;
  }

  // Rows of `table` in relay.db (the store is closed to read them and opened again).
  int64_t rows_in(const std::string& table) {
    store.reset();
    int64_t n = -1;
    {
      auto db = MetadataDb::open(dir.path + "/relay.db");
      REQUIRE(db);
      const std::string sql = "SELECT COUNT(*) FROM " + table;
      auto st = db->prepare(sql.c_str());
      REQUIRE(st);
      auto row = st->step();
      REQUIRE(row);
      REQUIRE(*row);
      n = st->int64(0);
    }
    store = open_store(dir.path);
    return n;
  }
};

void check_result(const AckResult& r, AckState state, size_t acknowledgements, size_t required) {
  CHECK(r.state == state);
  CHECK(r.acknowledgements == acknowledgements);
  CHECK(r.required == required);
}

bool contains(const std::vector<Hash32>& ids, const Hash32& id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

TEST_CASE("acknowledgements_required is k of n (0 or more than n: all) lowered by declines, >= 1") {
  struct Case {
    size_t required, registered, declined, expected;
  };
  const Case cases[] = {
      // k = n, written as 0 (all), as n and as more than n.
      {0, 3, 0, 3},
      {0, 3, 1, 2},
      {0, 3, 2, 1},
      {0, 3, 3, 1},  // every coordinator declined: never below 1 (so never delivered by acks)
      {3, 3, 0, 3},
      {3, 3, 1, 2},
      {3, 3, 2, 1},
      {3, 3, 3, 1},
      {7, 3, 0, 3},
      {7, 3, 1, 2},
      {7, 3, 3, 1},
      // k < n: declines lower it only once fewer than k coordinators can still hold the upload.
      {2, 3, 0, 2},
      {2, 3, 1, 2},
      {2, 3, 2, 1},
      {2, 3, 3, 1},
      {1, 3, 0, 1},
      {1, 3, 2, 1},
      {1, 3, 3, 1},
      {3, 5, 0, 3},
      {3, 5, 2, 3},
      {3, 5, 3, 2},
      {3, 5, 4, 1},
      {3, 5, 5, 1},
      // One coordinator.
      {0, 1, 0, 1},
      {0, 1, 1, 1},
      {1, 1, 0, 1},
      {1, 1, 1, 1},
      // More declines than registered keys, and no registered key at all.
      {0, 2, 5, 1},
      {0, 0, 0, 1},
  };
  for (const Case& c : cases) {
    CAPTURE(c.required, c.registered, c.declined);
    CHECK(acknowledgements_required(c.required, c.registered, c.declined) == c.expected);
  }
}

TEST_CASE(
    "one acknowledge_batch call records held and not_mine; unknown ids answer unknown and "
    "tombstoned ids delivered without failing the batch") {
  Mailbox f(3);
  const Hash32 a = f.stored(1), b = f.stored(2), c = f.stored(3), gone = f.stored(4);
  const Hash32 big = f.stored(5, 400'000);  // a data file rather than a pack region
  for (size_t who = 0; who < 3; who++) f.held(who, gone);
  REQUIRE(f.has_tombstone(gone));
  const Hash32 unknown = sha256_of(test_bytes(100, 6));
  const Bytes partial_data = test_bytes(9000, 7);
  const Hash32 partial = sha256_of(partial_data);
  REQUIRE(f.store->create_upload(f.mailbox, partial, partial_data.size(), 0, kToday));

  const auto r = f.say(0, {{a, AckKind::kHeld},
                           {unknown, AckKind::kHeld},
                           {b, AckKind::kNotMine},
                           {gone, AckKind::kHeld},
                           {partial, AckKind::kHeld},
                           {big, AckKind::kHeld},
                           {sha256_of(test_bytes(100, 8)), AckKind::kNotMine},
                           {c, AckKind::kNotMine}});
  check_result(r[0], AckState::kStored, 1, 3);
  CHECK(r[1].state == AckState::kUnknown);
  check_result(r[2], AckState::kStored, 0, 2);  // its own decline lowers b's count
  check_result(r[3], AckState::kDelivered, 3, 3);
  CHECK(r[4].state == AckState::kUnknown);  // partial: not stored
  check_result(r[5], AckState::kStored, 1, 3);
  CHECK(r[6].state == AckState::kUnknown);
  check_result(r[7], AckState::kStored, 0, 2);

  // Every item of the batch was recorded, and nothing else changed.
  CHECK(f.listed(a)->acknowledged_by == std::vector<Key32>{f.keys[0]});
  CHECK(f.listed(a)->declined_by.empty());
  CHECK(f.listed(b)->declined_by == std::vector<Key32>{f.keys[0]});
  CHECK(f.listed(b)->acknowledged_by.empty());
  CHECK(f.listed(c)->declined_by == std::vector<Key32>{f.keys[0]});
  CHECK(f.listed(big)->acknowledged_by == std::vector<Key32>{f.keys[0]});
  CHECK(f.upload_state(partial) == UploadState::kPartial);
  CHECK(f.has_tombstone(gone));
  CHECK(f.pending(0).empty());
  CHECK(f.pending(1).size() == 4);

  // The others acknowledge in one batch each: a, big (data file) and c are delivered together.
  const auto r1 = f.say(1, {{a, AckKind::kHeld}, {big, AckKind::kHeld}, {c, AckKind::kHeld}});
  check_result(r1[0], AckState::kStored, 2, 3);
  check_result(r1[1], AckState::kStored, 2, 3);
  check_result(r1[2], AckState::kStored, 1, 2);
  const auto r2 = f.say(2, {{c, AckKind::kHeld}, {big, AckKind::kHeld}, {a, AckKind::kHeld}});
  check_result(r2[0], AckState::kDelivered, 2, 2);
  check_result(r2[1], AckState::kDelivered, 3, 3);
  check_result(r2[2], AckState::kDelivered, 3, 3);
  for (const Hash32& id : {a, big, c}) {
    CHECK(f.has_tombstone(id));
    CHECK_FALSE(file_exists(f.store->stored_path(f.mailbox, id)));
  }
  CHECK(f.is_stored(b));

  // The single-id acknowledge still answers kNotFound for an unknown id.
  auto single = f.store->acknowledge(f.mailbox, unknown, f.keys[0], f.keys, 0, kToday, kUntil);
  CHECK(single.code() == Errc::kNotFound);
}

TEST_CASE(
    "under k = n a decline lowers the count so the held acknowledgements already there deliver") {
  Mailbox f(3);
  const Hash32 id = f.stored(10);
  check_result(f.held(0, id), AckState::kStored, 1, 3);
  check_result(f.held(1, id), AckState::kStored, 2, 3);
  CHECK(f.is_stored(id));
  check_result(f.not_mine(2, id), AckState::kDelivered, 2, 2);
  CHECK(f.has_tombstone(id));
  CHECK_FALSE(file_exists(f.store->stored_path(f.mailbox, id)));

  // With one held acknowledgement, one decline is not enough; a second one is.
  const Hash32 other = f.stored(11);
  f.held(0, other);
  check_result(f.not_mine(1, other), AckState::kStored, 1, 2);
  check_result(f.not_mine(2, other), AckState::kDelivered, 1, 1);
  CHECK(f.has_tombstone(other));

  // The same with k written as n.
  const Hash32 third = f.stored(12);
  f.held(0, third, 3);
  f.held(1, third, 3);
  check_result(f.not_mine(2, third, 3), AckState::kDelivered, 2, 2);
}

TEST_CASE(
    "under k < n declines bring deletion before k held acknowledgements only when fewer than k "
    "coordinators can still hold the upload") {
  Mailbox f(3);
  constexpr size_t k = 2;
  // One decline: the two others can still hold it, so both must.
  const Hash32 x = f.stored(20);
  check_result(f.not_mine(0, x, k), AckState::kStored, 0, 2);
  check_result(f.held(1, x, k), AckState::kStored, 1, 2);
  CHECK(f.is_stored(x));
  check_result(f.held(2, x, k), AckState::kDelivered, 2, 2);

  // A held acknowledgement, then one decline: still two needed.
  const Hash32 z = f.stored(21);
  check_result(f.held(0, z, k), AckState::kStored, 1, 2);
  check_result(f.not_mine(1, z, k), AckState::kStored, 1, 2);
  CHECK(f.is_stored(z));
  // A second decline: only one coordinator could still hold it, and it does.
  check_result(f.not_mine(2, z, k), AckState::kDelivered, 1, 1);

  // Two declines and no held acknowledgement: stored until the last one holds it.
  const Hash32 y = f.stored(22);
  f.not_mine(0, y, k);
  check_result(f.not_mine(1, y, k), AckState::kStored, 0, 1);
  CHECK(f.is_stored(y));
  check_result(f.held(2, y, k), AckState::kDelivered, 1, 1);

  // k = 3 of 5: two declines change nothing, a third lowers it to 2.
  Mailbox g(5);
  const Hash32 w = g.stored(23);
  g.held(0, w, 3);
  g.held(1, w, 3);
  g.not_mine(2, w, 3);
  check_result(g.not_mine(3, w, 3), AckState::kStored, 2, 3);
  CHECK(g.is_stored(w));
  check_result(g.not_mine(4, w, 3), AckState::kDelivered, 2, 2);
}

TEST_CASE(
    "a decline never delivers on its own: an upload every coordinator declined stays stored") {
  for (size_t required : {size_t{0}, size_t{1}, size_t{2}}) {
    CAPTURE(required);
    Mailbox f(3);
    const Hash32 id = f.stored(30);
    for (size_t who = 0; who < 3; who++) {
      const AckResult r = f.not_mine(who, id, required);
      CHECK(r.state == AckState::kStored);
      CHECK(r.acknowledgements == 0);
    }
    CHECK(f.is_stored(id));
    CHECK(f.store->open_stored(f.mailbox, id));
    CHECK(f.listed(id)->declined_by.size() == 3);
    // Sweeping after a registration change does not deliver it either.
    auto swept = f.store->deliver_acknowledged(f.mailbox, f.keys, required, kToday, kUntil);
    REQUIRE(swept);
    CHECK(*swept == 0);
    CHECK(f.is_stored(id));
    // Nobody lists it as pending any more.
    for (size_t who = 0; who < 3; who++) CHECK(f.pending(who).empty());
  }
  // A single coordinator that declines.
  Mailbox one(1);
  const Hash32 id = one.stored(31);
  check_result(one.not_mine(0, id), AckState::kStored, 0, 1);
  CHECK(one.is_stored(id));
}

TEST_CASE("a held acknowledgement after a decline replaces the decline") {
  Mailbox f(2);
  const Hash32 id = f.stored(40);
  check_result(f.not_mine(0, id), AckState::kStored, 0, 1);
  CHECK(f.listed(id)->declined_by == std::vector<Key32>{f.keys[0]});
  CHECK_FALSE(contains(f.pending(0), id));
  // Were the decline kept beside it, one of 2 - 1 would deliver now.
  check_result(f.held(0, id), AckState::kStored, 1, 2);
  CHECK(f.is_stored(id));
  CHECK(f.listed(id)->declined_by.empty());
  CHECK(f.listed(id)->acknowledged_by == std::vector<Key32>{f.keys[0]});
  CHECK_FALSE(contains(f.pending(0), id));
  CHECK(contains(f.pending(1), id));
  check_result(f.held(1, id), AckState::kDelivered, 2, 2);
  CHECK(f.has_tombstone(id));
}

TEST_CASE("a decline after a held acknowledgement is ignored") {
  Mailbox f(2);
  const Hash32 id = f.stored(50);
  check_result(f.held(0, id), AckState::kStored, 1, 2);
  // Were it counted, one of 2 - 1 would deliver now.
  check_result(f.not_mine(0, id), AckState::kStored, 1, 2);
  CHECK(f.is_stored(id));
  CHECK(f.listed(id)->declined_by.empty());
  CHECK(f.listed(id)->acknowledged_by == std::vector<Key32>{f.keys[0]});
  // Both in one batch of another upload: the held one (first) stands.
  const Hash32 other = f.stored(51);
  check_result(f.held(0, other), AckState::kStored, 1, 2);
  check_result(f.not_mine(0, other), AckState::kStored, 1, 2);
  CHECK(f.rows_in("declines") == 0);
  check_result(f.held(1, id), AckState::kDelivered, 2, 2);
}

TEST_CASE("a registration change applies the rule again with the declines") {
  Mailbox f(3);
  const Hash32 id = f.stored(60);
  f.held(0, id);
  check_result(f.not_mine(1, id), AckState::kStored, 1, 2);
  // Coordinator 2, the only one that could still hold it, leaves: 1 of the 2 - 1 remaining.
  const std::vector<Key32> remaining{f.keys[0], f.keys[1]};
  auto swept = f.store->deliver_acknowledged(f.mailbox, remaining, 0, kToday, kUntil);
  REQUIRE(swept);
  CHECK(*swept == 1);
  CHECK(f.has_tombstone(id));

  // A decline by a key no longer registered does not count: 2 of the 2 remaining are needed.
  const Hash32 other = f.stored(61);
  f.not_mine(2, other);
  auto r = f.store->acknowledge_batch(f.mailbox, std::vector<AckItem>{{other, AckKind::kHeld}},
                                      f.keys[0], remaining, 0, kToday, kUntil);
  REQUIRE(r);
  check_result(r->at(0), AckState::kStored, 1, 2);
  CHECK(f.is_stored(other));
}

TEST_CASE("declines go with their upload: none remain after delivery or retention removal") {
  Mailbox f(3);
  const Hash32 delivered = f.stored(70), declined_by_all = f.stored(71), kept = f.stored(72);
  f.not_mine(0, delivered);
  f.not_mine(1, delivered);
  for (size_t who = 0; who < 3; who++) f.not_mine(who, declined_by_all);
  f.not_mine(0, kept);
  CHECK(f.rows_in("declines") == 6);

  check_result(f.held(2, delivered), AckState::kDelivered, 1, 1);
  CHECK(f.has_tombstone(delivered));
  CHECK(f.rows_in("declines") == 4);
  CHECK(f.rows_in("acknowledgements") == 0);

  // Retention removes what every coordinator declined (and, here, everything else).
  auto removed = f.store->remove_stored_before(f.mailbox, kToday + 1, kToday);
  REQUIRE(removed);
  CHECK(*removed == 2);
  CHECK_FALSE(f.upload_state(declined_by_all));
  CHECK_FALSE(f.upload_state(kept));
  CHECK(f.rows_in("declines") == 0);
}
