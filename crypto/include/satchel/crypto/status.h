// Expected failures as values: every fallible call in Satchel returns a Status or a Result<T>.
// A code says which rule was broken (callers branch on it); the message says what and where.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace satchel {

// One code per distinct reason. Bundle and trust-document codes are part of the v1 spec
// (schema/bundle-format.md, schema/trust-documents.md): tests and vectors name them.
enum class Errc : uint16_t {
  kOk = 0,
  // Generic.
  kInvalidArgument,
  kIoError,
  kNotFound,
  kAlreadyExists,
  kInternal,
  // Key strings (crypto/key_text).
  kKeyWrongKind,
  kKeyBadChecksum,
  kKeyMalformed,
  kKeyInvalid,
  // Bundles (schema/bundle-format.md, "Errors").
  kBundleUnsupportedVersion,
  kBundleUnknownFlags,
  kBundleBadSlotCount,
  kBundleBadLength,
  kBundleTruncated,
  kBundleTrailingData,
  kBundleNoSlotOpens,
  kBundleHeaderTampered,
  kBundleTrailerTampered,
  kBundleChunkCorrupt,
  kBundleBadChunkTag,
  kBundleMalformedInner,
  kBundleUnknownContentType,
  kBundlePaddingNotZero,
  kBundleBadSender,
  kBundleUnexpectedSender,
  kBundleDuplicateSlot,    // two slots open with the reader's key (B6)
  kBundleKeyNotCanonical,  // E or D is not a canonical X25519 encoding (B6, B9)
  kBundleTooLarge,
  // Trust documents (schema/trust-documents.md, "Errors").
  kDocMalformed,
  kDocWrongType,
  kDocUnsupportedVersion,
  kDocBadSignature,
  kDocUntrustedSigner,
  kDocExpired,
  kDocRollback,
  kDocInvalidField,
  kDocNotConfirmed,
  kDocContentMismatch,
  // Talking to a relay (client/relay_client.h).
  kNetwork,            // no answer: connection refused, reset, timed out; worth retrying
  kRelayPinMismatch,   // the relay's certificate matches neither pin: fail closed
  kRelayRetryLater,    // the relay asked to come back later (429, 503, 423, 507 disk full)
  kRelayUnauthorized,  // the relay refused the credential (401) or the enrollment code (403)
  kRelayRefused,       // any other refusal; the relay's error code is in the message
  // Coordinator backups (schema/coordinator-backup.md, "What restore refuses").
  kBackupNotABackup,             // the bundle opened but does not carry a coordinator backup
  kBackupUnsupportedVersion,     // a backup format version this Satchel does not read
  kBackupMalformed,              // a framing, field, order or count rule is broken
  kBackupSenderMismatch,         // the bundle's sender is not the coordinator key inside
  kBackupUnexpectedCoordinator,  // authentic, but of another coordinator than expected
};

// Stable, lower-case name of a code ("bundle-truncated"), used in vectors and messages.
const char* errc_name(Errc code);

struct Error {
  Errc code = Errc::kInternal;
  std::string message;
};

// Result<T> holds a T or an Error. Accessing the wrong alternative is a bug and aborts.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error err) : v_(std::move(err)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const Error& error() const { return std::get<1>(v_); }
  Errc code() const { return ok() ? Errc::kOk : error().code; }

 private:
  std::variant<T, Error> v_;
};

// Status is a Result with no value.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error err) : err_(std::move(err)), ok_(false) {}  // NOLINT
  static Status Ok() { return Status(); }
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return err_; }
  Errc code() const { return ok_ ? Errc::kOk : err_.code; }

 private:
  Error err_{Errc::kOk, {}};
  bool ok_ = true;
};

inline Error make_error(Errc code, std::string message) {
  return Error{code, std::move(message)};
}

}  // namespace satchel

// Propagates a failed Status or Result from the current function.
#define SATCHEL_TRY(expr)                                \
  do {                                                   \
    auto&& satchel_try_ = (expr);                        \
    if (!satchel_try_.ok()) return satchel_try_.error(); \
  } while (0)
