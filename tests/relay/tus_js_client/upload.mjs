// Test only: uploads SIZE random bytes to a relay with tus-js-client (a stock tus client), in
// chunks of CHUNK bytes, with or without creation-with-upload; prints "stored <sha256>". With
// AGAIN=1 it then sends the same bytes once more as a new upload (a re-send of a stored bundle,
// which the relay answers without reading the body) and prints "stored <sha256>" again.
// Usage: node upload.mjs ENDPOINT TOKEN SIZE CHUNK WITH_BODY(0|1) [AGAIN(0|1)]
import * as tus from 'tus-js-client';
import { createHash, randomBytes } from 'node:crypto';

const [endpoint, token, size, chunk, withBody, again] = process.argv.slice(2);
const data = randomBytes(Number(size));
const sha256 = createHash('sha256').update(data).digest('hex');
function send(left) {
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
      if (left > 0) send(left - 1);
      else process.exit(0);
    },
  });
  upload.start();
}
send(again === '1' ? 1 : 0);
