#include "satchel/org/org_profile.h"

namespace satchel::org {

Result<KeyImport> read_key_file(const std::string& path) {
  auto text = read_secret_key_file(path);
  if (!text) return make_error(text.code(), path + ": " + text.error().message);
  auto key = OrgSecretKey::from_text(text->span());
  if (!key) return make_error(key.code(), path + ": " + key.error().message);
  return KeyImport{std::move(key.value()), path};
}

Result<CreatedProfile> create_profile(const std::string& home, const SecretBytes& passphrase,
                                      client::Argon2Params params, const OrgSettings& settings,
                                      std::optional<KeyImport> import) {
  SATCHEL_TRY(check_settings(settings));
  client::ProfileContents contents;
  contents.kind = client::ProfileKind::kOrganisation;
  std::string import_path;
  if (import) {
    import_path = import->path;
    contents.organisation_key = std::move(import->key);
  }
  contents.initialise = [&settings](client::Profile& p) { return initialise(p, settings); };
  auto info = client::Profile::create(home, passphrase, params, std::move(contents));
  if (!info) return info.error();
  CreatedProfile out{std::move(*info), std::nullopt};
  // The key now lives only inside the encrypted profile.
  if (!import_path.empty())
    if (Status s = client::shred_file(import_path); !s) out.not_shredded = s.error();
  return out;
}

}  // namespace satchel::org
