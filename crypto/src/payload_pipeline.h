// Internal to crypto/: the second thread of sealing and opening. The payload moves through a
// small ring of blocks: the caller's thread fills each block (reads the source, runs the cipher)
// and a helper thread hashes its ciphertext for the content hash and, if the sink allows it,
// writes its output bytes to the sink. Blocks are hashed and written in the order submitted.
// Only the helper reads a submitted block until the ring hands it out again, and the helper
// touches nothing else but the hash state and the sink.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "satchel/crypto/bundle.h"
#include "satchel/crypto/sha256.h"

namespace satchel {

class PayloadPipeline {
 public:
  struct Block {
    std::span<uint8_t> cipher;  // ciphertext: hashed
    std::span<uint8_t> plain;   // plaintext scratch (opening writes the body from here)
  };

  // A ring of `slots` blocks with buffers of the given sizes (plain_size may be 0). Output
  // goes to sink (may be null). Without `threaded`, or when no thread can be started, all work
  // runs on the caller's thread in submit(), with a single block.
  PayloadPipeline(size_t slots, size_t cipher_size, size_t plain_size, bool threaded,
                  ByteSink* sink);
  // Stops the helper (blocks still queued are dropped), joins it, wipes the plaintext buffers.
  ~PayloadPipeline();
  PayloadPipeline(const PayloadPipeline&) = delete;
  PayloadPipeline& operator=(const PayloadPipeline&) = delete;

  // The next block to fill; waits until the helper is done with its previous contents.
  Block next();
  // Queues the block last returned by next(): its cipher[0, hash_len) is hashed and `out`
  // (bytes inside that block's buffers, possibly empty) is written to the sink. Fails if a
  // write, this one or an earlier one, has failed; nothing more is written after that.
  Status submit(size_t hash_len, ByteView out);
  // Waits for every queued block; returns the digest of all hashed bytes, or the first write
  // failure. Call once, after the last submit().
  Result<Hash32> finish();

 private:
  struct Job {
    size_t hash_len = 0;
    ByteView out;
  };
  void run();
  Status process(const Job& job, size_t slot);

  Sha256 sha_;
  ByteSink* sink_;
  bool sink_on_helper_ = false;  // the helper writes to the sink (else the caller's thread)
  std::vector<std::vector<uint8_t>> cipher_, plain_;
  std::vector<Job> jobs_;
  uint64_t submitted_ = 0;  // blocks handed to submit(), ever
  uint64_t done_ = 0;       // of those, blocks the helper has finished
  bool stop_ = false;
  Status failed_;  // the first write failure
  std::mutex mu_;
  std::condition_variable work_, room_;
  std::thread helper_;  // not joinable when everything runs inline
};

}  // namespace satchel
