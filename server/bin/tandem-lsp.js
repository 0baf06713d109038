#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=4
// Entry point of the `tandem-lsp` command; the compiled CLI lives in ../out (built by `npm run build`).
// The flag caps V8's young generation at 4 MB semi-spaces (default 16): after a burst of messages
// (an editor opening hundreds of documents) the grown spaces stayed committed, ~60 MB of RSS that
// held nothing; V8 reads it only at start-up. Launchers that run `node` themselves pass it too
// (the VS Code extension; see README, "Memory"). MALLOC_ARENA_MAX=2: glibc otherwise gives each
// thread (the index worker, libuv's pool) its own malloc arena, each keeping its highest use.
import { main } from '../out/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => {
    process.stderr.write(`tandem-lsp: internal error: ${err && err.stack ? err.stack : err}\n`);
    process.exitCode = 70;
  },
);
