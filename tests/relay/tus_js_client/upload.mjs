// Test only: uploads SIZE random bytes to a relay with tus-js-client (a stock tus client), in
// chunks of CHUNK bytes, with or without creation-with-upload; prints "stored <sha256>".
// Usage: node upload.mjs ENDPOINT TOKEN SIZE CHUNK WITH_BODY(0|1)
import * as tus from 'tus-js-client';
import { createHash, randomBytes } from 'node:crypto';

const [endpoint, token, size, chunk, withBody] = process.argv.slice(2);
const data = randomBytes(Number(size));
const sha256 = createHash('sha256').update(data).digest('hex');
const upload = new tus.Upload(data, {
  endpoint,
  headers: { Authorization: `Bearer ${token}` },
  metadata: { sha256 },
  chunkSize: Number(chunk),
  uploadDataDuringCreation: withBody === '1',
  retryDelays: [0, 200, 500],
  onError: (e) => {
    console.error(`upload failed: ${e.message}`);
    process.exit(1);
  },
  onSuccess: () => {
    if (!upload.url.endsWith(`/v1/uploads/${sha256}`)) {
      console.error(`unexpected upload URL ${upload.url}`);
      process.exit(1);
    }
    console.log(`stored ${sha256}`);
    process.exit(0);
  },
});
upload.start();
