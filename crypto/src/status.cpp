#include "satchel/crypto/status.h"

namespace satchel {

const char* errc_name(Errc code) {
  switch (code) {
    case Errc::kOk:
      return "ok";
    case Errc::kInvalidArgument:
      return "invalid-argument";
    case Errc::kIoError:
      return "io-error";
    case Errc::kNotFound:
      return "not-found";
    case Errc::kAlreadyExists:
      return "already-exists";
    case Errc::kInternal:
      return "internal";
    case Errc::kKeyWrongKind:
      return "key-wrong-kind";
    case Errc::kKeyBadChecksum:
      return "key-bad-checksum";
    case Errc::kKeyMalformed:
      return "key-malformed";
    case Errc::kKeyInvalid:
      return "key-invalid";
    case Errc::kBundleUnsupportedVersion:
      return "bundle-unsupported-version";
    case Errc::kBundleUnknownFlags:
      return "bundle-unknown-flags";
    case Errc::kBundleBadSlotCount:
      return "bundle-bad-slot-count";
    case Errc::kBundleBadLength:
      return "bundle-bad-length";
    case Errc::kBundleTruncated:
      return "bundle-truncated";
    case Errc::kBundleTrailingData:
      return "bundle-trailing-data";
    case Errc::kBundleNoSlotOpens:
      return "bundle-no-slot-opens";
    case Errc::kBundleHeaderTampered:
      return "bundle-header-tampered";
    case Errc::kBundleTrailerTampered:
      return "bundle-trailer-tampered";
    case Errc::kBundleChunkCorrupt:
      return "bundle-chunk-corrupt";
    case Errc::kBundleBadChunkTag:
      return "bundle-bad-chunk-tag";
    case Errc::kBundleMalformedInner:
      return "bundle-malformed-inner";
    case Errc::kBundleUnknownContentType:
      return "bundle-unknown-content-type";
    case Errc::kBundlePaddingNotZero:
      return "bundle-padding-not-zero";
    case Errc::kBundleBadSender:
      return "bundle-bad-sender";
    case Errc::kBundleUnexpectedSender:
      return "bundle-unexpected-sender";
    case Errc::kBundleTooLarge:
      return "bundle-too-large";
    case Errc::kDocMalformed:
      return "doc-malformed";
    case Errc::kDocWrongType:
      return "doc-wrong-type";
    case Errc::kDocUnsupportedVersion:
      return "doc-unsupported-version";
    case Errc::kDocBadSignature:
      return "doc-bad-signature";
    case Errc::kDocUntrustedSigner:
      return "doc-untrusted-signer";
    case Errc::kDocExpired:
      return "doc-expired";
    case Errc::kDocRollback:
      return "doc-rollback";
    case Errc::kDocInvalidField:
      return "doc-invalid-field";
    case Errc::kDocNotConfirmed:
      return "doc-not-confirmed";
    case Errc::kDocContentMismatch:
      return "doc-content-mismatch";
    case Errc::kNetwork:
      return "network";
    case Errc::kRelayPinMismatch:
      return "relay-pin-mismatch";
    case Errc::kRelayRetryLater:
      return "relay-retry-later";
    case Errc::kRelayUnauthorized:
      return "relay-unauthorized";
    case Errc::kRelayRefused:
      return "relay-refused";
  }
  return "unknown";
}

}  // namespace satchel
